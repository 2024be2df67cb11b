"""The minute sweep: rows stuck in flight become unknown, lost tasks are republished,
failures whose alert task was lost are reported."""

import json
import threading
import time
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import responses
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connection
from django.utils import timezone

from broadcasts import queue, tasks
from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast, SendingPace
from broadcasts.services import (
    alerts,
    broadcast_alert_failure_spike,
    broadcast_create_for_report,
    broadcast_handle_task_failure,
    broadcast_process_due,
    broadcast_recover,
    broadcast_send,
    pacing,
    sending,
)
from notifications.models import Notification
from reports.models import MonthlyReport
from students.models import Classroom
from tests.conftest import FONNTE_TEST_URL, fonnte_ok


@pytest.fixture
def rows(report, make_student):
    def create(n):
        for _ in range(n):
            make_student()
        broadcast_create_for_report(monthly_report=report)
        return list(MonthlyReportBroadcast.objects.order_by("pk"))

    return create


@pytest.fixture
def published(monkeypatch):
    sent, scheduled = [], []
    monkeypatch.setattr(queue, "publish_sends", lambda chunk: sent.extend(chunk))
    monkeypatch.setattr(
        tasks.alert_broadcast_failures,
        "apply_async",
        lambda args, countdown: scheduled.append(args[0]),
    )
    monkeypatch.setattr(queue, "queue_depth", lambda: queue.QueueDepth(0))
    return sent, scheduled


def ago(seconds):
    return timezone.now() - timedelta(seconds=seconds)


def test_a_row_stuck_sending_becomes_unknown_and_the_admins_are_told(rows, published, settings):
    settings.WHATSAPP_SENDING_TIMEOUT = 300
    stuck, fresh = rows(2)
    MonthlyReportBroadcast.objects.filter(pk=stuck.pk).update(
        status=BroadcastStatus.SENDING, claimed_at=ago(301)
    )
    MonthlyReportBroadcast.objects.filter(pk=fresh.pk).update(
        status=BroadcastStatus.SENDING, claimed_at=ago(10)
    )
    _, scheduled = published

    assert broadcast_recover().stuck_marked_unknown == 1

    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.status == BroadcastStatus.UNKNOWN
    assert "mungkin sudah terkirim" in stuck.error_message
    assert [a.outcome for a in stuck.attempts.all()] == ["unknown"]
    assert fresh.status == BroadcastStatus.SENDING
    assert scheduled == [stuck.monthly_report_id]


def test_stuck_rows_are_never_republished(rows, published, settings):
    (row,) = rows(1)
    MonthlyReportBroadcast.objects.filter(pk=row.pk).update(
        status=BroadcastStatus.SENDING, claimed_at=ago(10_000)
    )
    sent, _ = published
    broadcast_recover()
    assert sent == []


def test_an_overdue_retry_and_an_old_pending_row_are_republished_once(rows, published, settings):
    settings.WHATSAPP_REQUEUE_AFTER = 900
    retrying, pending, recent = rows(3)
    MonthlyReportBroadcast.objects.filter(pk=retrying.pk).update(
        # Handed out long ago (a row pacing parked has no enqueued_at: the dispatcher's).
        status=BroadcastStatus.RETRYING,
        next_attempt_at=ago(901),
        enqueued_at=ago(1000),
    )
    MonthlyReportBroadcast.objects.filter(pk=pending.pk).update(enqueued_at=ago(901))
    MonthlyReportBroadcast.objects.filter(pk=recent.pk).update(enqueued_at=ago(60))
    sent, _ = published

    assert broadcast_recover().requeued == 2
    assert broadcast_recover().requeued == 0  # the clock restarted

    assert sorted(pk for pk, _ in sent) == [retrying.pk, pending.pk]


def test_pending_rows_are_left_alone_while_the_queue_still_holds_messages(
    rows, published, monkeypatch
):
    (row,) = rows(1)
    MonthlyReportBroadcast.objects.filter(pk=row.pk).update(enqueued_at=ago(10_000))
    monkeypatch.setattr(queue, "queue_depth", lambda: queue.QueueDepth(250))
    assert broadcast_recover().requeued == 0


