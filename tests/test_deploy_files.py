"""The files in deploy/ name commands and modules that exist, and stop workers warm."""

import configparser
import http.server
import importlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from celery.app.utils import find_app
from django.conf import settings
from django.core.management import get_commands, load_command_class
from django.core.management.base import CommandError
from django.test import RequestFactory
from django.urls import reverse

from tkassalam.celery import app as celery_app
from tkassalam.security import client_ip_address

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SUPERVISOR = DEPLOY / "supervisor" / "tkassalam.conf"
SYSTEMD = DEPLOY / "systemd"
CRON = DEPLOY / "cron" / "tkassalam.cron"
README = DEPLOY.parent / "README.md"
NGINX = DEPLOY / "nginx" / "tkassalam.conf"


def parse(path):
    # No interpolation: supervisor's %(process_num)02d and systemd's %i are theirs to expand.
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(path.read_text(), source=str(path))
    return parser


def supervisor_program(name):
    return parse(SUPERVISOR)[f"program:{name}"]


def systemd_service(name):
    return parse(SYSTEMD / name)["Service"]


def seconds(value):
    """systemd's "120" or "120s"; supervisor's "120"."""
    return int(value.removesuffix("s"))


def test_the_supervisor_group_runs_every_program_it_defines():
    config = parse(SUPERVISOR)
    programs = {name.removeprefix("program:") for name in config if name.startswith("program:")}
    assert set(config["group:tkassalam"]["programs"].split(",")) == programs


def test_every_manage_py_command_named_in_deploy_exists():
    texts = [path.read_text() for path in sorted(DEPLOY.rglob("*")) if path.is_file()]
    named = set(re.findall(r"manage\.py\s+([a-z_]+)", "\n".join(texts)))
    assert {"process_broadcasts", "check_whatsapp_numbers"} <= named  # the cron lines
    assert named - set(get_commands()) == set()


def cron_lines():
    return [line for line in CRON.read_text().splitlines() if line and line[0] != "#"]


