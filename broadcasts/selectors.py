"""Reads about broadcasts: what a send would do, and where a report's messages stand."""

from dataclasses import dataclass, field

from django.db.models import Count

from students.models import Student
from students.phones import is_valid_phone

from .messages import message_context, render_message
from .models import BroadcastArchive, BroadcastStatus, MonthlyReportBroadcast


@dataclass
class BroadcastPlan:
    """What sending a report's WhatsApp broadcast would do, shown before the admin confirms."""

    monthly_report: object
    #: Students who get a new row (and a message) on confirm.
    new_recipients: int = 0
    #: Among them, students whose stored number is invalid: their row fails without sending.
    invalid_phone: list = field(default_factory=list)
    #: Students without any number: no row, no message.
    no_phone: list = field(default_factory=list)
    #: Existing rows of this report, by status.
    existing: dict = field(default_factory=dict)
    #: The message rendered for one real recipient (None when there is none).
    preview: str | None = None
    preview_student: Student | None = None
    #: Set when the report's rows were pruned: it cannot be sent again.
    archive: BroadcastArchive | None = None

    @property
    def already_sent(self) -> int:
        return self.existing.get(BroadcastStatus.SENT, 0)

    @property
    def under_way(self) -> int:
        return sum(
            self.existing.get(status, 0)
            for status in (
                BroadcastStatus.PENDING,
                BroadcastStatus.SENDING,
                BroadcastStatus.RETRYING,
            )
        )

    @property
    def not_delivered(self) -> int:
        """Existing rows that failed or whose outcome is unknown: not re-sent by this action."""
        return self.existing.get(BroadcastStatus.FAILED, 0) + self.existing.get(
            BroadcastStatus.UNKNOWN, 0
        )


def broadcast_status_counts(*, monthly_report) -> dict[str, int]:
    """``{status: count}`` of a report's rows, in one aggregate query."""
    rows = (
        MonthlyReportBroadcast.objects.filter(monthly_report=monthly_report)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["status"]: row["n"] for row in rows}


def students_without_broadcast(*, monthly_report):
    """The report's classroom's students who have no row for this report yet."""
    return (
        Student.objects.filter(classroom_id=monthly_report.classroom_id)
        .exclude(broadcasts__monthly_report=monthly_report)
        .only("id", "nis", "full_name", "parent_name", "parent_phone", "classroom_id")
        .order_by("full_name", "id")
    )


def broadcast_plan(*, monthly_report) -> BroadcastPlan:
    """Who would get a message, who is skipped and why, and what the message says."""
    plan = BroadcastPlan(
        monthly_report=monthly_report,
        existing=broadcast_status_counts(monthly_report=monthly_report),
        archive=BroadcastArchive.objects.filter(monthly_report=monthly_report).first(),
    )
    if plan.archive is not None:
        return plan
    for student in students_without_broadcast(monthly_report=monthly_report):
        if not student.parent_phone.strip():
            plan.no_phone.append(student)
            continue
        plan.new_recipients += 1
        if not is_valid_phone(student.parent_phone):
            plan.invalid_phone.append(student)
        elif plan.preview_student is None:
            plan.preview_student = student
    if plan.preview_student is not None:
        plan.preview = render_message(
            message_context(student=plan.preview_student, monthly_report=monthly_report)
        )
    return plan