def test_in_cron_mode_nothing_is_published(rows, published, settings):
    settings.WHATSAPP_RUNNER = "cron"
    (row,) = rows(1)
    MonthlyReportBroadcast.objects.filter(pk=row.pk).update(enqueued_at=ago(10_000))
    sent, _ = published
    assert broadcast_recover().requeued == 0
    assert sent == []


def test_many_failures_raise_one_spike_alert_per_window(rows, admins, settings):
    settings.WHATSAPP_FAILURE_ALERT_THRESHOLD = 10
    settings.WHATSAPP_FAILURE_ALERT_WINDOW = 3600
    created = rows(12)
    MonthlyReportBroadcast.objects.filter(pk__in=[r.pk for r in created[:9]]).update(
        status=BroadcastStatus.FAILED, updated_at=timezone.now()
    )
    assert broadcast_alert_failure_spike() == 0  # 9 < 10

    MonthlyReportBroadcast.objects.filter(pk=created[9].pk).update(
        status=BroadcastStatus.FAILED, updated_at=timezone.now()
    )
    assert broadcast_alert_failure_spike() == 10
    assert broadcast_alert_failure_spike() == 0  # once per window
    spike = Notification.objects.filter(key="failure-spike", recipient=admins[0]).get()
    assert "10" in spike.title


def test_old_failures_do_not_count_towards_the_spike(rows, admins, settings):
    settings.WHATSAPP_FAILURE_ALERT_THRESHOLD = 2
    created = rows(3)
    MonthlyReportBroadcast.objects.filter(pk__in=[r.pk for r in created]).update(
        status=BroadcastStatus.FAILED, updated_at=ago(2 * 3600)
    )
    assert broadcast_alert_failure_spike() == 0


def test_the_periodic_task_runs_the_sweep(rows, published, settings, celery_eager):
    (row,) = rows(1)
    MonthlyReportBroadcast.objects.filter(pk=row.pk).update(
        status=BroadcastStatus.SENDING, claimed_at=ago(10_000)
    )
    result = tasks.recover_broadcasts.apply().get()
    assert result == {"stuck_marked_unknown": 1, "requeued": 0, "alerted": 0}


def test_rows_whose_dispatch_was_lost_are_dispatched(rows, published):
    created = rows(2)
    MonthlyReportBroadcast.objects.update(updated_at=ago(120))  # enqueued_at stays empty
    sent, _ = published
    assert broadcast_recover().requeued == 2
    assert sorted(pk for pk, _ in sent) == [row.pk for row in created]
    assert all(row.enqueued_at for row in MonthlyReportBroadcast.objects.all())


def test_a_fresh_click_is_left_to_its_own_dispatcher(rows, published):
    rows(2)
    sent, _ = published
    assert broadcast_recover().requeued == 0
    assert sent == []


# --- Alerts whose task was lost ----------------------------------------------------------


@pytest.fixture
def alert_timing(settings):
    """The defaults: first alert 30 s after a failure, then at most every 10 minutes;
    the sweep every minute, so it alerts what is still unreported 90 s after a failure."""
    settings.WHATSAPP_ALERT_DELAY = 30
    settings.WHATSAPP_ALERT_INTERVAL = 600
    settings.WHATSAPP_RECOVERY_INTERVAL = 60


def report_alerts(admin):
    return Notification.objects.filter(recipient=admin, key="")


