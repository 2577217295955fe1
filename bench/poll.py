"""`python -m bench.poll PORT INTERVAL`: poll GET /healthz until a line arrives on stdin.

Runs in its own process so that the benchmark's event loop does not delay the requests. Each
request uses one kept-alive connection (as a monitoring probe would); the latency is from
sending the request to having read the whole body. Prints one JSON object at the end.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time


def main() -> None:
    port = int(sys.argv[1])
    interval = float(sys.argv[2])
    stop = threading.Event()

    def stop_on_stdin() -> None:
        sys.stdin.readline()
        stop.set()

    threading.Thread(target=stop_on_stdin, daemon=True).start()
    lat: list[float] = []
    errors = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    print("ready", flush=True)
    while not stop.is_set():
        t0 = time.monotonic_ns()
        try:
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                errors += 1
            else:
                lat.append((time.monotonic_ns() - t0) / 1e6)
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        stop.wait(interval)
    print(json.dumps({"latencies_ms": lat, "errors": errors}), flush=True)


if __name__ == "__main__":
    main()
