"""The operators' commands: monitor, failed, retry, prune and send_test_whatsapp."""

import io
import json
import re
from datetime import timedelta
from unittest import mock
from urllib.parse import parse_qs, unquote_plus

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kombu import Connection

from broadcasts import tasks
from broadcasts.exceptions import BroadcastArchived
from broadcasts.management.commands.broadcast_retry import Command as RetryCommand
from broadcasts.models import BroadcastArchive, BroadcastStatus, MonthlyReportBroadcast
from broadcasts.services import broadcast_create_for_report, broadcast_prune, maintenance
from reports.models import MonthlyReport
from students.models import Guardian
from tests.broadcast_rows import guardian_row
from tests.conftest import (
    FONNTE_TEST_TOKEN,
    FONNTE_TEST_URL,
    fonnte_ok,
    quiet_hours_around_now,
)
from tkassalam.celery import app as celery_app

FULL_PHONE = "6281234567890"
MASKED_PHONE = "62812****7890"


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def make_row(report, make_student):
    """A row in any status, optionally last updated ``age`` ago."""

    def make(status, *, monthly_report=report, age=None, error="", retry_count=0, name=None):
        student = make_student(name=name)
        row = guardian_row(
            monthly_report=monthly_report,
            student=student,
            phone_number=FULL_PHONE,
            message="Laporan bulanan sudah tersedia.",
            status=status,
            error_message=error,
            retry_count=retry_count,
        )
        if age is not None:
            # auto_now rewrites updated_at on save(); update() does not.
            MonthlyReportBroadcast.objects.filter(pk=row.pk).update(updated_at=timezone.now() - age)
            row.refresh_from_db()
        return row

    return make


@pytest.fixture
def other_report(classroom):
    return MonthlyReport.objects.create(classroom=classroom, month=10, year=2026)


@pytest.fixture
def broker(tmp_path):
    """The embedded (filesystem) broker in a fresh folder; ``put(n)`` queues n messages."""
    options = {
        "data_folder_in": str(tmp_path / "queue"),
        "data_folder_out": str(tmp_path / "queue"),
        "processed_folder": str(tmp_path / "processed"),
        "control_folder": str(tmp_path / "control"),
        "store_processed": False,
    }
    for folder in ("queue", "processed", "control"):
        (tmp_path / folder).mkdir()
    conf = celery_app.conf
    previous = conf.broker_url, conf.broker_transport_options
    # A fresh connection is built from these on each connection_for_read().
    conf.broker_url, conf.broker_transport_options = "filesystem://", options

    def put(n):
        # The default exchange routes by queue name, with no binding to declare (kombu
        # caches bindings per process, which would outlive this test's folder).
        with Connection("filesystem://", transport_options=options) as conn:
            producer = conn.Producer()
            for i in range(n):
                producer.publish({"n": i}, exchange="", routing_key=conf.task_default_queue)

    yield put
    conf.broker_url, conf.broker_transport_options = previous


@pytest.fixture
def dispatch():
    """The dispatcher task's publish, replaced: the call is what we check."""
    with mock.patch.object(tasks.dispatch_pending_broadcasts, "delay") as delay:
        yield delay


# --- broadcast_monitor ---------------------------------------------------------------


@pytest.fixture
def every_status(make_row, report, other_report):
    """Report: one row per status (pending 2 h, retrying 30 min old); other report: 2 sent."""
    rows = {status: make_row(status) for status in BroadcastStatus.values}
    for status, age in (("pending", timedelta(hours=2)), ("retrying", timedelta(minutes=30))):
        MonthlyReportBroadcast.objects.filter(pk=rows[status].pk).update(
            updated_at=timezone.now() - age
        )
    make_row("sent", monthly_report=other_report)
    make_row("sent", monthly_report=other_report)
    return rows


