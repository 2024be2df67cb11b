"""What every part of the benchmark shares: the servers, the database, Django, the table.

The benchmark runs on PostgreSQL + Redis when both answer on this machine, else on
SQLite + kombu's filesystem broker (the product's embedded defaults). It never touches
anything it did not create: its own database (``tkassalam_bench_<pid>`` or a temporary
SQLite file), its own queue (``tkassalam-bench-<pid>``) in a Redis database that was
empty when the run started, and its own temporary folder.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.workers import NOT_INHERITED, worker_env

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PID = os.getpid()

POSTGRES_ADMIN_DSN = os.environ.get(
    "BENCH_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
POSTGRES_URL_BASE = os.environ.get("BENCH_POSTGRES_URL_BASE", "postgres://postgres@127.0.0.1:5432")
REDIS_BASE = os.environ.get("BENCH_REDIS_BASE", "redis://127.0.0.1:6379")
# Databases tried, in order, for our own queue: the first empty one is taken. 15 is the
# test suite's (tests/matrix.py), 0 is everybody's default.
REDIS_DBS = range(14, 0, -1)

FAKE_TOKEN = "bench-fake-fonnte-token"  # noqa: S105 - the fake server's token, not a secret
SCHOOL_WEBSITE = "https://tkassalam.example.sch.id"


# --- Which servers ---------------------------------------------------------------


def postgres_version() -> str | None:
    """PostgreSQL's version when it answers on 127.0.0.1:5432, else None."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_DSN, connect_timeout=2) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except Exception:
        return None


def redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=2)


def redis_version() -> str | None:
    try:
        return str(redis_client(REDIS_BASE + "/0").info("server")["redis_version"])
    except Exception:
        return None


def free_redis_url() -> str | None:
    """``redis://…/N`` of the first empty database of REDIS_DBS (BENCH_REDIS_URL wins)."""
    if os.environ.get("BENCH_REDIS_URL"):
        return os.environ["BENCH_REDIS_URL"]
    for db in REDIS_DBS:
        url = f"{REDIS_BASE}/{db}"
        if redis_client(url).dbsize() == 0:
            return url
    return None


@dataclass
class Setup:
    """Where this run's data and messages live, and the settings every process gets."""

    kind: str  # "postgresql" or "sqlite"
    database_name: str
    database_url: str
    broker_url: str
    queue: str
    workdir: Path
    broker_dir: Path | None = None
    secret_key: str = field(default_factory=lambda: "bench-" + secrets.token_urlsafe(40))
    fake_url: str = ""
    db_version: str = ""
    broker_version: str = ""
    redis_keys_before: set = field(default_factory=set)

    @property
    def is_postgres(self) -> bool:
        return self.kind == "postgresql"

    @property
    def is_redis(self) -> bool:
        return self.broker_url.startswith("redis://")

    @property
    def label(self) -> str:
        return (
            f"PostgreSQL {self.db_version} + Redis {self.broker_version}"
            if self.is_postgres
            else f"SQLite {self.db_version} + filesystem broker"
        )

    def settings_env(self) -> dict[str, str]:
        """The production settings module, configured by environment only (as deployed)."""
        env = {
            "DJANGO_SETTINGS_MODULE": "tkassalam.settings",
            "SECRET_KEY": self.secret_key,
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": self.broker_url,
            "CELERY_QUEUE": self.queue,
            "WHATSAPP_RUNNER": "celery",
            "WHATSAPP_BACKEND": "fonnte",
            # No deliberate pace per WhatsApp device: the send figures measure our overhead.
            "WHATSAPP_MESSAGES_PER_MINUTE": "0",
            "FONNTE_API_TOKEN": FAKE_TOKEN,
            "FONNTE_URL": self.fake_url or "http://127.0.0.1:9/send",
            "SCHOOL_WEBSITE": SCHOOL_WEBSITE,
            # Report files (parents' links) in the work folder, removed at the end.
            "REPORT_FILES_DIR": str(self.workdir / "report-files"),
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
            "LOG_LEVEL": "INFO",
        }
        if self.broker_dir is not None:
            env["BROKER_DIR"] = str(self.broker_dir)
        return env

    def subprocess_env(self) -> dict[str, str]:
        return worker_env(self.settings_env())


