#!/usr/bin/env python3
"""Sequential requests for scripts/bench (section `scale`).

    requests.py URL N TOKEN ORG    N GETs of URL on one keep-alive connection, each must be 2xx
    requests.py --control PORT     the running total of scripts/bench.d/stmtcount.py
"""

import http.client
import socket
import sys
import urllib.parse


def control(port):
    with socket.create_connection(("127.0.0.1", port)) as sock:
        print(sock.makefile().readline().strip())


def run(url, n, token, org):
    parts = urllib.parse.urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "X-Org-Id": org}
    for _ in range(n):
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        if not 200 <= response.status < 300:
            sys.exit(f"{url}: {response.status} {body[:200]!r}")
    conn.close()


if __name__ == "__main__":
    if sys.argv[1] == "--control":
        control(int(sys.argv[2]))
    else:
        run(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