def test_monitor_counts_every_status_per_report_and_overall(
    every_status, report, other_report, broker
):
    broker(3)
    out = run("broadcast_monitor")
    lines = out.splitlines()
    mine = lines.index(f"TK A Melati · November 2026 (report {report.pk})")
    assert lines[mine + 1] == (
        "  pending 1 · sending 1 · retrying 1 · sent 1 · failed 1 · unknown 1 · total 6"
    )
    assert lines[mine + 2].startswith("  Oldest waiting (pending or retrying): 2 h 00 min, since ")
    other = lines.index(f"TK A Melati · Oktober 2026 (report {other_report.pk})")
    assert lines[other + 1] == (
        "  pending 0 · sending 0 · retrying 0 · sent 2 · failed 0 · unknown 0 · total 2"
    )
    assert lines[other + 2] == "  Nothing waiting to be sent."
    overall = lines.index("All reports")
    assert lines[overall + 1] == (
        "  pending 1 · sending 1 · retrying 1 · sent 3 · failed 1 · unknown 1 · total 8"
    )
    assert 'Broker queue "celery": 3 message(s) waiting' in out
    assert "Workers alive: n/a (embedded broker)" in out


def test_monitor_json_parses_and_says_the_same(every_status, report, broker):
    broker(2)
    data = json.loads(run("broadcast_monitor", "--json"))
    first = data["reports"][0]
    assert first["monthly_report_id"] == report.pk
    assert {status: first[status] for status in BroadcastStatus.values} == dict.fromkeys(
        BroadcastStatus.values, 1
    )
    assert first["total"] == 6
    assert 7200 <= first["oldest_waiting_seconds"] < 7260
    assert data["reports"][1]["oldest_waiting_seconds"] is None
    assert (data["overall"]["sent"], data["overall"]["total"]) == (3, 8)
    assert data["broker"] == {"queue": "celery", "state": "ok", "messages": 2, "detail": ""}
    assert data["workers"]["state"] == "n/a"


def test_monitor_report_option_shows_only_that_report(every_status, other_report, broker):
    data = json.loads(run("broadcast_monitor", "--report", str(other_report.pk), "--json"))
    assert [r["monthly_report_id"] for r in data["reports"]] == [other_report.pk]
    assert data["overall"]["total"] == 8


def test_monitor_groups_rows_of_a_deleted_report(make_row, other_report, broker):
    make_row("failed", monthly_report=other_report)
    other_report.delete()
    out = run("broadcast_monitor")
    assert "\ndeleted report\n" in out
    assert "failed 1" in out


def test_monitor_reads_a_fixed_number_of_queries(make_row, report, other_report, broker):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            run("broadcast_monitor", "--json")
        return len(captured)

    make_row("sent")
    few = queries()
    for _ in range(15):
        make_row("failed", monthly_report=other_report)
        make_row("pending")
    assert queries() == few == 3  # per report, overall, and the device for pacing


def test_monitor_survives_an_unreachable_broker(every_status, broker_url, monkeypatch):
    broker_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    inspect = mock.Mock()
    monkeypatch.setattr(celery_app.control, "inspect", inspect)

    out = run("broadcast_monitor")
    assert 'Broker queue "celery": unreachable: OperationalError' in out
    assert "Workers alive: unreachable (the broker is unreachable)" in out
    assert "total 6" in out  # the database part is still there
    inspect.assert_not_called()  # no ping that would wait on a dead broker

    data = json.loads(run("broadcast_monitor", "--json"))
    assert (data["broker"]["state"], data["broker"]["messages"]) == ("unreachable", None)
    assert "Connection refused" in data["broker"]["detail"]


def test_monitor_on_redis_an_empty_queue_is_zero_and_workers_answer(
    every_status, redis_broker, monkeypatch
):
    # Redis drops an empty list, so a passive declare of an empty queue answers 404.
    inspect = mock.Mock()  # the workers' side of the broadcast
    inspect.return_value.ping.return_value = {"celery@web1": {"ok": "pong"}}
    monkeypatch.setattr(celery_app.control, "inspect", inspect)

    out = run("broadcast_monitor")
    assert f'Broker queue "{redis_broker}": 0 message(s) waiting' in out
    assert "Workers alive: 1 (celery@web1)" in out
    inspect.assert_called_once_with(timeout=1.0)


def test_monitor_counts_waiting_messages_and_says_when_no_worker_answers(
    every_status, redis_broker, publish_messages, monkeypatch
):
    # The shared Redis may have other workers on it: the workers' answer is ours to choose.
    inspect = mock.Mock()
    inspect.return_value.ping.return_value = None
    monkeypatch.setattr(celery_app.control, "inspect", inspect)
    publish_messages(7)
    data = json.loads(run("broadcast_monitor", "--json"))
    assert data["broker"]["messages"] == 7
    assert (data["workers"]["state"], data["workers"]["count"]) == ("ok", 0)
    assert "Workers alive: 0 (no worker answered" in run("broadcast_monitor")


