"""What sending a report's broadcast would do: the confirmation's plan and its counts."""

from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef

from reports.models import MonthlyReport
from reports.selectors import students_with_file
from students.models import Student

from ..links import TOKEN_MASK, report_link_url
from ..messages import current_template, message_context, render_message, template_has_link
from ..models import BroadcastArchive, BroadcastStatus, MonthlyReportBroadcast
from .delivery import NotResendable
from .recipients import report_recipients
from .resend import shown_and_more

#: How many children or guardians the confirmation names per list before "and N more".
SEND_LIST_LIMIT = 20


@dataclass
class BroadcastPlan:
    """What sending a report's WhatsApp broadcast would do, shown before the admin confirms.

    Counted in messages (one per guardian's number, a ``Recipient``) and in children.
    """

    monthly_report: object
    #: The messages (rows) confirming makes: one per guardian's number not messaged yet.
    new_recipients: int = 0
    #: The children those messages are about.
    children: int = 0
    #: Among the messages, those to an invalid number: their row fails without sending.
    invalid_phone: list = field(default_factory=list)
    #: Children none of whose guardians can be messaged (and none was before): nobody told.
    no_guardian: list = field(default_factory=list)
    #: Guardians left out (recipients.SkippedGuardian), by reason.
    no_phone: list = field(default_factory=list)
    not_on_whatsapp: list = field(default_factory=list)
    opted_out: list = field(default_factory=list)
    #: Guardians messaged for this report at a number they no longer have: not messaged
    #: again at the new one (one message per guardian and report); ``(student, guardian)``.
    renumbered: list = field(default_factory=list)
    #: Guardians of the children to be messaged who share a number with another guardian
    #: of the child: one message for both.
    shared_number: int = 0
    #: Existing rows of this report, by status.
    existing: dict = field(default_factory=dict)
    #: The message rendered for one real recipient (None when there is none).
    preview: str | None = None
    preview_student: Student | None = None
    preview_guardian: object = None
    #: Set when the report's rows were pruned: it cannot be sent again.
    archive: BroadcastArchive | None = None
    #: Whether the report has any child's file: only then the admin chooses what happens
    #: to the children without one (services.creation.WithoutFile).
    has_files: bool = False
    #: The report has files, but the school's message text has no place for the link.
    files_not_in_message: bool = False
    #: Among the children to be messaged, those with no report file yet.
    without_file: list = field(default_factory=list)
    #: The messages about those children, and among them those to an invalid number.
    messages_without_file: int = 0
    invalid_without_file: int = 0

    # Each list's first SEND_LIST_LIMIT items, and how many more ("and N more").
    invalid_phone_shown, invalid_phone_more = shown_and_more("invalid_phone", SEND_LIST_LIMIT)
    no_guardian_shown, no_guardian_more = shown_and_more("no_guardian", SEND_LIST_LIMIT)
    no_phone_shown, no_phone_more = shown_and_more("no_phone", SEND_LIST_LIMIT)
    not_on_whatsapp_shown, not_on_whatsapp_more = shown_and_more("not_on_whatsapp", SEND_LIST_LIMIT)
    opted_out_shown, opted_out_more = shown_and_more("opted_out", SEND_LIST_LIMIT)
    renumbered_shown, renumbered_more = shown_and_more("renumbered", SEND_LIST_LIMIT)
    without_file_shown, without_file_more = shown_and_more("without_file", SEND_LIST_LIMIT)

    @property
    def children_with_file(self) -> int:
        """Children to be messaged who have a report file: their messages carry the link."""
        return self.children - len(self.without_file)

    @property
    def with_file(self) -> int:
        """Messages about a child who has a report file: they carry the link."""
        return self.new_recipients - self.messages_without_file

    @property
    def counts_waiting(self) -> "MessageCounts":
        """The messages confirming makes when the children without a file wait for it."""
        return MessageCounts(
            total=self.with_file,
            invalid=len(self.invalid_phone) - self.invalid_without_file,
            children=self.children - len(self.without_file),
        )

    @property
    def will_receive(self) -> int:
        """Messages that go to Fonnte: the new rows, less the invalid numbers."""
        return self.new_recipients - len(self.invalid_phone)

    @property
    def counts(self) -> "MessageCounts":
        """The messages confirming makes, counted as the banner and the progress count them."""
        return MessageCounts(
            total=self.new_recipients, invalid=len(self.invalid_phone), children=self.children
        )

    @property
    def skipped_guardians(self) -> int:
        return len(self.no_phone) + len(self.not_on_whatsapp) + len(self.opted_out)

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
    """The messages one send makes, counted alike on every page: one per guardian's number.

    The confirmation, the banner after confirming and the progress all count ``total``
    messages; those to an invalid number are among them, fail at once without being sent,
    and show as failed in the progress (Progress.failed).
    """

    #: One message per guardian's number: the rows the send makes.
    total: int = 0
    #: Among them, to a number that is not a valid Indonesian mobile number.
    invalid: int = 0
    #: The children they are about.
    children: int = 0

    @property
    def to_send(self) -> int:
        """The messages that go out to the guardians' WhatsApp."""
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
    """Who would get a message, who is left out and why, and what the message says."""
    plan = BroadcastPlan(
        monthly_report=monthly_report,
        existing=broadcast_status_counts(monthly_report=monthly_report),
        archive=BroadcastArchive.objects.filter(monthly_report=monthly_report).first(),
    )
    if plan.archive is not None:
        return plan
    template = current_template()
    with_file = students_with_file(monthly_report=monthly_report)
    if with_file and not template_has_link(template):
        # The message text has no {tautan_laporan}: no link goes out, nobody waits for one.
        plan.files_not_in_message, with_file = True, set()
    plan.has_files = bool(with_file)
    reasons = {
        NotResendable.NO_PHONE: plan.no_phone,
        NotResendable.NOT_ON_WHATSAPP: plan.not_on_whatsapp,
        NotResendable.OPTED_OUT: plan.opted_out,
    }
    sample = None
    for child in report_recipients(monthly_report=monthly_report):
        for skipped in child.skipped:
            reasons[skipped.reason].append(skipped)
        plan.renumbered += [(child.student, guardian) for guardian in child.renumbered]
        if child.unreachable:
            plan.no_guardian.append(child.student)
        if not child.recipients:
            continue
        # Only beside a message this send makes: an earlier one was announced then.
        plan.shared_number += len(child.shared_number)
        plan.children += 1
        plan.new_recipients += len(child.recipients)
        invalid = [recipient for recipient in child.recipients if not recipient.valid]
        plan.invalid_phone += invalid
        if with_file and child.student.pk not in with_file:
            plan.without_file.append(child.student)
            plan.messages_without_file += len(child.recipients)
            plan.invalid_without_file += len(invalid)
        valid = [recipient for recipient in child.recipients if recipient.valid]
        if valid and (
            sample is None
            # The sample is the message with the link when some child will get one.
            or (child.student.pk in with_file and sample.student.pk not in with_file)
        ):
            sample = valid[0]
    if sample is not None:
        plan.preview_student, plan.preview_guardian = sample.student, sample.guardian
        # A sample link, its token masked: opening it from this page opens nothing.
        link = report_link_url(TOKEN_MASK) if sample.student.pk in with_file else ""
        plan.preview = render_message(
            message_context(
                student=sample.student,
                guardian=sample.guardian,
                monthly_report=monthly_report,
                link_url=link,
            ),
            template,
        )
    return plan
