"""What sending a report's broadcast would do: the confirmation's plan and its counts."""

from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef

from reports.models import MonthlyReport
from reports.selectors import students_with_file
from students.models import Student

from ..links import TOKEN_MASK, report_link_url
from ..messages import current_template, message_context, render_message, template_has_link
from ..models import BroadcastArchive, BroadcastStatus, MonthlyReportBroadcast
from .delivery import INVALID_PHONE, NotResendable, student_delivery_problem


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
    #: Students whose number was checked and has no WhatsApp: no row, no message.
    not_on_whatsapp: list = field(default_factory=list)
    #: Existing rows of this report, by status.
    existing: dict = field(default_factory=dict)
    #: The message rendered for one real recipient (None when there is none).
    preview: str | None = None
    preview_student: Student | None = None
    #: Set when the report's rows were pruned: it cannot be sent again.
    archive: BroadcastArchive | None = None
    #: Whether the report has any child's file: only then the admin chooses what happens
    #: to the children without one (services.creation.WithoutFile).
    has_files: bool = False
    #: The report has files, but the school's message text has no place for the link.
    files_not_in_message: bool = False
    #: Among the new recipients, the students with no report file yet.
    without_file: list = field(default_factory=list)
    #: Among those, the ones whose number is invalid (their message would fail anyway).
    invalid_without_file: int = 0

    @property
    def with_file(self) -> int:
        """New recipients whose child has a report file: their message carries the link."""
        return self.new_recipients - len(self.without_file)

    @property
    def counts_waiting(self) -> "MessageCounts":
        """The messages confirming makes when the children without a file wait for it."""
        return MessageCounts(
            total=self.with_file, invalid=len(self.invalid_phone) - self.invalid_without_file
        )

    @property
    def will_receive(self) -> int:
        """Parents whose message goes to Fonnte: the new rows, less the invalid numbers."""
        return self.new_recipients - len(self.invalid_phone)

    @property
    def counts(self) -> "MessageCounts":
        """The messages confirming makes, counted as the banner and the progress count them."""
        return MessageCounts(total=self.new_recipients, invalid=len(self.invalid_phone))

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


@dataclass(frozen=True)
class MessageCounts:
    """The messages one send makes, counted alike on every page: one per parent.

    The confirmation, the banner after confirming and the progress all count ``total``
    messages; those to an invalid number are among them, fail at once without being sent,
    and show as failed in the progress (Progress.failed).
    """

    #: One message per parent: the rows the send makes.
    total: int = 0
    #: Among them, to a number that is not a valid Indonesian mobile number.
    invalid: int = 0

    @property
    def to_send(self) -> int:
        """The messages that go out to the parents' WhatsApp."""
        return self.total - self.invalid


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
        .only(
            "id",
            "nis",
            "full_name",
            "parent_name",
            "parent_phone",
            "whatsapp_registered",
            "classroom_id",
        )
        .order_by("full_name", "id")
    )


def report_has_broadcasts(*, monthly_report) -> bool:
    """True once rows were created for the report (or archived after it was sent)."""
    return bool(reports_with_broadcasts(monthly_reports=[monthly_report]))


def reports_with_broadcasts(*, monthly_reports) -> set[int]:
    """Ids of these reports that have rows or an archive: what parents were told. One query."""
    ids = [report.pk for report in monthly_reports]
    if not ids:
        return set()
    has_rows = Exists(MonthlyReportBroadcast.objects.filter(monthly_report=OuterRef("pk")))
    has_archive = Exists(BroadcastArchive.objects.filter(monthly_report=OuterRef("pk")))
    return set(
        MonthlyReport.objects.filter(has_rows | has_archive, pk__in=ids).values_list(
            "pk", flat=True
        )
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
    with_file = students_with_file(monthly_report=monthly_report)
    if with_file and not template_has_link(current_template()):
        # The message text has no {tautan_laporan}: no link goes out, nobody waits for one.
        plan.files_not_in_message, with_file = True, set()
    plan.has_files = bool(with_file)
    for student in students_without_broadcast(monthly_report=monthly_report):
        problem = student_delivery_problem(student)
        if problem == NotResendable.NO_PHONE:
            plan.no_phone.append(student)
            continue
        if problem == NotResendable.NOT_ON_WHATSAPP:
            plan.not_on_whatsapp.append(student)
            continue
        plan.new_recipients += 1
        if with_file and student.pk not in with_file:
            plan.without_file.append(student)
            plan.invalid_without_file += problem == INVALID_PHONE
        if problem == INVALID_PHONE:
            plan.invalid_phone.append(student)
        elif plan.preview_student is None or (
            # The sample is the message with the link when some child will get one.
            student.pk in with_file and plan.preview_student.pk not in with_file
        ):
            plan.preview_student = student
    if plan.preview_student is not None:
        # A sample link, its token masked: opening it from this page opens nothing.
        link = report_link_url(TOKEN_MASK) if plan.preview_student.pk in with_file else ""
        plan.preview = render_message(
            message_context(
                student=plan.preview_student, monthly_report=monthly_report, link_url=link
            )
        )
    return plan
