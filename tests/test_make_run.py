"""`make run` prints the admin login again, last, once the web server and the worker are up.

The command that waits (print_when_up) is tested alone, then the Makefile's own run recipe
is run with a fake python and celery, so what is checked is the recipe's wiring: the order
of what the terminal shows, the login kept out of every argument, and Ctrl-C stopping all.
"""

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent
LOGIN = "Admin login: http://127.0.0.1:8000/admin/  user: admin  password: pw-Secret-123"


class Server:
    """A socket bound to a free port; ``listen()`` makes it accept, counting connections."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        self.twice = threading.Event()

    def listen(self):
        self.sock.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.close()
            self.accepted += 1
            if self.accepted >= 2:
                self.twice.set()

    def close(self):
        self.sock.close()


@pytest.fixture
def server():
    server = Server()
    yield server
    server.close()


def start(monkeypatch, *args):
    """print_when_up in a thread, the login on its standard input; returns (thread, out, err)."""
    monkeypatch.setattr(sys, "stdin", StringIO(LOGIN + "\n"))
    out, err = StringIO(), StringIO()
    thread = threading.Thread(
        target=call_command,
        args=("print_when_up", "--interval=0.02", *args),
        kwargs={"stdout": out, "stderr": err},
    )
    thread.start()
    return thread, out, err


def test_waits_for_the_web_server(monkeypatch, server, tmp_path):
    pidfile = tmp_path / "worker.pid"
    pidfile.write_text(str(os.getpid()))

    thread, out, _ = start(monkeypatch, f"--address={server.address}", f"--pidfile={pidfile}")
    thread.join(0.5)  # connections are refused meanwhile: nothing to await but time
    assert thread.is_alive() and out.getvalue() == ""

    server.listen()
    thread.join(10)
    assert not thread.is_alive()
    assert out.getvalue().strip() == LOGIN


def test_waits_for_the_worker_to_write_its_pidfile(monkeypatch, server, tmp_path):
    pidfile = tmp_path / "worker.pid"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    pidfile.write_text(str(dead.pid))  # left by a worker that was killed: not up
    server.listen()

    thread, out, _ = start(monkeypatch, f"--address={server.address}", f"--pidfile={pidfile}")
    assert server.twice.wait(10)
    assert thread.is_alive() and out.getvalue() == ""

    pidfile.write_text(f"{os.getpid()}\n")
    thread.join(10)
    assert not thread.is_alive()
    assert out.getvalue().strip() == LOGIN


def test_prints_it_anyway_after_the_timeout_and_says_why(monkeypatch, server, tmp_path):
    thread, out, err = start(
        monkeypatch,
        f"--address={server.address}",
        f"--pidfile={tmp_path / 'none.pid'}",
        "--timeout=0.2",
    )
    thread.join(10)

    assert out.getvalue().strip() == LOGIN
    assert f"Not up after 0.2 s (web server at {server.address}" in err.getvalue()


FAKE_PYTHON = """\
#!{python}
# `$(PY) manage.py …` of the run recipe: fake demo data and web server, the real print_when_up.
import os, signal, socket, sys

command = sys.argv[2]
if command == "load_demo_data":
    print("Demo data ready.")
    print({login!r})
elif command == "print_when_up":
    os.execv({python!r}, [{python!r}, *sys.argv[1:]])
elif command == "runserver":
    host, port = sys.argv[3].rsplit(":", 1)
    # Bound when the worker's banner is out, so the login must wait for the worker too.
    with socket.create_server((host, int(port))) as server:
        print("Starting development server", flush=True)
        try:
            while True:
                server.accept()[0].close()
        except KeyboardInterrupt:
            print("fake web server stopped", flush=True)
"""

FAKE_CELERY = """\
#!{python}
# `$(BIN)/celery … worker --pidfile=…`: a banner, then the pidfile, as celery does (both at once).
import os, signal, sys, time

pidfile = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--pidfile="))


def stop(*_):
    print("fake worker stopped", flush=True)
    if os.path.exists(pidfile):
        os.unlink(pidfile)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
time.sleep(0.5)
print("FAKE WORKER BANNER", flush=True)
if os.environ["FAKE_WORKER_STARTS"]:
    with open(pidfile, "w") as file:
        file.write(str(os.getpid()))
while True:
    time.sleep(1)
"""


def run_make(tmp_path, address, *, worker_starts=True):
    """`make run` with the fakes; returns (process, its lines so far) once the login is out twice.

    When the worker never starts, once the web server is up and the banner out instead.
    """
    fakes = tmp_path / "bin"
    fakes.mkdir()
    for name, text in (("python", FAKE_PYTHON), ("celery", FAKE_CELERY)):
        path = fakes / name
        path.write_text(text.format(python=sys.executable, login=LOGIN))
        path.chmod(0o755)
    make = subprocess.Popen(
        # Command-line variables override the Makefile's; -o migrate: no database here.
        [
            "make",
            "--no-print-directory",
            "-o",
            "migrate",
            "run",
            f"BIN={fakes}",
            f"PY={fakes / 'python'}",
            f"RUN_ADDRESS={address}",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tkassalam.settings.test",
            "FAKE_WORKER_STARTS": "1" if worker_starts else "",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, which a terminal's Ctrl-C reaches
    )
    lines, arrived = [], queue.Queue()

    def read():
        for line in make.stdout:
            arrived.put(line.rstrip("\n"))
        arrived.put(None)

    def waiting():
        if worker_starts:
            return lines.count(LOGIN) < 2
        return not {"Starting development server", "FAKE WORKER BANNER"} <= set(lines)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 30
    while waiting():
        try:
            line = arrived.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            break
        if line is None:
            break
        lines.append(line)
    make.arrived = arrived
    return make, lines


def ctrl_c(make, lines):
    """Send SIGINT to the whole process group, as a terminal does; the lines after it."""
    os.killpg(make.pid, signal.SIGINT)
    make.wait(timeout=30)
    rest = iter(lambda: make.arrived.get(timeout=10), None)
    return lines + list(rest)


def processes_naming(text):
    """Pids of the processes whose command line holds ``text`` (Linux's /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text.encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
PIDFILE = ROOT / "var" / "run-worker.pid"


@needs_make
def test_the_run_recipe_prints_the_login_again_last_and_ctrl_c_stops_both(tmp_path, server):
    address = server.address
    server.close()  # the fake web server takes the port
    make, lines = run_make(tmp_path, address)
    try:
        assert lines.count(LOGIN) == 2, lines
        worker = int(PIDFILE.read_text())
        # The password never reaches a command line (`ps` shows those to every user).
        assert processes_naming("pw-Secret-123") == []
    finally:
        lines = ctrl_c(make, lines)

    shown = [line for line in lines if line.strip()]
    again = len(shown) - 1 - shown[::-1].index(LOGIN)
    assert shown[:2] == ["Demo data ready.", LOGIN]
    assert shown.index("FAKE WORKER BANNER") < again
    assert shown.index("Starting development server") < again
    assert "fake web server stopped" in lines and "fake worker stopped" in lines
    assert not PIDFILE.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)


@needs_make
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="no /proc")
def test_ctrl_c_before_the_worker_is_up_leaves_no_waiter_behind(tmp_path, server):
    address = server.address
    server.close()
    make, lines = run_make(tmp_path, address, worker_starts=False)
    try:
        assert processes_naming(f"print_when_up --address={address}"), lines
    finally:
        lines = ctrl_c(make, lines)

    assert lines.count(LOGIN) == 1  # the first, from the demo data; never the second
    assert "fake worker stopped" in lines
    assert processes_naming(f"print_when_up --address={address}") == []
