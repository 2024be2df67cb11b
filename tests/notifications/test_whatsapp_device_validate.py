"""FonnteBackend's /device and /validate, mocked at the HTTP seam; the offline backends' answers."""

import io
import time
from urllib.parse import parse_qs

import pytest
import requests
import responses

from notifications.whatsapp import (
    DeviceState,
    DeviceStatus,
    OutcomeUnknown,
    SenderRejected,
    TemporaryFailure,
    ValidationResult,
    WhatsAppError,
    locmem,
)
from notifications.whatsapp.console import ConsoleBackend
from notifications.whatsapp.fonnte import FonnteBackend
from notifications.whatsapp.locmem import LocmemBackend

TOKEN = "tok-S3cret-Fonnte-9f8e7d"
SEND_URL = "https://api.fonnte.test/send"
DEVICE_URL = "https://api.fonnte.test/device"
VALIDATE_URL = "https://api.fonnte.test/validate"


@pytest.fixture
def backend():
    return FonnteBackend(token=TOKEN, url=SEND_URL, connect_timeout=3.0, read_timeout=7.0)


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def form(call):
    return {key: values[0] for key, values in parse_qs(call.request.body).items()}


def numbers(count, first=81200000000):
    return [f"62{first + i}" for i in range(count)]


# --- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("send_url", "device_url", "validate_url"),
    [
        (SEND_URL, DEVICE_URL, VALIDATE_URL),
        ("http://proxy.local/fonnte/send/", "http://proxy.local/fonnte/device", None),
        ("http://127.0.0.1:8025/send", "http://127.0.0.1:8025/device", None),
    ],
)
def test_device_and_validate_urls_sit_beside_the_send_url(send_url, device_url, validate_url):
    backend = FonnteBackend(token=TOKEN, url=send_url, connect_timeout=1, read_timeout=1)
    assert backend.device_url == device_url
    if validate_url:
        assert backend.validate_url == validate_url


# --- /device -------------------------------------------------------------------------------


def test_device_status_reads_state_quota_package_and_expiry(backend, mocked):
    body = {
        "device": "6282227097005",
        "device_status": "connect",
        "quota": "78",
        "package": "Reguler",
        "expired": "20 Desember 2026",
        "status": True,
    }
    mocked.post(DEVICE_URL, json=body)

    status = backend.device_status()

    assert status == DeviceStatus(
        state=DeviceState.CONNECTED,
        device="6282227097005",
        quota=78,
        package="Reguler",
        expires="20 Desember 2026",
        raw_response=mocked.calls[0].response.text,
    )
    assert status.connected and not status.disconnected
    assert mocked.calls[0].request.headers["Authorization"] == TOKEN


@pytest.mark.parametrize(
    ("device_status", "state"),
    [("disconnect", DeviceState.DISCONNECTED), ("Connect", DeviceState.CONNECTED), ("", "unknown")],
)
def test_device_state_words(backend, mocked, device_status, state):
    mocked.post(DEVICE_URL, json={"device_status": device_status, "quota": 5, "status": True})
    assert backend.device_status().state == state


@pytest.mark.parametrize("quota", ["unlimited", "", None, "-3", "12.5"])
def test_a_quota_that_is_no_whole_number_is_none(backend, mocked, quota):
    mocked.post(DEVICE_URL, json={"device_status": "connect", "quota": quota, "status": True})
    assert backend.device_status().quota is None


@pytest.mark.parametrize("key", ["status", "Status"])
def test_device_status_false_with_a_bad_token_is_sender_rejected(backend, mocked, key):
    mocked.post(DEVICE_URL, json={key: False, "reason": "token invalid"})
    with pytest.raises(SenderRejected, match="token invalid"):
        backend.device_status()


def test_device_status_false_with_another_reason_is_temporary(backend, mocked):
    mocked.post(DEVICE_URL, json={"status": False, "detail": "server busy"})
    with pytest.raises(TemporaryFailure, match="server busy"):
        backend.device_status()


@pytest.mark.parametrize("code", [200, 502])
def test_device_status_html_page_is_temporary(backend, mocked, code):
    mocked.post(DEVICE_URL, body="<html><h1>Bad gateway</h1></html>", status=code)
    with pytest.raises(TemporaryFailure) as info:
        backend.device_status()
    assert "<html>" in info.value.raw_response


