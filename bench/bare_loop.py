"""The send-path baseline: one process posting the same HTTP calls in a bare loop.

``python bench/bare_loop.py URL TOKEN COUNT OFFSET START_AT MESSAGE``: waits until
``time.monotonic() >= START_AT`` (so that N of these start together), then sends COUNT
form posts like notifications/whatsapp/fonnte/ does (same fields, header, timeouts,
one keep-alive session), to distinct targets numbered from OFFSET, reading each answer.
No database, no broker, no Django.
"""

from __future__ import annotations

import sys
import time

import requests


def main(argv: list[str]) -> int:
    url, token, count, offset, start_at, message = argv
    count, offset, start_at = int(count), int(offset), float(start_at)
    session = requests.Session()
    delay = start_at - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    failed = 0
    for i in range(offset, offset + count):
        response = session.post(
            url,
            data={"target": f"62813{i:08d}", "message": message, "countryCode": "0"},
            headers={"Authorization": token},
            timeout=(5.0, 30.0),
            allow_redirects=False,
        )
        if response.json().get("status") is not True:
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
