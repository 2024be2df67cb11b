"""The Celery tasks, run eagerly: retry policy, the on-failure alert, grouping, dispatch."""

import os
import subprocess
import sys

import pytest
from django.core import mail

from broadcasts import queue, tasks
from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast
from broadcasts.services import (
    broadcast_alert_failures,
    broadcast_create_for_report,
    broadcast_resend,
)
from notifications.models import Notification
from tests.conftest import FONNTE_TEST_TOKEN, FONNTE_TEST_URL, fonnte_ok
from tests.workers import BASE_DIR


@pytest.fixture
def rows(report, make_student):
    def create(n=1, phone="0812-3456-7890"):
        for _ in range(n):
            make_student(phone)
        broadcast_create_for_report(monthly_report=report)
        return list(MonthlyReportBroadcast.objects.order_by("pk"))

    return create


def run(row):
    tasks.send_monthly_report_whatsapp.apply(args=(row.monthly_report_id, row.pk))


def test_retry_then_success(rows, fonnte, celery_eager):
    (row,) = rows()
    fonnte.post(FONNTE_TEST_URL, status=500, json={"error": "boom"})
    fonnte.post(FONNTE_TEST_URL, json=fonnte_ok())  # responses replays registrations in order
    run(row)
    row.refresh_from_db()
    assert (row.status, row.retry_count) == (BroadcastStatus.SENT, 2)
    assert len(fonnte.calls) == 2
    assert not Notification.objects.exists()


def test_retries_wait_the_retry_delay_and_stop_at_the_attempts_limit(
    rows, fonnte, celery_eager, settings, monkeypatch
):
    task = tasks.send_monthly_report_whatsapp
    # The task reads the settings once, at import; set both as a deployment would.
    settings.WHATSAPP_RETRY_DELAY = 60
    monkeypatch.setattr(task, "default_retry_delay", 60)
    countdowns = []
    original = task.signature_from_request

    def record(request, args, kwargs, countdown=None, **options):
        countdowns.append(countdown)
        return original(request, args, kwargs, countdown=countdown, **options)

    monkeypatch.setattr(task, "signature_from_request", record)
    (row,) = rows()
    fonnte.post(FONNTE_TEST_URL, status=500, json={"error": "boom"})
    run(row)
    row.refresh_from_db()
    # Three tries in all, the second and third each queued 60 s after the one before
    # (eager mode runs them at once); the third failure is final, not queued again.
    assert len(fonnte.calls) == 3
    assert countdowns == [60, 60]
    assert (row.status, row.retry_count) == (BroadcastStatus.FAILED, 3)


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        pytest.param({}, ["2", "60", "False"], id="defaults: 3 tries, 60 s apart"),
        pytest.param(
            {"WHATSAPP_MAX_ATTEMPTS": "5", "WHATSAPP_RETRY_DELAY": "7"},
            ["4", "7", "False"],
            id="as set: 5 tries, 7 s apart",
        ),
    ],
)
def test_the_task_retries_as_the_settings_say(tmp_path, environment, expected):
    """The task's retry policy in production settings, from the environment; no .env read."""
    code = (
        "import environ; environ.Env.read_env = lambda *a, **k: None;"
        "import django; django.setup();"
        "from broadcasts.tasks import send_monthly_report_whatsapp as t;"
        "print(t.max_retries, t.default_retry_delay, t.retry_backoff)"
    )
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "tkassalam.settings",
        "SECRET_KEY": "only-for-this-test",
        "HOME": str(tmp_path),
        **environment,
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # max_retries counts the tries after the first one.
    assert out == expected


@pytest.fixture
def alert_queue(monkeypatch):
    """Alert tasks queued by the on-failure handler, kept instead of run (eager mode ignores
    countdowns); ``deliver()`` runs them as a worker would once they are due."""
    queued = []
    monkeypatch.setattr(
        tasks.alert_broadcast_failures,
        "apply_async",
        lambda args, countdown: queued.append((args[0], countdown)),
    )

    def deliver():
        due, queued[:] = list(queued), []
        return sum(broadcast_alert_failures(monthly_report_id=report_id) for report_id, _ in due)

    return queued, deliver