def choose(backend: str = "auto") -> Setup:
    """PostgreSQL + Redis when both answer (or when asked), else SQLite + filesystem broker."""
    workdir = Path(tempfile.mkdtemp(prefix=f"tkassalam-bench-{PID}-"))
    queue = f"tkassalam-bench-{PID}"
    pg = redis_ver = redis_url = None
    if backend in ("auto", "postgres"):
        pg, redis_ver = postgres_version(), redis_version()
        redis_url = free_redis_url() if redis_ver else None
        if backend == "postgres" and not (pg and redis_url):
            raise SystemExit(
                f"PostgreSQL ({pg or 'not answering'}) and Redis "
                f"({redis_ver or 'not answering'}, free db: {redis_url}) are both needed."
            )
    if pg and redis_url:
        name = f"tkassalam_bench_{PID}"
        setup = Setup(
            kind="postgresql",
            database_name=name,
            database_url=f"{POSTGRES_URL_BASE}/{name}",
            broker_url=redis_url,
            queue=queue,
            workdir=workdir,
            db_version=pg,
            broker_version=redis_ver,
        )
        setup.redis_keys_before = set(redis_client(redis_url).keys("*"))
        return setup
    import sqlite3

    broker_dir = workdir / "broker"
    for sub in ("queue", "processed", "control"):
        (broker_dir / sub).mkdir(parents=True)
    path = workdir / "bench.sqlite3"
    return Setup(
        kind="sqlite",
        database_name=str(path),
        database_url=f"sqlite:///{path}",
        broker_url="filesystem://",
        queue=queue,
        workdir=workdir,
        broker_dir=broker_dir,
        db_version=sqlite3.sqlite_version,
        broker_version="kombu filesystem",
    )


# --- The database ------------------------------------------------------------------


def create_database(setup: Setup) -> float:
    """Create the benchmark database and migrate it (``manage.py migrate``); return seconds."""
    started = time.perf_counter()
    if setup.is_postgres:
        import psycopg
        from psycopg import sql

        with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(setup.database_name)))
    result = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        # No system checks: the benchmark measures (the suite checks), and it must run on a
        # branch whose admin is half-way through a change.
        [PYTHON, "manage.py", "migrate", "--noinput", "--skip-checks"],
        cwd=ROOT,
        env=setup.subprocess_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py migrate failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - started


def drop_database(setup: Setup, keep_workdir: bool = False) -> None:
    """Drop our database (PostgreSQL) and remove the temporary folder (SQLite file, broker)."""
    with contextlib.suppress(Exception):
        from django.db import connections

        connections.close_all()
    if setup.is_postgres:
        import psycopg
        from psycopg import sql

        with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(setup.database_name)
                )
            )
    if not keep_workdir:
        shutil.rmtree(setup.workdir, ignore_errors=True)


def pg_stats(setup: Setup) -> tuple[int, int]:
    """(transactions, sessions) of our database so far, read from another database.

    Every statement run in autocommit is one transaction; ``sessions`` counts the
    connections ever opened (PostgreSQL 14+). Read over a connection to ``postgres``, so
    the reading itself is not counted.
    """
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit + xact_rollback, sessions FROM pg_stat_database WHERE datname = %s",
            (setup.database_name,),
        ).fetchone()
    return int(row[0]), int(row[1])


def pg_stats_settled(setup: Setup, timeout: float = 6.0) -> tuple[int, int]:
    """pg_stats once it stopped moving (backends flush their counters about 1 s after idling)."""
    deadline = time.monotonic() + timeout
    last = pg_stats(setup)
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = pg_stats(setup)
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= 1.5:
            break
    return last


# --- Django in this process ----------------------------------------------------------


