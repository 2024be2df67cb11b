"""Finding rows that lost their task (a killed worker, a restarted broker) and settling them.

Runs every minute (tasks.recover_broadcasts, scheduled by celery beat; in cron mode
from process_broadcasts). Nothing here ever resends a message that may have left:

- a row ``sending`` for longer than WHATSAPP_SENDING_TIMEOUT was claimed by a worker
  that died or hung mid-send; the message may have reached Fonnte, so the row becomes
  ``unknown`` and the admins are told (the same policy as a read timeout). A row is
  claimed only right before its request (services.sending), so a worker killed while
  the row waited for its pacing turn left it waiting: its lost task is republished below;
- a row ``pending`` never handed to the workers a minute after it was created (the
  broker was down at the click, or the dispatcher died) is dispatched now, and so is a
  row that pacing parked (quiet hours, the daily cap, a busy pace) once its time came;
- a row ``retrying`` long after its next attempt, or ``pending`` long after it was
  handed out while the queue is empty, lost its task message; its task is published
  again. That is safe: the claim lets only one task send, however many copies exist;
- a failed or unknown row whose alert task was lost (services.alerts.broadcast_alert_due)
  is reported now, and the "many failures" alarm is raised when due.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import queue
from ..models import (
    CLAIMABLE_STATUSES,
    BroadcastAttempt,
    BroadcastStatus,
    MonthlyReportBroadcast,
)
from .alerts import broadcast_alert_due, broadcast_schedule_failure_alert
from .creation import broadcast_dispatch_pending

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recovery:
    stuck_marked_unknown: int
    requeued: int
    #: Reports whose due failure alert was sent.
    alerted: int = 0


def broadcast_recover(*, alert: bool = True) -> Recovery:
    """Settle rows stuck in flight, republish lost tasks, send due alerts; return what was done.

    ``alert=False``: the caller sends the due alerts itself, later (the cron runner, after
    its sends, so that their failures are in the same alert).
    """
    return Recovery(
        stuck_marked_unknown=_settle_stuck_sends(),
        requeued=_requeue_lost_tasks() if queue.uses_celery() else 0,
        alerted=broadcast_alert_due() if alert else 0,
    )


def _settle_stuck_sends() -> int:
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.WHATSAPP_SENDING_TIMEOUT)
    stuck = list(
        MonthlyReportBroadcast.objects.filter(
            status=BroadcastStatus.SENDING, claimed_at__lt=cutoff
        ).only("pk", "monthly_report_id", "retry_count", "claimed_at")
    )
    reason = _(
        "The worker stopped while sending this message. It may have been delivered: "
        "check the Fonnte dashboard or ask the parent before resending."
    )
    settled, report_ids = [], set()
    for row in stuck:  # rare: one guarded update each, so a late answer is never overwritten
        if MonthlyReportBroadcast.objects.filter(
            pk=row.pk, status=BroadcastStatus.SENDING, claimed_at=row.claimed_at
        ).update(status=BroadcastStatus.UNKNOWN, error_message=reason, updated_at=now):
            settled.append(
                BroadcastAttempt(
                    broadcast_id=row.pk,
                    number=row.retry_count,
                    started_at=row.claimed_at,
                    finished_at=now,
                    outcome=BroadcastAttempt.Outcome.UNKNOWN,
                    detail=reason,
                )
            )
            report_ids.add(row.monthly_report_id)
    if not settled:
        return 0
    BroadcastAttempt.objects.bulk_create(settled)
    logger.error("%d broadcasts were stuck in sending and are now unknown", len(settled))
    for report_id in report_ids:
        broadcast_schedule_failure_alert(monthly_report_id=report_id)
    return len(settled)


def _requeue_lost_tasks() -> int:
    now = timezone.now()
    requeued = _dispatch_rows_never_handed_out(now)
    cutoff = now - timedelta(seconds=settings.WHATSAPP_REQUEUE_AFTER)
    lost = Q(status=BroadcastStatus.RETRYING, next_attempt_at__lt=cutoff)
    if not queue.queue_depth().messages:
        # Pending rows wait in the queue while it has messages; only when it is
        # empty (or cannot tell) can an old pending row be sure its task is gone.
        lost |= Q(status=BroadcastStatus.PENDING, enqueued_at__lt=cutoff)
    rows = list(
        MonthlyReportBroadcast.objects.filter(lost)
        .order_by("pk")
        .values_list("pk", "monthly_report_id")[:5000]
    )
    if not rows:
        return requeued
    queue.publish_sends(rows)
    ids = [pk for pk, _ in rows]
    # Restart the clock so each row is republished at most once per interval.
    MonthlyReportBroadcast.objects.filter(pk__in=ids, status=BroadcastStatus.PENDING).update(
        enqueued_at=now
    )
    MonthlyReportBroadcast.objects.filter(pk__in=ids, status=BroadcastStatus.RETRYING).update(
        next_attempt_at=now
    )
    logger.warning("Republished %d broadcast tasks that were lost", len(rows))
    return requeued + len(rows)


#: The dispatcher normally runs within seconds of the admin's click.
DISPATCH_GRACE = timedelta(seconds=60)


def _dispatch_rows_never_handed_out(now) -> int:
    """Rows whose dispatch message was lost (broker down at the click, dispatcher died),
    and rows that pacing parked (services.pacing) whose time has come."""
    lost = Q(next_attempt_at__isnull=True, updated_at__lt=now - DISPATCH_GRACE)
    parked = Q(next_attempt_at__lte=now)
    waiting = MonthlyReportBroadcast.objects.filter(
        lost | parked, status__in=CLAIMABLE_STATUSES, enqueued_at__isnull=True
    )
    if not waiting.exists():
        return 0
    count = broadcast_dispatch_pending()
    if count:
        logger.info("Dispatched %d waiting broadcasts", count)
    return count
