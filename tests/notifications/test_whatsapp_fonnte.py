"""FonnteBackend: every row of the outcome table in docs/fonnte-api.md, mocked at the HTTP seam."""

import html
import http.client
import json
import logging
import socket
import threading
import time
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation
from django.utils.functional import lazy
from django.utils.translation import gettext
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError, ProtocolError

from broadcasts.exceptions import BroadcastFailed
from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast
from broadcasts.services import broadcast_create_for_report, broadcast_send
from notifications.whatsapp import (
    RETRYABLE_ERRORS,
    OutcomeUnknown,
    RecipientRejected,
    SenderRejected,
    SendResult,
    TemporaryFailure,
    WhatsAppError,
)
from notifications.whatsapp.fonnte import FonnteBackend, classify_reason
from tests.conftest import FONNTE_TEST_URL

TOKEN = "tok-S3cret-Fonnte-9f8e7d"
URL = "https://api.fonnte.test/send"
PHONE = "6281234567890"
MASKED = "62812****7890"
MESSAGE = "Assalamualaikum, laporan bulanan Ananda Aisyah sudah terbit."
LOGGER = "notifications.whatsapp.fonnte.backend"


@pytest.fixture
def backend():
    return FonnteBackend(token=TOKEN, url=URL, connect_timeout=3.0, read_timeout=7.0)


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return caplog


def _fail(backend, **kwargs):
    with pytest.raises(WhatsAppError) as info:
        backend.send(phone=PHONE, message=MESSAGE, **kwargs)
    return info.value


# --- Accepted -----------------------------------------------------------------------------


def test_success_returns_ids_and_raw_body_and_sends_the_documented_request(backend, mocked, logs):
    body = {
        "detail": "success! message in queue",
        "id": ["80367170"],
        "process": "pending",
        "requestid": 2937124,
        "status": True,
        "target": [PHONE],
    }
    mocked.post(URL, json=body)

    result = backend.send(phone=PHONE, message=MESSAGE)

    assert result == SendResult(
        message_id="80367170",
        request_id="2937124",
        detail="success! message in queue",
        raw_response=json.dumps(body),
    )
    request = mocked.calls[0].request
    assert request.headers["Authorization"] == TOKEN  # raw token, no "Bearer"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body, strict_parsing=True) == {
        "target": [PHONE],
        "message": [MESSAGE],
        "countryCode": ["0"],
    }
    assert request.req_kwargs["timeout"] == (3.0, 7.0)
    info = [r for r in logs.records if r.name == LOGGER]
    assert [r.levelno for r in info] == [logging.DEBUG]  # the caller logs the outcome at INFO
    assert MASKED in info[0].getMessage()
    assert "80367170" in info[0].getMessage()


@pytest.mark.parametrize(
    "detail",
    [
        "success! message will be sent on scheduled time",
        "success! message pending due to server issue, will be sent later",
    ],
)
def test_other_success_details_are_accepted(backend, mocked, detail):
    mocked.post(URL, json={"detail": detail, "id": ["111"], "requestid": 5, "status": True})

    result = backend.send(phone=PHONE, message=MESSAGE)

    assert (result.message_id, result.request_id, result.detail) == ("111", "5", detail)


def test_success_with_capitalised_status_and_no_ids(backend, mocked):
    mocked.post(URL, json={"Status": True, "detail": "success! message in queue"})

    result = backend.send(phone=PHONE, message=MESSAGE)

    assert (result.message_id, result.request_id) == ("", "")


# --- Every failure row of the table ------------------------------------------------------


def _refused():
    return requests.ConnectionError(
        MaxRetryError(
            None, URL, NewConnectionError(None, "Failed to establish a new connection: refused")
        )
    )


def _dns_failure():
    return requests.ConnectionError(
        MaxRetryError(None, URL, NameResolutionError("api.fonnte.test", None, socket.gaierror()))
    )


def _dropped(inner):
    return requests.ConnectionError(ProtocolError("Connection aborted.", inner))


HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