def test_monitor_refuses_an_unknown_report(db):
    with pytest.raises(CommandError, match="no monthly report with id 424242"):
        run("broadcast_monitor", "--report", "424242")


# --- broadcast_failed ----------------------------------------------------------------


def test_failed_lists_guardian_masked_phone_reason_and_attempts_never_the_full_number(make_row):
    failed = make_row(
        "failed",
        name="Aisyah Putri",
        error="Fonnte refused this number: target invalid",
        retry_count=1,
    )
    unknown = make_row("unknown", error="no answer")
    make_row("sent")
    out = run("broadcast_failed")
    assert (
        f"#{failed.pk}  Aisyah Putri (NIS {failed.student.nis})  to Ibu Siti (ibu)  "
        f"{MASKED_PHONE}  failed"
    ) in out
    assert "attempts 1" in out
    assert timezone.localtime(failed.updated_at).strftime("%Y-%m-%d %H:%M WIB") in out
    assert "reason: Fonnte refused this number: target invalid" in out
    assert "report: TK A Melati · November 2026" in out
    assert FULL_PHONE not in out
    assert f"#{unknown.pk} " not in out
    assert "1 failed message(s) (all)." in out
    assert f"python manage.py broadcast_retry {failed.pk}  " in out


def test_failed_include_unknown_lists_unknown_rows_with_a_warning(make_row):
    failed = make_row("failed")
    unknown = make_row("unknown")
    out = run("broadcast_failed", "--include-unknown")
    assert f"#{failed.pk} " in out and f"#{unknown.pk} " in out
    assert "2 failed or unknown message(s)" in out
    assert "--include-unknown" in out
    assert "may already have reached the parent" in out


def test_failed_limit_and_report_filter(make_row, other_report):
    rows = [make_row("failed", age=timedelta(minutes=10 - i)) for i in range(3)]
    elsewhere = make_row("failed", monthly_report=other_report)
    out = run("broadcast_failed", "--limit", "2", "--report", str(rows[0].monthly_report_id))
    assert f"#{rows[2].pk} " in out and f"#{rows[1].pk} " in out  # the newest two
    assert f"#{rows[0].pk} " not in out
    assert f"#{elsewhere.pk} " not in out
    assert "3 failed message(s) (showing the 2 most recently updated)." in out
    assert f"broadcast_retry --report {rows[0].monthly_report_id}" in out


def test_failed_names_each_guardian_of_a_child_and_a_removed_one(
    report, make_student, make_guardian
):
    child = make_student(FULL_PHONE, name="Bima Saputra", parent_name="Rina")
    ayah = make_guardian(child, "ayah", "0813-1111-2222", name="Joko")
    for guardian, phone in ((child.guardians.get(relation="ibu"), FULL_PHONE), (ayah, "62813")):
        guardian_row(
            monthly_report=report,
            student=child,
            guardian=guardian,
            phone_number=phone,
            status="failed",
        )
    gone = make_student(name="Citra Lestari")
    removed = guardian_row(
        monthly_report=report, student=gone, phone_number="62814", status="failed"
    )
    gone.guardians.all().delete()

    out = run("broadcast_failed")

    assert f"Bima Saputra (NIS {child.nis})  to Rina (ibu)  {MASKED_PHONE}" in out
    assert f"Bima Saputra (NIS {child.nis})  to Joko (ayah)  " in out
    assert f"#{removed.pk}  Citra Lestari (NIS {gone.nis})  to guardian removed  " in out
    assert "3 failed message(s) (all)." in out


def test_failed_with_nothing_to_list(make_row):
    make_row("sent")
    assert "No failed messages." in run("broadcast_failed")


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--limit", "0"], "--limit must be at least 1"), (["--report", "424242"], "id 424242")],
)
def test_failed_refuses_bad_input(db, args, message):
    with pytest.raises(CommandError, match=message):
        run("broadcast_failed", *args)


# --- broadcast_retry -----------------------------------------------------------------