def configure_django(setup: Setup) -> None:
    """Configure the production settings from the environment, then ``django.setup()``."""
    for name in list(os.environ):
        if name.startswith(NOT_INHERITED):
            del os.environ[name]
    os.environ.update(setup.settings_env())
    import django

    django.setup()
    # The project's loggers write INFO lines to stderr; keep them, but in a file.
    import logging

    log = open(setup.workdir / "bench-process.log", "a", encoding="utf-8")  # noqa: SIM115
    for logger in [logging.getLogger(), *map(logging.getLogger, logging.root.manager.loggerDict)]:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler
            ):
                handler.setStream(log)


def purge_queue(setup: Setup) -> int:
    """Empty our queue (messages published while no worker ran); return how many."""
    from kombu import Connection

    from tkassalam.celery import app

    options = dict(app.conf.broker_transport_options or {})
    with Connection(setup.broker_url, transport_options=options) as conn:
        return conn.default_channel.queue_purge(setup.queue) or 0


def cleanup_broker(setup: Setup) -> list[str]:
    """Delete every Redis key this run created (the db was empty or keys were noted at start)."""
    if not setup.is_redis:
        return []
    client = redis_client(setup.broker_url)
    created = [k for k in client.keys("*") if k not in setup.redis_keys_before]
    if created:
        client.delete(*created)
    return [k.decode() for k in created]


# --- Test data -----------------------------------------------------------------------

_seq = {"student": 0, "period": 0}


#: How many children in 50 have which guardians (``guardians="mix"``): 60 % two (ayah and
#: ibu), 40 % one (ibu or wali). Among them, in 50 children: one whose parents share a
#: number, one whose ibu opted out, one whose only guardian opted out, one whose only
#: guardian has no number. 10,000 children: 16,000 guardians, 15,200 messages.
MIX_PERIOD = 50


def guardian_specs(i: int, guardians: str = "one") -> list[dict]:
    """The guardians of the benchmark's child number ``i`` (fields of students.Guardian)."""
    if guardians == "one":
        return [{"relation": "ibu", "name": f"Ibu {i:06d}", "phone": f"0812{i:08d}"}]
    k = i % MIX_PERIOD
    ayah = {"relation": "ayah", "name": f"Ayah {i:06d}", "phone": f"0812{i:08d}"}
    ibu = {"relation": "ibu", "name": f"Ibu {i:06d}", "phone": f"0813{i:08d}"}
    if k == 0:  # the parents share one number: one message
        return [ayah, {**ibu, "phone": ayah["phone"]}]
    if k == 1:  # the mother opted out of the school's messages
        return [ayah, {**ibu, "receives_messages": False}]
    if k < 30:
        return [ayah, ibu]
    single = ibu if k % 2 else {**ibu, "relation": "wali", "name": f"Wali {i:06d}"}
    if k == 48:
        return [{**single, "receives_messages": False}]
    if k == 49:
        return [{**single, "phone": ""}]
    return [single]


def expected_messages(classroom) -> int:
    """The messages a send makes for the classroom: one per receiving guardian and number."""
    total = 0
    for i in range(classroom.bench_first, classroom.bench_first + classroom.bench_size):
        numbers = {
            g["phone"]
            for g in guardian_specs(i, classroom.bench_guardians)
            if g["phone"] and g.get("receives_messages", True)
        }
        total += len(numbers)
    return total


def make_classroom(name: str, size: int, guardians: str = "one"):
    """A classroom with ``size`` students and their guardians (``guardian_specs``).

    ``one``: one guardian each with a distinct valid mobile number (one message a child, so
    the send, memory and link figures stay per message); ``mix``: the two-guardian mix.
    """
    from students.models import Classroom, Guardian, Student

    classroom = Classroom.objects.create(name=f"{name}-{PID}")
    start = _seq["student"]
    _seq["student"] += size
    students = Student.objects.bulk_create(
        (
            Student(nis=f"B{i:09d}", full_name=f"Siswa Bench {i:06d}", classroom=classroom)
            for i in range(start, start + size)
        ),
        batch_size=5000,
    )
    if any(s.pk is None for s in students):  # a backend without RETURNING: read them back
        students = list(Student.objects.filter(classroom=classroom).order_by("nis"))
    Guardian.objects.bulk_create(
        (
            Guardian(student=student, **spec)
            for i, student in zip(range(start, start + size), students, strict=True)
            for spec in guardian_specs(i, guardians)
        ),
        batch_size=5000,
    )
    classroom.bench_first, classroom.bench_size, classroom.bench_guardians = start, size, guardians
    return classroom