def test_device_status_read_timeout_is_temporary_not_outcome_unknown(backend, mocked):
    mocked.post(DEVICE_URL, body=requests.ReadTimeout("slow"))
    with pytest.raises(WhatsAppError) as info:
        backend.device_status()
    assert type(info.value) is TemporaryFailure
    assert not isinstance(info.value, OutcomeUnknown)


@pytest.mark.parametrize("url", [DEVICE_URL, VALIDATE_URL])
@pytest.mark.parametrize("code", [504, 524])
def test_a_gateway_timeout_on_a_question_is_temporary_not_outcome_unknown(
    backend, mocked, url, code
):
    """Nothing is sent by /device or /validate: asking again later is safe."""
    mocked.post(url, body="<html><h1>Gateway Time-out</h1></html>", status=code)
    with pytest.raises(WhatsAppError) as info:
        if url == DEVICE_URL:
            backend.device_status()
        else:
            backend.validate_numbers(["6281200000000"])
    assert type(info.value) is TemporaryFailure
    assert info.value.status_code == code
    assert f"(kode {code})" in info.value.reason
    assert "queued" not in info.value.reason and "antrean" not in info.value.reason


def test_device_status_timeout_argument_caps_both_timeouts(backend, mocked):
    mocked.post(DEVICE_URL, json={"device_status": "connect", "status": True})
    backend.device_status(timeout=2.0)
    assert mocked.calls[0].request.req_kwargs["timeout"] == (2.0, 2.0)


def test_device_status_without_timeout_uses_the_configured_ones(backend, mocked):
    mocked.post(DEVICE_URL, json={"device_status": "connect", "status": True})
    backend.device_status()
    assert mocked.calls[0].request.req_kwargs["timeout"] == (3.0, 7.0)