def test_retry_by_ids_puts_failed_rows_back_and_skips_the_rest(
    make_row, dispatch, django_capture_on_commit_callbacks
):
    failed = make_row("failed", error="target invalid", retry_count=3)
    sent = make_row("sent")
    unknown = make_row("unknown")
    sent_before = MonthlyReportBroadcast.objects.values().get(pk=sent.pk)

    with django_capture_on_commit_callbacks(execute=True):
        out = run("broadcast_retry", str(failed.pk), str(sent.pk), str(unknown.pk), "999999")

    failed.refresh_from_db()
    assert (failed.status, failed.retry_count, failed.error_message) == ("pending", 0, "")
    assert MonthlyReportBroadcast.objects.values().get(pk=sent.pk) == sent_before
    assert MonthlyReportBroadcast.objects.get(pk=unknown.pk).status == "unknown"
    assert (
        f"Put back 1 message(s) to be sent with fresh attempts, each to its guardian's "
        f"current number: #{failed.pk}."
    ) in out
    assert (
        f"Skipped 2 id(s) that are not failed: #{sent.pk} (sent), #{unknown.pk} (unknown); "
        "unknown rows are resent only with --include-unknown." in out
    )
    assert "Skipped 1 id(s) that do not exist: #999999." in out
    dispatch.assert_called_once_with()


def test_retry_all_resends_every_failed_row_and_never_a_sent_one(
    make_row, other_report, dispatch, django_capture_on_commit_callbacks
):
    failed = [make_row("failed"), make_row("failed", monthly_report=other_report)]
    sent = make_row("sent")
    with django_capture_on_commit_callbacks(execute=True):
        out = run("broadcast_retry", "--all")
    assert {
        row.status for row in MonthlyReportBroadcast.objects.filter(pk__in=[r.pk for r in failed])
    } == {"pending"}
    assert MonthlyReportBroadcast.objects.get(pk=sent.pk).status == "sent"
    assert "Put back 2 message(s)" in out
    dispatch.assert_called_once_with()


def test_retry_report_resends_only_that_reports_failed_rows(
    make_row, report, other_report, dispatch, django_capture_on_commit_callbacks
):
    mine = make_row("failed")
    theirs = make_row("failed", monthly_report=other_report)
    with django_capture_on_commit_callbacks(execute=True):
        out = run("broadcast_retry", "--report", str(report.pk))
    assert MonthlyReportBroadcast.objects.get(pk=mine.pk).status == "pending"
    assert MonthlyReportBroadcast.objects.get(pk=theirs.pk).status == "failed"
    assert (
        f"Put back 1 message(s) to be sent with fresh attempts, each to its guardian's "
        f"current number: #{mine.pk}."
    ) in out
    dispatch.assert_called_once_with()


def test_retry_resends_unknown_rows_only_when_asked(
    make_row, dispatch, django_capture_on_commit_callbacks
):
    unknown = make_row("unknown")
    out = run("broadcast_retry", "--all")
    assert MonthlyReportBroadcast.objects.get(pk=unknown.pk).status == "unknown"
    assert "No failed messages to resend." in out

    with django_capture_on_commit_callbacks(execute=True):
        out = run("broadcast_retry", "--all", "--include-unknown")
    assert MonthlyReportBroadcast.objects.get(pk=unknown.pk).status == "pending"
    assert "1 of them had an unknown outcome: those parents may get the message twice." in out
    dispatch.assert_called_once_with()


def test_retry_sends_to_the_students_current_number_and_keeps_rows_without_one(
    make_row, dispatch, django_capture_on_commit_callbacks
):

    corrected = make_row("failed", error="Nomor telepon tidak valid")
    no_phone = make_row("failed", error="Nomor telepon tidak valid")
    # As an import or the shell may leave it: not in the stored form yet.
    Guardian.objects.filter(student_id=corrected.student_id).update(phone="0813-1111-2222")
    Guardian.objects.filter(student_id=no_phone.student_id).update(phone="  ")

    dry = run("broadcast_retry", str(corrected.pk), str(no_phone.pk), "--dry-run")
    with django_capture_on_commit_callbacks(execute=True):
        out = run("broadcast_retry", str(corrected.pk), str(no_phone.pk))

    assert f"Dry run: would put back 1 message(s) to be sent: #{corrected.pk}." in dry
    assert "Would keep 1 row(s) as they were" in dry and f"#{no_phone.pk}." in dry
    corrected.refresh_from_db()
    assert (corrected.status, corrected.phone_number) == ("pending", "6281311112222")
    no_phone.refresh_from_db()
    assert no_phone.status == "failed"
    assert no_phone.error_message == "Nomor telepon tidak valid"  # its reason, kept
    assert f"current number: #{corrected.pk}." in out
    assert (
        f"Kept 1 row(s) as they were: the guardian has no phone number now; add it in the "
        f"student data, then resend: #{no_phone.pk}." in out
    )
    assert "status changed meanwhile" not in out  # the kept row is not mistaken for a race
    dispatch.assert_called_once_with()