def test_a_failure_whose_alert_task_was_lost_is_alerted_by_the_sweep_once(
    rows, published, admins, alert_timing
):
    failed, sent = rows(2)
    MonthlyReportBroadcast.objects.filter(pk=sent.pk).update(status=BroadcastStatus.SENT)
    broadcast_handle_task_failure(broadcast_id=failed.pk, exc=RuntimeError("boom"))
    _, scheduled = published
    # The alert task was published, and is lost with the broker: it never runs.
    assert scheduled == [failed.monthly_report_id]

    MonthlyReportBroadcast.objects.filter(pk=failed.pk).update(updated_at=ago(80))
    assert broadcast_recover().alerted == 0  # its task may still come: not yet
    assert not report_alerts(admins[0]).exists()

    MonthlyReportBroadcast.objects.filter(pk=failed.pk).update(updated_at=ago(91))
    assert broadcast_recover().alerted == 1
    assert broadcast_recover().alerted == 0  # the next sweep: already told

    failed.refresh_from_db()
    assert failed.status == BroadcastStatus.FAILED
    assert failed.failure_alerted_at is not None
    for admin in admins:
        (alert,) = report_alerts(admin)
        assert failed.student.nis in alert.body
    assert scheduled == [failed.monthly_report_id]  # the sweep queued no task of its own


def test_the_sweep_keeps_to_the_alert_interval(rows, published, admins, alert_timing):
    told, later = rows(2)
    MonthlyReportBroadcast.objects.filter(pk=told.pk).update(
        status=BroadcastStatus.FAILED, failure_alerted_at=ago(630)
    )
    MonthlyReportBroadcast.objects.filter(pk=later.pk).update(
        status=BroadcastStatus.FAILED, updated_at=ago(300)
    )
    _, scheduled = published

    # The interval is over, but the report's requeued task is due now: it goes first.
    assert broadcast_recover().alerted == 0
    MonthlyReportBroadcast.objects.filter(pk=told.pk).update(failure_alerted_at=ago(661))
    assert broadcast_recover().alerted == 1

    later.refresh_from_db()
    assert later.failure_alerted_at is not None
    assert report_alerts(admins[0]).count() == 1
    assert scheduled == []


def test_a_failure_within_the_delay_is_left_to_its_alert_task(
    rows, published, admins, alert_timing
):
    (row,) = rows(1)
    MonthlyReportBroadcast.objects.filter(pk=row.pk).update(
        status=BroadcastStatus.UNKNOWN, updated_at=ago(5)
    )
    assert broadcast_recover().alerted == 0
    row.refresh_from_db()
    assert row.failure_alerted_at is None


