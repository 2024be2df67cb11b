"""End-to-end fixtures: a fake Fonnte, one broker for both sides, a real ``celery worker``.

The worker is a subprocess started from the *production* settings module
(``tkassalam.settings``), configured only by environment variables, exactly as
an operator would run it. It shares two things with the test process:

- the test database pytest-django created (``DATABASE_URL`` built from the
  test connection's ``settings_dict``: SQLite file, PostgreSQL or MySQL);
- the broker. By default kombu's filesystem transport in a fresh folder of this
  pytest session (``CELERY_BROKER_URL=filesystem://`` + ``BROKER_DIR``); with
  ``E2E_BROKER_URL=redis://host:port/db`` that Redis database instead, with a
  queue of this session's own (``CELERY_QUEUE``), emptied with the unacked
  messages taken from it after the session; nothing else there is touched.

The test process publishes through ``tkassalam.celery.app`` (the admin action's
``transaction.on_commit`` calls ``dispatch_pending_broadcasts.delay()``). That
app was configured from the test settings at import, so :func:`publisher` points
it at the same broker for the module and puts it back afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from tests.conftest import point_app_at, skip_unless_required
from tests.fake_fonnte import FakeFonnte
from tests.workers import (
    LOG_TAIL_LINES,
    log_tail,
    start_worker,
    stop_worker,
    wait_until_ready,
    worker_env,
)
from tkassalam.celery import app as celery_app

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # the dev extra is not installed: the browser fixture says so
    sync_playwright = None

FAKE_TOKEN = "e2e-fake-fonnte-token"
ADMIN_EMAIL = "kepala.sekolah@example.com"
WORKER_START_TIMEOUT = 30
WORKER_STOP_TIMEOUT = 10

#: Settings of the worker besides the database and the broker (see tkassalam/settings/base.py).
WORKER_SETTINGS = {
    "DJANGO_SETTINGS_MODULE": "tkassalam.settings",
    "DEBUG": "false",
    "WHATSAPP_RUNNER": "celery",
    "WHATSAPP_BACKEND": "fonnte",
    "FONNTE_API_TOKEN": FAKE_TOKEN,
    "FONNTE_CONNECT_TIMEOUT": "2",
    "FONNTE_READ_TIMEOUT": "1",
    "WHATSAPP_MAX_ATTEMPTS": "3",
    "WHATSAPP_RETRY_DELAY": "1",
    "WHATSAPP_ALERT_DELAY": "1",
    # No pace (a test of pacing sets its own): the tests' messages go out at once.
    "WHATSAPP_MESSAGES_PER_MINUTE": "0",
    "ADMIN_EMAIL": ADMIN_EMAIL,
    # Alert emails are printed into the worker log, never sent (a developer's .env may
    # configure a real SMTP server; process environment wins over .env).
    "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
    "LOG_LEVEL": "INFO",
}
#: Celery reads these from the environment in preference to its configuration.
BROKER_ENV = ("CELERY_BROKER_URL", "CELERY_BROKER_READ_URL", "CELERY_BROKER_WRITE_URL")
#: Longer than any countdown the worker schedules (see broadcasts.checks, W002).
VISIBILITY_TIMEOUT = 3600


# --- The broker ------------------------------------------------------------------


@dataclass(frozen=True)
class Broker:
    url: str
    transport_options: dict
    worker_env: dict[str, str]
    worker_cwd: Path
    queue: str

    @property
    def is_redis(self) -> bool:
        return self.url.startswith(("redis://", "rediss://"))


def filesystem_transport_options(broker_dir: Path) -> dict:
    """What tkassalam/settings/base.py builds from ``BROKER_DIR``, for the test process's app."""
    return {
        "data_folder_in": str(broker_dir / "queue"),
        "data_folder_out": str(broker_dir / "queue"),
        "processed_folder": str(broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(broker_dir / "control"),
        "polling_interval": 0.2,
    }


def filesystem_broker(folder: Path, queue: str) -> Broker:
    """kombu's filesystem transport in ``folder``, as tkassalam/settings/base.py builds it."""
    options = filesystem_transport_options(folder)
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        Path(options[key]).mkdir(parents=True, exist_ok=True)
    return Broker(
        url="filesystem://",
        transport_options=options,
        worker_env={
            "CELERY_BROKER_URL": "filesystem://",
            "BROKER_DIR": str(folder),
            "CELERY_QUEUE": queue,
        },
        queue=queue,
        # kombu's default control folder is relative to the current directory.
        worker_cwd=folder,
    )


def _purge_redis(url: str, queue: str) -> None:
    """Empty our queue, and forget the unacked messages taken from it, in this Redis db.

    Other queues' messages and unacked entries are left alone: only ours go.
    """
    from kombu import Connection

    with Connection(url) as conn:
        channel = conn.default_channel
        channel.queue_purge(queue)
        client = channel.client
        for tag, raw in client.hgetall(channel.unacked_key).items():
            try:
                _message, exchange, routing_key = json.loads(raw)
            except (ValueError, TypeError):
                continue
            if queue in (exchange, routing_key):
                client.pipeline().hdel(channel.unacked_key, tag).zrem(
                    channel.unacked_index_key, tag
                ).execute()


def _forget_bindings(url: str, queue: str) -> None:
    """Drop the routing tables kombu kept for our queue and for our workers' mailboxes.

    A worker binds its remote-control mailbox to the shared ``celery.pidbox`` exchange and
    unbinds it when it stops warmly; a worker killed by a fault test never does. Only
    this session's workers' bindings go (their names end in ``-<pid>@host``).
    """
    from kombu import Connection

    with Connection(url) as conn:
        client = conn.default_channel.client
        client.delete(f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        client.zrem("_kombu.binding_deadlines", queue)
        mailboxes = "_kombu.binding.celery.pidbox"
        ours = [m for m in client.smembers(mailboxes) if f"-{os.getpid()}@".encode() in m]
        if ours:
            client.srem(mailboxes, *ours)
        if not client.exists(mailboxes):
            client.zrem("_kombu.binding_deadlines", "celery.pidbox")


@pytest.fixture(scope="session")
def e2e_broker(tmp_path_factory):
    """The broker both the test process and the worker use, for the whole session.

    On Redis the queue is this session's own (``CELERY_QUEUE``), so two test runs
    sharing the machine's Redis never take or purge each other's tasks.
    """
    queue = f"e2e-{uuid.uuid4().hex}"
    redis_url = os.environ.get("E2E_BROKER_URL", "").strip()
    if redis_url:
        if not redis_url.startswith(("redis://", "rediss://")):
            raise pytest.UsageError(f"E2E_BROKER_URL must be a redis:// URL, not {redis_url!r}")
        broker = Broker(
            url=redis_url,
            transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
            worker_env={
                "CELERY_BROKER_URL": redis_url,
                "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
                "CELERY_QUEUE": queue,
            },
            queue=queue,
            worker_cwd=tmp_path_factory.mktemp("worker-cwd"),
        )
        _purge_redis(redis_url, queue)
    else:
        broker = filesystem_broker(tmp_path_factory.mktemp("broker"), queue)

    try:
        yield broker
    finally:
        if broker.is_redis:
            _purge_redis(broker.url, queue)
            _forget_bindings(broker.url, queue)


@pytest.fixture(scope="module")
def publisher(e2e_broker):
    """The test process's Celery app publishing to the e2e broker, for one module.

    Put back afterwards (pools dropped again), so tests that run later in the
    session publish where their own settings say.
    """
    # Celery prefers these variables to its configuration: they would win over ours.
    hidden = {name: os.environ.pop(name) for name in BROKER_ENV if name in os.environ}
    previous = (celery_app.conf.broker_url, dict(celery_app.conf.broker_transport_options or {}))
    previous_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = e2e_broker.queue
    point_app_at(e2e_broker.url, e2e_broker.transport_options)
    assert celery_app.conf.broker_write_url == e2e_broker.url
    try:
        yield celery_app
    finally:
        point_app_at(*previous)
        celery_app.conf.task_default_queue = previous_queue
        os.environ.update(hidden)


# --- The database ----------------------------------------------------------------


def database_url(settings_dict: dict) -> str:
    """A ``DATABASE_URL`` (django-environ syntax) for the database of ``settings_dict``."""
    engine, name = settings_dict["ENGINE"], str(settings_dict["NAME"])
    if engine == "django.db.backends.sqlite3":
        if name == ":memory:" or "mode=memory" in name:
            pytest.fail("End-to-end tests need a SQLite file (TEST NAME), not an in-memory db.")
        return "sqlite:///" + str(Path(name).resolve())
    schemes = {"django.db.backends.postgresql": "postgres", "django.db.backends.mysql": "mysql"}
    if engine not in schemes:
        pytest.fail(f"End-to-end tests do not know how to share a {engine} database.")
    user = quote(str(settings_dict.get("USER") or ""), safe="")
    password = quote(str(settings_dict.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = quote(str(settings_dict.get("HOST") or ""), safe="")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"{schemes[engine]}://{credentials}{host}{port}/{quote(name, safe='')}"


# --- The fake Fonnte and the worker -------------------------------------------------


@pytest.fixture(scope="module")
def fake():
    """The fake Fonnte server, one per module (the worker is given its URL at start)."""
    with FakeFonnte(token=FAKE_TOKEN) as server:
        yield server


@dataclass
class Worker:
    process: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(repr=False)

    def log(self, since: int = 0) -> str:
        with self.log_path.open("rb") as f:
            f.seek(since)
            return f.read().decode("utf-8", errors="replace")

    def log_mark(self) -> int:
        """Where the log ends now: pass to ``log(since=…)`` to read only what follows."""
        return self.log_path.stat().st_size

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return log_tail(self.log_path, lines)

    def count(self, pattern: str, since: int = 0) -> int:
        return len(re.findall(pattern, self.log(since)))


@pytest.fixture(scope="module")
def worker(django_db_setup, e2e_broker, publisher, fake, tmp_path_factory):
    """One ``celery -A tkassalam worker`` (prefork, 2 processes) for the module."""
    assert not publisher.conf.task_always_eager, "tasks must go through the broker"
    workdir = tmp_path_factory.mktemp("worker")
    log_path = workdir / "worker.log"
    # The test process's own settings (DJANGO_SETTINGS_MODULE, DATABASE_URL, CELERY_*, …)
    # stay out: the worker gets only what is set here (and the project's .env, if any,
    # for anything not set here).
    env = worker_env(
        {
            **WORKER_SETTINGS,
            **e2e_broker.worker_env,
            "SECRET_KEY": f"e2e-worker-{uuid.uuid4().hex}",
            "DATABASE_URL": database_url(connection.settings_dict),
            "FONNTE_URL": fake.send_url,
        }
    )
    args = [
        "-A",
        "tkassalam",
        "worker",
        "--pool=prefork",
        "--concurrency=2",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "-l",
        "INFO",
        "-n",
        f"e2e-{os.getpid()}@%h",
    ]
    process = start_worker(args, env=env, cwd=e2e_broker.worker_cwd, log_path=log_path)
    try:
        problem = wait_until_ready(process, log_path, WORKER_START_TIMEOUT)
        if problem:
            pytest.fail(f"The worker {problem}")
        yield Worker(process=process, log_path=log_path, env=env)
    finally:
        stop_worker(process, WORKER_STOP_TIMEOUT)


#: Debian's Chromium (apt-get install chromium), or the one CHROMIUM_PATH names.
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for a module's browser tests (skipped, or failed under
    TEST_REQUIRE=browser, when Chromium or Playwright is missing)."""
    if not CHROMIUM:
        skip_unless_required("browser", "Chromium is not installed (apt-get install chromium)")
    if sync_playwright is None:
        skip_unless_required("browser", "Playwright is not installed (pip install -e '.[dev]')")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests
    # make between browser steps are ordinary blocking calls, which Django must allow.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            # No connection of its own to the outside (this machine has none to give).
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
            # The browser's own controls (a file input's "Pilih File") in the pages' language,
            # where Debian's chromium-l10n is installed: the manual's pictures hold no English.
            env={**os.environ, "LANGUAGE": "id"},
        )
        yield chromium
        chromium.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture(autouse=True)
def _fresh_fake(fake, worker):
    """Each test starts with the worker up and a fake that forgot earlier requests and settings."""
    fake.reset()
    fake.default = "ok"
    fake.latency = 0.0
    fake.hang_seconds = 5.0
    yield
    fake.latency = 0.0


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, show the end of the worker's log under the test's report."""
    report = yield
    running = getattr(item, "funcargs", {}).get("worker")
    if report.failed and isinstance(running, Worker):
        with contextlib.suppress(OSError):
            report.sections.append(("worker log (last lines)", running.log_tail()))
    return report
