"""A worker's job done in one go, for hosts without long-running processes (cron)."""

import logging
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from ..exceptions import BroadcastFailed, BroadcastRetry
from ..models import CLAIMABLE_STATUSES, MonthlyReportBroadcast
from .alerts import broadcast_alert_due
from .pacing import pacing_state
from .recovery import broadcast_recover
from .sending import broadcast_handle_task_failure, broadcast_send

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    processed: int
    sent: int
    retrying: int
    failed: int
    alerts: int
    #: Skipped (handled meanwhile) or left waiting for a later turn in the pace.
    waiting: int = 0


def broadcast_process_due(*, max_jobs: int) -> RunResult:
    """Send up to ``max_jobs`` due rows with the workers' own service, then send due alerts.

    Due: waiting rows whose next attempt time (a retry's, or pacing's) has come, or
    that have none; each waits for its turn in the pace (services.pacing). The same
    claim as in the Celery task guards every row, so overlapping runs (or a run beside
    a worker) never send one message twice.
    """
    broadcast_recover(alert=False)
    due = []
    if pacing_state().open_now:  # else quiet hours, the daily cap or the device: wait
        due = list(
            MonthlyReportBroadcast.objects.filter(
                Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()),
                status__in=CLAIMABLE_STATUSES,
            )
            .order_by("pk")
            .values_list("pk", "monthly_report_id")[:max_jobs]
        )
    outcomes = {"sent": 0, "retrying": 0, "failed": 0, "waiting": 0}
    for broadcast_id, monthly_report_id in due:
        outcomes[_send_one(broadcast_id, monthly_report_id)] += 1
    alerts = broadcast_alert_due()
    return RunResult(processed=len(due), alerts=alerts, **outcomes)


def _send_one(broadcast_id, monthly_report_id) -> str:
    """One row, handled exactly as tasks.send_monthly_report_whatsapp and its on_failure do."""
    try:
        sent = broadcast_send(broadcast_id=broadcast_id, monthly_report_id=monthly_report_id)
    except BroadcastRetry:
        return "retrying"  # parked with next_attempt_at; a later run picks it up
    except BroadcastFailed as exc:
        broadcast_handle_task_failure(broadcast_id=broadcast_id, exc=exc)
        return "failed"
    except Exception as exc:
        # Not a delivery outcome (a bug, the database gone): settle the row as the task's
        # on-failure handler would, then let cron report the error.
        broadcast_handle_task_failure(broadcast_id=broadcast_id, exc=exc)
        raise
    return "sent" if sent else "waiting"
