"""What resending failed or unknown messages would do, shown before the admin confirms."""

from dataclasses import dataclass, field

from django.db.models import Count, Q

from students.models import Guardian, Student

from ..models import BroadcastArchive, BroadcastStatus, MonthlyReportBroadcast
from .delivery import INVALID_PHONE, NotResendable, guardian_delivery_problem

#: How many students a repair confirmation page names per list before "and N more".
RESEND_LIST_LIMIT = 20


def shown_and_more(attribute: str, limit: int) -> tuple[property, property]:
    """Two properties for a confirmation's list: its first ``limit`` items, and how many more.

    ``attribute`` names the list (or a property returning one) on the same object.
    """

    def shown(self) -> list:
        return getattr(self, attribute)[:limit]

    def more(self) -> int:
        return max(len(getattr(self, attribute)) - limit, 0)

    return property(shown), property(more)


@dataclass
class ResendPlan:
    """What resending a report's failed messages would do, shown before the admin confirms."""

    monthly_report: object
    #: Failed rows (student loaded): put back to be sent on confirm.
    failed: list = field(default_factory=list)
    #: Unknown rows: never resent by this action, the parent may already have the message.
    unknown: list = field(default_factory=list)
    archived: bool = False

    def _failed(self, reason) -> list:
        return [row for row in self.failed if guardian_delivery_problem(row.guardian) == reason]

    @property
    def no_phone(self) -> list:
        """Failed rows whose student has no phone number now: confirming leaves them failed."""
        return self._failed(NotResendable.NO_PHONE)

    @property
    def not_on_whatsapp(self) -> list:
        """Failed rows whose student's number has no WhatsApp: confirming leaves them failed."""
        return self._failed(NotResendable.NOT_ON_WHATSAPP)

    @property
    def invalid_phone(self) -> list:
        """Failed rows whose student's number now is invalid: resent, they fail again at once.

        Counted apart as the send confirmation counts them (BroadcastPlan.invalid_phone):
        their messages never reach Fonnte, so they are not among those sent again.
        """
        return self._failed(INVALID_PHONE)

    @property
    def to_resend(self) -> list:
        """Failed rows whose messages go to Fonnte again on confirm."""
        return self._failed(None)

    @property
    def will_resend(self) -> int:
        return len(self.to_resend)

    failed_shown, failed_more = shown_and_more("to_resend", RESEND_LIST_LIMIT)
    invalid_shown, invalid_more = shown_and_more("invalid_phone", RESEND_LIST_LIMIT)
    not_on_whatsapp_shown, not_on_whatsapp_more = shown_and_more(
        "not_on_whatsapp", RESEND_LIST_LIMIT
    )
    no_phone_shown, no_phone_more = shown_and_more("no_phone", RESEND_LIST_LIMIT)
    unknown_shown, unknown_more = shown_and_more("unknown", RESEND_LIST_LIMIT)


def broadcast_resend_plan(*, monthly_reports) -> list[ResendPlan]:
    """Each report's failed and unknown rows, in two queries whatever the number of reports."""
    reports = list(monthly_reports)
    plans = {report.pk: ResendPlan(monthly_report=report) for report in reports}
    rows = (
        MonthlyReportBroadcast.objects.filter(
            monthly_report_id__in=plans,
            status__in=[BroadcastStatus.FAILED, BroadcastStatus.UNKNOWN],
        )
        .select_related("student", "guardian")
        .only(
            "id",
            "monthly_report_id",
            "status",
            "error_message",
            "student__id",
            "student__nis",
            "student__full_name",
            "guardian__id",
            "guardian__name",
            "guardian__relation",
            "guardian__phone",
            "guardian__receives_messages",
            "guardian__whatsapp_registered",
        )
        .order_by("student__full_name", "pk")
    )
    for row in rows:
        plan = plans[row.monthly_report_id]
        (plan.failed if row.status == BroadcastStatus.FAILED else plan.unknown).append(row)
    archived = BroadcastArchive.objects.filter(monthly_report_id__in=plans).values_list(
        "monthly_report_id", flat=True
    )
    for monthly_report_id in archived:
        plans[monthly_report_id].archived = True
    return [plans[report.pk] for report in reports]


#: How many rows the broadcast list's retry confirmation names before "and N more".
RETRY_LIST_LIMIT = 50


