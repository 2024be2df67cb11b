"""What a parent's personal link opens: the row, its child and report, and the file now."""

import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Subquery

from reports.models import ReportFile

from ..links import link_expires_at, link_is_live
from ..models import MonthlyReportBroadcast

#: What new_link_token() makes: 43 URL-safe characters. Anything else is not looked up.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class ReportLink:
    """A live link's row and the file it serves now (a replaced file: the new one)."""

    broadcast_id: int
    student_name: str
    nis: str
    month: int
    year: int
    expires_at: datetime
    file_name: str
    content_type: str
    size: int


def report_link_open(token: str) -> ReportLink | None:
    """The link's report, or None: unknown, revoked, expired, report deleted or no file now.

    One query, whatever the number of rows: the token is unique (indexed), the file is read
    with it. None in every failing case alike, so the parent's page cannot tell them apart.
    """
    if not _TOKEN.fullmatch(token or ""):
        return None
    files = ReportFile.objects.filter(
        monthly_report_id=OuterRef("monthly_report_id"), student_id=OuterRef("student_id")
    )
    row = (
        MonthlyReportBroadcast.objects.filter(link_token=token, monthly_report__isnull=False)
        .annotate(
            file_name=Subquery(files.values("file")[:1]),
            file_type=Subquery(files.values("content_type")[:1]),
            file_size=Subquery(files.values("size")[:1]),
        )
        .values(
            "pk",
            "link_token",
            "link_created_at",
            "link_revoked_at",
            "student__full_name",
            "student__nis",
            "monthly_report__month",
            "monthly_report__year",
            "file_name",
            "file_type",
            "file_size",
        )
        .first()
    )
    # Compared again here: MariaDB's collations match "aB" to "Ab", the token is exact.
    if row is None or row["link_token"] != token or not row["file_name"]:
        return None
    if not link_is_live(
        link_token=row["link_token"],
        link_created_at=row["link_created_at"],
        link_revoked_at=row["link_revoked_at"],
    ):
        return None
    return ReportLink(
        broadcast_id=row["pk"],
        student_name=row["student__full_name"],
        nis=row["student__nis"],
        month=row["monthly_report__month"],
        year=row["monthly_report__year"],
        expires_at=link_expires_at(row["link_created_at"]),
        file_name=row["file_name"],
        content_type=row["file_type"],
        size=row["file_size"],
    )
