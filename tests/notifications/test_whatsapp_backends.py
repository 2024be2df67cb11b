"""get_backend(), the console and locmem backends, and the error tree."""

import dataclasses
import io
import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation

from notifications import whatsapp
from notifications.whatsapp import (
    RETRYABLE_ERRORS,
    BaseBackend,
    OutcomeUnknown,
    RecipientRejected,
    SenderRejected,
    SendResult,
    TemporaryFailure,
    WhatsAppError,
    get_backend,
    locmem,
)
from notifications.whatsapp.console import ConsoleBackend
from notifications.whatsapp.fonnte import FonnteBackend
from notifications.whatsapp.locmem import LocmemBackend, SentMessage

PHONE = "6281234567890"
MASKED = "62812****7890"


class RecordingBackend(BaseBackend):
    """A dotted-path backend for the tests below."""

    name = "recording"

    def send(self, *, phone, message):
        return SendResult(message_id="rec-1", request_id="", detail="", raw_response="")


class SubFonnteBackend(FonnteBackend):
    pass


@pytest.fixture(autouse=True)
def _fresh_backend_cache():
    get_backend.cache_clear()
    yield
    get_backend.cache_clear()


@pytest.fixture
def fonnte_settings(settings):
    settings.WHATSAPP_BACKEND = "fonnte"
    settings.FONNTE_API_TOKEN = "tok-get-backend-secret"
    settings.FONNTE_URL = "https://api.fonnte.test/send"
    settings.FONNTE_CONNECT_TIMEOUT = 4.0
    settings.FONNTE_READ_TIMEOUT = 11.0
    return settings


# --- get_backend ------------------------------------------------------------------------


def test_test_settings_use_locmem():
    assert type(get_backend()) is LocmemBackend


@pytest.mark.parametrize(
    ("value", "expected"),
    [("console", ConsoleBackend), ("locmem", LocmemBackend), (" Console ", ConsoleBackend)],
)
def test_aliases(settings, value, expected):
    settings.WHATSAPP_BACKEND = value

    assert type(get_backend()) is expected


def test_fonnte_alias_gets_the_fonnte_settings(fonnte_settings):
    backend = get_backend()

    assert type(backend) is FonnteBackend
    assert backend.url == "https://api.fonnte.test/send"
    assert (backend.connect_timeout, backend.read_timeout) == (4.0, 11.0)
    assert "tok-get-backend-secret" not in repr(backend)


def test_dotted_path(settings):
    settings.WHATSAPP_BACKEND = f"{__name__}.RecordingBackend"

    assert type(get_backend()) is RecordingBackend


def test_dotted_path_to_a_fonnte_subclass_gets_the_fonnte_settings(fonnte_settings):
    fonnte_settings.WHATSAPP_BACKEND = f"{__name__}.SubFonnteBackend"

    backend = get_backend()

    assert type(backend) is SubFonnteBackend
    assert backend.read_timeout == 11.0


@pytest.mark.parametrize(
    "value",
    ["twilio", "", "notifications.whatsapp.nope.Backend", "collections.OrderedDict"],
)
def test_unknown_backend_is_improperly_configured_naming_the_setting(settings, value):
    settings.WHATSAPP_BACKEND = value

    with pytest.raises(ImproperlyConfigured, match="WHATSAPP_BACKEND"):
        get_backend()


def test_fonnte_without_token_is_improperly_configured(fonnte_settings):
    fonnte_settings.FONNTE_API_TOKEN = ""

    with pytest.raises(ImproperlyConfigured, match="FONNTE_API_TOKEN"):
        get_backend()


def test_backend_is_cached_so_its_session_is_reused(fonnte_settings):
    first = get_backend()

    assert get_backend() is first
    assert get_backend()._session is first._session


def test_unrelated_setting_change_keeps_the_cache(settings):
    first = get_backend()
    settings.SCHOOL_NAME = "Another school"

    assert get_backend() is first


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("FONNTE_API_TOKEN", "tok-other"),
        ("FONNTE_URL", "https://other.fonnte.test/send"),
        ("FONNTE_CONNECT_TIMEOUT", 1.5),
        ("FONNTE_READ_TIMEOUT", 2.5),
    ],
)
def test_changing_a_fonnte_setting_rebuilds_the_backend(fonnte_settings, setting, value):
    first = get_backend()
    setattr(fonnte_settings, setting, value)

    second = get_backend()

    assert second is not first
    assert second._session is not first._session


def test_changing_the_backend_setting_switches_backend(settings):
    assert type(get_backend()) is LocmemBackend
    settings.WHATSAPP_BACKEND = "console"

    assert type(get_backend()) is ConsoleBackend


