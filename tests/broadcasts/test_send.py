"""broadcast_send: claim, send through the real Fonnte client (HTTP mocked), record the outcome."""

import json
import logging

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from broadcasts.exceptions import BroadcastFailed, BroadcastRetry
from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast
from broadcasts.services import broadcast_create_for_report, broadcast_send
from tests.conftest import FONNTE_TEST_TOKEN, FONNTE_TEST_URL, fonnte_ok


@pytest.fixture(autouse=True, params=["one statement", "update then read"])
def claim_path(request, monkeypatch):
    """Every test runs both ways: UPDATE … RETURNING, and update-then-read (as on MySQL)."""
    if request.param == "update then read":
        monkeypatch.setattr("broadcasts.models._can_return_from_update", lambda connection: False)
    return request.param


@pytest.fixture
def row(report, make_student):
    make_student("0812-3456-7890", name="Aisyah Putri")
    broadcast_create_for_report(monthly_report=report)
    return MonthlyReportBroadcast.objects.get()


def send(row):
    broadcast_send(broadcast_id=row.pk, monthly_report_id=row.monthly_report_id)


def test_success_marks_the_row_sent_and_keeps_fonntes_answer(row, fonnte):
    fonnte.post(FONNTE_TEST_URL, json=fonnte_ok(message_id="80367170"))
    send(row)
    row.refresh_from_db()
    assert row.status == BroadcastStatus.SENT
    assert row.sent_at is not None
    assert row.fonnte_message_id == "80367170"
    assert row.fonnte_request_id == "2937124"
    assert json.loads(row.response)["detail"] == "success! message in queue"
    assert row.retry_count == 1
    (attempt,) = row.attempts.all()
    assert (attempt.number, attempt.outcome) == (1, "sent")
    assert attempt.started_at <= attempt.finished_at
    request = fonnte.calls[0].request
    assert "target=6281234567890" in request.body
    assert request.headers["Authorization"] == FONNTE_TEST_TOKEN


def test_a_sent_row_is_never_sent_again(row, fonnte):
    fonnte.post(FONNTE_TEST_URL, json=fonnte_ok())
    send(row)
    send(row)  # a redelivered or duplicate task
    assert len(fonnte.calls) == 1


def test_a_row_being_sent_by_another_worker_is_not_touched(row, fonnte):
    MonthlyReportBroadcast.objects.filter(pk=row.pk).update(status=BroadcastStatus.SENDING)
    send(row)
    assert len(fonnte.calls) == 0
    row.refresh_from_db()
    assert row.status == BroadcastStatus.SENDING


def test_an_invalid_stored_number_fails_without_calling_fonnte(report, make_student, fonnte):
    make_student("0812")
    broadcast_create_for_report(monthly_report=report)
    row = MonthlyReportBroadcast.objects.get()
    with pytest.raises(BroadcastFailed):
        send(row)
    row.refresh_from_db()
    assert row.status == BroadcastStatus.FAILED
    assert row.error_message.startswith("Nomor telepon tidak valid")
    assert len(fonnte.calls) == 0


def test_status_false_in_an_http_200_is_a_failure_not_a_send(row, fonnte):
    fonnte.post(FONNTE_TEST_URL, json={"status": False, "reason": "target invalid", "requestid": 1})
    with pytest.raises(BroadcastFailed):
        send(row)
    row.refresh_from_db()
    assert row.status == BroadcastStatus.FAILED
    assert "target invalid" in row.error_message
    assert json.loads(row.response)["reason"] == "target invalid"
    assert row.sent_at is None