def make_report(classroom):
    """A new monthly report of ``classroom`` (a month not used yet)."""
    from reports.models import MonthlyReport

    k = _seq["period"]
    _seq["period"] += 1
    return MonthlyReport.objects.create(classroom=classroom, month=k % 12 + 1, year=2000 + k // 12)


def recipients(classroom_id: int) -> list[tuple]:
    """(student, guardian, number) for each message a send would make, in the class's order.

    Guardians who receive messages and have a number; a number already messaged about the
    child gets no second message (as broadcasts.selectors.recipients decides).
    """
    from students.models import Guardian
    from students.phones import normalize_phone

    out, seen = [], set()
    for guardian in (
        Guardian.objects.filter(student__classroom_id=classroom_id, receives_messages=True)
        .exclude(phone="")
        .select_related("student")
        .order_by("student_id", "id")
    ):
        phone = normalize_phone(guardian.phone)
        if (guardian.student_id, phone) not in seen:
            seen.add((guardian.student_id, phone))
            out.append((guardian.student, guardian, phone))
    return out


def make_pending_rows(report, limit: int | None = None, **fields) -> list[int]:
    """Pending rows for the report's recipients (first ``limit``), as the product would create."""
    from broadcasts.messages import current_template, message_context, render_message
    from broadcasts.models import MonthlyReportBroadcast

    chosen = recipients(report.classroom_id)
    if limit is not None:
        chosen = chosen[:limit]
    template = current_template()
    rows = [
        MonthlyReportBroadcast(
            monthly_report=report,
            student=student,
            guardian=guardian,
            phone_number=phone,
            message=render_message(
                message_context(student=student, guardian=guardian, monthly_report=report),
                template,
            ),
            **fields,
        )
        for student, guardian, phone in chosen
    ]
    MonthlyReportBroadcast.objects.bulk_create(rows, batch_size=2000)
    return [row.pk for row in rows if row.pk is not None]


def make_report_files(report, name: str = "") -> int:
    """A ReportFile row for every student of the report's class (bulk, one file name shared).

    ``name`` is a stored file (a real one, for the streamed file response) or a fake name.
    """
    from django.utils import timezone

    from reports.models import ReportFile
    from students.models import Student

    now = timezone.now()
    files = [
        ReportFile(
            monthly_report=report,
            student_id=pk,
            file=name or f"{report.pk}/bench.pdf",
            content_type="application/pdf",
            size=300_000,
            original_name="bench.pdf",
            uploaded_at=now,
        )
        for pk in Student.objects.filter(classroom_id=report.classroom_id).values_list(
            "pk", flat=True
        )
    ]
    ReportFile.objects.bulk_create(files, batch_size=5000)
    return len(files)


def delete_classrooms(classrooms) -> None:
    """Remove what a part of the benchmark created, without loading it (raw DELETEs)."""
    from django.db import connection

    from broadcasts.models import BroadcastAttempt, MonthlyReportBroadcast
    from reports.models import MonthlyReport, ReportFile
    from students.models import Classroom, Guardian, Student

    ids = [c.pk for c in classrooms]
    for queryset in (
        BroadcastAttempt.objects.filter(broadcast__student__classroom_id__in=ids),
        MonthlyReportBroadcast.objects.filter(student__classroom_id__in=ids),
        ReportFile.objects.filter(student__classroom_id__in=ids),
        Guardian.objects.filter(student__classroom_id__in=ids),
        MonthlyReport.objects.filter(classroom_id__in=ids),
        Student.objects.filter(classroom_id__in=ids),
        Classroom.objects.filter(pk__in=ids),
    ):
        queryset._raw_delete(connection.alias)


# --- Measuring -----------------------------------------------------------------------


class QueryCount:
    """Counts the statements this thread's default connection runs (any number, no log kept).

    Django's CaptureQueriesContext keeps at most 9,000 queries; the seed's way runs more.
    """

    def __init__(self):
        self.count = 0
        self._wrapper = None

    def _execute(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        from django.db import connection

        self._wrapper = connection.execute_wrapper(self._execute)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self._wrapper.__exit__(*exc)

    def __len__(self):
        return self.count


def rss_kb(pid: int) -> int:
    """Resident memory of a process in KiB (VmRSS)."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", text).group(1))


def own_peak_reset() -> int:
    """Reset this process's peak RSS (VmHWM); return the current RSS in KiB."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{PID}/clear_refs").write_text("5")
    return rss_kb(PID)


def own_peak_kb() -> int:
    text = Path(f"/proc/{PID}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", text).group(1))


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def window_rate(times: list[float], skip: float = 0.1) -> tuple[float, int, float]:
    """Messages per second between the first ``skip`` share of arrivals and the last one.

    Returns (rate, messages counted, seconds). Leaving out the first 10 % keeps worker
    warm-up and the publishing of the tasks out of a steady-state figure.
    """
    times = sorted(times)
    if len(times) < 3:
        return 0.0, len(times), 0.0
    start = int(len(times) * skip)
    span = times[-1] - times[start]
    count = len(times) - 1 - start
    return (count / span if span > 0 else 0.0), count, span


# --- The machine -------------------------------------------------------------------


def machine_info(setup: Setup) -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, AttributeError):
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    import celery
    import django
    import kombu

    commit = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - read-only git query
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
        if dirty:
            commit += " (with uncommitted changes)"
    return {
        "CPU": f"{cpu}, {os.cpu_count()} cores",
        "RAM": mem,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "Django / Celery / kombu": f"{django.get_version()} / {celery.__version__} / "
        f"{kombu.__version__}",
        "Database / broker": setup.label,
        "Commit": commit or "unknown",
    }