@dataclass
class RetryPreview:
    """What resending the selected rows of one status (failed, or unknown) would do."""

    #: The status this resend acts on.
    status: str
    #: The selected rows of that status (at most RETRY_LIST_LIMIT, student and report loaded).
    shown: list
    #: The selection counted by status.
    counts: dict
    #: Among the rows of that status, those whose student has no phone number now.
    no_phone: int = 0
    #: Among them, those whose student's number has no WhatsApp: left as they are.
    not_on_whatsapp: int = 0
    #: The students of those rows, by name: correct the number first.
    not_on_whatsapp_students: list = field(default_factory=list)
    #: The students of those rows, by name: add the parent's number first.
    no_phone_students: list = field(default_factory=list)
    #: Among them, those whose report was deleted: left as they are, nothing to send about.
    report_deleted: int = 0
    #: Among them, those whose student's number now is invalid: they fail again at once.
    invalid_phone: int = 0
    #: The students of those rows, by name: fix the number first.
    invalid_students: list = field(default_factory=list)

    @property
    def resendable(self) -> int:
        return self.counts.get(self.status, 0)

    @property
    def will_resend(self) -> int:
        """The rows of that status whose messages go to Fonnte again on confirm."""
        return (
            self.resendable
            - self.report_deleted
            - self.no_phone
            - self.not_on_whatsapp
            - self.invalid_phone
        )

    @property
    def more(self) -> int:
        return max(self.will_resend - len(self.shown), 0)

    invalid_shown, invalid_more = shown_and_more("invalid_students", RETRY_LIST_LIMIT)
    not_on_whatsapp_shown, not_on_whatsapp_more = shown_and_more(
        "not_on_whatsapp_students", RETRY_LIST_LIMIT
    )
    no_phone_shown, no_phone_more = shown_and_more("no_phone_students", RETRY_LIST_LIMIT)

    @property
    def to_fix(self) -> int:
        """Rows not resent until a student's number is corrected."""
        return self.no_phone + self.not_on_whatsapp + self.invalid_phone

    @property
    def failed(self) -> int:
        return self.counts.get(BroadcastStatus.FAILED, 0)

    @property
    def already_sent(self) -> int:
        return self.counts.get(BroadcastStatus.SENT, 0)

    @property
    def unknown(self) -> int:
        return self.counts.get(BroadcastStatus.UNKNOWN, 0)

    @property
    def under_way(self) -> int:
        return sum(
            self.counts.get(status, 0)
            for status in (
                BroadcastStatus.PENDING,
                BroadcastStatus.SENDING,
                BroadcastStatus.RETRYING,
            )
        )


def broadcast_retry_preview(*, broadcasts, status=BroadcastStatus.FAILED) -> RetryPreview:
    """Count a selection of rows by status and list those of ``status``: three queries.

    The rows of ``status`` are counted per student (as many as the school has, whatever
    the number of rows), so that those the resend leaves as they are (report deleted, no
    number, not on WhatsApp) and those that would fail again (invalid number) are counted
    apart, as the resend itself decides; the list names the others.
    """
    counts = dict(broadcasts.order_by().values_list("status").annotate(n=Count("id")))
    resendable = broadcasts.filter(status=status)
    per_guardian = (
        resendable.order_by()
        .values(
            "student_id",
            "student__full_name",
            "student__nis",
            "guardian_id",
            "guardian__name",
            "guardian__relation",
            "guardian__phone",
            "guardian__receives_messages",
            "guardian__whatsapp_registered",
        )
        .annotate(n=Count("id"), n_deleted=Count("id", filter=Q(monthly_report__isnull=True)))
        .order_by("student__full_name", "student_id", "guardian_id")
    )
    preview = RetryPreview(status=status, shown=[], counts=counts)
    not_resent = []
    for row in per_guardian:
        preview.report_deleted += row["n_deleted"]
        n = row["n"] - row["n_deleted"]
        student = Student(
            pk=row["student_id"], full_name=row["student__full_name"], nis=row["student__nis"]
        )
        guardian = None
        if row["guardian_id"] is not None:
            guardian = Guardian(
                pk=row["guardian_id"],
                student=student,
                name=row["guardian__name"],
                relation=row["guardian__relation"],
                phone=row["guardian__phone"],
                receives_messages=row["guardian__receives_messages"],
                whatsapp_registered=row["guardian__whatsapp_registered"],
            )
        reason = guardian_delivery_problem(guardian)
        if not n or reason is None:
            continue
        if reason == NotResendable.NO_PHONE:
            preview.no_phone += n
            preview.no_phone_students.append(student)
        elif reason == NotResendable.NOT_ON_WHATSAPP:
            preview.not_on_whatsapp += n
            preview.not_on_whatsapp_students.append(student)
        else:
            preview.invalid_phone += n
            preview.invalid_students.append(student)
        not_resent.append(student.pk)
    preview.shown = list(
        resendable.filter(monthly_report__isnull=False)
        .exclude(student_id__in=not_resent)
        .select_related("student", "monthly_report__classroom")
        .order_by("monthly_report_id", "student__full_name", "pk")[:RETRY_LIST_LIMIT]
    )
    return preview