def test_a_refused_token_fails_the_whole_report_with_one_call(report, make_student, fonnte):
    for _ in range(5):
        make_student()
    broadcast_create_for_report(monthly_report=report)
    fonnte.post(FONNTE_TEST_URL, json={"Status": False, "reason": "token invalid"})
    rows = list(MonthlyReportBroadcast.objects.order_by("pk"))

    with pytest.raises(BroadcastFailed):
        send(rows[0])
    for other in rows[1:]:
        send(other)  # their tasks find the rows already final

    assert len(fonnte.calls) == 1
    assert set(MonthlyReportBroadcast.objects.values_list("status", flat=True)) == {"failed"}
    # The school is told who can fix it, in its words (the operator sets the token).
    assert all(
        "Minta operator memeriksa kunci akses Fonnte" in r.error_message
        for r in MonthlyReportBroadcast.objects.all()
    )


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500, "json": {"message": "internal error"}},
        {"status": 502, "body": "<html><body>502 Bad Gateway</body></html>"},
        {"status": 503, "body": "Service Unavailable"},
        {"status": 429, "body": "Too Many Requests"},
        {"status": 200, "json": {"status": False, "reason": "insufficient quota"}},
        {"status": 200, "body": requests.exceptions.ConnectionError("refused")},
    ],
    ids=["500", "html-502", "503", "429", "quota", "connection-refused"],
)
def test_a_passing_failure_parks_the_row_for_a_retry(row, fonnte, answer, settings):
    settings.WHATSAPP_RETRY_DELAY = 60
    fonnte.post(FONNTE_TEST_URL, **answer)
    with pytest.raises(BroadcastRetry):
        send(row)
    row.refresh_from_db()
    assert row.status == BroadcastStatus.RETRYING
    assert row.retry_count == 1
    assert row.next_attempt_at > timezone.now()
    assert row.error_message.startswith("Gagal mengirim")


def test_the_last_attempt_fails_the_row_for_good(row, fonnte, settings):
    settings.WHATSAPP_MAX_ATTEMPTS = 3
    fonnte.post(FONNTE_TEST_URL, status=503, body="busy")
    for _ in range(2):
        with pytest.raises(BroadcastRetry):
            send(row)
    with pytest.raises(BroadcastFailed):
        send(row)
    send(row)  # a fourth delivery of the task does nothing
    row.refresh_from_db()
    assert (row.status, row.retry_count) == (BroadcastStatus.FAILED, 3)
    assert "3" in row.error_message
    assert len(fonnte.calls) == 3
    assert [(a.number, a.outcome) for a in row.attempts.all()] == [
        (1, "retry"),
        (2, "retry"),
        (3, "failed"),
    ]
    assert all("503" in a.detail for a in row.attempts.all())