def manage_py_invocations(line):
    """(command, its arguments) for each ``manage.py`` in a shell line, up to the next operator."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    invocations = []
    for index, token in enumerate(tokens):
        if token != "manage.py":
            continue
        name, *rest = tokens[index + 1 :]
        args = []
        for arg in rest:
            if set(arg) <= set(lexer.punctuation_chars):  # >>, &&, ;, |: the command ends
                break
            args.append(arg)
        invocations.append((name, args))
    return invocations


@pytest.mark.parametrize("line", cron_lines())
def test_the_cron_lines_pass_options_their_command_accepts(line):
    invocations = manage_py_invocations(line)
    assert invocations, line
    for name, args in invocations:
        command = load_command_class(get_commands()[name], name)
        # A CommandParser raises CommandError on an unknown option or a missing argument.
        command.create_parser("manage.py", name).parse_args(args)


def test_the_cron_line_parser_refuses_an_option_the_command_lacks():
    ((name, args),) = manage_py_invocations(
        "cd /x && .venv/bin/python manage.py process_broadcasts --max-jobz 5 >> var/cron.log"
    )
    assert args == ["--max-jobz", "5"]
    with pytest.raises(CommandError):
        load_command_class(get_commands()[name], name).create_parser("manage.py", name).parse_args(
            args
        )


def test_the_cron_lines_create_var_before_logging_into_it():
    lines = cron_lines()
    assert lines
    for line in lines:
        if "var/" in line:
            assert line.index("mkdir -p var &&") < line.index("var/cron.log"), line


def supervisor_process_names():
    """Every process name supervisorctl knows in the group: ``tkassalam:tkassalam-worker_00``…"""
    config = parse(SUPERVISOR)
    names = set()
    for program in config["group:tkassalam"]["programs"].split(","):
        section = supervisor_program(program)
        template = section.get("process_name", "%(program_name)s")
        start = section.getint("numprocs_start", 0)
        for number in range(start, start + section.getint("numprocs", 1)):
            names.add("tkassalam:" + template % {"program_name": program, "process_num": number})
    return names


def test_a_program_with_several_processes_gives_each_its_own_log():
    config = parse(SUPERVISOR)
    several = [name for name in config if config[name].getint("numprocs", 1) > 1]
    assert several == ["program:tkassalam-worker"]
    # Supervisor rotates each log file (50 MB by default); two processes sharing one
    # rotated file corrupt it, so the path must differ per process.
    for name in several:
        for key in ("stdout_logfile", "stderr_logfile"):
            if key in config[name]:
                assert "%(process_num)" in config[name][key], (name, key)


def test_the_deploy_instructions_name_supervisor_processes_that_exist():
    """supervisorctl takes exact names (or group:*): a stale one would act on nothing."""
    names = supervisor_process_names()
    workers = {name for name in names if name.startswith("tkassalam:tkassalam-worker_")}
    assert len(workers) == supervisor_program("tkassalam-worker").getint("numprocs")
    for path in (README, SUPERVISOR):
        text = path.read_text()
        assert set(re.findall(r"tkassalam:[\w-]+", text)) <= names, path
        restarts = [
            line for line in text.splitlines() if "supervisorctl restart tkassalam:" in line
        ]
        assert restarts, path
        for line in restarts:
            named = set(re.findall(r"tkassalam:[\w-]+", line))
            assert workers <= named, (path, line)  # a deploy restarts every worker
            assert "tkassalam:tkassalam-web" not in named, (path, line)  # HUP reloads it
        assert "supervisorctl signal HUP tkassalam:tkassalam-web" in text, path


def test_the_systemd_web_unit_can_reload():
    """The README deploys with `systemctl reload tkassalam-web`: it needs ExecReload (HUP)."""
    assert systemd_service("tkassalam-web.service")["ExecReload"] == "/bin/kill -HUP $MAINPID"


def test_supervisor_stops_the_worker_warm():
    worker = supervisor_program("tkassalam-worker")
    assert worker["stopsignal"] == "TERM"
    # TERM to the main process only: on the whole group the pool process dies mid-send.
    assert worker.getboolean("stopasgroup", fallback=False) is False
    # The SIGKILL after stopwaitsecs must still reach the pool process.
    assert worker.getboolean("killasgroup") is True
    assert seconds(worker["stopwaitsecs"]) > settings.CELERY_TASK_TIME_LIMIT


def test_systemd_stops_the_worker_warm():
    worker = systemd_service("tkassalam-worker@.service")
    assert worker["KillSignal"] == "SIGTERM"
    # mixed: SIGTERM to the main process only, SIGKILL to all of them after the timeout.
    assert worker["KillMode"] == "mixed"
    assert seconds(worker["TimeoutStopSec"]) > settings.CELERY_TASK_TIME_LIMIT


def celery_commands():
    return [
        supervisor_program("tkassalam-worker")["command"],
        supervisor_program("tkassalam-beat")["command"],
        systemd_service("tkassalam-worker@.service")["ExecStart"],
        systemd_service("tkassalam-beat.service")["ExecStart"],
    ]


@pytest.mark.parametrize("command", celery_commands())
def test_the_celery_app_named_by_a_program_is_ours(command):
    args = shlex.split(command)
    assert find_app(args[args.index("-A") + 1]) is celery_app


@pytest.mark.parametrize(
    "command",
    [
        supervisor_program("tkassalam-web")["command"],
        systemd_service("tkassalam-web.service")["ExecStart"],
    ],
)
def test_the_gunicorn_application_named_by_a_program_imports(command):
    args = shlex.split(command)
    assert args[0].endswith("/gunicorn")
    target = next(arg for arg in args[1:] if not arg.startswith("-"))
    module, _, attribute = target.partition(":")
    application = getattr(importlib.import_module(module), attribute or "application")
    assert callable(application)


def test_nginx_logs_no_query_string_or_referer():
    """Staff search by a parent's number (?q=0812…): nginx must not write it down."""
    text = NGINX.read_text()
    formats = dict(re.findall(r"log_format\s+(\w+)\s+((?:'[^']*'\s*)+);", text))
    logs = re.findall(r"access_log\s+([^;]+);", text)
    assert logs, "every location says how it logs"
    for log in logs:
        target, *format_name = log.split()
        if target == "off":
            continue
        # nginx's default "combined" format holds $request (with the query) and the referer.
        assert format_name and format_name[0] in formats, log
        fields = formats[format_name[0]]
        assert not re.search(r"\$(request|request_uri|args|query_string|http_referer)\b", fields)
    assert len(logs) == text.count("location ")


