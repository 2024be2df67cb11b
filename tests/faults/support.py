"""Helpers of the fault tests: brokers, workers to kill, a Redis and a PostgreSQL to restart.

Builds on the end-to-end helpers (``tests/e2e/conftest.py``): the same worker
command line and production settings module, configured only by environment
variables, the same fake Fonnte. What differs:

- everything is per test: a fresh fake Fonnte, a fresh broker (a filesystem
  broker folder, or with ``E2E_BROKER_URL`` a queue of its own on that Redis),
  fresh workers, so a fault in one test never leaks into the next;
- workers run beat embedded (``-B``) with short recovery timings
  (:data:`FAULT_SETTINGS`), and can be SIGKILLed whole or in part;
- :class:`PrivateRedis` and :class:`PrivatePostgres` are servers a test starts
  on a free port, kills and restarts, and removes at teardown. The machine's
  shared PostgreSQL, MariaDB and Redis are never stopped;
- :class:`OrmProbe` and :class:`SqlProbe` read where a broadcast stands, from the
  test database or from a private PostgreSQL, as the same :class:`Snapshot`;
- :func:`settle`, :func:`stays_quiet` and :func:`verify` wait for a class of :data:`N`
  parents (:func:`make_class`) to settle and check what every fault must leave intact.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import pytest
from django.db import connection
from django.db.models import Count, Max, Q

from broadcasts.models import FINAL_STATUSES, BroadcastStatus
from tests.conftest import point_app_at
from tests.e2e.conftest import (
    BROKER_ENV,
    VISIBILITY_TIMEOUT,
    WORKER_SETTINGS,
    WORKER_START_TIMEOUT,
    Broker,
    Worker,
    database_url,
)
from tests.workers import BASE_DIR, log_tail, start_worker, wait_until_ready, worker_env
from tkassalam.celery import app as celery_app

#: The worker's settings on top of the end-to-end ones: the recovery sweep every second,
#: a send stuck for 16 s is given up on (a real send takes at most connect + read = 6 s),
#: a lost task is republished 3 s after it was due, alerts go out 1 s after a failure
#: and at most every 2 s (so every alert of a test arrives within it).
#:
#: The task time limits shrink with them (12 s soft, 15 s hard), so ``manage.py check``
#: passes (broadcasts.E002: the stuck-send timeout must outlive a task); the summary says
#: so (see :func:`record_settings_check`). Much shorter hard limits (7 s) kept Celery from
#: redelivering a killed pool process's task in the pool-process test.
FAULT_SETTINGS = {
    **WORKER_SETTINGS,
    "FONNTE_CONNECT_TIMEOUT": "1",
    "FONNTE_READ_TIMEOUT": "5",
    "CELERY_TASK_SOFT_TIME_LIMIT": "12",
    "CELERY_TASK_TIME_LIMIT": "15",
    "WHATSAPP_MAX_ATTEMPTS": "3",
    "WHATSAPP_RETRY_DELAY": "1",
    "WHATSAPP_SENDING_TIMEOUT": "16",
    "WHATSAPP_REQUEUE_AFTER": "3",
    "WHATSAPP_RECOVERY_INTERVAL": "1",
    "WHATSAPP_ALERT_DELAY": "1",
    "WHATSAPP_ALERT_INTERVAL": "2",
    "WHATSAPP_FAILURE_ALERT_THRESHOLD": "10",
    "WHATSAPP_FAILURE_ALERT_WINDOW": "3600",
    "CONN_MAX_AGE": "60",
}
#: Worker processes per worker: sends are I/O (the fake's latency), not CPU.
CONCURRENCY = 4
#: Seconds before a worker that exited on its own is started again (systemd: RestartSec=5s,
#: supervisor: at once).
RESTART_DELAY = 1.0
#: Longest wait for a server we start (or restart) to answer.
SERVER_START_TIMEOUT = 30


def wait_until(predicate, *, timeout, what, describe=None, interval=0.1):
    """Poll ``predicate()`` until it returns something truthy, and return that.

    On timeout the test fails naming ``what`` and, if given, ``describe()`` (the state).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            state = f" (now: {describe()})" if describe else ""
            pytest.fail(f"Timed out after {timeout}s waiting for {what}{state}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port nobody listens on right now (127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL ``process`` and everything in its process group, then reap it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


# --- Brokers ---------------------------------------------------------------------


def redis_broker(url: str, queue: str, cwd: Path) -> Broker:
    return Broker(
        url=url,
        transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        worker_env={
            "CELERY_BROKER_URL": url,
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
            "CELERY_QUEUE": queue,
        },
        queue=queue,
        worker_cwd=cwd,
    )


@contextlib.contextmanager
def publishing_to(broker: Broker):
    """The test process's Celery app publishes to ``broker`` (and its queue) meanwhile."""
    # Celery prefers these variables to its configuration: they would win over ours.
    hidden = {name: os.environ.pop(name) for name in BROKER_ENV if name in os.environ}
    previous = (celery_app.conf.broker_url, dict(celery_app.conf.broker_transport_options or {}))
    previous_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = broker.queue
    point_app_at(broker.url, broker.transport_options)
    try:
        yield celery_app
    finally:
        point_app_at(*previous)
        celery_app.conf.task_default_queue = previous_queue
        os.environ.update(hidden)


def broker_label(broker: Broker) -> str:
    return "redis" if broker.is_redis else "filesystem"


# --- Fonnte down --------------------------------------------------------------------

#: The two ways Fonnte is down: it answers every send with HTTP 500, or nothing listens
#: on its port (connection refused, the commonest meaning of "down").
HTTP_500, REFUSED = "http_500", "refused"


class FonnteDown:
    """Takes the fake Fonnte down on entering, brings it back with :meth:`end` or on leaving.

    ``refused``: the fake stops, and its port stays bound but not listening, so a connection
    is refused at once, and no other socket (a client's ephemeral port) can take the port
    before the fake listens there again: the workers know only that URL.
    """

    #: What a retry's reason (worker log, row's error_message) says, per kind.
    REASONS = {HTTP_500: "(kode 500)", REFUSED: "Connection refused"}

    def __init__(self, fake, kind: str):
        if kind not in self.REASONS:
            raise ValueError(f"unknown kind of outage {kind!r}")
        self.fake, self.kind, self.reason = fake, kind, self.REASONS[kind]
        self._port_holder: socket.socket | None = None
        self.down = False

    def __enter__(self) -> FonnteDown:
        if self.kind == HTTP_500:
            self.fake.default = HTTP_500
        else:
            port = self.fake.port
            self.fake.stop()
            holder = socket.socket()
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            holder.bind(("127.0.0.1", port))  # bound, never listening: connections refused
            self._port_holder = holder
        self.down = True
        return self

    def end(self) -> None:
        """Fonnte is back: it accepts every send again (idempotent)."""
        if not self.down:
            return
        if self.kind == HTTP_500:
            self.fake.default = "ok"
        else:
            self._port_holder.close()
            self._port_holder = None
            self.fake.start()  # the same port (FakeFonnte.start after stop)
        self.down = False

    def __exit__(self, *exc_info) -> None:
        self.end()


# --- Workers ---------------------------------------------------------------------


@dataclass
class _Spec:
    """How a worker was started, to start it again."""

    name: str
    command: list[str]
    cwd: Path
    env: dict[str, str]


@dataclass
class FaultWorkers:
    """Starts ``celery -A tkassalam worker -B`` processes; stops every one at teardown.

    Like the process managers of deploy/ (supervisor ``autorestart=true``, systemd
    ``Restart=always``), a worker that exits on its own is started again after
    :data:`RESTART_DELAY`; each such exit is recorded in ``crashes`` (with the log
    line that says why). Workers the test stops or kills on purpose stay down.
    """

    workdir: Path
    fonnte_url: str
    started: list[Worker] = field(default_factory=list)
    kills: int = 0
    crashes: list[str] = field(default_factory=list)
    _specs: dict[int, _Spec] = field(default_factory=dict)  # by main pid
    _done: set[int] = field(default_factory=set)  # pids killed on purpose or restarted
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def env(self, broker: Broker, *, database: str, **settings: str) -> dict[str, str]:
        """The worker's environment: production settings module, configured by variables.

        Also what ``manage.py`` subprocesses of the test (migrate, shell) run with.
        """
        return worker_env(
            {
                **FAULT_SETTINGS,
                **broker.worker_env,
                "SECRET_KEY": f"faults-worker-{uuid.uuid4().hex}",
                "DATABASE_URL": database,
                "FONNTE_URL": self.fonnte_url,
                **settings,
            }
        )

    def start(
        self,
        name: str,
        broker: Broker,
        *,
        database: str | None = None,
        concurrency: int = CONCURRENCY,
        **settings: str,
    ) -> Worker:
        """Start one worker with embedded beat and wait until it is ready.

        ``database`` defaults to the test database pytest-django set up; ``settings``
        (environment variables) override :data:`FAULT_SETTINGS`.
        """
        env = self.env(
            broker, database=database or database_url(connection.settings_dict), **settings
        )
        record_settings_check(env)
        command = [
            "-A",
            "tkassalam",
            "worker",
            "--beat",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
        ]
        worker = self._spawn(_Spec(name, command, broker.worker_cwd, env))
        problem = wait_until_ready(worker.process, worker.log_path, WORKER_START_TIMEOUT)
        if problem:
            pytest.fail(f"Worker {name} {problem}")
        if self._thread is None:
            self._thread = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
            self._thread.start()
        return worker

    def _spawn(self, spec: _Spec) -> Worker:
        log_path = self.workdir / f"worker-{spec.name}.log"
        command = [
            *spec.command,
            # Each worker its own schedule file: a SIGKILLed beat may leave its file torn.
            f"--schedule-filename={self.workdir / f'beat-{spec.name}'}",
            "-n",
            f"faults-{spec.name}-{os.getpid()}@%h",
        ]
        process = start_worker(command, env=spec.env, cwd=spec.cwd, log_path=log_path)
        worker = Worker(process=process, log_path=log_path, env=spec.env)
        with self._lock:
            self._specs[process.pid] = spec
            self.started.append(worker)
        return worker

    def _supervise(self) -> None:
        """Start again, after RESTART_DELAY, every worker that exited on its own."""
        while not self._stopping.wait(0.2):
            with self._lock:
                exited = [
                    w
                    for w in self.started
                    if w.process.pid not in self._done and w.process.poll() is not None
                ]
                for worker in exited:
                    self._done.add(worker.process.pid)
            for worker in exited:
                spec = self._specs[worker.process.pid]
                errors = [line for line in worker.log().splitlines() if "Unrecoverable" in line]
                self.crashes.append(
                    f"{spec.name} exited {worker.process.returncode}"
                    + (f" ({errors[-1].strip()[:200]})" if errors else "")
                )
                if self._stopping.wait(RESTART_DELAY):
                    return
                self._spawn(replace(spec, name=f"{spec.name}-restart{len(self.crashes)}"))

    def stop(self, worker: Worker, *, timeout: float) -> float | None:
        """SIGTERM to the main process only, as deploy/ sends it; seconds until it exited.

        A warm shutdown, on purpose: the worker is not started again. None if it was still
        running after ``timeout``: then its whole process group is SIGKILLed (:meth:`kill`),
        as supervisor and systemd do once their stop timeout has passed.
        """
        with self._lock:
            self._done.add(worker.process.pid)
        started = time.monotonic()
        worker.process.send_signal(signal.SIGTERM)
        try:
            worker.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(worker)
            return None
        return time.monotonic() - started

    def kill(self, worker: Worker) -> None:
        """``kill -9`` the whole worker: main process, pool processes and embedded beat."""
        with self._lock:
            self._done.add(worker.process.pid)
        _kill_group(worker.process)
        self.kills += 1

    def kill_pool_processes(self, worker: Worker, *, talking_to: int) -> list[int]:
        """SIGKILL the worker's pool processes that hold a connection to port ``talking_to``.

        Those are the ones sending (or that sent) to Fonnte; beat never connects there.
        The main process survives: it sees the loss, starts new pool processes and, as
        ``task_reject_on_worker_lost`` says, hands the lost tasks back to the broker.
        """
        victims = processes_connected_to(children_of(worker.process.pid), talking_to)
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.kills += len(victims)
        return victims

    def stop_all(self) -> None:
        """Stop supervising, then SIGKILL every worker's whole process group.

        Not a warm shutdown: the test is over and a warm one takes ~10 s after a pool
        process was lost. What the workers held unacknowledged on a shared Redis is
        purged with the test's queue (see the ``fault_broker`` fixture).
        """
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=WORKER_START_TIMEOUT)
        with self._lock:
            workers = list(self.started)
        for worker in workers:
            _kill_group(worker.process)