# --- The table -----------------------------------------------------------------------


@dataclass
class Row:
    """One figure: ours, the baseline measured in the same run, their ratio, the target."""

    figure: str
    ours: str
    baseline: str
    ratio: str
    target: str = ""
    met: bool | None = None


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)  # (what, value)


def fmt_seconds(s: float) -> str:
    if s < 1:
        return f"{s * 1000:.0f} ms"
    return f"{s:.2f} s"


def fmt_ratio(x: float, unit: str = "\u00d7") -> str:
    if x >= 100:
        return f"{x:.0f}{unit}"
    if x >= 10:
        return f"{x:.1f}{unit}"
    return f"{x:.2f}{unit}"


def met_mark(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "—"}[met]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(sections: list[Section], meta: dict[str, str], title: str) -> str:
    out = [f"## {title}", ""]
    for key, value in meta.items():
        out.append(f"- **{key}:** {value}")
    out.append("")
    out.append("| # | Figure | Ours | Baseline | Ratio | Target | Met |")
    out.append("|---|---|---|---|---|---|---|")
    number = 0
    for section in sections:
        out.append(f"| | **{section.title}** | | | | | |")
        for row in section.rows:
            number += 1
            out.append(
                f"| {number} | {row.figure} | {row.ours} | {row.baseline} | {row.ratio} | "
                f"{row.target or '—'} | {met_mark(row.met)} |"
            )
    out.append("")
    notes = [(s.title, n) for s in sections for n in s.notes]
    if notes:
        out.append("Notes:")
        out.append("")
        for section_title, note in notes:
            out.append(f"- *{section_title}:* {note}")
        out.append("")
    details = [(s.title, d) for s in sections for d in s.details]
    if details:
        out.append("<details><summary>Where the time goes (measured in the same run)</summary>")
        out.append("")
        out.append("| Part | Measurement | Value |")
        out.append("|---|---|---|")
        for section_title, (what, value) in details:
            out.append(f"| {section_title} | {_cell(what)} | {_cell(value)} |")
        out.append("")
        out.append("</details>")
        out.append("")
    return "\n".join(out)