def test_no_answer_after_sending_is_unknown_and_not_retried(row, fonnte):
    fonnte.post(FONNTE_TEST_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(BroadcastFailed) as err:
        send(row)
    assert err.value.status == BroadcastStatus.UNKNOWN
    send(row)
    row.refresh_from_db()
    assert row.status == BroadcastStatus.UNKNOWN
    # The client's reason says what happened, once; the service adds what to do.
    assert row.error_message == (
        "Fonnte tidak menjawab dalam 30 detik setelah pesan dikirim; pesan mungkin tetap "
        "masuk antrean. Sebelum mengirim ulang, periksa dasbor Fonnte atau tanyakan "
        "kepada orang tua apakah pesan sudah sampai."
    )
    assert len(fonnte.calls) == 1
    assert [(a.outcome, a.detail) for a in row.attempts.all()] == [("unknown", row.error_message)]


def test_what_is_stored_is_in_the_schools_language_whatever_language_is_active(
    report, make_student, fonnte, settings
):
    settings.WHATSAPP_MAX_ATTEMPTS = 2
    make_student("0812-3456-7890")
    make_student("0812-0000-1111")
    broadcast_create_for_report(monthly_report=report)
    unknown, failing = MonthlyReportBroadcast.objects.order_by("pk")
    fonnte.post(FONNTE_TEST_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    fonnte.post(FONNTE_TEST_URL, status=503, body="busy")

    with translation.override("en"):
        with pytest.raises(BroadcastFailed):
            send(unknown)
        with pytest.raises(BroadcastRetry):
            send(failing)
        with pytest.raises(BroadcastFailed):
            send(failing)

    unknown.refresh_from_db()
    failing.refresh_from_db()
    assert unknown.error_message.startswith("Fonnte tidak menjawab dalam 30 detik")
    assert unknown.error_message.endswith("apakah pesan sudah sampai.")
    assert failing.error_message.startswith("Gagal mengirim: ")
    assert failing.error_message.endswith("(dihentikan setelah 2 kali percobaan)")
    details = [a.detail for a in failing.attempts.all()]
    assert details[0].startswith("Gagal mengirim: ")
    assert details[1] == failing.error_message
    assert unknown.attempts.get().detail == unknown.error_message


def test_what_the_failure_handler_stores_is_in_the_schools_language(report, make_student):
    from django.db import OperationalError

    from broadcasts.services import broadcast_handle_task_failure

    make_student("0812-3456-7890")
    make_student("0812-0000-1111")
    broadcast_create_for_report(monthly_report=report)
    waiting, mid_send = MonthlyReportBroadcast.objects.order_by("pk")
    MonthlyReportBroadcast.objects.filter(pk=mid_send.pk).update(status=BroadcastStatus.SENDING)

    with translation.override("en"):
        broadcast_handle_task_failure(broadcast_id=waiting.pk, exc=KeyError("x"))
        broadcast_handle_task_failure(broadcast_id=mid_send.pk, exc=OperationalError("gone"))

    waiting.refresh_from_db()
    mid_send.refresh_from_db()
    assert waiting.error_message == "Kesalahan tak terduga di server (KeyError): hubungi operator"
    assert mid_send.error_message.startswith(
        "Basis data server gagal saat pesan ini sedang dikirim (OperationalError)"
    )


def test_a_deleted_report_fails_its_unsent_rows_without_calling_fonnte(row, fonnte, report):
    report_id = report.pk
    report.delete()
    row.refresh_from_db()
    assert row.monthly_report_id is None  # the record of the message stays
    with pytest.raises(BroadcastFailed):
        broadcast_send(broadcast_id=row.pk, monthly_report_id=report_id)
    row.refresh_from_db()
    assert (row.status, row.error_message) == ("failed", "Laporan bulanan tidak ditemukan.")
    assert len(fonnte.calls) == 0


def test_a_row_that_no_longer_exists_ends_quietly(row, fonnte):
    row_id, report_id = row.pk, row.monthly_report_id
    row.delete()
    broadcast_send(broadcast_id=row_id, monthly_report_id=report_id)
    assert len(fonnte.calls) == 0


def test_logs_carry_ids_and_a_masked_phone_never_the_number_or_token(row, fonnte, caplog):
    fonnte.post(FONNTE_TEST_URL, json=fonnte_ok())
    with caplog.at_level(logging.DEBUG):
        send(row)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"broadcast={row.pk}" in text
    assert f"nis={row.student.nis}" in text
    assert "62812****7890" in text
    assert "6281234567890" not in text
    assert FONNTE_TEST_TOKEN not in text
    row.refresh_from_db()
    assert FONNTE_TEST_TOKEN not in row.response + row.error_message


def test_a_sent_message_is_one_info_line_with_the_row_and_fonntes_ids(row, fonnte, caplog):
    fonnte.post(FONNTE_TEST_URL, json=fonnte_ok(message_id="80367170"))
    with caplog.at_level(logging.INFO):
        send(row)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len(lines) == 1
    assert f"broadcast={row.pk}" in lines[0]
    assert "id=80367170 request=2937124" in lines[0]


@pytest.mark.parametrize(
    ("code", "body", "phrase"),
    [
        (504, "<html><body><h1>504 Gateway Time-out</h1></body></html>", "504"),
        (524, "error code: 524", "524"),  # Cloudflare: "a timeout occurred"
    ],
    ids=["504", "cloudflare-524"],
)
def test_a_gateway_timeout_is_unknown_and_not_retried(row, fonnte, settings, code, body, phrase):
    """The gateway before Fonnte gave up waiting: Fonnte may have the message."""
    settings.WHATSAPP_MAX_ATTEMPTS = 3  # attempts left, yet no retry
    fonnte.post(FONNTE_TEST_URL, status=code, body=body)
    with pytest.raises(BroadcastFailed) as err:
        send(row)
    assert err.value.status == BroadcastStatus.UNKNOWN
    send(row)  # a redelivered task does nothing
    row.refresh_from_db()
    assert (row.status, row.retry_count) == (BroadcastStatus.UNKNOWN, 1)
    assert row.error_message == (
        f"Fonnte menjawab dengan kesalahan (kode {phrase}): Fonnte terlambat menjawab; pesan "
        "mungkin tetap masuk antrean Fonnte. Sebelum mengirim ulang, periksa dasbor Fonnte "
        "atau tanyakan kepada orang tua apakah pesan sudah sampai."
    )
    assert row.response == body
    assert len(fonnte.calls) == 1
    assert [a.outcome for a in row.attempts.all()] == ["unknown"]


def test_claiming_and_reading_the_row_is_one_statement_where_the_database_can(
    row, fonnte, claim_path
):
    fonnte.post(FONNTE_TEST_URL, json=fonnte_ok())
    with CaptureQueriesContext(connection) as captured:
        send(row)
    statements = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    statements = [s for s in statements if s not in {"BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"}]
    # The claim (and read), then the outcome: the row's update and its attempt line.
    if claim_path == "one statement" and connection.vendor != "mysql":
        assert statements == ["UPDATE", "UPDATE", "INSERT"]
    else:
        assert statements == ["UPDATE", "SELECT", "UPDATE", "INSERT"]
    row.refresh_from_db()
    assert row.status == BroadcastStatus.SENT


def test_a_database_outage_leaves_a_waiting_row_waiting_for_the_sweep(row):
    from django.db import OperationalError

    from broadcasts.services import broadcast_handle_task_failure

    broadcast_handle_task_failure(broadcast_id=row.pk, exc=OperationalError("gone"))
    row.refresh_from_db()
    assert row.status == BroadcastStatus.PENDING


def test_a_database_outage_mid_send_makes_the_row_unknown(row):
    from django.db import OperationalError

    from broadcasts.services import broadcast_handle_task_failure

    MonthlyReportBroadcast.objects.filter(pk=row.pk).update(status=BroadcastStatus.SENDING)
    broadcast_handle_task_failure(broadcast_id=row.pk, exc=OperationalError("gone"))
    row.refresh_from_db()
    assert row.status == BroadcastStatus.UNKNOWN


# --- A guardian removed or opted out while their message waited --------------------------------


def test_a_guardian_who_stopped_receiving_messages_before_the_send_is_not_messaged(row, fonnte):
    # Queued at night (quiet hours), paced, or waiting for the device: meanwhile the admin
    # unticked "receives WhatsApp messages". The number is never messaged.
    row.guardian.receives_messages = False
    row.guardian.save()
    with pytest.raises(BroadcastFailed):
        send(row)
    row.refresh_from_db()
    assert row.status == BroadcastStatus.FAILED
    assert row.error_message == "Wali murid tidak menerima pesan: tidak dikirim."
    assert len(fonnte.calls) == 0


def test_a_guardian_removed_before_the_send_is_not_messaged(row, fonnte):
    row.guardian.delete()
    row.refresh_from_db()
    assert row.guardian_id is None  # the record stays, SET_NULL
    with pytest.raises(BroadcastFailed):
        send(row)
    row.refresh_from_db()
    assert row.status == BroadcastStatus.FAILED
    assert row.error_message == "Wali murid sudah dihapus dari data siswa: tidak dikirim."
    assert len(fonnte.calls) == 0
