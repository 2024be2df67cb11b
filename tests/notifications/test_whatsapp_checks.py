"""System checks for the WhatsApp settings: each id fires when it should, and only then."""

import pytest
from django.core.checks import run_checks
from django.core.checks.registry import registry

from notifications.whatsapp.checks import (
    check_whatsapp_backend,
    check_whatsapp_backend_deploy,
    check_whatsapp_retries,
)


def _ids(messages):
    return sorted(m.id for m in messages)


@pytest.fixture
def fonnte_settings(settings):
    settings.WHATSAPP_BACKEND = "fonnte"
    settings.FONNTE_API_TOKEN = "tok-check"
    settings.FONNTE_URL = "https://api.fonnte.com/send"
    settings.FONNTE_CONNECT_TIMEOUT = 5.0
    settings.FONNTE_READ_TIMEOUT = 30.0
    return settings


def test_complete_fonnte_configuration_is_clean(fonnte_settings):
    assert check_whatsapp_backend() == []
    assert check_whatsapp_retries() == []
    assert check_whatsapp_backend_deploy() == []


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("http://api.fonnte.com/send", True),
        ("http://10.0.0.5:8080/send", True),
        ("https://api.fonnte.com/send", False),
        ("http://127.0.0.1:9000/send", False),  # a proxy on this machine: no network crossed
        ("http://localhost:9000/send", False),
        ("http://[::1]:9000/send", False),
    ],
)
def test_w002_a_fonnte_url_that_is_not_https(fonnte_settings, url, warned):
    fonnte_settings.FONNTE_URL = url

    messages = check_whatsapp_backend()

    assert _ids(messages) == (["whatsapp.W002"] if warned else [])
    if warned:
        assert not messages[0].is_serious()
        assert "FONNTE_URL" in messages[0].msg


# --- E001 -------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "   "])
def test_e001_fonnte_without_token(fonnte_settings, token):
    fonnte_settings.FONNTE_API_TOKEN = token

    (error,) = check_whatsapp_backend()

    assert error.id == "whatsapp.E001"
    assert "FONNTE_API_TOKEN" in error.msg
    assert "FONNTE_API_TOKEN" in error.hint


def test_e001_also_for_a_dotted_path_to_fonnte(fonnte_settings):
    fonnte_settings.WHATSAPP_BACKEND = "notifications.whatsapp.fonnte.FonnteBackend"
    fonnte_settings.FONNTE_API_TOKEN = ""

    assert _ids(check_whatsapp_backend()) == ["whatsapp.E001"]


@pytest.mark.parametrize("backend", ["console", "locmem"])
def test_no_e001_when_the_backend_needs_no_token(settings, backend):
    settings.WHATSAPP_BACKEND = backend
    settings.FONNTE_API_TOKEN = ""

    assert check_whatsapp_backend() == []


# --- E002 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["wablas", "", "notifications.whatsapp.nope.Backend", "collections.OrderedDict"]
)
def test_e002_backend_cannot_be_resolved(settings, value):
    settings.WHATSAPP_BACKEND = value

    (error,) = check_whatsapp_backend()

    assert error.id == "whatsapp.E002"
    assert "WHATSAPP_BACKEND" in error.msg


# --- E003 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "delay", "count"),
    [(0, 60, 1), (-1, 60, 1), (3, -1, 1), (0, -5, 2), ("3", 60, 1), (3, None, 1)],
)
def test_e003_bad_retry_settings(settings, attempts, delay, count):
    settings.WHATSAPP_MAX_ATTEMPTS = attempts
    settings.WHATSAPP_RETRY_DELAY = delay

    assert _ids(check_whatsapp_retries()) == ["whatsapp.E003"] * count


@pytest.mark.parametrize(("attempts", "delay"), [(1, 0), (3, 60), (5, 0.5)])
def test_no_e003_for_valid_retry_settings(settings, attempts, delay):
    settings.WHATSAPP_MAX_ATTEMPTS = attempts
    settings.WHATSAPP_RETRY_DELAY = delay

    assert check_whatsapp_retries() == []


# --- E004 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("FONNTE_URL", ""),
        ("FONNTE_URL", "api.fonnte.com/send"),
        ("FONNTE_CONNECT_TIMEOUT", 0),
        ("FONNTE_READ_TIMEOUT", -1.0),
    ],
)
def test_e004_bad_fonnte_url_or_timeout(fonnte_settings, setting, value):
    setattr(fonnte_settings, setting, value)

    (error,) = check_whatsapp_backend()

    assert error.id == "whatsapp.E004"
    assert setting in error.msg


def test_no_e004_when_fonnte_is_not_used(settings):
    settings.WHATSAPP_BACKEND = "console"
    settings.FONNTE_URL = ""

    assert check_whatsapp_backend() == []


# --- W001 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend", ["console", "locmem", "notifications.whatsapp.locmem.LocmemBackend"]
)
def test_w001_non_sending_backend_on_deploy(settings, backend):
    settings.WHATSAPP_BACKEND = backend

    (warning,) = check_whatsapp_backend_deploy()

    assert warning.id == "whatsapp.W001"
    assert "no message will reach parents" in warning.msg


@pytest.mark.parametrize("backend", ["fonnte", "not-a-backend"])
def test_no_w001_for_fonnte_or_unresolvable_backend(fonnte_settings, backend):
    fonnte_settings.WHATSAPP_BACKEND = backend

    assert check_whatsapp_backend_deploy() == []


# --- Registration -----------------------------------------------------------------------


def test_checks_are_registered_and_w001_only_on_deploy():
    normal = registry.get_checks(include_deployment_checks=False)
    deploy = registry.get_checks(include_deployment_checks=True)

    assert check_whatsapp_backend in normal
    assert check_whatsapp_retries in normal
    assert check_whatsapp_backend_deploy not in normal
    assert check_whatsapp_backend_deploy in deploy


def test_run_checks_reports_w001_only_with_deploy(settings):
    settings.WHATSAPP_BACKEND = "locmem"

    def whatsapp_ids(**kwargs):
        return [m.id for m in run_checks(**kwargs) if m.id.startswith("whatsapp.")]

    assert whatsapp_ids() == []
    assert whatsapp_ids(include_deployment_checks=True) == ["whatsapp.W001"]
