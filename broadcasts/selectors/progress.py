"""Where reports' messages stand: counts by status, and the ones not delivered."""

from dataclasses import dataclass

from django.db import models
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from reports.models import MonthlyReport

from ..models import BroadcastStatus, MonthlyReportBroadcast


class ProgressState(models.TextChoices):
    """Where a report's broadcast stands as a whole, as the report list shows it."""

    NOT_SENT = "not_sent", _("not sent yet")
    SENDING = "sending", _("sending")
    FINISHED = "finished", _("finished")
    FINISHED_WITH_FAILURES = "finished_with_failures", _("finished with failures")


@dataclass(frozen=True)
class Progress:
    """A report's rows counted by where they stand; the five counts add up to ``total``."""

    sent: int = 0
    failed: int = 0
    unknown: int = 0
    #: Claimed by a worker or waiting for a retry (``sending`` + ``retrying``).
    in_progress: int = 0
    #: Created, not picked up yet (``pending``).
    waiting: int = 0
    #: The counts come from a BroadcastArchive: the rows were pruned.
    archived: bool = False

    @property
    def total(self) -> int:
        """The recipients: one row per parent messaged."""
        return self.sent + self.failed + self.unknown + self.in_progress + self.waiting

    @property
    def finished(self) -> int:
        return self.sent + self.failed + self.unknown

    @property
    def percent(self) -> int:
        """Finished rows over all rows, rounded down: 100 only when nothing is left to do."""
        return self.finished * 100 // self.total if self.total else 0

    @property
    def state(self) -> ProgressState:
        if self.total == 0 and not self.archived:
            return ProgressState.NOT_SENT
        if self.finished < self.total:
            return ProgressState.SENDING
        if self.failed or self.unknown:
            return ProgressState.FINISHED_WITH_FAILURES
        return ProgressState.FINISHED

    def share(self, count: int) -> float:
        """``count`` as a percentage of all rows (a progress bar segment's width)."""
        return round(count * 100 / self.total, 2) if self.total else 0.0

    @property
    def sent_share(self) -> float:
        return self.share(self.sent)

    @property
    def failed_share(self) -> float:
        return self.share(self.failed)

    @property
    def unknown_share(self) -> float:
        return self.share(self.unknown)


#: How many failed or unknown messages a report's page names before "and N more".
UNDELIVERED_LIST_LIMIT = 50


def report_undelivered(*, monthly_report, limit: int = UNDELIVERED_LIST_LIMIT) -> list:
    """The report's failed messages, then its unknown ones, by child: the first ``limit``.

    One query on the (report, status) index, whatever the number of rows; the student is
    loaded with each row. Progress.failed and Progress.unknown count them all.
    """
    return list(
        MonthlyReportBroadcast.objects.filter(
            monthly_report=monthly_report,
            status__in=[BroadcastStatus.FAILED, BroadcastStatus.UNKNOWN],
        )
        .select_related("student")
        .only(
            "id",
            "status",
            "error_message",
            "student__id",
            "student__nis",
            "student__full_name",
        )
        # "failed" sorts before "unknown": the ones a click can resend come first.
        .order_by("status", "student__full_name", "pk")[:limit]
    )


def broadcast_progress(*, monthly_report_ids) -> dict[int, Progress]:
    """``{report id: Progress}`` for these reports, in one aggregate query whatever their size.

    Counted from the rows; an archived report's counts come from its BroadcastArchive
    (its rows were pruned). Ids of reports that do not exist are left out.
    """
    ids = list(monthly_report_ids)
    if not ids:
        return {}

    def count(*statuses):
        return Count("broadcasts", filter=Q(broadcasts__status__in=statuses))

    # From the report side, so the archive comes in the same query (a LEFT JOIN).
    rows = (
        MonthlyReport.objects.filter(pk__in=ids)
        .values(
            "pk",
            "broadcast_archive__id",
            "broadcast_archive__sent",
            "broadcast_archive__failed",
            "broadcast_archive__unknown",
        )
        .annotate(
            n_sent=count(BroadcastStatus.SENT),
            n_failed=count(BroadcastStatus.FAILED),
            n_unknown=count(BroadcastStatus.UNKNOWN),
            n_in_progress=count(BroadcastStatus.SENDING, BroadcastStatus.RETRYING),
            n_waiting=count(BroadcastStatus.PENDING),
        )
        .order_by()
    )
    progress = {}
    for row in rows:
        if row["broadcast_archive__id"] is not None:
            progress[row["pk"]] = Progress(
                sent=row["broadcast_archive__sent"],
                failed=row["broadcast_archive__failed"],
                unknown=row["broadcast_archive__unknown"],
                archived=True,
            )
        else:
            progress[row["pk"]] = Progress(
                sent=row["n_sent"],
                failed=row["n_failed"],
                unknown=row["n_unknown"],
                in_progress=row["n_in_progress"],
                waiting=row["n_waiting"],
            )
    return progress