def test_retry_keeps_rows_not_on_whatsapp_or_of_a_deleted_report_and_lists_them(
    make_row, dispatch, django_capture_on_commit_callbacks
):

    ok = make_row("failed")
    flagged = make_row("failed", error="Fonnte tidak menjawab.")
    orphan = make_row("failed", monthly_report=None, error="Laporan bulanan tidak ditemukan.")
    invalid = make_row("failed")
    Guardian.objects.filter(student_id=flagged.student_id).update(whatsapp_registered=False)
    Guardian.objects.filter(student_id=invalid.student_id).update(phone="0812")
    ids = [str(row.pk) for row in (ok, flagged, orphan, invalid)]

    dry = run("broadcast_retry", *ids, "--dry-run")
    with django_capture_on_commit_callbacks(execute=True):
        out = run("broadcast_retry", *ids)

    assert f"Dry run: would put back 2 message(s) to be sent: #{ok.pk}, #{invalid.pk}." in dry
    assert "Would keep 1 row(s) as they were: the number is not on WhatsApp" in dry
    assert "Would keep 1 row(s) as they were: their monthly report was deleted" in dry
    assert (
        f"Kept 1 row(s) as they were: the number is not on WhatsApp (checked with Fonnte); "
        f"correct it in the student data, then resend: #{flagged.pk}." in out
    )
    assert (
        f"Kept 1 row(s) as they were: their monthly report was deleted; they cannot be "
        f"resent: #{orphan.pk}." in out
    )
    assert "1 of them will fail again at once, without being sent" in out
    assert f"resend: #{invalid.pk}." in out
    assert "status changed meanwhile" not in out
    rows = MonthlyReportBroadcast.objects.in_bulk([ok.pk, flagged.pk, orphan.pk, invalid.pk])
    assert [rows[r.pk].status for r in (ok, flagged, orphan, invalid)] == [
        "pending",
        "failed",
        "failed",
        "pending",
    ]
    assert rows[flagged.pk].error_message == "Fonnte tidak menjawab."
    assert rows[orphan.pk].error_message == "Laporan bulanan tidak ditemukan."


def retry_summary(out):
    """What a broadcast_retry output says, per kind of line: the count and the ids named."""
    kinds = {
        r"(?:Dry run: would put back|Put back) (\d+) message": "put back",
        r"(\d+) of them (?:would|will) fail again at once": "invalid number",
        r"(?:Would keep|Kept) (\d+) row\(s\) as they were: the guardian has no": "no phone",
        r"(?:Would keep|Kept) (\d+) row\(s\) as they were: the number is not on": "not on WA",
        r"(?:Would keep|Kept) (\d+) row\(s\) as they were: their monthly report": "deleted",
        r"(\d+) of them had an unknown outcome": "unknown",
        r"Skipped (\d+) id\(s\) that are not failed": "not failed",
        r"Skipped (\d+) id\(s\) that do not exist": "missing",
    }
    summary = {}
    for line in out.splitlines():
        for pattern, kind in kinds.items():
            if match := re.match(pattern, line):
                summary[kind] = (int(match[1]), sorted(re.findall(r"#(\d+)", line)))
    return summary


