"""Read-only views for operators: where the broadcasts stand, and whether the queue is alive.

Used by the ``broadcast_*`` management commands. The database reads are a fixed
number of aggregate queries whatever the number of rows; the broker probes never
raise: a broker that cannot be asked is reported as ``unreachable`` with a reason.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, F, Min, Q

from reports.models import MonthlyReport
from reports.months import month_name

from . import queue as work_queue
from . import tasks
from .models import CLAIMABLE_STATUSES, BroadcastStatus, MonthlyReportBroadcast

logger = logging.getLogger(__name__)

#: Every status, in the order operators read them.
STATUS_ORDER = tuple(status.value for status in BroadcastStatus)

OK = "ok"
NOT_APPLICABLE = "n/a"
UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class StatusCounts:
    """How many rows are in each status, for one report or for all of them."""

    label: str
    counts: dict[str, int]
    #: When the row waiting longest (pending or retrying) entered that state; None if none waits.
    oldest_waiting_since: datetime | None
    monthly_report_id: int | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class BrokerStatus:
    """The broker's default queue and the workers listening to it."""

    queue: str
    #: OK, NOT_APPLICABLE or UNREACHABLE; ``detail`` says why when not OK.
    queue_state: str
    queue_messages: int | None
    queue_detail: str
    workers_state: str
    workers: tuple[str, ...] = field(default=())
    workers_detail: str = ""


def _status_aggregates() -> dict:
    aggregates = {status: Count("id", filter=Q(status=status)) for status in STATUS_ORDER}
    aggregates["oldest_waiting_since"] = Min("updated_at", filter=Q(status__in=CLAIMABLE_STATUSES))
    return aggregates


def _counts(values: dict) -> dict[str, int]:
    return {status: values[status] or 0 for status in STATUS_ORDER}


def _report_label(classroom_name, month, year) -> str:
    # As MonthlyReport.__str__ writes it, without loading the report.
    if month is None:
        return "deleted report"
    return f"{classroom_name} · {month_name(month)} {year}"


def report_label(*, monthly_report_id: int) -> str | None:
    """``TK A Melati · November 2026`` for an existing report, None if there is no such report."""
    report = (
        MonthlyReport.objects.filter(pk=monthly_report_id)
        .values("classroom__name", "month", "year")
        .first()
    )
    if report is None:
        return None
    return _report_label(report["classroom__name"], report["month"], report["year"])


def broadcast_status_counts_per_report(
    *, monthly_report_id: int | None = None
) -> list[StatusCounts]:
    """Counts by status per report (newest period first), in one aggregate query.

    Rows whose report was deleted are grouped under ``deleted report``.
    """
    rows = MonthlyReportBroadcast.objects.all()
    if monthly_report_id is not None:
        rows = rows.filter(monthly_report_id=monthly_report_id)
    grouped = (
        rows.values(
            "monthly_report_id",
            "monthly_report__classroom__name",
            "monthly_report__month",
            "monthly_report__year",
        )
        .annotate(**_status_aggregates())
        .order_by(
            F("monthly_report__year").desc(nulls_last=True),
            F("monthly_report__month").desc(nulls_last=True),
            "monthly_report__classroom__name",
            "monthly_report_id",
        )
    )
    return [
        StatusCounts(
            label=_report_label(
                row["monthly_report__classroom__name"],
                row["monthly_report__month"],
                row["monthly_report__year"],
            ),
            counts=_counts(row),
            oldest_waiting_since=row["oldest_waiting_since"],
            monthly_report_id=row["monthly_report_id"],
        )
        for row in grouped
    ]


def broadcast_status_counts_overall() -> StatusCounts:
    """Counts by status over every row, in one aggregate query."""
    values = MonthlyReportBroadcast.objects.aggregate(**_status_aggregates())
    return StatusCounts(
        label="all reports",
        counts=_counts(values),
        oldest_waiting_since=values["oldest_waiting_since"],
    )


def broadcast_list_failed(
    *, monthly_report_id: int | None = None, include_unknown: bool = False, limit: int = 50
) -> tuple[list[MonthlyReportBroadcast], int]:
    """The most recently updated failed (and, if asked, unknown) rows, and how many there are."""
    rows = _not_delivered(monthly_report_id=monthly_report_id, include_unknown=include_unknown)
    newest_first = rows.select_related("student", "guardian", "monthly_report__classroom").order_by(
        "-updated_at", "-id"
    )
    listed = list(newest_first[:limit])
    total = len(listed) if len(listed) < limit else rows.count()
    return listed, total


def broadcast_statuses(*, broadcast_ids) -> dict[int, str]:
    """``{id: status}`` of the given rows that exist."""
    return dict(
        MonthlyReportBroadcast.objects.filter(pk__in=list(broadcast_ids)).values_list(
            "pk", "status"
        )
    )


def broadcast_resendable(
    *, monthly_report_id: int | None = None, include_unknown: bool = False
) -> dict[int, str]:
    """``{id: status}`` of every failed (and, if asked, unknown) row, of one report or all."""
    rows = _not_delivered(monthly_report_id=monthly_report_id, include_unknown=include_unknown)
    return dict(rows.order_by("pk").values_list("pk", "status"))


def _not_delivered(*, monthly_report_id, include_unknown):
    statuses = [BroadcastStatus.FAILED]
    if include_unknown:
        statuses.append(BroadcastStatus.UNKNOWN)
    rows = MonthlyReportBroadcast.objects.filter(status__in=statuses)
    if monthly_report_id is not None:
        rows = rows.filter(monthly_report_id=monthly_report_id)
    return rows


# --- The broker --------------------------------------------------------------


def broker_status(*, app=None, ping_timeout: float = 1.0) -> BrokerStatus:
    """Messages waiting in the default queue and the workers that answer a ping. Never raises."""
    app = app or tasks.send_monthly_report_whatsapp.app
    queue = app.conf.task_default_queue
    if not work_queue.uses_celery():
        reason = "WHATSAPP_RUNNER is not 'celery': no broker is used"
        return BrokerStatus(queue, NOT_APPLICABLE, None, reason, NOT_APPLICABLE, (), reason)
    depth = work_queue.queue_depth()
    if depth.error:
        return BrokerStatus(
            queue, UNREACHABLE, None, depth.error, UNREACHABLE, (), "the broker is unreachable"
        )
    if app.conf.broker_url.startswith("filesystem://"):
        # The embedded broker has no worker broadcast worth trusting: a ping proves nothing.
        return BrokerStatus(queue, OK, depth.messages, "", NOT_APPLICABLE, (), "embedded broker")
    state, workers, detail = _ping(app, ping_timeout)
    return BrokerStatus(queue, OK, depth.messages, "", state, workers, detail)


def _ping(app, timeout) -> tuple[str, tuple[str, ...], str]:
    try:
        replies = app.control.inspect(timeout=timeout).ping() or {}
    except NotImplementedError:
        return NOT_APPLICABLE, (), "this broker does not support broadcast"
    except Exception as err:  # a monitor must answer whatever the broker does
        logger.debug("Worker ping failed", exc_info=True)
        return UNREACHABLE, (), _short(err)
    return OK, tuple(sorted(replies)), ""


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:200]}" if text else type(err).__name__
