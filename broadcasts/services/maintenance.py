"""Housekeeping: pruning old finished rows without ever allowing a second send."""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from ..models import FINAL_STATUSES, BroadcastArchive, BroadcastStatus, MonthlyReportBroadcast

logger = logging.getLogger(__name__)

#: Rows deleted per statement: a huge table is never locked by one giant transaction.
PRUNE_BATCH = 1000


@dataclass
class PruneResult:
    reports: int = 0
    rows: dict[str, int] = field(
        default_factory=lambda: {status.value: 0 for status in FINAL_STATUSES}
    )

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def broadcast_prune(*, older_than_days: int, dry_run: bool = False) -> PruneResult:
    """Archive and delete the rows of reports whose broadcast finished ``older_than_days`` ago.

    A report is pruned whole, once every row is final (sent, failed or unknown) and none
    changed within the period; its counts stay in a BroadcastArchive, which also stops
    the report from being sent again. Rows whose report was deleted are simply removed.
    """
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1.")
    cutoff = timezone.now() - timedelta(days=older_than_days)
    finished = ~Q(status__in=FINAL_STATUSES)
    reports = list(
        MonthlyReportBroadcast.objects.filter(monthly_report__isnull=False)
        .values("monthly_report_id")
        .annotate(
            last=Max("updated_at"),
            unfinished=Count("id", filter=finished),
            **{status.value: Count("id", filter=Q(status=status)) for status in FINAL_STATUSES},
        )
        .filter(last__lt=cutoff, unfinished=0)
        .order_by("monthly_report_id")
    )
    orphans = MonthlyReportBroadcast.objects.filter(
        monthly_report__isnull=True, status__in=FINAL_STATUSES, updated_at__lt=cutoff
    )
    result = PruneResult(reports=len(reports))
    for report in reports:
        for status in FINAL_STATUSES:
            result.rows[status.value] += report[status.value]
    for status, n in orphans.values_list("status").annotate(n=Count("id")).order_by():
        result.rows[status] += n
    if dry_run:
        return result

    for report in reports:
        _archive_report(report, cutoff)
    _delete_in_batches(orphans)
    logger.info(
        "Pruned %d reports' broadcasts finished more than %d days ago: %s",
        len(reports),
        older_than_days,
        result.rows,
    )
    return result


def _archive_report(report, cutoff):
    with transaction.atomic():
        archive, _ = BroadcastArchive.objects.get_or_create(
            monthly_report_id=report["monthly_report_id"]
        )
        rows = MonthlyReportBroadcast.objects.filter(
            # Checked again in the DELETE: a row resent since the read is kept.
            monthly_report_id=report["monthly_report_id"],
            status__in=FINAL_STATUSES,
            updated_at__lt=cutoff,
        )
        counts = dict(rows.values_list("status").annotate(n=Count("id")).order_by())
        archive.sent += counts.get(BroadcastStatus.SENT, 0)
        archive.failed += counts.get(BroadcastStatus.FAILED, 0)
        archive.unknown += counts.get(BroadcastStatus.UNKNOWN, 0)
        archive.save()
        _delete_in_batches(rows)


def _delete_in_batches(rows):
    while ids := list(rows.order_by("pk").values_list("pk", flat=True)[:PRUNE_BATCH]):
        rows.filter(pk__in=ids).delete()