def test_retry_dry_run_reports_what_the_real_run_does(
    make_row, dispatch, django_capture_on_commit_callbacks
):

    ok = [make_row("failed"), make_row("unknown")]
    invalid = [make_row("failed"), make_row("unknown")]
    no_phone, flagged = make_row("failed"), make_row("failed")
    orphan = make_row("failed", monthly_report=None)
    sent = make_row("sent")
    Guardian.objects.filter(student_id__in=[row.student_id for row in invalid]).update(phone="0812")
    Guardian.objects.filter(student_id=no_phone.student_id).update(phone="\u00a0")
    Guardian.objects.filter(student_id=flagged.student_id).update(whatsapp_registered=False)
    rows = [*ok, *invalid, no_phone, flagged, orphan, sent]
    args = ["broadcast_retry", *(str(row.pk) for row in rows), "999999", "--include-unknown"]

    dry = retry_summary(run(*args, "--dry-run"))
    with django_capture_on_commit_callbacks(execute=True):
        real = retry_summary(run(*args))

    assert dry == real
    assert {kind: count for kind, (count, _ids) in real.items()} == {
        "put back": 4,
        "invalid number": 2,
        "no phone": 1,
        "not on WA": 1,
        "deleted": 1,
        "unknown": 2,
        "not failed": 1,
        "missing": 1,
    }
    assert real["invalid number"][1] == sorted(str(row.pk) for row in invalid)