class ProcessInfo(NamedTuple):
    """One process, as its /proc/<pid>/stat describes it."""

    pid: int
    state: str  # "Z": a zombie, exited and not reaped yet
    ppid: int
    pgrp: int

    @property
    def zombie(self) -> bool:
        return self.state == "Z"


def live_processes() -> Iterator[ProcessInfo]:
    """Every process in /proc now, zombies included (marked: ``zombie``)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses.
        state, ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        yield ProcessInfo(int(entry), state, int(ppid), int(pgrp))


def children_of(pid: int) -> list[int]:
    """Pids of the processes whose parent is ``pid`` (from /proc)."""
    return [process.pid for process in live_processes() if process.ppid == pid]


def group_left(pgid: int) -> list[int]:
    """Live processes (zombies aside) of the process group ``pgid`` (from /proc)."""
    return [p.pid for p in live_processes() if p.pgrp == pgid and not p.zombie]


def processes_connected_to(pids: list[int], port: int) -> list[int]:
    """Those of ``pids`` holding an established TCP connection to 127.0.0.1:``port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01":  # 01: ESTABLISHED
                inodes.add(fields[9])
    found = []
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    found.append(pid)
                    break
    return found


# --- A Redis of our own -------------------------------------------------------------


@dataclass
class PrivateRedis:
    """``redis-server`` on a free port, no persistence: a restart loses every message."""

    binary: str
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.workdir / "redis.log"

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.workdir),
                    "--daemonize",
                    "no",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def answers():
            if self.process.poll() is not None:
                pytest.fail(f"redis-server exited:\n{log_tail(self.log_path)}")
            try:
                return self.client().ping()
            except Exception:  # not up yet
                return False

        wait_until(answers, timeout=SERVER_START_TIMEOUT, what="the private redis-server")

    def kill(self) -> None:
        """``kill -9``: whatever it held (queued and unacked messages) is gone."""
        if self.process is not None:
            _kill_group(self.process)

    def restart(self, down_for: float) -> None:
        self.kill()
        time.sleep(down_for)
        self.start()
        self.restarts += 1