def test_final_failure_after_three_tries_alerts_every_admin_within_a_minute(
    rows, fonnte, celery_eager, admins, alert_queue, settings, django_capture_on_commit_callbacks
):
    settings.WHATSAPP_ALERT_DELAY = 30
    queued, deliver = alert_queue
    (row,) = rows()
    fonnte.post(FONNTE_TEST_URL, status=502, body="<html>Bad Gateway</html>")
    run(row)
    row.refresh_from_db()
    assert (row.status, row.retry_count) == (BroadcastStatus.FAILED, 3)
    assert len(fonnte.calls) == 3
    assert queued == [(row.monthly_report_id, 30)]

    with django_capture_on_commit_callbacks(execute=True):
        assert deliver() == 1

    notes = Notification.objects.all()
    assert sorted(n.recipient.username for n in notes) == ["kepala", "tatausaha", "yayasan"]
    note = notes[0]
    assert row.student.full_name in note.body
    assert str(row.monthly_report) in note.title
    # The guardian by name and relation, never their number, not even masked.
    assert f"{row.student.full_name} ({row.student.nis}), {row.guardian}:" in note.body
    assert "6281234567890" not in note.body and "****" not in note.body
    assert f"monthly_report__id__exact={row.monthly_report_id}" in note.link
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == [
        "kepala.sekolah@example.com",
        "kepala@example.com",
        "tu@example.com",
        "yayasan@example.com",
    ]
    assert row.student.full_name in mail.outbox[0].body
    assert str(row.monthly_report) in mail.outbox[0].subject
    # The reason the admin reads: Fonnte's HTML 502, in the alert and the email alike.
    assert "502" in row.error_message
    assert row.error_message in note.body
    assert row.error_message in mail.outbox[0].body
    row.refresh_from_db()
    assert row.failure_alerted_at is not None


def test_a_bad_number_is_not_retried_and_the_admins_are_told(
    report, make_student, fonnte, celery_eager, admins, alert_queue
):
    _, deliver = alert_queue
    make_student("0812")
    broadcast_create_for_report(monthly_report=report)
    row = MonthlyReportBroadcast.objects.get()
    run(row)
    row.refresh_from_db()
    assert (row.status, row.retry_count) == (BroadcastStatus.FAILED, 1)
    assert len(fonnte.calls) == 0
    deliver()
    assert Notification.objects.filter(recipient=admins[0]).count() == 1


def test_an_outage_becomes_one_alert_per_admin_not_one_per_parent(
    rows, fonnte, celery_eager, admins, settings, alert_queue
):
    queued, deliver = alert_queue
    settings.WHATSAPP_MAX_ATTEMPTS = 1
    failing = rows(30)
    fonnte.post(FONNTE_TEST_URL, status=503, body="down")
    for row in failing:
        run(row)
    assert MonthlyReportBroadcast.objects.failed().count() == 30
    assert len(queued) == 30
    assert deliver() == 30
    assert Notification.objects.filter(recipient=admins[0]).count() == 1
    assert "30" in Notification.objects.filter(recipient=admins[0]).get().body


def test_failures_after_an_alert_wait_for_the_interval(
    rows, fonnte, celery_eager, admins, settings, alert_queue
):
    queued, deliver = alert_queue
    settings.WHATSAPP_MAX_ATTEMPTS = 1
    settings.WHATSAPP_ALERT_INTERVAL = 600
    first, second = rows(2)
    fonnte.post(FONNTE_TEST_URL, status=503, body="down")
    run(first)
    assert deliver() == 1

    run(second)
    ((_, countdown),) = queued
    assert 590 <= countdown <= 600
    # Run early anyway (e.g. a duplicate task): it sends nothing and waits again.
    assert deliver() == 0
    assert Notification.objects.filter(recipient=admins[0]).count() == 1
    ((_, countdown),) = queued
    assert 590 <= countdown <= 600


def test_a_task_delivered_twice_sends_once(rows, fonnte, celery_eager):
    (row,) = rows()
    fonnte.post(FONNTE_TEST_URL, json=fonnte_ok())
    run(row)
    run(row)
    assert len(fonnte.calls) == 1


def test_the_dispatcher_publishes_each_pending_row_once(rows, monkeypatch):
    created = rows(3)
    published = []
    monkeypatch.setattr(queue, "publish_sends", lambda chunk: published.extend(chunk))
    assert tasks.dispatch_pending_broadcasts.apply().get() == 3
    assert tasks.dispatch_pending_broadcasts.apply().get() == 0
    assert sorted(published) == [(row.pk, row.monthly_report_id) for row in created]
    assert all(row.enqueued_at for row in MonthlyReportBroadcast.objects.all())