def nginx_servers():
    """Each ``server { … }`` block of deploy/'s nginx file, as text, comments left out."""
    text = re.sub(r"#[^\n]*", "", NGINX.read_text())
    servers, depth, start = [], 0, None
    for match in re.finditer(r"server\s*\{|\{|\}", text):
        if match.group().startswith("server") and depth == 0:
            start = match.start()
        depth += 1 if match.group().endswith("{") else -1
        if depth == 0 and start is not None:
            servers.append(text[start : match.end()])
            start = None
    return servers


def test_nginx_serves_the_site_over_https_only():
    plain, secure = nginx_servers()
    assert re.search(r"listen 80;", plain)
    # Plain HTTP answers certbot's challenge and otherwise only redirects.
    assert "proxy_pass" not in plain
    assert "return 301 https://$host$request_uri;" in plain
    assert re.search(r"listen 443 ssl http2;", secure)
    assert re.search(r"ssl_certificate\s+\S+;", secure)
    assert re.search(r"ssl_certificate_key\s+\S+;", secure)
    for server in (plain, secure):
        assert "server_tokens off;" in server


def test_nginx_takes_an_import_file_a_little_over_the_import_limit():
    """Django, not nginx, refuses a too-large import: its message is in Indonesian."""
    (_, secure) = nginx_servers()
    server_level = re.sub(r"location[^{]*\{[^}]*\}", "", secure)
    (size,) = re.findall(r"client_max_body_size\s+(\d+)m;", server_level)
    limit = getattr(settings, "STUDENT_IMPORT_MAX_BYTES", 5 * 1024 * 1024)
    assert limit < int(size) * 1024 * 1024 <= 2 * limit


def _large_body_locations():
    (_, secure) = nginx_servers()
    locations = dict(re.findall(r"location\s+([^{]*?)\s*\{([^}]*)\}", secure))
    return {
        re.fullmatch(r"~ (\S+)", where).group(1): int(size) * 1024 * 1024
        for where, block in locations.items()
        for size in re.findall(r"client_max_body_size\s+(\d+)m;", block)
    }


def test_nginx_takes_a_report_zip_a_little_over_its_limit_on_its_page_only():
    """The ZIP upload's page takes a large body; Django refuses one over its limit."""
    url = reverse("admin:reports_monthlyreport_upload_zip", args=[12])
    ((pattern, size),) = [
        (pattern, size)
        for pattern, size in _large_body_locations().items()
        if re.search(pattern, url)
    ]
    assert not re.search(pattern, url.replace("12", "12/change"))
    limit = settings.REPORT_ZIP_MAX_BYTES
    assert limit < size <= limit + 20 * 1024 * 1024


def test_nginx_takes_one_report_file_a_little_over_its_limit_on_its_upload_only():
    """A report file up to REPORT_FILE_MAX_BYTES (10 MB, over the 6 MB of other pages)
    reaches Django from the report page's upload; Django refuses a larger one in Indonesian."""
    url = reverse("admin:reports_monthlyreport_file_upload", args=[12, 34])
    ((pattern, size),) = [
        (pattern, size)
        for pattern, size in _large_body_locations().items()
        if re.search(pattern, url)
    ]
    assert not re.search(pattern, reverse("admin:reports_monthlyreport_file_remove", args=[12, 34]))
    assert not re.search(pattern, reverse("admin:reports_monthlyreport_change", args=[12]))
    limit = settings.REPORT_FILE_MAX_BYTES
    assert limit < size <= limit + 2 * 1024 * 1024
    # Only these two pages take more than the server's default.
    assert len(_large_body_locations()) == 2


def test_nginx_limits_the_login_page_and_passes_the_address_it_saw():
    text = re.sub(r"#[^\n]*", "", NGINX.read_text())
    (_, secure) = nginx_servers()
    zones = re.findall(r"limit_req_zone\s+\$binary_remote_addr\s+zone=(\w+):", text)
    (login,) = re.findall(r"location = /admin/login/ \{([^}]*)\}", secure)
    assert re.search(rf"limit_req zone=({'|'.join(zones)})\b", login)
    # The lockout counts per address: the header must be nginx's own, never the client's.
    assert re.findall(r"proxy_set_header\s+X-Forwarded-For\s+(\S+);", text) == ["$remote_addr"]
    assert "proxy_set_header" not in "".join(re.findall(r"location[^{]*\{([^}]*)\}", secure))


@pytest.fixture
def nginx_binary():
    path = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if path is None:
        pytest.skip("nginx is not installed (apt-get install nginx; .ci/run installs it)")
    return path


