"""Putting rows back to be sent: the admins' one-click repair."""

import logging

from django.db import transaction
from django.utils import timezone

from .. import queue
from ..models import BroadcastStatus, MonthlyReportBroadcast

logger = logging.getLogger(__name__)


def broadcast_retry(*, broadcast_ids, include_unknown: bool = False) -> int:
    """Put failed rows (and, when asked, unknown ones) back to be sent with fresh attempts.

    Never touches a sent row. Returns how many rows will be sent again.
    """
    statuses = [BroadcastStatus.FAILED]
    if include_unknown:
        statuses.append(BroadcastStatus.UNKNOWN)
    with transaction.atomic():
        count = MonthlyReportBroadcast.objects.filter(
            pk__in=list(broadcast_ids), status__in=statuses
        ).update(
            status=BroadcastStatus.PENDING,
            retry_count=0,
            error_message="",
            enqueued_at=None,
            next_attempt_at=None,
            failure_alerted_at=None,
            updated_at=timezone.now(),
        )
        if count:
            queue.dispatch_after_commit()
    logger.info("%d broadcasts put back to be sent", count, extra={"count": count})
    return count
