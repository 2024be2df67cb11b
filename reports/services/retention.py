"""Retention: the files of reports whose month ended long ago are removed.

A child's report file holds personal data; a school keeps it as long as it says
(REPORT_FILES_KEEP_DAYS, counted from the end of the report's month) and no longer. The
rows go, and their stored files once each report's deletion commits (the post_delete of
ReportFile). The report itself and its broadcast rows stay: a personal link to a removed
file has no file to serve.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from ..models import MonthlyReport, ReportFile

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrunedReport:
    report: MonthlyReport
    files: int
    bytes: int


@dataclass
class FilesPruneResult:
    keep_days: int
    reports: list[PrunedReport] = field(default_factory=list)

    @property
    def files(self) -> int:
        return sum(item.files for item in self.reports)

    @property
    def bytes(self) -> int:
        return sum(item.bytes for item in self.reports)


def months_ended_before(moment: datetime) -> Q:
    """The reports whose month ended (TIME_ZONE) at or before ``moment``.

    A month ends when the next one starts, so (year, month) qualifies when the next
    month starts no later than ``moment``: it is before ``moment``'s own month.
    """
    local = timezone.localtime(moment)
    return Q(year__lt=local.year) | Q(year=local.year, month__lt=local.month)


def report_files_prune(
    *, now: datetime | None = None, keep_days: int | None = None, dry_run: bool = False
) -> FilesPruneResult:
    """Remove the files of reports whose month ended more than ``keep_days`` days ago.

    ``keep_days`` defaults to REPORT_FILES_KEEP_DAYS; 0 keeps every file. Safe to run
    again: what is removed is gone, the next run finds nothing. ``dry_run`` counts only.
    """
    keep_days = settings.REPORT_FILES_KEEP_DAYS if keep_days is None else keep_days
    if keep_days < 0:
        raise ValueError("keep_days must be 0 (keep forever) or more.")
    result = FilesPruneResult(keep_days=keep_days)
    if keep_days == 0:
        return result
    cutoff = (now or timezone.now()) - timedelta(days=keep_days)
    reports = (
        MonthlyReport.objects.filter(months_ended_before(cutoff))
        .annotate(file_count=Count("files"), file_bytes=Sum("files__size"))
        .filter(file_count__gt=0)
        .select_related("classroom")
        .order_by("year", "month", "classroom__name")
    )
    for report in reports:
        files = report.file_count
        if not dry_run:
            # One report per transaction: a failure part-way keeps what was not yet removed,
            # and each report's stored files go as soon as its rows are gone.
            with transaction.atomic():
                _, deleted = ReportFile.objects.filter(monthly_report=report).delete()
            files = deleted.get(ReportFile._meta.label, 0)
        result.reports.append(
            PrunedReport(report=report, files=files, bytes=report.file_bytes or 0)
        )
    if result.reports and not dry_run:
        logger.info(
            "Removed %d report files (%d bytes) of %d reports whose month ended more than "
            "%d days ago",
            result.files,
            result.bytes,
            len(result.reports),
            keep_days,
        )
    return result