def test_new_read_timeout_is_used_after_a_change(fonnte_settings):
    get_backend()
    fonnte_settings.FONNTE_READ_TIMEOUT = 2.5

    assert get_backend().read_timeout == 2.5


# --- Console ----------------------------------------------------------------------------


def test_console_writes_masked_phone_and_text_and_sends_nothing():
    stream = io.StringIO()
    backend = ConsoleBackend(stream=stream)

    result = backend.send(phone=PHONE, message="Laporan *Oktober* sudah terbit.")

    output = stream.getvalue()
    assert MASKED in output
    assert PHONE not in output
    assert "Laporan *Oktober* sudah terbit." in output
    assert re.fullmatch(r"console-[0-9a-f]{32}", result.message_id)
    assert result.message_id in output


def test_console_ids_are_unique():
    backend = ConsoleBackend(stream=io.StringIO())

    ids = {backend.send(phone=PHONE, message="x").message_id for _ in range(3)}

    assert len(ids) == 3


def test_console_defaults_to_stdout(capsys):
    ConsoleBackend().send(phone=PHONE, message="Halo Bunda")

    assert "Halo Bunda" in capsys.readouterr().out


# --- Locmem -----------------------------------------------------------------------------


def test_locmem_appends_to_outbox():
    locmem.outbox.clear()
    backend = LocmemBackend()

    first = backend.send(phone=PHONE, message="satu")
    second = backend.send(phone="6289876543210", message="dua")

    assert locmem.outbox == [
        SentMessage(phone=PHONE, message="satu", message_id=first.message_id),
        SentMessage(phone="6289876543210", message="dua", message_id=second.message_id),
    ]
    assert re.fullmatch(r"locmem-\d+", first.message_id)
    assert first.message_id != second.message_id


def test_locmem_ids_stay_unique_after_outbox_is_cleared():
    backend = LocmemBackend()
    before = backend.send(phone=PHONE, message="a").message_id
    locmem.outbox.clear()

    after = backend.send(phone=PHONE, message="b").message_id

    assert after != before
    assert [m.message for m in locmem.outbox] == ["b"]


def test_locmem_through_get_backend_lands_in_the_outbox():
    locmem.outbox.clear()

    result = get_backend().send(phone=PHONE, message="via get_backend")

    assert locmem.outbox[-1].message_id == result.message_id


@pytest.mark.parametrize(
    ("backend", "indonesian"),
    [
        (ConsoleBackend(stream=io.StringIO()), "ditampilkan di konsol"),
        (LocmemBackend(), "Disimpan di memori"),
    ],
    ids=["console", "locmem"],
)
def test_offline_backends_say_not_sent_in_the_schools_language(backend, indonesian):
    """The detail lands in the attempt log every admin reads, even when sent from an English
    request."""
    with translation.override("en"):
        result = backend.send(phone=PHONE, message="x")

    assert indonesian in result.detail
    assert "tidak dikirim ke WhatsApp" in result.detail
    locmem.outbox.clear()


def test_sent_message_and_send_result_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SentMessage(phone=PHONE, message="x", message_id="m").phone = "1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        SendResult(message_id="m", request_id="", detail="", raw_response="").message_id = "n"


# --- Base and errors --------------------------------------------------------------------


def test_base_backend_send_is_abstract():
    with pytest.raises(NotImplementedError):
        BaseBackend().send(phone=PHONE, message="x")


def test_only_temporary_failures_are_retryable():
    assert list(RETRYABLE_ERRORS) == [TemporaryFailure]
    assert not issubclass(OutcomeUnknown, RETRYABLE_ERRORS)
    assert not issubclass(RecipientRejected, RETRYABLE_ERRORS)
    assert not issubclass(SenderRejected, RETRYABLE_ERRORS)


def test_error_tree_and_attributes():
    err = SenderRejected("token invalid", raw_response='{"status":false}', status_code=200)

    for cls in (RecipientRejected, SenderRejected, TemporaryFailure, OutcomeUnknown):
        assert issubclass(cls, WhatsAppError)
    assert not issubclass(ImproperlyConfigured, WhatsAppError)
    assert (err.reason, err.raw_response, err.status_code) == (
        "token invalid",
        '{"status":false}',
        200,
    )
    assert str(err) == "token invalid"
    assert repr(err) == "SenderRejected(reason='token invalid', status_code=200)"


def test_package_reexports():
    for name in whatsapp.__all__:
        assert hasattr(whatsapp, name), name