def ours(text, **params):
    """One of the client's own texts, worded in the language active when the test runs."""
    return lazy(lambda: gettext(text) % params, str)()


HTML_504 = "<html><head><title>504 Gateway Time-out</title></head><body>nginx</body></html>"
GATEWAY_TIMED_OUT = ours(
    "%(summary)s: the gateway before Fonnte stopped waiting for its answer; the message may"
    " still have been queued",
    summary=ours("Fonnte answered HTTP %(status)s", status=504),
)
NOT_JSON = ours("Fonnte answered HTTP %(code)s with a body that is not a JSON object", code=200)
DROPPED = ours(
    "The connection to Fonnte dropped after the message was sent; it may still have been queued"
)

# (id, responses.add kwargs, expected class, text the reason must contain, HTTP status):
# Fonnte's own words quoted, the HTTP status, the exception's class, the timeout's seconds.
FAILURES = [
    ("target-invalid", {"json": {"reason": "target invalid", "status": False, "requestid": 1}},
     RecipientRejected, '"target invalid"', 200),
    ("input-invalid", {"json": {"reason": "input invalid", "status": False}},
     RecipientRejected, '"input invalid"', 200),
    ("capitalised-Status-token-invalid",
     {"json": {"Status": False, "reason": "token invalid", "requestid": 2937124}},
     SenderRejected, '"token invalid"', 200),
    ("invalid-token", {"json": {"status": False, "reason": "invalid token"}},
     SenderRejected, '"invalid token"', 200),
    ("device-not-in-account",
     {"json": {"status": False, "reason": "devices must belong to an account"}},
     SenderRejected, '"devices must belong to an account"', 200),
    ("url-invalid", {"json": {"status": False, "reason": "url invalid"}},
     SenderRejected, '"url invalid"', 200),
    ("reason-case-and-spaces", {"json": {"status": False, "reason": "  File Size Must Under 4mb "}},
     SenderRejected, '"File Size Must Under 4mb"', 200),
    ("json-format-invalid", {"json": {"status": False, "reason": "JSON format invalid"}},
     SenderRejected, '"JSON format invalid"', 200),
    ("detail-instead-of-reason", {"json": {"status": False, "detail": "target invalid"}},
     RecipientRejected, '"target invalid"', 200),
    ("insufficient-quota", {"json": {"status": False, "reason": "insufficient quota"}},
     TemporaryFailure, '"insufficient quota"', 200),
    ("unknown-reason", {"json": {"status": False, "reason": "device disconnected, scan again"}},
     TemporaryFailure, '"device disconnected, scan again"', 200),
    ("false-without-reason", {"json": {"status": False}},
     TemporaryFailure, ours("Fonnte refused without giving a reason"), 200),
    ("string-false", {"json": {"status": "false", "reason": "target invalid"}},
     RecipientRejected, '"target invalid"', 200),
    ("no-status", {"json": {"detail": "ok"}},
     TemporaryFailure, ours("Fonnte answered HTTP %(code)s without a status", code=200), 200),
    ("html-502", {"body": HTML_502, "status": 502, "content_type": "text/html"},
     TemporaryFailure, ours("Fonnte answered HTTP %(status)s", status=502), 502),
    ("json-500", {"json": {"status": False, "reason": "internal error"}, "status": 500},
     TemporaryFailure,
     ours('Fonnte answered HTTP %(status)s: "%(reason)s"', status=500, reason="internal error"),
     500),
    ("429", {"body": "Too Many Requests", "status": 429},
     TemporaryFailure, ours("Fonnte answered HTTP %(status)s", status=429), 429),
    ("503", {"body": "Service Unavailable", "status": 503},
     TemporaryFailure, ours("Fonnte answered HTTP %(status)s", status=503), 503),
    # A gateway before Fonnte timed out waiting for it: Fonnte may have the message.
    ("504", {"body": HTML_504, "status": 504, "content_type": "text/html"},
     OutcomeUnknown, GATEWAY_TIMED_OUT, 504),
    ("524-cloudflare", {"body": "error code: 524", "status": 524},
     OutcomeUnknown, ours("Fonnte answered HTTP %(status)s", status=524), 524),
    ("404", {"body": "Not Found", "status": 404},
     TemporaryFailure, ours("Fonnte answered HTTP %(status)s", status=404), 404),
    ("401", {"json": {"status": False, "reason": "unauthorized"}, "status": 401},
     SenderRejected, ours("Fonnte answered HTTP %(status)s", status=401), 401),
    ("403", {"body": "Forbidden", "status": 403},
     SenderRejected, ours("Fonnte answered HTTP %(status)s", status=403), 403),
    ("redirect", {"body": "", "status": 301, "headers": {"Location": "https://x.test/send"}},
     SenderRejected, "https://x.test/send", 301),
    ("non-json-200", {"body": "OK", "content_type": "text/plain"},
     TemporaryFailure, NOT_JSON, 200),
    ("html-200", {"body": HTML_502, "content_type": "text/html"},
     TemporaryFailure, NOT_JSON, 200),
    ("json-list", {"json": [{"status": True}]}, TemporaryFailure, NOT_JSON, 200),
    ("connection-refused", {"body": _refused()}, TemporaryFailure, "ConnectionError (", None),
    ("dns-failure", {"body": _dns_failure()}, TemporaryFailure, "ConnectionError (", None),
    ("connect-timeout", {"body": requests.ConnectTimeout("connect timed out")},
     TemporaryFailure, ours("Could not connect to Fonnte within %(seconds)s seconds", seconds=3),
     None),
    ("read-timeout", {"body": requests.ReadTimeout("read timed out")},
     OutcomeUnknown, ours(
         "Fonnte did not answer within %(seconds)s seconds after the message was sent;"
         " it may still have been queued", seconds=7), None),
    ("remote-disconnected",
     {"body": _dropped(http.client.RemoteDisconnected("closed without response"))},
     OutcomeUnknown, DROPPED, None),
    ("reset-after-send", {"body": _dropped(ConnectionResetError(104, "reset by peer"))},
     OutcomeUnknown, DROPPED, None),
    ("chunked-encoding",
     {"body": requests.exceptions.ChunkedEncodingError(ProtocolError("Connection broken"))},
     OutcomeUnknown,
     ours("Fonnte's answer broke off or could not be read; it may still have been queued"), None),
    ("other-requests-error", {"body": requests.TooManyRedirects("loop")},
     TemporaryFailure, "TooManyRedirects", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mock", "expected", "reason_part", "status_code"),
    [pytest.param(*case[1:], id=case[0]) for case in FAILURES],
)
def test_failure_is_classified(backend, mocked, mock, expected, reason_part, status_code):
    mocked.add(responses.POST, URL, **mock)

    err = _fail(backend)

    assert type(err) is expected
    assert str(reason_part) in err.reason
    assert err.status_code == status_code
    body = mock.get("body")
    if isinstance(body, Exception):
        # Transport errors keep their cause and have no body.
        assert err.__cause__ is body
        assert err.raw_response is None
    else:
        expected_raw = body if body is not None else json.dumps(mock["json"])
        assert err.raw_response == expected_raw


def test_html_error_page_keeps_the_raw_body_for_the_admin(backend, mocked):
    mocked.post(URL, body=HTML_502, status=502, content_type="text/html")

    err = _fail(backend)

    assert isinstance(err, RETRYABLE_ERRORS)
    assert err.raw_response == HTML_502
    assert str(ours("Fonnte answered HTTP %(status)s", status=502)) in err.reason


def test_failure_logs_a_warning_with_masked_phone_and_reason(backend, mocked, logs):
    mocked.post(URL, json={"status": False, "reason": "target invalid"})

    _fail(backend)

    (record,) = [r for r in logs.records if r.name == LOGGER]
    assert record.levelno == logging.WARNING
    assert MASKED in record.getMessage()
    assert "target invalid" in record.getMessage()
    assert "RecipientRejected" in record.getMessage()


@pytest.mark.parametrize(
    "mock",
    [pytest.param({"json": {"status": True, "id": ["1"]}}, id="success")]
    + [pytest.param(case[1], id=case[0]) for case in FAILURES],
)
def test_no_token_full_phone_or_text_leaks_in_any_outcome(backend, mocked, logs, mock):
    mocked.add(responses.POST, URL, **mock)

    try:
        backend.send(phone=PHONE, message=MESSAGE)
    except WhatsAppError as err:
        shown = [str(err), repr(err), err.reason, err.raw_response or "", str(err.args)]
    else:
        shown = []

    assert logs.records, "every outcome is logged"
    for text in [*shown, logs.text, repr(backend), str(backend)]:
        assert TOKEN not in text
    assert PHONE not in logs.text
    assert MASKED in logs.text
    assert MESSAGE not in logs.text


def test_token_echoed_by_the_server_is_redacted(backend, mocked):
    mocked.post(URL, json={"status": False, "reason": f"token invalid: {TOKEN}"})

    err = _fail(backend)

    assert TOKEN not in err.reason
    assert TOKEN not in err.raw_response
    assert "[token]" in err.raw_response


# --- Real sockets: the exception shapes requests/urllib3 really raise ------------------


def _serve_once(handler):
    """A one-connection HTTP server on localhost; returns its URL."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def run():
        conn, _ = server.accept()
        try:
            conn.recv(65536)
            handler(conn)
        finally:
            conn.close()
            server.close()

    threading.Thread(target=run, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/send"


def _real_backend(url, read_timeout=5.0):
    return FonnteBackend(token=TOKEN, url=url, connect_timeout=2.0, read_timeout=read_timeout)


def test_real_connection_refused_is_temporary():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens here now

    err = _fail(_real_backend(f"http://127.0.0.1:{port}/send"))

    assert type(err) is TemporaryFailure


def test_real_close_without_answer_is_outcome_unknown():
    url = _serve_once(lambda conn: None)  # reads the request, closes without answering

    err = _fail(_real_backend(url))

    assert type(err) is OutcomeUnknown


def test_real_read_timeout_is_outcome_unknown():
    url = _serve_once(lambda conn: time.sleep(1.0))

    err = _fail(_real_backend(url, read_timeout=0.2))

    assert type(err) is OutcomeUnknown
    assert isinstance(err.__cause__, requests.ReadTimeout)


# --- Construction, session ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"token": ""},
        {"token": "   "},
        {"url": ""},
        {"url": "api.fonnte.com/send"},
        {"connect_timeout": 0},
        {"read_timeout": -1},
    ],
)
def test_bad_configuration_raises_improperly_configured_outside_the_tree(kwargs):
    config = {"token": TOKEN, "url": URL, "connect_timeout": 3.0, "read_timeout": 7.0} | kwargs

    with pytest.raises(ImproperlyConfigured) as info:
        FonnteBackend(**config)

    assert not isinstance(info.value, WhatsAppError)
    assert TOKEN not in str(info.value)


def test_missing_token_error_names_the_setting():
    with pytest.raises(ImproperlyConfigured, match="FONNTE_API_TOKEN"):
        FonnteBackend(token="", url=URL, connect_timeout=3.0, read_timeout=7.0)


def test_repr_shows_url_not_token(backend):
    assert URL in repr(backend)
    assert TOKEN not in repr(backend)


def test_one_session_is_reused_across_sends(backend, mocked, monkeypatch):
    used = []
    original_post = requests.Session.post

    def spy(self, *args, **kwargs):
        used.append(self)
        return original_post(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "post", spy)
    mocked.post(URL, json={"status": True, "id": ["1"]})
    mocked.post(URL, json={"status": True, "id": ["2"]})

    first = backend.send(phone=PHONE, message=MESSAGE)
    second = backend.send(phone=PHONE, message=MESSAGE)

    assert (first.message_id, second.message_id) == ("1", "2")
    assert len(used) == 2
    assert used[0] is used[1]
    assert isinstance(used[0], requests.Session)


def test_injected_session_is_used(mocked):
    session = requests.Session()
    session.headers["X-Probe"] = "yes"
    backend = FonnteBackend(
        token=TOKEN, url=URL, connect_timeout=1.0, read_timeout=1.0, session=session
    )
    mocked.post(URL, json={"status": True, "id": ["9"]})

    backend.send(phone=PHONE, message=MESSAGE)

    assert mocked.calls[0].request.headers["X-Probe"] == "yes"


def _spy_on_send_settings(monkeypatch):
    """The proxies and CA setting each request really goes out with (after requests' merge)."""
    seen = []
    original_send = requests.Session.send

    def spy(self, request, **kwargs):
        seen.append({"proxies": dict(kwargs.get("proxies") or {}), "verify": kwargs.get("verify")})
        return original_send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", spy)
    return seen


def test_proxy_and_ca_bundle_come_from_the_environment_read_when_the_backend_is_built(
    mocked, monkeypatch
):
    for name in ("NO_PROXY", "no_proxy", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.sekolah.test:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/sekolah-ca.pem")
    backend = FonnteBackend(token=TOKEN, url=URL, connect_timeout=1.0, read_timeout=1.0)
    # Read once: a later change of the environment does not reach a running worker.
    monkeypatch.setenv("HTTPS_PROXY", "http://other-proxy.test:8080")
    seen = _spy_on_send_settings(monkeypatch)
    mocked.post(URL, json={"status": True, "id": ["1"]})

    backend.send(phone=PHONE, message=MESSAGE)

    assert seen[0]["proxies"].get("https") == "http://proxy.sekolah.test:3128"
    assert seen[0]["verify"] == "/etc/ssl/sekolah-ca.pem"


def test_no_proxy_for_the_fonnte_host_is_honoured(mocked, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.sekolah.test:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.fonnte.test")
    backend = FonnteBackend(token=TOKEN, url=URL, connect_timeout=1.0, read_timeout=1.0)
    seen = _spy_on_send_settings(monkeypatch)
    mocked.post(URL, json={"status": True, "id": ["1"]})

    backend.send(phone=PHONE, message=MESSAGE)

    assert "https" not in seen[0]["proxies"]


def test_a_netrc_entry_for_the_host_does_not_replace_the_token(mocked, monkeypatch, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.fonnte.test login sekolah password rahasia\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    backend = FonnteBackend(token=TOKEN, url=URL, connect_timeout=1.0, read_timeout=1.0)
    mocked.post(URL, json={"status": True, "id": ["1"]})

    backend.send(phone=PHONE, message=MESSAGE)

    assert mocked.calls[0].request.headers["Authorization"] == TOKEN


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("target invalid", RecipientRejected),
        ("input invalid", RecipientRejected),
        ("token invalid", SenderRejected),
        ("invalid token", SenderRejected),
        ("devices must belong to an account", SenderRejected),
        ("url invalid", SenderRejected),
        ("url unreachable", SenderRejected),
        ("file format not supported", SenderRejected),
        ("file size must under 4MB", SenderRejected),
        ("JSON format invalid", SenderRejected),
        ("TARGET  INVALID", RecipientRejected),
        ("insufficient quota", TemporaryFailure),
        ("device not connected", TemporaryFailure),
        ("", TemporaryFailure),
    ],
)
def test_classify_reason_covers_every_documented_reason(reason, expected):
    assert classify_reason(reason) is expected


# --- What staff read: the client's texts in the school's language ---------------------------

#: The client's own English wording that must never reach a row, an attempt or an admin page.
OUR_ENGLISH = (
    "Could not",
    "answered",
    "did not answer",
    "after the message was sent",
    "may still have been queued",
    "dropped",
    "broke off",
    "without",
    "not a JSON object",
    "gave up",
)


@pytest.mark.parametrize(
    ("mock", "meaning"),
    [
        pytest.param({"body": _refused()}, "ConnectionError (", id="connection-refused"),
        pytest.param({"body": requests.ReadTimeout("read timed out")}, "7", id="read-timeout"),
        pytest.param(
            {"body": HTML_502, "status": 502},
            "Fonnte menjawab dengan kesalahan (kode 502)",
            id="html-502",
        ),
        pytest.param(
            {"json": {"status": False, "reason": "target invalid"}},
            'Fonnte menjawab: "target invalid"',
            id="fonntes-words-quoted",
        ),
        pytest.param({"json": {"status": False}}, "Fonnte menolak", id="no-reason"),
    ],
)
def test_reasons_are_in_the_schools_language_during_an_english_request(
    backend, mocked, mock, meaning
):
    """An admin browsing in English (the send page's device check) still gets the school's
    language: the texts are stored in rows and alerts that every admin reads."""
    mocked.add(responses.POST, URL, **mock)

    with translation.override("en"):
        err = _fail(backend)
        assert translation.get_language() == "en"  # the caller's language is left as it was

    assert meaning in err.reason
    assert not [text for text in OUR_ENGLISH if text in err.reason]


def test_an_english_only_command_keeps_the_reasons_english(backend, mocked):
    """``@no_translations`` (send_test_whatsapp) turned translation off on purpose."""
    mocked.post(URL, body=requests.ReadTimeout("read timed out"))

    translation.deactivate_all()
    try:
        err = _fail(backend)
    finally:
        translation.activate(django_settings.LANGUAGE_CODE)

    assert "did not answer within 7 seconds after the message was sent" in err.reason


@pytest.mark.parametrize(
    ("mock", "status", "indonesian"),
    [
        pytest.param(
            {"body": HTML_504, "status": 504, "content_type": "text/html"},
            BroadcastStatus.UNKNOWN,
            "Fonnte menjawab dengan kesalahan (kode 504): Fonnte terlambat menjawab; pesan "
            "mungkin tetap masuk antrean Fonnte. Sebelum mengirim ulang",
            id="gateway-timeout-504",
        ),
        pytest.param(
            {"body": _refused()},
            BroadcastStatus.FAILED,
            "Gagal mengirim: Tidak dapat menghubungi Fonnte: ConnectionError (",
            id="connection-error",
        ),
        pytest.param(
            {"body": requests.ReadTimeout("read timed out")},
            BroadcastStatus.UNKNOWN,
            "Fonnte tidak menjawab dalam 30 detik setelah pesan dikirim",
            id="read-timeout-after-sending",
        ),
        pytest.param(
            {"json": {"status": False, "reason": "internal error"}, "status": 500},
            BroadcastStatus.FAILED,
            'Gagal mengirim: Fonnte menjawab dengan kesalahan (kode 500): "internal error"',
            id="http-500",
        ),
    ],
)
def test_failed_rows_read_in_indonesian_from_the_real_client(
    report, make_student, fonnte, settings, client, admins, mock, status, indonesian
):
    """The reason a row keeps, its attempt's and the broadcast list's column: Indonesian only."""
    settings.WHATSAPP_MAX_ATTEMPTS = 1  # the first failure is final
    settings.FONNTE_READ_TIMEOUT = 30
    make_student("0812-3456-7890")
    broadcast_create_for_report(monthly_report=report)
    row = MonthlyReportBroadcast.objects.get()
    fonnte.add(responses.POST, FONNTE_TEST_URL, **mock)

    with pytest.raises(BroadcastFailed):
        broadcast_send(broadcast_id=row.pk, monthly_report_id=report.pk)

    row.refresh_from_db()
    (attempt,) = row.attempts.all()
    assert row.status == status
    assert indonesian in row.error_message
    assert attempt.detail == row.error_message
    assert not [text for text in OUR_ENGLISH if text in row.error_message]
    client.force_login(admins[0])
    page = client.get("/admin/broadcasts/monthlyreportbroadcast/").content.decode()
    assert '<html lang="id"' in page
    assert html.escape(indonesian) in page
    assert not [text for text in OUR_ENGLISH if text in page]