def nginx_config(folder, site):
    """deploy/'s file as conf.d includes it (``site`` rewrites it), with a throwaway certificate."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
            *("-nodes", "-days", "1", "-subj", "/CN=tk.example.sch.id"),
            *("-addext", "subjectAltName=DNS:tk.example.sch.id,IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    text = site(NGINX.read_text())
    text = re.sub(r"ssl_certificate \S+;", f"ssl_certificate {cert};", text)
    text = re.sub(r"ssl_certificate_key \S+;", f"ssl_certificate_key {key};", text)
    text = text.replace("/var/log/nginx/", f"{folder}/")
    (folder / "tkassalam.conf").write_text(text)
    # conf.d/*.conf is included inside the http block of Debian's nginx.conf. As root, nginx's
    # workers would run as nobody, who cannot enter pytest's private folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    config = folder / "nginx.conf"
    config.write_text(
        f"{user}pid {folder}/nginx.pid;\nerror_log {folder}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log {folder}/access.log;\n  include {folder}/tkassalam.conf;\n}}\n"
    )
    return config


def test_nginx_accepts_the_file(nginx_binary, tmp_path):
    """``nginx -t`` on the file as it stands."""
    config = nginx_config(tmp_path, lambda text: text)
    result = subprocess.run(
        [nginx_binary, "-t", "-p", str(tmp_path), "-c", str(config)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: The file the backend below hands to nginx, under REPORT_FILES_ACCEL_REDIRECT.
ACCEL_FILE = "/_report-files/7/0a1b2c.pdf"
REPORT_BYTES = b"%PDF-1.4 the report\n"


class EchoHeaders(http.server.BaseHTTPRequestHandler):
    """gunicorn's stand-in: answers each request with the headers nginx passed on."""

    def do_GET(self):
        if self.path.startswith("/laporan/") and self.path.endswith("/berkas/"):
            # As broadcasts.parent_views answers a live link in production.
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Content-Disposition", 'inline; filename="Laporan-S001.pdf"')
            self.send_header("X-Accel-Redirect", ACCEL_FILE)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps(dict(self.headers)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        remaining = int(self.headers.get("Content-Length", 0))
        while remaining:
            remaining -= len(self.rfile.read(min(remaining, 1 << 20)))
        self.do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def running_nginx(nginx_binary, tmp_path):
    """deploy/'s nginx on free loopback ports, proxying to EchoHeaders.

    Yields its http and https base URLs and the certificate that https verifies with.
    """
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoHeaders)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    plain, secure = free_port(), free_port()

    def site(text):
        text = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", text)  # IPv6 may be off here
        text = text.replace("listen 80;", f"listen 127.0.0.1:{plain};")
        text = text.replace("listen 443 ", f"listen 127.0.0.1:{secure} ")
        text = text.replace("/srv/tkassalam/var/report-files/", f"{tmp_path}/report-files/")
        return text.replace("127.0.0.1:8000", f"127.0.0.1:{backend.server_port}")

    (tmp_path / "report-files" / "7").mkdir(parents=True)
    (tmp_path / "report-files" / "7" / "0a1b2c.pdf").write_bytes(REPORT_BYTES)
    config = nginx_config(tmp_path, site)
    process = subprocess.Popen(
        [nginx_binary, "-p", str(tmp_path), "-c", str(config), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", secure), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "nginx did not listen within 10 s"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{plain}", f"https://127.0.0.1:{secure}", str(tmp_path / "cert.pem")
    finally:
        process.terminate()
        process.wait(timeout=10)
        backend.shutdown()


def local_session(cert):
    """A requests session that trusts ``cert`` and ignores the machine's proxy and CA settings."""
    session = requests.Session()
    session.trust_env = False
    session.verify = cert
    return session


def test_nginx_passes_on_the_address_it_saw_never_the_clients_header(running_nginx):
    plain, secure, cert = running_nginx
    forged = {"X-Forwarded-For": "192.0.2.1"}

    with local_session(cert) as session:
        redirect = session.get(f"{plain}/admin/", headers=forged, allow_redirects=False, timeout=5)
        answer = session.get(f"{secure}/admin/", headers=forged, timeout=5)
    assert redirect.status_code == 301
    assert redirect.headers["Location"].startswith("https://")

    assert answer.headers["Server"] == "nginx"  # server_tokens off: no version
    seen = answer.json()
    assert seen["X-Forwarded-For"] == "127.0.0.1"
    assert seen["X-Forwarded-Proto"] == "https"
    # What the login lockout then counts: the address nginx saw.
    request = RequestFactory().get(
        "/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=seen["X-Forwarded-For"]
    )
    assert client_ip_address(request) == "127.0.0.1"


def test_nginx_refuses_a_burst_on_the_login_page(running_nginx):
    _, secure, cert = running_nginx
    with local_session(cert) as session:  # one connection, as a guessing script would keep
        answers = [session.get(f"{secure}/admin/login/", timeout=5).status_code for _ in range(15)]
        other_page = session.get(f"{secure}/admin/", timeout=5)
    assert answers[:10] == [200] * 10
    assert 429 in answers
    assert other_page.status_code == 200  # only the login page is limited


def test_nginx_passes_a_large_zip_to_its_upload_page_only(running_nginx):
    _, secure, cert = running_nginx
    body = b"\0" * (8 * 1024 * 1024)  # over the 6 MB of every other page
    with local_session(cert) as session:
        upload = session.post(
            f"{secure}/admin/reports/monthlyreport/12/upload-zip/", data=body, timeout=30
        )
        elsewhere = session.post(f"{secure}/admin/students/student/import/", data=body, timeout=30)
    assert upload.status_code == 200 and upload.json()["X-Forwarded-Proto"] == "https"
    assert elsewhere.status_code == 413


def test_nginx_passes_a_10_mb_report_file_to_its_upload(running_nginx):
    _, secure, cert = running_nginx
    body = b"\0" * (10 * 1024 * 1024)  # REPORT_FILE_MAX_BYTES, over the 6 MB of other pages
    with local_session(cert) as session:
        upload = session.post(
            f"{secure}/admin/reports/monthlyreport/12/files/34/upload/", data=body, timeout=30
        )
        too_large = session.post(
            f"{secure}/admin/reports/monthlyreport/12/files/34/upload/",
            data=body + b"\0" * (2 * 1024 * 1024),
            timeout=30,
        )
    assert upload.status_code == 200 and upload.json()["X-Forwarded-Proto"] == "https"
    assert too_large.status_code == 413


def gunicorn_commands():
    return [
        supervisor_program("tkassalam-web")["command"],
        systemd_service("tkassalam-web.service")["ExecStart"],
    ]


@pytest.mark.parametrize("command", gunicorn_commands())
def test_gunicorn_keeps_its_control_socket_where_www_data_may_write(command):
    """Under supervisor $HOME is root's: gunicorn's default ~/.gunicorn fails at every start."""
    from gunicorn.config import Config

    # gunicorn's own parser: an option this gunicorn lacks exits instead of passing.
    options = Config().parser().parse_args(shlex.split(command)[1:])
    assert options.control_socket_disable or options.control_socket.startswith(
        "/srv/tkassalam/var/"  # made with install -d -o www-data (README, deploy/ headers)
    )


def test_gunicorns_parser_refuses_an_option_it_lacks():
    from gunicorn.config import Config

    with pytest.raises(SystemExit):
        Config().parser().parse_args(["tkassalam.wsgi", "--control-sockett", "/x"])


def worker_commands():
    """The worker lines as their process manager hands them to Celery (its %-names expanded)."""
    return [
        supervisor_program("tkassalam-worker")["command"] % {"process_num": 0},
        systemd_service("tkassalam-worker@.service")["ExecStart"]
        .replace("%i", "1")
        .replace("%H", "tk.example.sch.id"),
    ]


@pytest.mark.parametrize("command", worker_commands())
def test_the_workers_send_task_events(command):
    """``celery events`` and Flower's task views need them (-E), parsed by Celery's own CLI."""
    from celery.bin.base import CLIContext
    from celery.bin.worker import worker

    args = shlex.split(command)
    context = CLIContext(app=celery_app, no_color=True, workdir=None, quiet=True)
    parsed = worker.make_context("worker", args[args.index("worker") + 1 :], obj=context)
    assert parsed.params["task_events"] is True


def test_nginx_keeps_parents_links_out_of_its_logs_and_limits_them():
    text = re.sub(r"#[^\n]*", "", NGINX.read_text())
    (_, secure) = nginx_servers()
    formats = dict(re.findall(r"log_format\s+(\w+)\s+((?:'[^']*'\s*)+);", text))
    zones = re.findall(r"limit_req_zone\s+\$binary_remote_addr\s+zone=(\w+):", text)
    (links,) = re.findall(r"location /laporan/ \{([^}]*)\}", secure)
    assert re.search(rf"limit_req zone=({'|'.join(zones)})\b", links)
    assert "limit_req_status 429;" in links
    assert "error_log /var/log/nginx/error.log emerg;" in links  # its lines name the request
    (log_format,) = re.findall(r"access_log\s+\S+\s+(\w+);", links)
    assert not re.search(r"\$(uri|request|request_uri|document_uri)\b", formats[log_format])


def test_nginx_serves_report_files_only_through_an_internal_location():
    (_, secure) = nginx_servers()
    (files,) = re.findall(r"location /_report-files/ \{(.*?)\n    \}", secure, flags=re.S)
    assert re.search(r"^\s*internal;", files, flags=re.M)
    # The default REPORT_FILES_DIR under the deploy folder, /srv/tkassalam.
    assert "alias /srv/tkassalam/var/report-files/;" in files
    assert "tkassalam_parent;" in files  # nginx logs where the request ends: no token there
    example = (DEPLOY.parent / ".env.example").read_text()
    assert "REPORT_FILES_ACCEL_REDIRECT=/_report-files/" in example


def test_nginx_sends_the_file_django_names_with_x_accel_and_logs_no_token(running_nginx, tmp_path):
    _, secure, cert = running_nginx
    token = "T" * 43
    with local_session(cert) as session:
        answer = session.get(f"{secure}/laporan/{token}/berkas/", timeout=5)
        direct = session.get(f"{secure}{ACCEL_FILE}", timeout=5)

    assert answer.status_code == 200
    assert answer.content == REPORT_BYTES
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.headers["Content-Disposition"] == 'inline; filename="Laporan-S001.pdf"'
    assert answer.headers["Cache-Control"] == "private, no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert "X-Accel-Redirect" not in answer.headers
    assert direct.status_code == 404  # internal: never from outside
    log = (tmp_path / "tkassalam.access.log").read_text()
    assert "/laporan/******** " in log
    assert token not in log


@pytest.mark.parametrize("command", gunicorn_commands())
def test_gunicorn_writes_no_access_log(command):
    """Its access lines name the path: a parent's link (its token), a webhook's secret."""
    from gunicorn.config import Config

    options = Config().parser().parse_args(shlex.split(command)[1:])
    assert options.accesslog is None


FAILING_APP = '''
from tkassalam.wsgi import application as django_application


def application(environ, start_response):
    """The project's app, loaded as gunicorn loads it; "?boom" fails past Django's handler."""
    if "boom" in environ.get("QUERY_STRING", ""):
        raise RuntimeError("failed at " + environ["PATH_INFO"])
    return django_application(environ, start_response)
'''


def test_gunicorns_error_lines_carry_no_link_token(tmp_path):
    """gunicorn as deploy/ runs it: "Error handling request /laporan/<token>/" is masked.

    gunicorn gives gunicorn.error a handler of its own, without the mask, before its worker
    loads Django; settings.LOGGING must take that handler away (tkassalam/log_filters.py).
    """
    command = shlex.split(systemd_service("tkassalam-web.service")["ExecStart"])
    args = command[1:]
    args[args.index("tkassalam.wsgi")] = "failing_app:application"
    args[args.index("--bind") + 1] = f"127.0.0.1:{(port := free_port())}"
    args[args.index("--workers") + 1] = "1"
    args[args.index("--control-socket") + 1] = str(tmp_path / "gunicorn.ctl")
    (tmp_path / "failing_app.py").write_text(FAILING_APP)
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)]),
        "DJANGO_SETTINGS_MODULE": "tkassalam.settings.test",
        "LOG_LEVEL": "INFO",
    }
    token = "Tok3n-" + "x" * 37
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    with (tmp_path / "gunicorn.log").open("w") as log:
        process = subprocess.Popen(
            [gunicorn, *args], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        for _ in range(100):
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/laporan/{token}/?boom", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start")
        assert answer.status_code == 500
        time.sleep(0.3)
    finally:
        process.terminate()
        process.wait(timeout=30)
    lines = (tmp_path / "gunicorn.log").read_text()
    assert "Error handling request GET /laporan/********/?boom" in lines
    assert "RuntimeError: failed at /laporan/********/" in lines
    assert token not in lines