# --- A PostgreSQL of our own ----------------------------------------------------------


def postgres_bindir() -> Path | None:
    """A folder with initdb, pg_ctl and postgres: on PATH, else the newest Debian one."""
    on_path = shutil.which("pg_ctl")
    candidates = [Path(on_path).parent] if on_path else []

    def version(path):
        return [int(p) for p in re.findall(r"\d+", path)] or [0]

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version)][
        ::-1
    ]
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


@dataclass
class PrivatePostgres:
    """A throw-away PostgreSQL cluster in a temporary folder, on a free port.

    PostgreSQL refuses to run as root: as root, every command runs as the ``postgres``
    OS user (``runuser``), and the folder belongs to that user.
    """

    bindir: Path
    root: Path
    run_as: list[str]
    port: int = field(default_factory=free_port)
    restarts: int = 0
    database: str = "postgres"  # the cluster's own: no createdb needed

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, tool: str, *args: str) -> None:
        command = [*self.run_as, str(self.bindir / tool), *args]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
        if done.returncode:
            pytest.fail(
                f"{tool} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                f"{log_tail(self.log_path, 20)}"
            )

    def init(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        self.start()

    def start(self) -> None:
        # fsync off: only the server process dies here, never the machine, so what it
        # wrote is kept by the kernel. synchronous_commit stays ON, as in production:
        # with it off an immediate stop loses commits the workers were told about (a
        # claim undone after the message left: the parent would be messaged twice).
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log_path),
            "-o",
            options,
            "-w",
            "-t",
            str(SERVER_START_TIMEOUT),
            "start",
        )

    def stop(self) -> None:
        """``pg_ctl stop -m immediate``: every connection dropped, no checkpoint."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def restart(self, down_for: float) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()
        self.restarts += 1

    def query(self, sql: str, params=()) -> list[tuple]:
        """Rows of ``sql`` on a fresh connection (raises psycopg.OperationalError when down)."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname=self.database,
            connect_timeout=2,
            autocommit=True,
        ) as conn:
            return conn.execute(sql, params).fetchall()

    def cleanup(self) -> None:
        if (self.data / "postmaster.pid").exists():
            pg_ctl = str(self.bindir / "pg_ctl")
            subprocess.run(
                [*self.run_as, pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
            )
        shutil.rmtree(self.root, ignore_errors=True)


# --- manage.py in a subprocess ------------------------------------------------------


def manage(env: dict[str, str], *args: str, timeout: float = 60) -> str:
    """Run ``manage.py args`` with ``env`` (production settings); return its stdout."""
    done = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode:
        pytest.fail(
            f"manage.py {args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


#: ``manage.py check`` with the workers' settings, run once per session: (passed, output).
SETTINGS_CHECK: list[tuple[bool, str]] = []


def record_settings_check(env: dict[str, str]) -> None:
    if SETTINGS_CHECK:
        return
    check_env = {**env, "DATABASE_URL": "sqlite://:memory:"}
    done = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "check"],
        env=check_env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    ids = sorted(set(re.findall(r"\(([a-z_]+\.[EW]\d+)\)", done.stdout + done.stderr)))
    SETTINGS_CHECK.append((done.returncode == 0, ", ".join(ids) or "no issue"))


# --- Where a broadcast stands ------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One MonthlyReportBroadcast row, as the assertions need it."""

    pk: int
    nis: str
    name: str
    phone: str
    status: str
    attempts: int
    message_id: str
    alerted: bool
    reason: str  # error_message
    message: str  # the text sent: names the child, so Fonnte's log tells whose it was


@dataclass(frozen=True)
class Alert:
    """One admin Notification."""

    recipient: str  # username
    key: str
    link: str
    body: str


@dataclass(frozen=True)
class Snapshot:
    rows: list[Row]
    alerts: list[Alert]

    def statuses(self) -> Counter:
        return Counter(row.status for row in self.rows)

    def with_status(self, status) -> list[Row]:
        return [row for row in self.rows if row.status == status]

    def report_alerts(self, report_id: int) -> list[Alert]:
        """The grouped "not delivered" alerts about this report (its link filters on it)."""
        return [
            alert
            for alert in self.alerts
            if not alert.key and f"monthly_report__id__exact={report_id}&" in alert.link
        ]


#: What progress() counts besides the statuses: pending rows the dispatcher has not
#: published yet (enqueued_at unset). Not "rows without enqueued_at": the dispatcher
#: stamps only rows still pending, so a row claimed before the stamp never gets one.
UNDISPATCHED = "undispatched"


class OrmProbe:
    """Reads a report's rows and the admins' notifications from the test database."""

    def __init__(self, report_id: int):
        self.report_id = report_id

    def progress(self) -> Counter:
        from broadcasts.models import MonthlyReportBroadcast

        rows = MonthlyReportBroadcast.objects.filter(monthly_report_id=self.report_id)
        counts = Counter(dict(rows.order_by().values_list("status").annotate(n=Count("pk"))))
        counts["rows"] = sum(counts.values())
        counts[UNDISPATCHED] = rows.filter(status="pending", enqueued_at__isnull=True).count()
        return counts

    def rows(self, status=None) -> list[tuple[int, str]]:
        """``(pk, phone)`` of the report's rows, of one status if given."""
        from broadcasts.models import MonthlyReportBroadcast

        rows = MonthlyReportBroadcast.objects.filter(monthly_report_id=self.report_id)
        if status is not None:
            rows = rows.filter(status=status)
        return list(rows.order_by("pk").values_list("pk", "phone_number"))

    def timers_started(self) -> tuple[float | None, float | None]:
        """The last claim of an unknown row and the last hand-out of any (:func:`quiet_until`)."""
        from broadcasts.models import MonthlyReportBroadcast

        found = MonthlyReportBroadcast.objects.filter(monthly_report_id=self.report_id).aggregate(
            claimed=Max("claimed_at", filter=Q(status=UNKNOWN)),
            enqueued=Max("enqueued_at"),
            due=Max("next_attempt_at"),
        )
        handed_out = [at for at in (found["enqueued"], found["due"]) if at is not None]
        return (
            found["claimed"] and found["claimed"].timestamp(),
            max(handed_out).timestamp() if handed_out else None,
        )

    def snapshot(self) -> Snapshot:
        from broadcasts.models import MonthlyReportBroadcast
        from notifications.models import Notification

        rows = (
            MonthlyReportBroadcast.objects.filter(monthly_report_id=self.report_id)
            .select_related("student")
            .order_by("pk")
        )
        return Snapshot(
            rows=[
                Row(
                    pk=b.pk,
                    nis=b.student.nis,
                    name=b.student.full_name,
                    phone=b.phone_number,
                    status=b.status,
                    attempts=b.retry_count,
                    message_id=b.fonnte_message_id,
                    alerted=b.failure_alerted_at is not None,
                    reason=b.error_message,
                    message=b.message,
                )
                for b in rows
            ],
            alerts=[
                Alert(n.recipient.username, n.key, n.link, n.body)
                for n in Notification.objects.select_related("recipient").order_by("pk")
            ],
        )


class SqlProbe:
    """The same reads in plain SQL, on a private PostgreSQL no Django connection points at.

    While the server is down every read answers None.
    """

    ROWS = """
        SELECT b.id, s.nis, s.full_name, b.phone_number, b.status, b.retry_count,
               b.fonnte_message_id, b.failure_alerted_at IS NOT NULL, b.error_message,
               b.message
        FROM broadcasts_monthlyreportbroadcast b JOIN students_student s ON s.id = b.student_id
        WHERE b.monthly_report_id = %s ORDER BY b.id
    """
    ALERTS = """
        SELECT u.username, n.key, n.link, n.body
        FROM notifications_notification n JOIN auth_user u ON u.id = n.recipient_id
        ORDER BY n.id
    """
    PROGRESS = """
        SELECT status, count(*), count(*) FILTER (WHERE enqueued_at IS NULL)
        FROM broadcasts_monthlyreportbroadcast WHERE monthly_report_id = %s GROUP BY status
    """

    def __init__(self, server: PrivatePostgres, report_id: int):
        self.server = server
        self.report_id = report_id

    def _query(self, sql, params=()):
        import psycopg

        try:
            return self.server.query(sql, params)
        except psycopg.Error:
            return None

    def progress(self) -> Counter | None:
        found = self._query(self.PROGRESS, (self.report_id,))
        if found is None:
            return None
        counts = Counter({status: n for status, n, _ in found})
        counts["rows"] = sum(counts.values())
        counts[UNDISPATCHED] = sum(waiting for status, _, waiting in found if status == "pending")
        return counts

    def rows(self, status=None) -> list[tuple[int, str]] | None:
        found = self._query(
            "SELECT id, phone_number FROM broadcasts_monthlyreportbroadcast "
            "WHERE monthly_report_id = %s AND (%s::text IS NULL OR status = %s) ORDER BY id",
            (self.report_id, status, status),
        )
        return None if found is None else [tuple(row) for row in found]

    def timers_started(self) -> tuple[float | None, float | None]:
        (found,) = self.server.query(
            "SELECT extract(epoch FROM max(claimed_at) FILTER (WHERE status = %s)), "
            "extract(epoch FROM greatest(max(enqueued_at), max(next_attempt_at))) "
            "FROM broadcasts_monthlyreportbroadcast WHERE monthly_report_id = %s",
            (UNKNOWN, self.report_id),
        )
        return tuple(at and float(at) for at in found)

    def snapshot(self) -> Snapshot | None:
        rows, alerts = self._query(self.ROWS, (self.report_id,)), self._query(self.ALERTS)
        if rows is None or alerts is None:
            return None
        return Snapshot(rows=[Row(*row) for row in rows], alerts=[Alert(*a) for a in alerts])


# --- A class of N parents, and what every fault must leave intact ---------------------

#: The statuses, as the fault tests name them.
SENT, FAILED, UNKNOWN = BroadcastStatus.SENT, BroadcastStatus.FAILED, BroadcastStatus.UNKNOWN
SENDING, PENDING = BroadcastStatus.SENDING, BroadcastStatus.PENDING
RETRYING = BroadcastStatus.RETRYING

#: Parents in the class.
N = 30
#: Longest wait for the broadcast to settle after a fault (a passing test needs ~10 s).
SETTLE_TIMEOUT = 40
#: Longer than two recovery sweeps (WHATSAPP_RECOVERY_INTERVAL = 1 s): nothing may move.
QUIET = 2.5
#: From a sweep's cutoff to a resend it would cause reaching Fonnte: the next sweep
#: (WHATSAPP_RECOVERY_INTERVAL), the task through the broker (a filesystem broker is
#: polled every second) and a worker's claim and request.
SWEEP_TO_FONNTE = int(FAULT_SETTINGS["WHATSAPP_RECOVERY_INTERVAL"]) + 2.0
#: Users the ``admins`` fixture makes: alerted (superuser, group admin, group super_admin)...
ADMINS = ("kepala", "tatausaha", "yayasan")
#: ... and never alerted (staff without an admin group, an inactive superuser).
BYSTANDERS = ("guru", "lama")


#: The class's shape (:func:`class_guardians`): children 1-3 also have a father at a number
#: of his own, child 4's father shares the mother's number, child 6 is child 5's twin and
#: has the same mother at the same number. One row per (child, number): N rows.
FATHERS = 3
SHARED = 4
TWINS = (5, 6)


def class_guardians(code: int, n: int = N) -> list[list[tuple[str, str]]]:
    """Per child, its guardians ``(relation, number)``, for ``n`` rows in all.

    Mothers at 0812<code><child>, fathers at 0813<code><child>; all valid, all distinct
    but the shared one and the twins' one.
    """
    children = []
    for i in range(1, n - FATHERS + 1):
        mother = f"0812{code:02d}{(TWINS[0] if i == TWINS[1] else i):06d}"
        guardians = [("ibu", mother)]
        if i <= FATHERS:
            guardians.append(("ayah", f"0813{code:02d}{i:06d}"))
        elif i == SHARED:
            guardians.append(("ayah", mother))
        children.append(guardians)
    return children


def make_class(make_student, code: int, n: int = N) -> set[tuple[str, str]]:
    """The children of :func:`class_guardians`; returns who must get the message, once each:
    ``(nis, number as Fonnte sees it)``."""
    from students.models import Guardian
    from students.phones import normalize_phone

    recipients = set()
    for guardians in class_guardians(code, n):
        (_, mother), *others = guardians
        student = make_student(mother)
        for relation, phone in others:
            Guardian.objects.create(
                student=student, relation=relation, phone=phone, name=f"Bapak {student.pk}"
            )
        recipients |= {(student.nis, normalize_phone(phone)) for _, phone in guardians}
    assert len(recipients) == n
    return recipients


def requests_for(fake, row, *, accepted=False) -> list:
    """What Fonnte got for this row: its number and its text (the text names the child)."""
    return [
        r
        for r in fake.received
        if r.target == row.phone and r.message == row.message and (r.accepted or not accepted)
    ]


def accepted_per_child_and_number(fake, rows) -> Counter:
    """Messages Fonnte accepted per ``(nis, number)``, read off its log: each accepted
    request is matched to the row of the same number and text; one matching no row counts
    under ``(None, number)``."""
    by_text = {(row.phone, row.message): row for row in rows}
    counts = Counter()
    for request in fake.received:
        if request.accepted:
            row = by_text.get((request.target, request.message))
            assert row is None or f"*{row.name}*" in request.message, request
            counts[(row.nis if row else None, request.target)] += 1
    return counts


def handed_out(progress) -> bool:
    """All N rows exist and the dispatcher published a task for each (none left waiting)."""
    return bool(progress) and progress["rows"] == N and progress[UNDISPATCHED] == 0


def settle(probe, expected: int = N, *, timeout: float = SETTLE_TIMEOUT):
    """Wait until the report has ``expected`` rows, all final, every failed/unknown one alerted."""
    last = []

    def settled():
        snap = probe.snapshot()
        if snap is None:
            return None
        last[:] = [snap]
        final = len(snap.rows) == expected and all(r.status in FINAL_STATUSES for r in snap.rows)
        alerted = all(r.alerted for r in snap.rows if r.status != SENT)
        return snap if final and alerted else None

    def describe():
        if not last:
            return "the database does not answer"
        snap = last[0]
        not_alerted = sum(1 for r in snap.rows if r.status != SENT and not r.alerted)
        return f"{len(snap.rows)} rows {dict(snap.statuses())}, {not_alerted} not alerted yet"

    return wait_until(
        settled,
        timeout=timeout,
        what=f"{expected} rows sent, failed or unknown, the failed and unknown ones alerted",
        describe=describe,
    )


def quiet_until(probe) -> float:
    """When (``time.time()``) the recovery timers that could resend a settled row have run
    out, plus :data:`SWEEP_TO_FONNTE`; :data:`QUIET` from now at the earliest.

    services.recovery republishes a row handed out (or due) at t at t +
    WHATSAPP_REQUEUE_AFTER, and decides about a row claimed at t at t +
    WHATSAPP_SENDING_TIMEOUT: the claim's clock matters for the rows that ended
    ``unknown`` (whether their message left is not known; a sweep that wrongly took one
    back would resend it then). A sent or failed row was answered: its end is final.
    """
    claimed, handed_out = probe.timers_started()
    ends = [time.time() + QUIET]
    for started, timeout in (
        (claimed, FAULT_SETTINGS["WHATSAPP_SENDING_TIMEOUT"]),
        (handed_out, FAULT_SETTINGS["WHATSAPP_REQUEUE_AFTER"]),
    ):
        if started is not None:
            ends.append(started + int(timeout) + SWEEP_TO_FONNTE)
    return max(ends)


def stays_quiet(probe, fake, snap):
    """Until the recovery timers that could resend a row have run out (:func:`quiet_until`):
    no row changes, Fonnte gets no further request. Returns the snapshot."""
    requests = len(fake.received)
    time.sleep(max(0.0, quiet_until(probe) - time.time()))
    later = probe.snapshot()
    assert [(r.pk, r.status, r.attempts) for r in later.rows] == [
        (r.pk, r.status, r.attempts) for r in snap.rows
    ], "rows changed after the broadcast had settled"
    assert len(fake.received) == requests, "Fonnte was called after every row had settled"
    return later


def verify(
    snap,
    fake,
    *,
    report_id,
    expected=N,
    allowed=FINAL_STATUSES,
    figures=None,
    recipients=None,
):
    """The invariants every fault must leave intact; returns (and records) the figures.

    ``recipients``: who must have a row, ``(nis, number)`` (what :func:`make_class` returns).
    """
    rows = snap.rows
    statuses = snap.statuses()
    requests = {}
    for request in fake.received:
        requests[request.target] = requests.get(request.target, 0) + 1
    per_child_number = accepted_per_child_and_number(fake, rows)

    # None lost, none in flight, none in a status this fault may not produce.
    assert len(rows) == expected, f"{expected - len(rows)} rows lost"
    stuck = [r.pk for r in rows if r.status not in FINAL_STATUSES]
    assert not stuck, f"rows still in flight: {stuck}"
    assert set(statuses) <= set(allowed), dict(statuses)
    if recipients is not None:
        assert {(r.nis, r.phone) for r in rows} == recipients

    # Never twice per (report, child, number), in Fonnte's log; Fonnte reached only this
    # class's numbers, and only with the text of one of its rows.
    twice = {key: n for key, n in per_child_number.items() if n > 1}
    assert not twice, f"(child, number) that got the message twice: {twice}"
    stray = [key for key in per_child_number if key[0] is None]
    assert not stray, f"accepted messages that are no row's: {stray}"
    assert set(requests) <= {r.phone for r in rows}

    # sent <=> accepted once; failed => never accepted; unknown => tried once at most.
    accepted_unknown = 0
    for row in rows:
        accepted = per_child_number[(row.nis, row.phone)]
        if row.status == SENT:
            (request,) = requests_for(fake, row, accepted=True)
            assert row.message_id == request.message_id, row
        elif row.status == FAILED:
            assert accepted == 0, f"failed row #{row.pk} was accepted"
        else:
            assert len(requests_for(fake, row)) <= 1, f"unknown row #{row.pk} was sent again"
            accepted_unknown += accepted

    # Every failed or unknown row: in a grouped alert to every admin, and to nobody else.
    report_alerts = snap.report_alerts(report_id)
    for row in rows:
        if row.status in (FAILED, UNKNOWN):
            assert row.alerted, f"row #{row.pk} ({row.status}) was never alerted"
            for admin in ADMINS:
                assert any(
                    a.recipient == admin and f"{row.name} ({row.nis})" in a.body
                    for a in report_alerts
                ), f"{admin} was not told about row #{row.pk} ({row.status})"
    assert not [a for a in snap.alerts if a.recipient in BYSTANDERS], "a non-admin was alerted"

    counted = {
        "rows": len(rows),
        "sent": statuses[SENT],
        "unknown": statuses[UNKNOWN],
        "failed": statuses[FAILED],
        "lost": expected - len(rows),
        "stuck": len(stuck),
        "accepted": sum(per_child_number.values()),
        "requests": sum(requests.values()),
        "accepted_but_unknown": accepted_unknown,
        "duplicates": len(twice),
        "numbers_shared_by_children": sum(n > 1 for n in Counter(r.phone for r in rows).values()),
        "alerts_per_admin": max(
            (sum(a.recipient == admin for a in report_alerts) for admin in ADMINS), default=0
        ),
    }
    if figures is not None:
        figures.update(counted)
    return counted


def log_count(workers, pattern: str) -> int:
    return sum(len(re.findall(pattern, worker.log())) for worker in workers.started)


def log_total(workers, pattern: str) -> int:
    """The sum of the numbers ``pattern`` captures in every worker's log."""
    return sum(int(n) for worker in workers.started for n in re.findall(pattern, worker.log()))


def republished(workers) -> int:
    """Tasks the recovery sweep published again (lost with a worker or the broker)."""
    return log_total(workers, r"Republished (\d+) broadcast tasks")
