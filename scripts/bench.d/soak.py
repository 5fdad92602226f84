#!/usr/bin/env python3
"""Mixed traffic at a fixed rate for a fixed time against one `sole serve`, sampled per window:
how a leak or a slow drift shows. Used by the `soak` section of scripts/bench.

Usage: soak.py PORT PID TOKEN ORG EMAIL PASSWORD SECONDS WINDOW_S

Streams (requests per second, open loop: each request has a scheduled start, and its latency
counts from that start, so a stall shows as latency instead of silently lowering the rate):
  sign-in   login + select-org of the bench employee (legacy argon2 parameters)
  me        GET /auth/me
  users     GET /org/users?page=N&page_size=20 (pages 1..50 in turn)
  write     PATCH /self/profile (a new phone number each time; audited)

Prints one line per window: `window=<i> requests=<n> errors=<n> p50_ms=<x> p99_ms=<x>
rss_kb=<n>`, then `total ...` with the same fields over the whole run and `status_counts=`.
An error is any answer that is not 2xx, or a connection failure.
"""
import http.client
import json
import sys
import threading
import time

PORT, PID, TOKEN, ORG, EMAIL, PASSWORD = (
    int(sys.argv[1]),
    int(sys.argv[2]),
    sys.argv[3],
    sys.argv[4],
    sys.argv[5],
    sys.argv[6],
)
SECONDS, WINDOW = float(sys.argv[7]), float(sys.argv[8])
RATES = {"sign-in": 1, "me": 60, "users": 30, "write": 10}
WORKERS = {"sign-in": 1, "me": 3, "users": 2, "write": 1}

lock = threading.Lock()
samples = []  # (window index, latency ms, status)
statuses = {}


def rss_kb():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def call(conn, method, path, body=None, token=TOKEN, org=True):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if org:
        headers["X-Org-Id"] = ORG
    conn.request(method, "/api/v1" + path, body=json.dumps(body) if body else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, data


def one_request(conn, stream, n):
    if stream == "me":
        return call(conn, "GET", "/auth/me")[0]
    if stream == "users":
        return call(conn, "GET", f"/org/users?page={n % 50 + 1}&page_size=20")[0]
    if stream == "write":
        phone = f"+1 555 {n % 10000:04d}"
        return call(conn, "PATCH", "/self/profile", {"phone_number": phone})[0]
    status, data = call(conn, "POST", "/auth/login", {"email": EMAIL, "password": PASSWORD}, None, False)
    if status != 200:
        return status
    pre = json.loads(data)["data"]["pre_org_token"]
    return call(conn, "POST", "/auth/select-org", {"org_id": ORG}, pre, False)[0]


def worker(stream, index, start):
    interval = WORKERS[stream] / RATES[stream]
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    n = index
    k = 0
    while True:
        scheduled = start + index * interval / WORKERS[stream] + k * interval
        if scheduled >= start + SECONDS:
            return
        delay = scheduled - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            status = one_request(conn, stream, n)
        except (OSError, http.client.HTTPException):
            status = 0
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        latency = (time.monotonic() - scheduled) * 1000
        with lock:
            samples.append((int((scheduled - start) // WINDOW), latency, status))
            statuses[status] = statuses.get(status, 0) + 1
        n += WORKERS[stream]
        k += 1


def percentile(values, q):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(len(values) * q + 0.5) - 1))]


def summary(rows):
    latencies = [r[1] for r in rows]
    errors = sum(1 for r in rows if not 200 <= r[2] < 300)
    return len(rows), errors, percentile(latencies, 0.5), percentile(latencies, 0.99)


def main():
    start = time.monotonic() + 0.2
    threads = [
        threading.Thread(target=worker, args=(stream, i, start), daemon=True)
        for stream in RATES
        for i in range(WORKERS[stream])
    ]
    for t in threads:
        t.start()
    windows = int(SECONDS // WINDOW)
    rss = []
    for w in range(windows):
        # RSS at the end of each window; the window's requests are complete once the next
        # window has begun plus the client timeout at worst, so they are reported at the end.
        wait = start + (w + 1) * WINDOW - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        rss.append(rss_kb())
    for t in threads:
        t.join()
    for w in range(windows):
        rows = [s for s in samples if s[0] == w]
        n, errors, p50, p99 = summary(rows)
        print(f"window={w + 1} requests={n} errors={errors} p50_ms={p50:.2f} p99_ms={p99:.2f} rss_kb={rss[w]}")
    n, errors, p50, p99 = summary(samples)
    print(f"total requests={n} errors={errors} p50_ms={p50:.2f} p99_ms={p99:.2f} rss_kb={rss_kb()}")
    print("status_counts=" + ",".join(f"{k}:{v}" for k, v in sorted(statuses.items())))


main()
