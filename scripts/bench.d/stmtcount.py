#!/usr/bin/env python3
"""Counts the statements a client sends to PostgreSQL, at the wire.

    stmtcount.py LISTEN_PORT CONTROL_PORT PG_HOST PG_PORT

Relays every connection made to 127.0.0.1:LISTEN_PORT to PG_HOST:PG_PORT and counts, in the
client-to-server direction, each simple query (`Q`, e.g. `BEGIN`) and each extended-protocol
`Execute` (`E`, `COMMIT` included): one per statement the server runs. A connection to
127.0.0.1:CONTROL_PORT reads the running total (one line) and closes. A statement is counted
when the relay reads it from the client, before the server can answer it, so the total read
after the client has its answers includes every statement of those answers.

For scripts/bench (section `scale`); the tests count the same way in
tests/api/statement_support.rs. Plain TCP only: run the client with sslmode=disable.
"""

import asyncio
import struct
import sys

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104

count = 0


async def pipe_server_to_client(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def read_exact(reader, n):
    return await reader.readexactly(n)


async def relay(client_reader, client_writer, pg_host, pg_port):
    global count
    server_reader, server_writer = await asyncio.open_connection(pg_host, pg_port)
    back = asyncio.create_task(pipe_server_to_client(server_reader, client_writer))
    try:
        # Untyped start-up packets: SSL/GSS requests (answered with one byte), then the
        # start-up message itself.
        while True:
            head = await read_exact(client_reader, 8)
            length, code = struct.unpack("!II", head)
            body = await read_exact(client_reader, length - 8)
            server_writer.write(head + body)
            await server_writer.drain()
            if code not in (SSL_REQUEST, GSSENC_REQUEST):
                break
        while True:
            head = await read_exact(client_reader, 5)
            kind = head[:1]
            (length,) = struct.unpack("!I", head[1:])
            body = await read_exact(client_reader, length - 4)
            if kind in (b"Q", b"E"):
                count += 1
            server_writer.write(head + body)
            await server_writer.drain()
            if kind == b"X":
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        server_writer.close()
        await asyncio.gather(back, return_exceptions=True)


async def control(_reader, writer):
    writer.write(f"{count}\n".encode())
    await writer.drain()
    writer.close()


async def main():
    listen_port, control_port, pg_host, pg_port = (
        int(sys.argv[1]),
        int(sys.argv[2]),
        sys.argv[3],
        int(sys.argv[4]),
    )
    relay_server = await asyncio.start_server(
        lambda r, w: relay(r, w, pg_host, pg_port), "127.0.0.1", listen_port
    )
    control_server = await asyncio.start_server(control, "127.0.0.1", control_port)
    async with relay_server, control_server:
        await asyncio.gather(relay_server.serve_forever(), control_server.serve_forever())


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
