"""manage.py check [--deploy] names what is misconfigured in how broadcasts are run.

Also the deploy checks the issue names that Django provides: a default SECRET_KEY, DEBUG on.
"""

import runpy
import secrets

import environ
import pytest
from django.core.checks import run_checks

import tkassalam.settings.base
from broadcasts.checks import check_broker, check_runner_settings


def ids(messages):
    return [m.id for m in messages]


def test_the_default_settings_pass():
    assert check_runner_settings() == []


def test_an_unknown_runner_is_named(settings):
    settings.WHATSAPP_RUNNER = "cronjob"
    assert ids(check_runner_settings()) == ["broadcasts.E001"]


def test_a_sending_timeout_shorter_than_a_task_is_refused(settings):
    settings.WHATSAPP_SENDING_TIMEOUT = settings.CELERY_TASK_TIME_LIMIT
    (error,) = check_runner_settings()
    assert error.id == "broadcasts.E002"
    assert "WHATSAPP_SENDING_TIMEOUT" in error.msg


def test_a_redis_visibility_timeout_shorter_than_a_countdown_is_flagged(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
    settings.WHATSAPP_ALERT_INTERVAL = 600
    assert ids(check_runner_settings()) == ["broadcasts.W002"]
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    assert check_runner_settings() == []


def test_deploy_check_warns_about_the_embedded_broker(broker_url):
    broker_url("filesystem://")
    assert ids(check_broker()) == ["broadcasts.W001"]


def test_deploy_check_names_an_unreachable_broker(broker_url):
    broker_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    (error,) = check_broker()
    assert error.id == "broadcasts.E003"
    assert "CELERY_BROKER_URL" in error.msg


def test_the_broker_check_runs_with_check_deploy_only(broker_url):
    broker_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    # Through Django's registry, as `manage.py check [--deploy]` runs it: registered, and
    # for --deploy only (it opens a connection, which a plain `check` must not need).
    assert "broadcasts.E003" in ids(run_checks(include_deployment_checks=True))
    assert "broadcasts.E003" not in ids(run_checks())


def test_deploy_check_skips_the_broker_in_cron_mode(broker_url, settings):
    settings.WHATSAPP_RUNNER = "cron"
    broker_url("redis://127.0.0.1:1/0")
    assert check_broker() == []


# --- Django's deploy checks on the project's settings --------------------------------------


def deploy_check_ids():
    return {message.id for message in run_checks(include_deployment_checks=True)}


def base_settings_without(monkeypatch, *names):
    """The settings tkassalam/settings/base.py makes from an environment lacking ``names``."""
    for name in names:
        monkeypatch.delenv(name, raising=False)
    # A developer's .env (make run writes one with a random key) must not fill them in.
    monkeypatch.setattr(environ.Env, "read_env", classmethod(lambda cls, *args, **kwargs: None))
    return runpy.run_path(tkassalam.settings.base.__file__)


def test_deploy_check_names_the_projects_default_secret_key(monkeypatch, settings):
    settings.SECRET_KEY = base_settings_without(monkeypatch, "SECRET_KEY")["SECRET_KEY"]
    assert "security.W009" in deploy_check_ids()


@pytest.mark.parametrize(
    "key",
    [
        "django-insecure-tests-only",  # what startproject writes, and our test settings
        "change-me",
        "x" * 60,  # long but with too few different characters
    ],
)
def test_deploy_check_names_a_weak_secret_key(settings, key):
    settings.SECRET_KEY = key
    assert "security.W009" in deploy_check_ids()


def test_deploy_check_names_debug_on(settings):
    settings.DEBUG = True
    assert "security.W018" in deploy_check_ids()


def test_debug_is_off_unless_set(monkeypatch):
    assert base_settings_without(monkeypatch, "DEBUG")["DEBUG"] is False


def test_deploy_check_is_quiet_about_a_strong_key_with_debug_off(settings):
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    settings.DEBUG = False
    assert deploy_check_ids().isdisjoint({"security.W009", "security.W018"})


@pytest.mark.parametrize("deploy", [False, True])
def test_the_projects_empty_secret_key_is_an_error(monkeypatch, settings, deploy):
    """.env.example ships SECRET_KEY empty: migrate and every page must refuse, not only warn."""
    settings.SECRET_KEY = base_settings_without(monkeypatch, "SECRET_KEY")["SECRET_KEY"]
    (error,) = [m for m in run_checks(include_deployment_checks=deploy) if m.id == "tkassalam.E001"]
    assert error.is_serious()
    assert "SECRET_KEY" in error.msg


def test_a_set_secret_key_passes_the_project_check(settings):
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    assert "tkassalam.E001" not in ids(run_checks())


# --- The alert emails' SMTP transport ----------------------------------------------------


SMTP = "django.core.mail.backends.smtp.EmailBackend"


@pytest.mark.parametrize(
    ("backend", "host", "tls", "ssl", "warned"),
    [
        (SMTP, "smtp.example.sch.id", False, False, True),
        (SMTP, "smtp.example.sch.id", True, False, False),
        (SMTP, "smtp.example.sch.id", False, True, False),
        (SMTP, "localhost", False, False, False),  # a relay on this machine
        (SMTP, "127.0.0.1", False, False, False),
        (SMTP, "::1", False, False, False),
        (
            "django.core.mail.backends.console.EmailBackend",
            "smtp.example.sch.id",
            False,
            False,
            False,
        ),
    ],
)
def test_deploy_check_warns_about_a_remote_smtp_host_without_tls(
    settings, backend, host, tls, ssl, warned
):
    settings.EMAIL_BACKEND, settings.EMAIL_HOST = backend, host
    settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL = tls, ssl
    assert ("notifications.W001" in deploy_check_ids()) is warned
