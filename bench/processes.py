"""The processes the send and memory figures need: the fake Fonnte, workers, bare loops.

Every process is started here in its own session and stopped by its own pid (and its
process group, which holds only what it started).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import requests

from tests.workers import start_worker, stop_worker, wait_until_ready

from .common import FAKE_TOKEN, PID, PYTHON, ROOT, Setup

WORKER_START_TIMEOUT = 60
STOP_TIMEOUT = 15


class FakeServer:
    """bench/fake_server.py in its own process, configured over HTTP."""

    def __init__(self, setup: Setup, latency: float = 0.0):
        self.log_path = setup.workdir / "fake-fonnte.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our script
            [
                *(PYTHON, str(ROOT / "bench" / "fake_server.py")),
                *("--port", "0", "--token", FAKE_TOKEN, "--latency", str(latency)),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        line = self.process.stdout.readline().decode()
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"The fake Fonnte did not start: {line!r}")
        self.base_url = line.split("listening on ", 1)[1].split()[0]
        self.send_url = self.base_url + "/send"
        self.session = requests.Session()

    def config(self, **changes) -> None:
        self.session.post(
            self.base_url + "/_fake/config", json=changes, timeout=10
        ).raise_for_status()

    def reset(self) -> None:
        self.session.post(self.base_url + "/_fake/reset", timeout=30).raise_for_status()

    def count(self) -> int:
        return self.session.get(self.base_url + "/_fake/count", timeout=10).json()["received"]

    def times(self) -> dict:
        return self.session.get(self.base_url + "/_fake/times", timeout=60).json()

    def wait_for(self, count: int, timeout: float, interval: float = 0.05) -> int:
        """Poll until ``count`` requests arrived; return how many did."""
        deadline = time.monotonic() + timeout
        received = self.count()
        while received < count and time.monotonic() < deadline:
            time.sleep(interval)
            received = self.count()
        return received

    def stop(self) -> None:
        stop_worker(self.process, timeout=5)
        self._log.close()


class Workers:
    """N times ``celery -A tkassalam worker --concurrency=1`` (prefork), as deploy/ runs them."""

    def __init__(self, setup: Setup, count: int, tag: str, what_if: str = ""):
        self.processes: list[subprocess.Popen] = []
        self.log_paths: list[Path] = []
        env = setup.subprocess_env()
        app = "tkassalam"
        if what_if:
            # Proposed product changes, applied by bench/whatif_app.py (see there).
            app, env["BENCH_WHATIF"] = "bench.whatif_app", what_if
        cwd = setup.broker_dir or setup.workdir
        for i in range(count):
            log_path = setup.workdir / f"worker-{tag}-{i}.log"
            args = [
                *("-A", app, "worker", "--loglevel=INFO", "--concurrency=1", "--pool=prefork"),
                *("--without-mingle", f"--hostname=bench{PID}-{tag}-{i}@%h"),
            ]
            self.processes.append(start_worker(args, env=env, cwd=cwd, log_path=log_path))
            self.log_paths.append(log_path)
        self._wait_ready()

    def _wait_ready(self) -> None:
        for process, log_path in zip(self.processes, self.log_paths, strict=True):
            problem = wait_until_ready(process, log_path, WORKER_START_TIMEOUT)
            if problem:
                self.stop()
                raise RuntimeError(f"A worker {problem}")

    def pids(self) -> list[tuple[int, list[int]]]:
        """(main pid, pool child pids) of each worker."""
        out = []
        for process in self.processes:
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
            out.append((process.pid, [int(c) for c in children]))
        return out

    def errors(self) -> list[str]:
        """Error lines of the workers' logs (a benchmark that sends nothing must say why)."""
        lines = []
        for path in self.log_paths:
            lines += [
                line
                for line in path.read_text(errors="replace").splitlines()
                if " ERROR" in line or "Traceback" in line
            ]
        return lines

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()  # all at once: their warm shutdowns overlap
        for process in self.processes:
            stop_worker(process, STOP_TIMEOUT)


def bare_loops(
    fake: FakeServer, processes: int, total: int, message: str, lead: float = 1.0
) -> float:
    """Run ``processes`` bare loops sharing ``total`` posts; return when all are done."""
    per = [total // processes + (1 if i < total % processes else 0) for i in range(processes)]
    start_at = time.monotonic() + lead
    running = []
    offset = 0
    for count in per:
        running.append(
            subprocess.Popen(  # noqa: S603 - our interpreter, our script
                [
                    *(PYTHON, str(ROOT / "bench" / "bare_loop.py"), fake.send_url, FAKE_TOKEN),
                    *(str(count), str(offset), repr(start_at), message),
                ],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        offset += count
    for process in running:
        process.wait(timeout=600)
    if any(p.returncode for p in running):
        raise RuntimeError("A bare loop got an answer other than status: true")
    return start_at