def test_retry_records_in_the_log_the_ids_put_back_and_kept_batch_by_batch(
    make_row, dispatch, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    from broadcasts.services import repair

    monkeypatch.setattr(repair, "RETRY_BATCH", 2)
    ok = [make_row("failed") for _ in range(3)]
    no_phone = make_row("failed")
    Guardian.objects.filter(student_id=no_phone.student_id).update(phone="")
    ids = [row.pk for row in (*ok, no_phone)]

    caplog.set_level("INFO")
    run("broadcast_retry", *map(str, ids), "--dry-run")
    assert not [r for r in caplog.records if r.name.endswith("broadcast_retry")]
    with django_capture_on_commit_callbacks(execute=True):
        out = run("broadcast_retry", *map(str, ids))

    records = [
        r for r in caplog.records if r.name == "broadcasts.management.commands.broadcast_retry"
    ]
    assert [r.broadcast_ids_resent for r in records] == [sorted(ids[:2]), [ids[2]]]
    assert [r.broadcast_ids_kept["no_phone"] for r in records] == [[], [no_phone.pk]]
    assert f"#{ids[0]}, #{ids[1]}" in records[0].getMessage()
    assert f"no_phone #{no_phone.pk}" in records[1].getMessage()
    assert out.splitlines()[-1] == (
        "This resend from the terminal is recorded in the log "
        "(broadcasts.management.commands.broadcast_retry), not in the rows' Riwayat (history)."
    )


def test_retry_help_says_a_terminal_resend_is_recorded_in_the_log_not_the_history():
    text = " ".join(
        RetryCommand().create_parser("manage.py", "broadcast_retry").format_help().split()
    )
    assert "recorded in the log" in text and "not in the rows' Riwayat (history)" in text


def test_retry_help_warns_that_unknown_rows_may_reach_parents_twice():
    text = " ".join(
        RetryCommand().create_parser("manage.py", "broadcast_retry").format_help().split()
    )
    assert "may get the message twice" in text


def test_retry_dry_run_changes_nothing(make_row, dispatch, django_capture_on_commit_callbacks):
    failed = make_row("failed", retry_count=3)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        out = run("broadcast_retry", "--all", "--dry-run")
    failed.refresh_from_db()
    assert (failed.status, failed.retry_count) == ("failed", 3)
    assert f"Dry run: would put back 1 message(s) to be sent: #{failed.pk}. Nothing changed." in out
    assert callbacks == []
    dispatch.assert_not_called()


@pytest.mark.parametrize(
    "args",
    [[], ["1", "--all"], ["--all", "--report", "1"], ["1", "--report", "1"]],
    ids=["none", "ids-and-all", "all-and-report", "ids-and-report"],
)
def test_retry_needs_exactly_one_selector(make_row, dispatch, args):
    failed = make_row("failed")
    with pytest.raises(CommandError, match="Choose exactly one of"):
        run("broadcast_retry", *args)
    assert MonthlyReportBroadcast.objects.get(pk=failed.pk).status == "failed"


def test_retry_refuses_an_unknown_report(make_row, dispatch):
    failed = make_row("failed")
    with pytest.raises(CommandError, match="no monthly report with id 424242"):
        run("broadcast_retry", "--report", "424242")
    assert MonthlyReportBroadcast.objects.get(pk=failed.pk).status == "failed"


# --- broadcast_prune -----------------------------------------------------------------


@pytest.fixture
def aged_rows(make_row, report, other_report, classroom):
    """A finished report (40 days), one with a row still pending, and one finished lately."""
    finished = {s: make_row(s, age=timedelta(days=40)) for s in ("sent", "failed", "unknown")}
    still_pending = [
        make_row("sent", monthly_report=other_report, age=timedelta(days=40)),
        make_row("pending", monthly_report=other_report, age=timedelta(days=40)),
    ]
    recent_report = MonthlyReport.objects.create(classroom=classroom, month=9, year=2026)
    recent = make_row("sent", monthly_report=recent_report, age=timedelta(days=10))
    return finished, still_pending, recent


def test_prune_archives_whole_finished_reports_only(aged_rows, report):
    _, still_pending, recent = aged_rows
    out = run("broadcast_prune", "--days", "30")
    left = set(MonthlyReportBroadcast.objects.values_list("pk", flat=True))
    assert left == {row.pk for row in still_pending} | {recent.pk}
    archive = BroadcastArchive.objects.get()
    assert (archive.monthly_report, archive.sent, archive.failed, archive.unknown) == (
        report,
        1,
        1,
        1,
    )
    assert "Archived 1 report(s) finished more than 30 day(s) ago: 3 row(s)" in out
    assert "(sent 1, failed 1, unknown 1), deleted." in out


def test_an_archived_report_is_never_sent_again(aged_rows, report):
    run("broadcast_prune", "--days", "30")
    with pytest.raises(BroadcastArchived):
        broadcast_create_for_report(monthly_report=report)
    assert not MonthlyReportBroadcast.objects.filter(monthly_report=report).exists()


def test_prune_removes_old_rows_whose_report_was_deleted(make_row, other_report):
    orphan = make_row("sent", monthly_report=other_report, age=timedelta(days=40))
    other_report.delete()  # SET_NULL keeps the row
    assert broadcast_prune(older_than_days=30).rows["sent"] == 1
    assert not MonthlyReportBroadcast.objects.filter(pk=orphan.pk).exists()


def test_prune_dry_run_deletes_nothing(aged_rows):
    out = run("broadcast_prune", "--days", "30", "--dry-run")
    assert MonthlyReportBroadcast.objects.count() == 6
    assert not BroadcastArchive.objects.exists()
    assert "Dry run: would archive 1 report(s)" in out
    assert "(sent 1, failed 1, unknown 1). Nothing deleted." in out


@pytest.mark.parametrize("days", ["0", "-5"])
def test_prune_refuses_days_below_one(aged_rows, days):
    with pytest.raises(CommandError, match="--days must be at least 1"):
        run("broadcast_prune", "--days", days)
    assert MonthlyReportBroadcast.objects.count() == 6


def test_prune_service_refuses_days_below_one(db):
    with pytest.raises(ValueError, match="at least 1"):
        broadcast_prune(older_than_days=0)


def test_prune_deletes_in_batches(make_row, monkeypatch):
    monkeypatch.setattr(maintenance, "PRUNE_BATCH", 2)
    for _ in range(5):
        make_row("sent", age=timedelta(days=3))
    with CaptureQueriesContext(connection) as captured:
        result = broadcast_prune(older_than_days=1)
    deletes = [
        q["sql"]
        for q in captured
        if q["sql"].upper().startswith("DELETE") and "monthlyreportbroadcast" in q["sql"]
    ]
    assert result.rows == {"sent": 5, "failed": 0, "unknown": 0}
    assert len(deletes) == 3  # 2 + 2 + 1
    assert not MonthlyReportBroadcast.objects.exists()


# --- send_test_whatsapp --------------------------------------------------------------


def send_test(*args):
    """Run the command; return (stdout, error message or None)."""
    out = io.StringIO()
    try:
        call_command("send_test_whatsapp", *args, stdout=out, stderr=io.StringIO())
    except CommandError as err:
        return out.getvalue(), str(err)
    return out.getvalue(), None


def test_send_test_accepted(fonnte, settings):
    fonnte.post(FONNTE_TEST_URL, json=fonnte_ok(message_id="80367170"))
    out, error = send_test("0812-3456-7890")
    assert error is None
    assert f"Sending one test message to {MASKED_PHONE} with the fonnte backend" in out
    assert "Accepted by Fonnte, message id 80367170." in out
    assert FULL_PHONE not in out and FONNTE_TEST_TOKEN not in out
    (call,) = fonnte.calls
    assert f"target={FULL_PHONE}" in call.request.body
    assert unquote_plus(call.request.body).count(settings.SCHOOL_NAME) == 1
    assert call.request.headers["Authorization"] == FONNTE_TEST_TOKEN


def test_send_test_custom_message(fonnte):
    fonnte.post(FONNTE_TEST_URL, json=fonnte_ok(message_id="80367171"))
    out, error = send_test("6281234567890", "--message", "Halo dari server")
    assert error is None
    assert "Accepted by Fonnte, message id 80367171." in out
    (call,) = fonnte.calls
    sent = parse_qs(call.request.body)
    assert (sent["target"], sent["message"]) == (["6281234567890"], ["Halo dari server"])


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            {"json": {"status": False, "reason": "target invalid"}},
            'Fonnte refused this number: Fonnte answered: "target invalid"',
        ),
        (
            {"json": {"status": False, "reason": "token invalid"}},
            'Fonnte refused the account (check FONNTE_API_TOKEN): Fonnte answered: "token invalid"',
        ),
        (
            {"status": 500, "json": {"error": "boom"}},
            "Fonnte is unreachable or busy, try later: Fonnte answered HTTP 500",
        ),
        (
            {"body": requests.exceptions.ReadTimeout("read timed out")},
            "Fonnte did not answer within 30 seconds after the message was sent; it may still have "
            "been queued. Check the phone before trying again: it may have arrived.",
        ),
    ],
    ids=["target-invalid", "token-invalid", "http-500", "read-timeout"],
)
def test_send_test_not_accepted_exits_with_the_reason(fonnte, answer, expected):
    fonnte.post(FONNTE_TEST_URL, **answer)
    out, error = send_test("0812-3456-7890")
    assert error is not None and error.startswith(expected)
    assert "Accepted" not in out
    assert len(fonnte.calls) == 1
    assert FONNTE_TEST_TOKEN not in out + error


