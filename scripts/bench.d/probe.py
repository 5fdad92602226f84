#!/usr/bin/env python3
"""Probe a URL path every INTERVAL ms for DURATION s on one keep-alive connection and print
the p99 latency in ms and the sample count: how a health check sees the server while another
load runs. Usage: probe.py PORT PATH DURATION_S [INTERVAL_MS]"""
import http.client
import sys
import time

port, path, duration = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
interval = float(sys.argv[4]) / 1000 if len(sys.argv) > 4 else 0.01
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
samples = []
end = time.monotonic() + duration
while time.monotonic() < end:
    start = time.monotonic()
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        sys.exit(f"probe: {path} answered {response.status}")
    samples.append((time.monotonic() - start) * 1000)
    time.sleep(max(0.0, interval - (time.monotonic() - start)))
samples.sort()
p99 = samples[max(0, int(len(samples) * 0.99) - 1)]
print(f"{p99:.3f} {len(samples)}")