def _blocked_on_a_row_lock() -> bool:
    """Whether another session of this test database waits for a lock (PostgreSQL, MariaDB)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        else:
            # MariaDB lists a locking read blocked in its planning stage in no InnoDB table:
            # a SELECT … FOR UPDATE still running while the other session sits idle waits.
            cursor.execute(
                "SELECT count(*) FROM information_schema.processlist WHERE db = DATABASE() "
                "AND id <> CONNECTION_ID() AND info LIKE '%%FOR UPDATE%%'"
            )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_one_spike_alert(rows, request, settings, monkeypatch):
    """Two sweeps check "no spike alert yet?" at once: one alerts, the other waits and sees it."""
    if connection.vendor == "sqlite":
        pytest.skip(
            "SQLite serializes write transactions (BEGIN IMMEDIATE); the row lock under "
            "test is PostgreSQL's and MariaDB's"
        )
    for name in ("super_admin", "admin"):  # a transactional test flushed the migration's
        Group.objects.get_or_create(name=name)
    admins = request.getfixturevalue("admins")
    settings.WHATSAPP_FAILURE_ALERT_THRESHOLD = 2
    rows(3)
    MonthlyReportBroadcast.objects.update(status=BroadcastStatus.FAILED, updated_at=timezone.now())
    SendingPace.objects.create(device=pacing.DEVICE)  # the second sweep waits on its lock

    # The first sweep to alert pauses there, its lock held, until the second one either
    # waits for that lock or (without one) has finished on its own.
    holding, release, sending = threading.Event(), threading.Event(), []
    real_send = alerts.notification_send_to_admins

    def send_slowly(**kwargs):
        sending.append(threading.current_thread().name)
        if len(sending) == 1:
            holding.set()
            release.wait(timeout=30)
        return real_send(**kwargs)

    monkeypatch.setattr(alerts, "notification_send_to_admins", send_slowly)
    results = {}

    def sweep():
        try:
            results[threading.current_thread().name] = broadcast_alert_failure_spike()
        finally:
            connection.close()

    first = threading.Thread(target=sweep, name="first")
    second = threading.Thread(target=sweep, name="second")
    first.start()
    try:
        assert holding.wait(timeout=30), "the first sweep never reached its alert"
        second.start()
        deadline = time.monotonic() + 30
        while second.is_alive() and not _blocked_on_a_row_lock():
            assert time.monotonic() < deadline, "the second sweep neither waited nor ended"
            time.sleep(0.05)
    finally:
        release.set()
        first.join(timeout=30)
        if second.is_alive() or second.ident:
            second.join(timeout=30)

    assert results == {"first": 3, "second": 0}
    assert sending == ["first"]
    for admin in admins:
        assert Notification.objects.filter(recipient=admin, key="failure-spike").count() == 1


def test_a_class_name_with_a_line_break_loses_no_alert_and_stops_no_sweep(
    rows, published, admins, alert_timing, make_student, django_capture_on_commit_callbacks
):
    """A name saved before control characters were refused breaks an email subject
    (BadHeaderError): its alert stays in the app, and the next report is alerted too."""
    broken = Classroom.objects.create(name="TK B\nMawar")
    other = MonthlyReport.objects.create(classroom=broken, month=11, year=2026)
    make_student(classroom=broken)
    broadcast_create_for_report(monthly_report=other)
    rows(1)
    MonthlyReportBroadcast.objects.update(status=BroadcastStatus.FAILED, updated_at=ago(91))

    with django_capture_on_commit_callbacks(execute=True):
        assert broadcast_recover().alerted == 2

    assert report_alerts(admins[0]).count() == 2
    assert sorted(email.subject for email in mail.outbox) == [
        "[TK ABA Assalam] Pesan WhatsApp tidak terkirim: TK A Melati · November 2026",
        "[TK ABA Assalam] Pesan WhatsApp tidak terkirim: TK B Mawar · November 2026",
    ]


# --- "Unknown" only when the request to Fonnte may have started ----------------------------


class Killed(BaseException):
    """``kill -9``: the worker stops where it stands, and no handler of ours runs."""


@pytest.fixture
def paced(settings):
    """30 messages a minute (2 s apart), as in production; the next turn is 2 s away."""
    settings.WHATSAPP_MESSAGES_PER_MINUTE = 30
    settings.WHATSAPP_PACE_JITTER = 0
    settings.WHATSAPP_DAILY_LIMIT = 0
    settings.WHATSAPP_QUIET_HOURS = ""
    settings.WHATSAPP_SENDING_TIMEOUT = 300
    settings.WHATSAPP_REQUEUE_AFTER = 900
    pacing.pacing_reserve_turn()  # another message just went: the next turn is 2 s away
    return settings


def phones_called(fonnte):
    return [parse_qs(call.request.body)["target"][0] for call in fonnte.calls]


def test_a_worker_killed_before_the_request_leaves_the_row_waiting_and_the_sweep_sends_it_once(
    report, make_student, published, paced, fonnte, monkeypatch
):
    """Killed while waiting for its turn: never ``unknown``, sent once by the sweep alone.

    Killed once its request went out: ``unknown``, never sent again.
    """
    make_student("0812-0000-0001")
    make_student("0812-0000-0002")
    broadcast_create_for_report(monthly_report=report)
    waiting, requested = MonthlyReportBroadcast.objects.order_by("pk")
    MonthlyReportBroadcast.objects.update(enqueued_at=timezone.now())  # the dispatcher's

    def fonnte_answers(request):
        if parse_qs(request.body)["target"] == ["6281200000002"]:
            raise Killed  # the request reached Fonnte, the worker died before the answer
        return (200, {}, json.dumps(fonnte_ok(message_id="501", target="6281200000001")))

    fonnte.add_callback(responses.POST, FONNTE_TEST_URL, callback=fonnte_answers)

    def killed_while_waiting(seconds):
        raise Killed

    monkeypatch.setattr(sending, "sleep", killed_while_waiting)
    with pytest.raises(Killed):
        broadcast_send(broadcast_id=waiting.pk, monthly_report_id=report.pk)
    monkeypatch.setattr(sending, "sleep", lambda seconds: None)
    with pytest.raises(Killed):
        broadcast_send(broadcast_id=requested.pk, monthly_report_id=report.pk)

    waiting.refresh_from_db()
    assert (waiting.status, waiting.retry_count) == (BroadcastStatus.PENDING, 0)
    assert phones_called(fonnte) == ["6281200000002"]

    # Both tasks died with their worker. Much later, the sweep:
    MonthlyReportBroadcast.objects.filter(status=BroadcastStatus.SENDING).update(
        claimed_at=ago(301)
    )
    MonthlyReportBroadcast.objects.filter(pk=waiting.pk).update(enqueued_at=ago(901))
    sent, _ = published
    recovery = broadcast_recover()
    assert (recovery.stuck_marked_unknown, recovery.requeued) == (1, 1)
    assert sent == [(waiting.pk, report.pk)]

    # The republished task sends it (taking a turn again); the dead one's copy, redelivered
    # late, sends nothing.
    for _ in range(2):
        broadcast_send(broadcast_id=waiting.pk, monthly_report_id=report.pk)
    assert phones_called(fonnte) == ["6281200000002", "6281200000001"]
    waiting.refresh_from_db()
    requested.refresh_from_db()
    assert (waiting.status, waiting.retry_count) == (BroadcastStatus.SENT, 1)
    assert [a.outcome for a in waiting.attempts.all()] == ["sent"]
    assert requested.status == BroadcastStatus.UNKNOWN
    assert "mungkin sudah terkirim" in requested.error_message
    assert SendingPace.objects.get().next_slot_at > timezone.now()  # it took a turn


def test_a_cron_run_killed_before_the_request_leaves_the_row_to_the_next_run(
    report, make_student, paced, fonnte, monkeypatch
):
    paced.WHATSAPP_RUNNER = "cron"
    make_student("0812-0000-0001")
    broadcast_create_for_report(monthly_report=report)
    fonnte.post(FONNTE_TEST_URL, json=fonnte_ok(target="6281200000001"))

    def killed_while_waiting(seconds):
        raise Killed

    monkeypatch.setattr(sending, "sleep", killed_while_waiting)
    with pytest.raises(Killed):
        broadcast_process_due(max_jobs=5)
    monkeypatch.setattr(sending, "sleep", lambda seconds: None)

    assert broadcast_process_due(max_jobs=5).sent == 1  # the next minute's run
    assert broadcast_process_due(max_jobs=5).processed == 0
    row = MonthlyReportBroadcast.objects.get()
    assert (row.status, row.retry_count) == (BroadcastStatus.SENT, 1)
    assert phones_called(fonnte) == ["6281200000001"]


def test_a_task_republished_while_a_slow_worker_waits_for_its_turn_sends_once(
    report, make_student, published, paced, fonnte, monkeypatch
):
    """The sweep takes a waiting row's task for lost while its worker still waits: the copy
    sends, the slow worker's claim then finds the row sent and calls nobody."""
    make_student("0812-0000-0001")
    broadcast_create_for_report(monthly_report=report)
    row = MonthlyReportBroadcast.objects.get()
    MonthlyReportBroadcast.objects.update(enqueued_at=ago(901))
    fonnte.post(FONNTE_TEST_URL, json=fonnte_ok(target="6281200000001"))

    def meanwhile(seconds):
        monkeypatch.setattr(sending, "sleep", lambda seconds: None)
        assert broadcast_recover().requeued == 1
        assert broadcast_send(broadcast_id=row.pk, monthly_report_id=report.pk) is True

    monkeypatch.setattr(sending, "sleep", meanwhile)
    assert broadcast_send(broadcast_id=row.pk, monthly_report_id=report.pk) is False

    row.refresh_from_db()
    assert (row.status, row.retry_count) == (BroadcastStatus.SENT, 1)
    assert phones_called(fonnte) == ["6281200000001"]
