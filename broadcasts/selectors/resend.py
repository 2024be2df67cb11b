"""What resending failed or unknown messages would do, shown before the admin confirms."""

from dataclasses import dataclass, field

from django.db.models import Count, Q

from students.models import Guardian, Student

from ..models import BroadcastArchive, BroadcastStatus, MonthlyReportBroadcast
from .delivery import (
    INVALID_PHONE,
    NUMBER_TAKEN,
    NotResendable,
    guardian_delivery_problem,
    resend_numbers_taken,
    row_phone,
)
from .progress import RECIPIENT_FIELDS

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


@dataclass(frozen=True)
class ToFix:
    """A child whose guardian's message is not resent until the student data changes."""

    student: Student
    #: The guardian (name and relation, never the number); None when they were removed.
    guardian: Guardian | None


@dataclass
class ResendPlan:
    """What resending a report's failed messages would do, shown before the admin confirms."""

    monthly_report: object
    #: Failed rows (student and guardian loaded): put back to be sent on confirm.
    failed: list = field(default_factory=list)
    #: Unknown rows: never resent by this action, the parent may already have the message.
    unknown: list = field(default_factory=list)
    archived: bool = False
    #: ``{row id: reason}`` of the failed rows a resend would not send to Fonnte: a
    #: NotResendable reason, NUMBER_TAKEN or INVALID_PHONE, as broadcast_resend() decides.
    problems: dict = field(default_factory=dict)

    def _failed(self, reason) -> list:
        return [row for row in self.failed if self.problems.get(row.pk) == reason]

    @property
    def no_phone(self) -> list:
        """Failed rows whose guardian has no phone number now: confirming leaves them failed."""
        return self._failed(NotResendable.NO_PHONE)

    @property
    def not_on_whatsapp(self) -> list:
        """Failed rows whose guardian's number has no WhatsApp: confirming leaves them failed."""
        return self._failed(NotResendable.NOT_ON_WHATSAPP)

    @property
    def opted_out(self) -> list:
        """Failed rows whose guardian no longer receives messages: left failed."""
        return self._failed(NotResendable.OPTED_OUT)

    @property
    def guardian_removed(self) -> list:
        """Failed rows whose guardian was removed from the student: left failed."""
        return self._failed(NotResendable.GUARDIAN_REMOVED)

    @property
    def number_taken(self) -> list:
        """Failed rows whose guardian's number now has the child's message already: left."""
        return self._failed(NUMBER_TAKEN)

    @property
    def invalid_phone(self) -> list:
        """Failed rows whose guardian's number now is invalid: resent, they fail again at once.

        Counted apart as the send confirmation counts them (BroadcastPlan.invalid_phone):
        their messages never reach Fonnte, so they are not among those sent again.
        """
        return self._failed(INVALID_PHONE)

    @property
    def to_fix(self) -> int:
        """Failed rows not sent again until the student data changes."""
        return len(self.invalid_phone) + len(self.not_on_whatsapp) + len(self.no_phone)

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
    opted_out_shown, opted_out_more = shown_and_more("opted_out", RESEND_LIST_LIMIT)
    guardian_removed_shown, guardian_removed_more = shown_and_more(
        "guardian_removed", RESEND_LIST_LIMIT
    )
    number_taken_shown, number_taken_more = shown_and_more("number_taken", RESEND_LIST_LIMIT)
    unknown_shown, unknown_more = shown_and_more("unknown", RESEND_LIST_LIMIT)


def broadcast_resend_plan(*, monthly_reports) -> list[ResendPlan]:
    """Each report's failed and unknown rows, in two queries whatever the number of reports.

    A third when a failed row's guardian has another number now (resend_numbers_taken).
    """
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
            "phone_number",
            *RECIPIENT_FIELDS,
            "guardian__phone",
            "guardian__receives_messages",
            "guardian__whatsapp_registered",
        )
        .order_by("student__full_name", "pk")
    )
    candidates = []
    for row in rows:
        plan = plans[row.monthly_report_id]
        if row.status != BroadcastStatus.FAILED:
            plan.unknown.append(row)
            continue
        plan.failed.append(row)
        problem = guardian_delivery_problem(row.guardian)
        if problem:
            plan.problems[row.pk] = problem
        if problem in (None, INVALID_PHONE):
            after = row_phone(row.guardian.phone)[0]
            candidates.append(
                (row.pk, row.monthly_report_id, row.student_id, row.phone_number, after)
            )
    taken = resend_numbers_taken(candidates)
    for pk, report_id, *_ in candidates:
        if pk in taken:
            plans[report_id].problems[pk] = NUMBER_TAKEN
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
    #: Among the rows of that status, those whose guardian has no phone number now.
    no_phone: int = 0
    #: Among them, those whose guardian's number has no WhatsApp: left as they are.
    not_on_whatsapp: int = 0
    #: Among them, those whose guardian no longer receives messages: left as they are.
    opted_out: int = 0
    #: Among them, those whose guardian was removed from the student: left as they are.
    guardian_removed: int = 0
    #: Among them, those whose guardian's number now has the child's message already.
    number_taken: int = 0
    #: Among them, those whose report was deleted: left as they are, nothing to send about.
    report_deleted: int = 0
    #: Among them, those whose guardian's number now is invalid: they fail again at once.
    invalid_phone: int = 0
    #: Who each count is about (ToFix: child and guardian), by the child's name.
    no_phone_guardians: list = field(default_factory=list)
    not_on_whatsapp_guardians: list = field(default_factory=list)
    opted_out_guardians: list = field(default_factory=list)
    guardian_removed_guardians: list = field(default_factory=list)
    number_taken_guardians: list = field(default_factory=list)
    invalid_guardians: list = field(default_factory=list)

    @property
    def resendable(self) -> int:
        return self.counts.get(self.status, 0)

    @property
    def not_resent(self) -> int:
        """Rows of that status left as they are, whatever the reason (report deleted too)."""
        return (
            self.report_deleted
            + self.no_phone
            + self.not_on_whatsapp
            + self.opted_out
            + self.guardian_removed
            + self.number_taken
        )

    @property
    def will_resend(self) -> int:
        """The rows of that status whose messages go to Fonnte again on confirm."""
        return self.resendable - self.not_resent - self.invalid_phone

    @property
    def more(self) -> int:
        return max(self.will_resend - len(self.shown), 0)

    invalid_shown, invalid_more = shown_and_more("invalid_guardians", RETRY_LIST_LIMIT)
    not_on_whatsapp_shown, not_on_whatsapp_more = shown_and_more(
        "not_on_whatsapp_guardians", RETRY_LIST_LIMIT
    )
    no_phone_shown, no_phone_more = shown_and_more("no_phone_guardians", RETRY_LIST_LIMIT)
    opted_out_shown, opted_out_more = shown_and_more("opted_out_guardians", RETRY_LIST_LIMIT)
    guardian_removed_shown, guardian_removed_more = shown_and_more(
        "guardian_removed_guardians", RETRY_LIST_LIMIT
    )
    number_taken_shown, number_taken_more = shown_and_more(
        "number_taken_guardians", RETRY_LIST_LIMIT
    )

    @property
    def to_fix(self) -> int:
        """Rows not resent until a guardian's number is corrected."""
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


