"""The project's fake Fonnte (tests/fake_fonnte.py) with two cheap read-outs for the benchmark.

Run as a separate process (``python bench/fake_server.py --port 0``) so that its threads
do not share the benchmark's interpreter lock. Besides everything FakeFonnte serves:

- ``GET /_fake/count`` -> ``{"received": N}`` (constant time: polled while sending)
- ``GET /_fake/times`` -> ``{"received": N, "accepted_at": [t, …], "duplicates": N}``:
  the ``time.monotonic()`` at which each accepted request arrived, sorted. The clock is
  the machine's monotonic clock, comparable with the benchmark process's.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_fonnte import OK, OUTCOMES, FakeFonnte


class BenchFake(FakeFonnte):
    def _dispatch(self, h, method: str) -> None:
        path = urlsplit(h.path).path
        if method == "GET" and path == "/_fake/count":
            with self._lock:
                received = len(self._received)
            self._json(h, 200, {"received": received})
            return
        if method == "GET" and path == "/_fake/times":
            with self._lock:
                received = list(self._received)
            accepted = sorted(r.at for r in received if r.accepted)
            duplicates = len(self.duplicates())
            self._json(
                h,
                200,
                {"received": len(received), "accepted_at": accepted, "duplicates": duplicates},
            )
            return
        super()._dispatch(h, method)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--default", default=OK, choices=sorted(OUTCOMES))
    args = parser.parse_args(argv)
    fake = BenchFake(token=args.token, latency=args.latency, port=args.port)
    fake.default = args.default
    fake.start()
    print(f"FakeFonnte listening on {fake.base_url} (send: {fake.send_url})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