def test_dispatch_then_worker_sends_every_row(rows, outbox, celery_eager):
    created = rows(3)
    tasks.dispatch_pending_broadcasts.apply()
    assert MonthlyReportBroadcast.objects.sent().count() == 3
    assert sorted(m.phone for m in outbox) == ["6281234567890"] * 3
    assert sorted(m.message for m in outbox) == sorted(row.message for row in created)


def test_resending_failed_rows_gives_fresh_attempts_and_never_touches_sent_ones(
    rows, fonnte, celery_eager, settings, django_capture_on_commit_callbacks
):
    settings.WHATSAPP_MAX_ATTEMPTS = 1
    failed, sent = rows(2)
    MonthlyReportBroadcast.objects.filter(pk=sent.pk).update(status=BroadcastStatus.SENT)
    MonthlyReportBroadcast.objects.filter(pk=failed.pk).update(
        status=BroadcastStatus.FAILED, retry_count=1, enqueued_at="2026-01-01T00:00Z"
    )
    fonnte.post(FONNTE_TEST_URL, json=fonnte_ok())
    with django_capture_on_commit_callbacks(execute=True):
        outcome = broadcast_resend(broadcast_ids=[failed.pk, sent.pk])
    assert outcome.resent == (failed.pk,)
    failed.refresh_from_db()
    assert (failed.status, failed.retry_count) == (BroadcastStatus.SENT, 1)
    assert len(fonnte.calls) == 1


def test_unknown_rows_are_resent_only_when_asked(rows):
    (row,) = rows()
    MonthlyReportBroadcast.objects.filter(pk=row.pk).update(status=BroadcastStatus.UNKNOWN)
    assert broadcast_resend(broadcast_ids=[row.pk]).resent == ()
    assert broadcast_resend(broadcast_ids=[row.pk], include_unknown=True).resent == (row.pk,)


def test_the_token_fonnte_echoes_reaches_no_row_alert_or_admin_page(
    rows,
    fonnte,
    celery_eager,
    settings,
    admins,
    alert_queue,
    client,
    django_capture_on_commit_callbacks,
):
    settings.WHATSAPP_MAX_ATTEMPTS = 1
    _, deliver = alert_queue
    (row,) = rows()
    fonnte.post(FONNTE_TEST_URL, json={"status": False, "reason": f"bad key {FONNTE_TEST_TOKEN}"})
    run(row)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver() == 1
    row.refresh_from_db()
    note = Notification.objects.filter(recipient=admins[0]).get()

    assert row.status == BroadcastStatus.FAILED
    assert "[token]" in row.response
    stored = [row.response, row.error_message, note.title, note.body, mail.outbox[0].body]
    for detail, response in row.attempts.values_list("detail", "response"):
        stored += [detail, response]
    client.force_login(admins[0])
    pages = [
        "/admin/broadcasts/monthlyreportbroadcast/",
        f"/admin/broadcasts/monthlyreportbroadcast/{row.pk}/change/",
        "/admin/notifications/notification/",
        f"/admin/notifications/notification/{note.pk}/change/",
        "/admin/reports/monthlyreport/",
        f"/admin/reports/monthlyreport/{row.monthly_report_id}/change/",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        stored.append(response.content.decode())
    assert all(FONNTE_TEST_TOKEN not in text for text in stored)


def test_the_rows_of_a_deleted_report_fail_and_the_admins_are_told(
    rows, fonnte, celery_eager, admins, alert_queue, report, django_capture_on_commit_callbacks
):
    _, deliver = alert_queue
    (row,) = rows()
    report.delete()  # from the shell: the admin refuses once rows exist

    run(row)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver() == 1

    row.refresh_from_db()
    assert (row.status, row.error_message) == ("failed", "Laporan bulanan tidak ditemukan.")
    assert len(fonnte.calls) == 0
    assert Notification.objects.filter(recipient=admins[0]).count() == 1
    assert row.student.full_name in mail.outbox[0].body
    assert "Laporan bulanan tidak ditemukan." in mail.outbox[0].body
