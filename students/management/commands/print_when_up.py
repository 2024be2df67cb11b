import os
import socket
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Read a text from standard input, wait until the local web server accepts "
        "connections at --address and the worker has written its --pidfile, then print the "
        "text. `make run` gives it "
        "the admin login, so the login is printed again below the worker's banner. The text "
        "comes on standard input, not as an argument: a process's arguments are visible to "
        "every user of the machine."
    )
    # runserver, started beside it, runs the checks and says what is wrong.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--address",
            default="127.0.0.1:8000",
            help="host:port of the web server; wait until it accepts a connection.",
        )
        parser.add_argument(
            "--pidfile",
            help="Also wait until this file names a running process (the worker's --pidfile).",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=120.0,
            help="Seconds to wait at most; then the text is printed anyway, with a warning.",
        )
        parser.add_argument(
            "--interval", type=float, default=0.2, help="Seconds between two checks."
        )

    def handle(self, *args, **options):
        if options["timeout"] <= 0 or options["interval"] <= 0:
            raise CommandError("--timeout and --interval must be more than 0 seconds.")
        host, _, port = options["address"].rpartition(":")
        if not host or not port.isdigit():
            raise CommandError(f"--address must be host:port (got {options['address']!r}).")
        # Read it all first: the writer (make's printf) is gone long before the servers are up.
        text = sys.stdin.read().strip()
        pidfile = Path(options["pidfile"]) if options["pidfile"] else None
        deadline = time.monotonic() + options["timeout"]
        while True:
            # Both are checked each round, so the web server sees the waiting.
            answered, started = _answers(host, int(port)), _running(pidfile)
            if answered and started:
                break
            if time.monotonic() >= deadline:
                self.stderr.write(
                    self.style.WARNING(
                        f"Not up after {options['timeout']:g} s (web server at "
                        f"{options['address']}, worker pidfile {pidfile or '-'}); printing anyway."
                    )
                )
                break
            time.sleep(options["interval"])
        if text:
            self.stdout.write("\n" + self.style.SUCCESS(text))


def _answers(host: str, port: int) -> bool:
    """Whether a server accepts connections at ``host:port``.

    A connection and no request: runserver logs every request, and a line about this
    one would come after the text printed.
    """
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _running(pidfile: Path | None) -> bool:
    """Whether ``pidfile`` names a live process (True when there is no pidfile to wait for).

    Celery writes its pidfile as the worker starts, just before its banner.
    """
    if pidfile is None:
        return True
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True
