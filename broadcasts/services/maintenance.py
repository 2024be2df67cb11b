"""Housekeeping: deleting old finished rows."""

import logging
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from ..models import FINAL_STATUSES, MonthlyReportBroadcast

logger = logging.getLogger(__name__)

#: Rows deleted per statement: a huge table is never locked by one giant transaction.
PRUNE_BATCH = 1000


def broadcast_prune(*, older_than_days: int, dry_run: bool = False) -> dict[str, int]:
    """Delete sent, failed and unknown rows not updated for ``older_than_days`` days.

    Returns ``{status: rows}`` for each final status (what would go, with ``dry_run``).
    Rows still waiting or being sent are never deleted.
    """
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1.")
    cutoff = timezone.now() - timedelta(days=older_than_days)
    old = MonthlyReportBroadcast.objects.filter(updated_at__lt=cutoff)
    if dry_run:
        counts = dict(
            old.filter(status__in=FINAL_STATUSES)
            .values_list("status")
            .annotate(n=Count("id"))
            .order_by()
        )
        return {status.value: counts.get(status, 0) for status in FINAL_STATUSES}

    deleted = {}
    for status in FINAL_STATUSES:
        rows = old.filter(status=status)
        deleted[status.value] = 0
        while ids := list(rows.order_by("pk").values_list("pk", flat=True)[:PRUNE_BATCH]):
            # The status and age are checked again in the DELETE itself: a row resent
            # since the read (back to pending, updated now) is not deleted.
            count, _ = rows.filter(pk__in=ids).delete()
            deleted[status.value] += count
    logger.info(
        "Pruned finished broadcasts not updated for %d days: %s",
        older_than_days,
        deleted,
        extra={"older_than_days": older_than_days, "deleted": deleted},
    )
    return deleted
