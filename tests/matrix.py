"""Run the suite once per backend this machine offers: `make test` calls this.

Always: SQLite with the embedded broker (what a newcomer has). Then, for each server
that answers on its port: PostgreSQL and MariaDB/MySQL (the whole suite again, on a
test database of its own that pytest-django creates and drops), and Redis as the
broker of the end-to-end and fault tests. A server that does not answer is skipped
with the reason printed. Exit status: 0 when every run passed. pytest's "no tests
collected" (exit 5) passes only the SQLite row (a narrow selection such as ``-k``
may match nothing there); a server row that collects nothing fails, for it would
otherwise pass while testing nothing on that server.

TEST_REQUIRE (comma-separated: postgres, mysql, redis, browser; .ci/run sets all four)
turns those skips into failures, so CI cannot pass without them: here, a named server
that does not answer (or a row TEST_MATRIX leaves out) fails the run; in the fault
tests, a missing redis-server or initdb fails instead of skipping; "browser" is read by
the browser tests. Unset (a newcomer's machine), everything missing is skipped.

Override a server's address with TEST_POSTGRES_URL, TEST_MYSQL_URL or TEST_REDIS_URL
(tests/conftest.py reads TEST_REDIS_URL too, for the redis_broker tests of every run);
set TEST_MATRIX=sqlite to run only the first row.
"""

import os
import socket
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlsplit

RUN_ID = os.getpid()
#: pytest's exit status when it collected no test.
NO_TESTS_COLLECTED = 5
#: What TEST_REQUIRE may name.
REQUIRABLE = ("postgres", "mysql", "redis", "browser")


def required() -> set[str]:
    """The names in TEST_REQUIRE; a name not in REQUIRABLE raises ValueError (a typo)."""
    value = os.environ.get("TEST_REQUIRE", "")
    names = {name.strip().lower() for name in value.split(",") if name.strip()}
    unknown = names - set(REQUIRABLE)
    if unknown:
        raise ValueError(
            f"TEST_REQUIRE={value!r}: unknown {', '.join(sorted(unknown))} "
            f"(known: {', '.join(REQUIRABLE)})"
        )
    return names


@dataclass
class Run:
    name: str
    env: dict = field(default_factory=dict)
    args: list = field(default_factory=list)
    server: str = ""  # URL whose host:port must answer
    requires: str = ""  # its name in TEST_REQUIRE
    may_collect_nothing: bool = False  # pytest's exit 5 passes (the SQLite row only)

    def reachable(self) -> str | None:
        """None when the run can go ahead, else why it cannot."""
        if not self.server:
            return None
        parts = urlsplit(self.server)
        try:
            with socket.create_connection((parts.hostname, parts.port), timeout=2):
                return None
        except OSError as err:
            return f"{parts.hostname}:{parts.port} not reachable ({err.strerror or err})"


def runs() -> list[Run]:
    postgres = os.environ.get(
        "TEST_POSTGRES_URL", f"postgres://postgres@127.0.0.1:5432/tkassalam_{RUN_ID}"
    )
    mysql = os.environ.get("TEST_MYSQL_URL", f"mysql://root@127.0.0.1:3306/tkassalam_{RUN_ID}")
    redis = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    return [
        Run("SQLite + embedded broker", may_collect_nothing=True),
        Run("PostgreSQL", env={"DATABASE_URL": postgres}, server=postgres, requires="postgres"),
        Run("MariaDB/MySQL", env={"DATABASE_URL": mysql}, server=mysql, requires="mysql"),
        # Production's pair when PostgreSQL answers, else SQLite with Redis.
        Run(
            "Redis broker (worker tests)",
            env={"E2E_BROKER_URL": redis}
            | ({"DATABASE_URL": postgres} if Run("", server=postgres).reachable() is None else {}),
            args=["-m", "e2e"],
            server=redis,
            requires="redis",
        ),
    ]


def counts(junit_path: str) -> tuple[int, int, int]:
    """(passed, failed, skipped) from a JUnit XML report."""
    try:
        root = ET.parse(junit_path).getroot()
    except (OSError, ET.ParseError):
        return 0, 0, 0
    suites = [root] if root.tag == "testsuite" else list(root)
    total = failed = skipped = 0
    for suite in suites:
        total += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return total - failed - skipped, failed, skipped


def main(argv: list[str]) -> int:
    try:
        must = required()
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    selected = runs()
    summary, failed_runs = [], 0
    if os.environ.get("TEST_MATRIX") == "sqlite":
        for run in selected[1:]:
            if run.requires in must:
                failed_runs += 1
                summary.append(
                    f"FAILED   {run.name}: left out by TEST_MATRIX=sqlite, "
                    f"but TEST_REQUIRE names {run.requires}"
                )
        selected = selected[:1]
    pytest = [sys.executable, "-m", "pytest", *argv]
    totals = [0, 0, 0]
    for run in selected:
        reason = run.reachable()
        if reason and run.requires in must:
            failed_runs += 1
            summary.append(f"FAILED   {run.name}: {reason}, but TEST_REQUIRE names {run.requires}")
            continue
        if reason:
            summary.append(f"SKIPPED  {run.name}: {reason}")
            continue
        print(f"\n=== {run.name} ===", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as junit:
            junit_path = junit.name
        # Each run gets its own SQLite file too, so two matrices never share one.
        sqlite_path = os.path.abspath(f"var/test-{RUN_ID}.sqlite3")
        env = {**os.environ, "TEST_SQLITE_PATH": sqlite_path, **run.env}
        code = subprocess.call([*pytest, *run.args, f"--junitxml={junit_path}"], env=env)
        passed, failed, skipped = counts(junit_path)
        os.unlink(junit_path)
        ok = code == 0 or (code == NO_TESTS_COLLECTED and run.may_collect_nothing)
        failed_runs += not ok
        totals = [totals[0] + passed, totals[1] + failed, totals[2] + skipped]
        why = ": no tests collected" if code == NO_TESTS_COLLECTED else ""
        summary.append(
            f"{'PASSED ' if ok else 'FAILED '}  {run.name}: {passed} passed, {failed} failed, "
            f"{skipped} skipped (pytest exit {code}{why})"
        )
    print("\n=== test matrix ===")
    print("\n".join(summary))
    print(f"total: {totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    return 1 if failed_runs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
