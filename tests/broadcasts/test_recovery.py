"""The minute sweep: rows stuck in flight become unknown, lost tasks are republished."""

from datetime import timedelta

import pytest
from django.utils import timezone

from broadcasts import queue, tasks
from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast
from broadcasts.services import (
    broadcast_alert_failure_spike,
    broadcast_create_for_report,
    broadcast_recover,
)
from notifications.models import Notification


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
    assert result == {"stuck_marked_unknown": 1, "requeued": 0}


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
