"""Real ``celery -A tkassalam worker`` processes, as an operator runs them.

One way to build a worker's environment, start it, wait until it is ready and stop it,
for the end-to-end tests (tests/e2e), the fault tests (tests/faults) and the benchmark
(bench/). The worker runs the *production* settings module, configured only by the
environment variables it is given.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
#: How much of a worker's log a failure shows.
LOG_TAIL_LINES = 80

#: Variables of the calling process that must not reach a worker (prefixes): its own
#: settings module, database, broker and test switches. A worker gets only what it is
#: given (and the project's .env, if any, for anything not given).
NOT_INHERITED = (
    "DJANGO_",
    "DATABASE_",
    "CELERY_",
    "BROKER_",
    "WHATSAPP_",
    "FONNTE_",
    "EMAIL_",
    "E2E_",
    "TEST_",
)


def worker_env(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without its NOT_INHERITED variables, plus ``settings``.

    The project is importable from anywhere (PYTHONPATH) and output is unbuffered, so a
    worker's log is complete up to the moment it is read or the worker is killed.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BASE_DIR), os.environ.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


def start_worker(
    args: Sequence[str], *, env: Mapping[str, str], cwd: Path | str, log_path: Path
) -> subprocess.Popen:
    """``python -m celery`` with ``args`` (``-A tkassalam worker …``), output to ``log_path``.

    In its own session: a Ctrl-C on the caller does not reach it half-way, and the whole
    group (main process, pool processes, embedded beat) can be killed at once.
    """
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", *args],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_ready(process: subprocess.Popen, log_path: Path, timeout: float) -> str | None:
    """Wait until the worker logs "ready."; None then, else why not, with its log's end."""
    deadline = time.monotonic() + timeout
    while " ready." not in _read(log_path):
        if process.poll() is not None:
            return f"exited with {process.returncode} before it was ready:\n{log_tail(log_path)}"
        if time.monotonic() > deadline:
            return f"not ready within {timeout}s:\n{log_tail(log_path)}"
        time.sleep(0.1)
    return None


def stop_worker(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM the worker (warm shutdown), wait, then SIGKILL whatever is left of its group.

    TERM goes to the main process only, as Celery documents: signalled too, the pool
    processes die at once, the main process starts new ones and shuts down slowly.
    """
    if process.poll() is not None:
        return  # already gone and reaped; its pool processes exit with it
    process.terminate()
    deadline = time.monotonic() + timeout
    while not _exited(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    # Not reaped yet, so the main process's pid (the group id) cannot have been reused:
    # this reaches only the worker's own processes, if any are left.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=timeout)


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(_read(path).splitlines()[-lines:])


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError as err:
        return f"({path}: {err})"


def _exited(pid: int) -> bool:
    """True once ``pid`` has exited, without reaping it (WNOWAIT)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True
