"""The files in deploy/ name commands and modules that exist, and stop workers warm."""

import configparser
import importlib
import re
import shlex
from pathlib import Path

import pytest
from celery.app.utils import find_app
from django.conf import settings
from django.core.management import get_commands

from tkassalam.celery import app as celery_app

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SUPERVISOR = DEPLOY / "supervisor" / "tkassalam.conf"
SYSTEMD = DEPLOY / "systemd"
CRON = DEPLOY / "cron" / "tkassalam.cron"


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


def test_the_cron_lines_create_var_before_logging_into_it():
    lines = [line for line in CRON.read_text().splitlines() if line and line[0] != "#"]
    assert lines
    for line in lines:
        if "var/" in line:
            assert line.index("mkdir -p var &&") < line.index("var/cron.log"), line


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