def test_device_status_connection_refused_is_temporary(backend, mocked):
    mocked.post(DEVICE_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(TemporaryFailure):
        backend.device_status()


# --- /validate -----------------------------------------------------------------------------


def test_validate_splits_registered_from_not_registered(backend, mocked):
    mocked.post(
        VALIDATE_URL,
        json={
            "registered": ["6281200000000"],
            # Fonnte may write a number nationally: it is still ours.
            "not_registered": ["081200000001"],
            "status": True,
        },
    )

    result = backend.validate_numbers(["6281200000000", "6281200000001", "6281200000002"])

    assert result.registered == {"6281200000000"}
    assert result.not_registered == {"6281200000001"}
    assert result.unknown == {"6281200000002"}
    assert result.raw_responses == (mocked.calls[0].response.text,)
    sent = form(mocked.calls[0])
    assert sent == {"target": "6281200000000,6281200000001,6281200000002", "countryCode": "62"}
    assert mocked.calls[0].request.headers["Authorization"] == TOKEN


def test_validate_ignores_numbers_it_did_not_ask_about_and_doubtful_ones(backend, mocked):
    mocked.post(
        VALIDATE_URL,
        json={
            "registered": ["6289999999999", "6281200000000", "6281200000001"],
            "not_registered": ["6281200000001"],
            "status": True,
        },
    )
    result = backend.validate_numbers(["6281200000000", "6281200000001"])
    assert result.registered == {"6281200000000"}
    assert not result.not_registered
    assert result.unknown == {"6281200000001"}  # in both lists: not trusted either way


def test_validate_without_a_boolean_status_is_temporary(backend, mocked):
    mocked.post(VALIDATE_URL, json={"registered": ["6281200000000"], "status": 1})
    with pytest.raises(TemporaryFailure, match=r"\(kode 200\)"):
        backend.validate_numbers(["6281200000000"])


def test_validate_1200_numbers_makes_three_calls_one_after_the_other(backend, mocked):
    wanted = numbers(1200)
    in_flight, seen = [], []

    def answer(request):
        in_flight.append(request)
        try:
            assert len(in_flight) == 1, "two /validate calls at once"
            time.sleep(0.01)
            chunk = parse_qs(request.body)["target"][0].split(",")
            seen.append(chunk)
            registered = [n for n in chunk if int(n[-1]) % 2 == 0]
            missing = [n for n in chunk if int(n[-1]) % 2 == 1]
            return (
                200,
                {},
                responses.json_module.dumps(
                    {"registered": registered, "not_registered": missing, "status": True}
                ),
            )
        finally:
            in_flight.remove(request)

    mocked.add_callback(responses.POST, VALIDATE_URL, callback=answer)

    result = backend.validate_numbers(wanted)

    assert [len(chunk) for chunk in seen] == [500, 500, 200]
    assert [n for chunk in seen for n in chunk] == wanted
    assert len(result.registered) == 600 and len(result.not_registered) == 600
    assert not result.unknown
    assert len(result.raw_responses) == 3


def test_validate_sends_each_number_once(backend, mocked):
    mocked.post(VALIDATE_URL, json={"registered": [], "not_registered": [], "status": True})
    backend.validate_numbers(["6281200000000", "6281200000000", ""])
    assert form(mocked.calls[0])["target"] == "6281200000000"


def test_validate_nothing_makes_no_call(backend, mocked):
    assert backend.validate_numbers([]) == ValidationResult()
    assert not mocked.calls


@pytest.mark.parametrize("key", ["status", "Status"])
def test_validate_status_false_bad_token_is_sender_rejected(backend, mocked, key):
    mocked.post(VALIDATE_URL, json={key: False, "reason": "invalid token"})
    with pytest.raises(SenderRejected):
        backend.validate_numbers(["6281200000000"])


def test_validate_status_false_quota_is_temporary(backend, mocked):
    mocked.post(VALIDATE_URL, json={"status": False, "reason": "insufficient quota"})
    with pytest.raises(TemporaryFailure, match="insufficient quota"):
        backend.validate_numbers(["6281200000000"])


def test_validate_html_answer_is_temporary(backend, mocked):
    mocked.post(VALIDATE_URL, body="<!DOCTYPE html><title>502</title>", status=502)
    with pytest.raises(TemporaryFailure, match="502"):
        backend.validate_numbers(["6281200000000"])


def test_validate_read_timeout_is_temporary(backend, mocked):
    mocked.post(VALIDATE_URL, body=requests.ReadTimeout("slow"))
    # A read-only call: no "may have been queued", just the read timeout's seconds.
    with pytest.raises(TemporaryFailure, match=r"\b7\b"):
        backend.validate_numbers(["6281200000000"])


def test_validate_stops_at_the_first_failing_call(backend, mocked):
    mocked.post(VALIDATE_URL, json={"registered": numbers(500), "status": True})
    mocked.post(VALIDATE_URL, body=requests.ConnectTimeout("no route"))
    with pytest.raises(TemporaryFailure, match=r"\b3\b"):  # the connect timeout
        backend.validate_numbers(numbers(1200))
    assert len(mocked.calls) == 2  # the third chunk is never asked


def test_validate_never_leaks_the_token(backend, mocked):
    mocked.post(VALIDATE_URL, body=f"<html>bad token {TOKEN}</html>", status=500)
    with pytest.raises(TemporaryFailure) as info:
        backend.validate_numbers(["6281200000000"])
    assert TOKEN not in info.value.raw_response


# --- Offline backends ----------------------------------------------------------------------


def test_console_backend_device_is_unknown_and_every_number_registered():
    stream = io.StringIO()
    backend = ConsoleBackend(stream=stream)
    assert backend.device_status().state == DeviceState.UNKNOWN
    result = backend.validate_numbers(["6281200000000", "6281200000001"])
    assert result.registered == {"6281200000000", "6281200000001"}
    assert not result.not_registered
    assert "2 numbers" in stream.getvalue()


@pytest.fixture
def locmem_state():
    locmem.validate_calls.clear()
    locmem.not_on_whatsapp.clear()
    yield locmem
    locmem.validate_calls.clear()
    locmem.not_on_whatsapp.clear()


def test_locmem_backend_answers_from_not_on_whatsapp_and_records_calls(locmem_state):
    locmem_state.not_on_whatsapp.add("6281200000001")
    backend = LocmemBackend()
    assert backend.device_status().state == DeviceState.UNKNOWN

    result = backend.validate_numbers(numbers(600))

    assert result.not_registered == {"6281200000001"}
    assert len(result.registered) == 599
    assert [len(call) for call in locmem_state.validate_calls] == [500, 100]