def test_send_test_never_prints_the_token_even_when_fonnte_echoes_it(fonnte):
    fonnte.post(FONNTE_TEST_URL, json={"status": False, "reason": f"invalid {FONNTE_TEST_TOKEN}"})
    out, error = send_test("0812-3456-7890")
    assert error is not None and "[token]" in error
    assert FONNTE_TEST_TOKEN not in out + error


def test_send_test_invalid_phone_sends_nothing(fonnte):
    _, error = send_test("0812")
    assert (
        error == "Invalid phone number: The phone number is too short, too long or does not exist."
    )
    assert len(fonnte.calls) == 0


def test_send_test_with_a_backend_that_does_not_send(outbox):
    out, error = send_test("0812-3456-7890")
    assert error is None
    assert "Accepted by the locmem backend" in out
    assert "sends no real WhatsApp message" in out
    assert [m.phone for m in outbox] == [FULL_PHONE]


def test_send_test_names_a_missing_token(settings):
    settings.WHATSAPP_BACKEND = "fonnte"
    settings.FONNTE_API_TOKEN = ""
    _, error = send_test("0812-3456-7890")
    assert error is not None and "FONNTE_API_TOKEN is empty" in error


def test_monitor_says_whether_pacing_holds_messages(db, broker, settings):
    broker(0)
    assert "Pacing: sending (no pace)" in run("broadcast_monitor")  # the test settings
    settings.WHATSAPP_MESSAGES_PER_MINUTE = 30
    settings.WHATSAPP_QUIET_HOURS = quiet_hours_around_now()
    assert "Pacing: held (quiet_hours until " in run("broadcast_monitor")
    pacing = json.loads(run("broadcast_monitor", "--json"))["pacing"]
    assert (pacing["sending"], pacing["held_by"], pacing["per_minute"]) == (
        False,
        "quiet_hours",
        30.0,
    )
