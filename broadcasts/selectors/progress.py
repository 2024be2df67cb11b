"""Where reports' messages stand: counts by status, and the ones not delivered."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reports.models import MonthlyReport

from ..links import live_link_q
from ..models import BroadcastStatus, MonthlyReportBroadcast

#: What a page loads of a row to name who it was for: the child, and the guardian with their
#: relation (never the number: the pages that show it load it themselves, masked or not).
RECIPIENT_FIELDS = (
    "student__id",
    "student__nis",
    "student__full_name",
    "guardian__id",
    "guardian__name",
    "guardian__relation",
)


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
    #: Sent rows whose file a person opened (``opened_at`` set; a link preview does not
    #: count): "n of those sent", so never more than ``sent``. A row whose outcome is
    #: unknown may have been opened all the same; it is not counted until it is sent.
    opened: int = 0
    #: Rows whose message carries a personal link: the opened count means something only
    #: when there is one (a report without files shows none).
    with_link: int = 0
    #: Sent rows whose link still works and nobody opened yet: while there are some, the
    #: opened count may still move and the pages keep asking for it. A message sent
    #: without a link, or whose link expired or was revoked, will not be opened.
    awaiting_open: int = 0
    #: Children with at least one row (one message per guardian's number): who the report
    #: is about. None for an archived report (its rows are gone, the archive counts rows).
    children: int | None = None
    #: Among them, those reached: at least one guardian's message was sent.
    children_reached: int = 0

    @property
    def children_unreached(self) -> int:
        """Children none of whose guardians' messages was sent (yet)."""
        return (self.children or 0) - self.children_reached

    @property
    def shows_opened(self) -> bool:
        """Whether the pages show "opened: n of sent": the report's messages carry links."""
        return bool(self.with_link) and not self.archived

    @property
    def total(self) -> int:
        """The messages: one row per guardian's number messaged about a child."""
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

    One query on the (report, status) index, whatever the number of rows; the student and
    the guardian (name and relation) are loaded with each row. Progress.failed and
    Progress.unknown count them all.
    """
    return list(
        MonthlyReportBroadcast.objects.filter(
            monthly_report=monthly_report,
            status__in=[BroadcastStatus.FAILED, BroadcastStatus.UNKNOWN],
        )
        .select_related("student", "guardian")
        .only(
            "id",
            "status",
            "error_message",
            *RECIPIENT_FIELDS,
        )
        # "failed" sorts before "unknown": the ones a click can resend come first.
        .order_by("status", "student__full_name", "pk")[:limit]
    )


#: How many children a report's page lists as "not opened after N days" before "and N more".
FOLLOW_UP_LIST_LIMIT = 50


def not_opened_q(*, days=None, now=None) -> Q:
    """Messages sent with a live link more than ``days`` ago whose file nobody opened yet.

    ``days`` defaults to settings.REPORT_FOLLOW_UP_DAYS. A revoked or expired link is not
    followed up: the parent could not open it any more.
    """
    now = now or timezone.now()
    days = settings.REPORT_FOLLOW_UP_DAYS if days is None else days
    return live_link_q(now) & Q(
        status=BroadcastStatus.SENT,
        opened_at__isnull=True,
        sent_at__lt=now - timedelta(days=days),
    )


def report_not_opened(
    *, monthly_report, days=None, limit: int = FOLLOW_UP_LIST_LIMIT, now=None
) -> tuple[list, int]:
    """The report's children to follow up (not_opened_q), by name: the first ``limit``, and
    how many there are in all.

    One query; a second (a COUNT) only when the list is full.
    """
    rows = list(
        MonthlyReportBroadcast.objects.filter(
            not_opened_q(days=days, now=now), monthly_report=monthly_report
        )
        .select_related("student", "guardian")
        .only(
            "id",
            "sent_at",
            *RECIPIENT_FIELDS,
        )
        .order_by("student__full_name", "pk")[:limit]
    )
    if len(rows) < limit:
        return rows, len(rows)
    total = MonthlyReportBroadcast.objects.filter(
        not_opened_q(days=days, now=now), monthly_report=monthly_report
    ).count()
    return rows, total


def report_live_links(*, monthly_report) -> int:
    """How many of the report's links still open its file: what revoking them all stops."""
    return MonthlyReportBroadcast.objects.filter(
        live_link_q(), monthly_report=monthly_report
    ).count()


def broadcast_progress(*, monthly_report_ids) -> dict[int, Progress]:
    """``{report id: Progress}`` for these reports, in one aggregate query whatever their size.

    The opened count is counted in the same query (sent rows with ``opened_at``, as the
    broadcast list's "opened" filter takes them), and so are the children: those with rows,
    and those reached (at least one guardian's message sent).

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
            n_opened=Count(
                "broadcasts",
                filter=Q(
                    broadcasts__status=BroadcastStatus.SENT, broadcasts__opened_at__isnull=False
                ),
            ),
            n_with_link=Count("broadcasts", filter=Q(broadcasts__link_token__isnull=False)),
            n_children=Count("broadcasts__student", distinct=True),
            n_children_reached=Count(
                "broadcasts__student",
                filter=Q(broadcasts__status=BroadcastStatus.SENT),
                distinct=True,
            ),
            n_awaiting_open=Count(
                "broadcasts",
                filter=live_link_q(prefix="broadcasts__")
                & Q(broadcasts__status=BroadcastStatus.SENT, broadcasts__opened_at__isnull=True),
            ),
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
                opened=row["n_opened"],
                with_link=row["n_with_link"],
                awaiting_open=row["n_awaiting_open"],
                children=row["n_children"],
                children_reached=row["n_children_reached"],
            )
    return progress