#: Which RetryPreview count and list each reason adds to.
_PREVIEW_FIELDS = {
    NotResendable.NO_PHONE: ("no_phone", "no_phone_guardians"),
    NotResendable.NOT_ON_WHATSAPP: ("not_on_whatsapp", "not_on_whatsapp_guardians"),
    NotResendable.OPTED_OUT: ("opted_out", "opted_out_guardians"),
    NotResendable.GUARDIAN_REMOVED: ("guardian_removed", "guardian_removed_guardians"),
    NUMBER_TAKEN: ("number_taken", "number_taken_guardians"),
    INVALID_PHONE: ("invalid_phone", "invalid_guardians"),
}


def broadcast_retry_preview(*, broadcasts, status=BroadcastStatus.FAILED) -> RetryPreview:
    """Count a selection of rows by status and list those of ``status``: three queries.

    The rows of ``status`` are counted per guardian and number (as many as the school
    has, whatever the number of rows), so that those the resend leaves as they are (report
    deleted, guardian removed or opted out, no number, not on WhatsApp, a number that has
    the child's message already) and those that would fail again (invalid number) are
    counted apart, as the resend itself decides; the list names the others. Two more
    queries when a guardian's number changed since their rows were made.
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
            "phone_number",
        )
        .annotate(n=Count("id"), n_deleted=Count("id", filter=Q(monthly_report__isnull=True)))
        .order_by("student__full_name", "student_id", "guardian_id", "phone_number")
    )
    preview = RetryPreview(status=status, shown=[], counts=counts)
    excluded: set[int] = set()
    removed = False
    changed: dict[int, ToFix] = {}
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
        if not n:
            continue
        if reason in (None, INVALID_PHONE) and row_phone(guardian.phone)[0] != row["phone_number"]:
            # A new number: it may be one another message about the child went to.
            changed[guardian.pk] = ToFix(student, guardian)
        if reason is None:
            continue
        count, names = _PREVIEW_FIELDS[reason]
        setattr(preview, count, getattr(preview, count) + n)
        entries = getattr(preview, names)
        if not entries or entries[-1] != ToFix(student, guardian):
            entries.append(ToFix(student, guardian))
        if guardian is None:
            removed = True
        else:
            excluded.add(guardian.pk)
    taken_rows = _numbers_taken(resendable, changed)
    for _pk, guardian_id in taken_rows:
        entry = changed[guardian_id]
        if guardian_id in excluded:  # an invalid number that is taken too: left as it is
            preview.invalid_phone -= 1
        preview.number_taken += 1
        if entry not in preview.number_taken_guardians:
            preview.number_taken_guardians.append(entry)
    shown = resendable.filter(monthly_report__isnull=False).exclude(guardian_id__in=excluded)
    if removed:
        shown = shown.exclude(guardian__isnull=True)
    if taken_rows:
        shown = shown.exclude(pk__in=[pk for pk, _ in taken_rows])
    preview.shown = list(
        shown.select_related("student", "guardian", "monthly_report__classroom").order_by(
            "monthly_report_id", "student__full_name", "pk"
        )[:RETRY_LIST_LIMIT]
    )
    return preview


def _numbers_taken(rows, changed: dict) -> list[tuple[int, int]]:
    """``(id, guardian id)`` of the rows of these guardians a resend leaves: number taken."""
    if not changed:
        return []
    candidates, guardians = [], {}
    for pk, report_id, student_id, phone_now, guardian_id in (
        rows.filter(monthly_report__isnull=False, guardian_id__in=list(changed))
        .order_by("pk")
        .values_list("pk", "monthly_report_id", "student_id", "phone_number", "guardian_id")
    ):
        after = row_phone(changed[guardian_id].guardian.phone)[0]
        candidates.append((pk, report_id, student_id, phone_now, after))
        guardians[pk] = guardian_id
    return sorted((pk, guardians[pk]) for pk in resend_numbers_taken(candidates))
