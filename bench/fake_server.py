"""The project's fake Fonnte (tests/fake_fonnte.py) with two cheap read-outs for the benchmark.

Run as a separate process (``python bench/fake_server.py --port 0``) so that its threads
do not share the benchmark's interpreter lock. Besides everything FakeFonnte serves:

- ``GET /_fake/count`` -> ``{"received": N}`` (constant time: polled while sending)
- ``GET /_fake/times`` -> ``{"received": N, "accepted_at": [t, …], "duplicates": N}``:
  the ``time.monotonic()`` at which each accepted request arrived, sorted. The clock is
  the machine's monotonic clock, comparable with the benchmark process's.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_fonnte import FakeFonnte, main


class BenchFake(FakeFonnte):
    def _dispatch(self, h, method: str) -> None:
        path = urlsplit(h.path).path
        if method == "GET" and path == "/_fake/count":
            self._json(h, 200, {"received": self.received_count()})
            return
        if method == "GET" and path == "/_fake/times":
            received = self.received
            accepted = sorted(r.at for r in received if r.accepted)
            duplicates = len(self.duplicates())
            self._json(
                h,
                200,
                {"received": len(received), "accepted_at": accepted, "duplicates": duplicates},
            )
            return
        super()._dispatch(h, method)


if __name__ == "__main__":
    main(fake_class=BenchFake)
