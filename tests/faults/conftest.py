"""Fixtures of the fault tests: a broker, workers, a fake Fonnte, and servers to restart.

Everything is per test (see ``support.py`` for the why): a fresh fake Fonnte, a
fresh broker, fresh workers, and when the test asks for one, a Redis or a
PostgreSQL of its own. Each test records its figures in ``figures``; they are
printed as one line per test at the end of the run (``pytest_terminal_summary``).
"""

import os
import pwd
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import confirm_send, restore_roles, skip_unless_required
from tests.e2e.conftest import (
    WORKER_SETTINGS,
    _forget_bindings,
    _purge_redis,
    filesystem_broker,
)
from tests.fake_fonnte import FakeFonnte
from tests.faults.support import (
    SETTINGS_CHECK,
    FaultWorkers,
    PrivatePostgres,
    PrivateRedis,
    log_tail,
    postgres_bindir,
    redis_broker,
)


@pytest.fixture
def fault_broker(tmp_path):
    """This test's broker: a fresh filesystem broker, or its own queue on ``E2E_BROKER_URL``.

    On the shared Redis only this queue (and its unacked messages) is purged afterwards;
    the workers keep the 3600 s visibility timeout, so they never restore anyone else's
    unacknowledged messages.
    """
    queue = f"faults-{uuid.uuid4().hex}"
    redis_url = os.environ.get("E2E_BROKER_URL", "").strip()
    if not redis_url:
        yield filesystem_broker(tmp_path / "broker", queue)
        return
    if not redis_url.startswith(("redis://", "rediss://")):
        raise pytest.UsageError(f"E2E_BROKER_URL must be a redis:// URL, not {redis_url!r}")
    broker = redis_broker(redis_url, queue, cwd=tmp_path)
    try:
        yield broker
    finally:
        _purge_redis(redis_url, queue)
        _forget_bindings(redis_url, queue)


@pytest.fixture
def fake():
    """A fresh fake Fonnte per test (port, requests, scripts, settings)."""
    with FakeFonnte(token=WORKER_SETTINGS["FONNTE_API_TOKEN"]) as server:
        yield server


@pytest.fixture
def fault_workers(transactional_db, fake, tmp_path):
    """Start workers with ``fault_workers.start(name, broker)``; all are stopped afterwards.

    Depends on the database fixture so that the workers are gone before pytest-django
    flushes the tables.
    """
    workdir = tmp_path / "workers"
    workdir.mkdir()
    workers = FaultWorkers(workdir=workdir, fonnte_url=fake.send_url)
    try:
        yield workers
    finally:
        workers.stop_all()


@pytest.fixture
def school_admins(transactional_db, request):
    """The ``admins`` of tests/conftest.py (3 admins, 2 users never alerted).

    Their groups come from data migrations, which the flush after a transactional test
    removes: made again here if an earlier test flushed them.
    """
    restore_roles()
    return request.getfixturevalue("admins")


@pytest.fixture
def click_send(client, school_admins):
    """Confirm the admin action "send the WhatsApp notification" for a report, as an admin."""

    def click(report):
        return confirm_send(client, school_admins[0], report)

    return click


@pytest.fixture
def private_redis(tmp_path):
    binary = shutil.which("redis-server")
    if not binary:
        skip_unless_required(
            "redis", "needs redis-server on PATH to restart a Redis of its own (not installed)"
        )
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = PrivateRedis(binary=binary, workdir=workdir)
    try:
        server.start()
        yield server
    finally:
        server.kill()


@pytest.fixture
def private_postgres():
    bindir = postgres_bindir()
    if bindir is None:
        skip_unless_required(
            "postgres",
            "needs PostgreSQL's initdb, pg_ctl and postgres (on PATH or under "
            "/usr/lib/postgresql/*/bin) to stop a PostgreSQL of its own (not installed)",
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        skip_unless_required(
            "postgres", "needs psycopg (pip install -e '.[dev]') to use a PostgreSQL of its own"
        )
    run_as = []
    root = Path(tempfile.mkdtemp(prefix="tk-faults-pg-"))
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: the cluster belongs to the postgres user.
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            skip_unless_required(
                "postgres", "running as root needs a 'postgres' OS user to run PostgreSQL as"
            )
        if not shutil.which("runuser"):
            shutil.rmtree(root, ignore_errors=True)
            skip_unless_required(
                "postgres", "running as root needs runuser to run PostgreSQL as 'postgres'"
            )
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    server = PrivatePostgres(bindir=bindir, root=root, run_as=run_as)
    try:
        server.init()
        yield server
    finally:
        server.cleanup()


# --- Figures ------------------------------------------------------------------------

_FIGURES: list[tuple[str, dict]] = []
_CRASHES: list[str] = []
_OUTCOME = pytest.StashKey[str]()


@pytest.fixture
def figures(request):
    """A dict the test fills with what it counted; printed in the terminal summary."""
    data: dict = {}
    started = time.monotonic()
    yield data
    workers = request.node.funcargs.get("fault_workers")
    if workers is not None:
        # Workers that exited on their own (restarted, as supervisor or systemd would).
        data["worker_crashes"] = len(workers.crashes)
        _CRASHES.extend(f"{request.node.name}: {crash}" for crash in workers.crashes)
    data["seconds"] = round(time.monotonic() - started, 1)
    data["outcome"] = request.node.stash.get(_OUTCOME, "?")
    _FIGURES.append((request.node.name, data))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember the outcome for the figures; on failure show the processes' logs."""
    report = yield
    if report.when == "call" or report.failed:
        item.stash[_OUTCOME] = report.outcome
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        workers = funcargs.get("fault_workers")
        for n, worker in enumerate(getattr(workers, "started", [])):
            report.sections.append((f"worker {n} log (last lines)", worker.log_tail()))
        for name in ("private_redis", "private_postgres"):
            server = funcargs.get(name)
            if server is not None:
                report.sections.append((f"{name} log (last lines)", log_tail(server.log_path, 30)))
    return report


def pytest_terminal_summary(terminalreporter):
    if not _FIGURES:
        return
    terminalreporter.section("fault tests: figures")
    for name, data in _FIGURES:
        text = " ".join(f"{key}={value}" for key, value in data.items())
        terminalreporter.write_line(f"{name}: {text}")
    for crash in _CRASHES:
        terminalreporter.write_line(f"worker exited on its own (restarted): {crash}")
    if SETTINGS_CHECK:
        passed, issues = SETTINGS_CHECK[0]
        terminalreporter.write_line(
            "manage.py check with the fault workers' settings: "
            + ("passed" if passed else f"FAILED ({issues})")
        )
