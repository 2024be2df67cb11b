"""Reads about broadcasts: what a send or a resend would do, and where reports' messages stand."""

from dataclasses import dataclass, field

from django.db import models
from django.db.models import Case, Count, Exists, OuterRef, Q, Value, When
from django.utils.translation import gettext_lazy as _

from reports.models import MonthlyReport
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
    #: Students whose number was checked and has no WhatsApp: no row, no message.
    not_on_whatsapp: list = field(default_factory=list)
    #: Existing rows of this report, by status.
    existing: dict = field(default_factory=dict)
    #: The message rendered for one real recipient (None when there is none).
    preview: str | None = None
    preview_student: Student | None = None
    #: Set when the report's rows were pruned: it cannot be sent again.
    archive: BroadcastArchive | None = None

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


#: The characters a parent's number may be made of and still count as no number: exactly
#: those ``str.strip()`` removes (Python's whitespace, the no-break space among them).
PHONE_BLANKS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
    "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def has_phone(phone: str) -> bool:
    """True when a student has a number (anything but PHONE_BLANKS): the one definition.

    For students already in memory; student_has_phone() is the same test in SQL, and the
    two agree on every value (tests/broadcasts/test_phone_definition.py, on each database).
    """
    return bool(phone.strip(PHONE_BLANKS))


def student_has_phone() -> Exists:
    """True for a row whose student has a number now: has_phone() in SQL.

    The blanks are listed, not ``\\s``: what ``\\s`` covers differs between PostgreSQL,
    SQLite (Python's re) and MariaDB, so a no-break space was a number on one and none on
    another. ``iregex``: MariaDB's ``regex`` compares bytes (REGEXP BINARY), which would
    split a multi-byte blank; no blank has a case, so ignoring case changes nothing.
    """
    return Exists(
        Student.objects.filter(pk=OuterRef("student_id"), parent_phone__iregex=f"[^{PHONE_BLANKS}]")
    )


def student_not_on_whatsapp() -> Exists:
    """True for a row whose student's number was checked and has no WhatsApp: never messaged."""
    return Exists(Student.objects.filter(pk=OuterRef("student_id"), whatsapp_registered=False))


class NotResendable(models.TextChoices):
    """Why a failed (or unknown) row is not put back to be sent; checked in this order."""

    REPORT_DELETED = "report_deleted", _("report deleted")
    NO_PHONE = "no_phone", _("no phone number")
    NOT_ON_WHATSAPP = "not_on_whatsapp", _("not on WhatsApp")


#: A student whose number is invalid: their row is made (or put back) and fails at once.
INVALID_PHONE = "invalid_phone"


def student_delivery_problem(student) -> str | None:
    """Why a message to this student would not reach Fonnte, or None: the one per-student rule.

    ``student`` is a Student, or anything with its ``parent_phone`` and
    ``whatsapp_registered``. Checked in this order: no number (NotResendable.NO_PHONE: no
    row, or the row is left as it is), a number checked and not on WhatsApp
    (NotResendable.NOT_ON_WHATSAPP: likewise), an invalid number (INVALID_PHONE: the row is
    made or put back and fails without a call). Sending, its confirmation and every resend
    decide with it; not_resendable_reason() is its first two checks in SQL.
    """
    if not has_phone(student.parent_phone):
        return NotResendable.NO_PHONE
    if student.whatsapp_registered is False:
        # Fonnte's /validate said so: /send would accept it and never deliver.
        return NotResendable.NOT_ON_WHATSAPP
    if not is_valid_phone(student.parent_phone):
        return INVALID_PHONE
    return None


def resendable() -> Q:
    """Rows a resend may put back: a report to send about, and a student who can get it.

    As creation decides (no number, or not on WhatsApp: no message); a row whose report
    was deleted would only fail again at once ("Laporan bulanan tidak ditemukan").
    """
    return Q(monthly_report__isnull=False) & student_has_phone() & ~student_not_on_whatsapp()


def not_resendable_reason() -> Case:
    """The NotResendable reason of a row, None for a resendable one: resendable() by parts."""
    return Case(
        When(monthly_report__isnull=True, then=Value(NotResendable.REPORT_DELETED)),
        When(~student_has_phone(), then=Value(NotResendable.NO_PHONE)),
        When(student_not_on_whatsapp(), then=Value(NotResendable.NOT_ON_WHATSAPP)),
        default=None,
        output_field=models.CharField(),
    )


def broadcasts_resend_problems(*, broadcast_ids) -> dict[int, str]:
    """Of these rows, ``{id: reason}`` for those a resend would not send to Fonnte.

    A NotResendable reason (the resend leaves the row as it is) or INVALID_PHONE (put back,
    it fails again at once), as broadcast_resend() decides: the report first, then
    student_delivery_problem(). Rows not listed would be sent again. One query.
    """
    rows = (
        MonthlyReportBroadcast.objects.filter(pk__in=list(broadcast_ids))
        .order_by("pk")
        .values_list(
            "pk", "monthly_report_id", "student__parent_phone", "student__whatsapp_registered"
        )
    )
    problems = {}
    for pk, monthly_report_id, phone, registered in rows:
        if monthly_report_id is None:
            problems[pk] = NotResendable.REPORT_DELETED
        elif problem := student_delivery_problem(
            Student(parent_phone=phone, whatsapp_registered=registered)
        ):
            problems[pk] = problem
    return problems


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
    for student in students_without_broadcast(monthly_report=monthly_report):
        problem = student_delivery_problem(student)
        if problem == NotResendable.NO_PHONE:
            plan.no_phone.append(student)
            continue
        if problem == NotResendable.NOT_ON_WHATSAPP:
            plan.not_on_whatsapp.append(student)
            continue
        plan.new_recipients += 1
        if problem == INVALID_PHONE:
            plan.invalid_phone.append(student)
        elif plan.preview_student is None:
            plan.preview_student = student
    if plan.preview_student is not None:
        plan.preview = render_message(
            message_context(student=plan.preview_student, monthly_report=monthly_report)
        )
    return plan


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
        return [row for row in self.failed if student_delivery_problem(row.student) == reason]

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
        .select_related("student")
        .only(
            "id",
            "monthly_report_id",
            "status",
            "error_message",
            "student__id",
            "student__nis",
            "student__full_name",
            "student__parent_phone",
            "student__whatsapp_registered",
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
    per_student = (
        resendable.order_by()
        .values(
            "student_id",
            "student__full_name",
            "student__nis",
            "student__parent_phone",
            "student__whatsapp_registered",
        )
        .annotate(n=Count("id"), n_deleted=Count("id", filter=Q(monthly_report__isnull=True)))
        .order_by("student__full_name", "student_id")
    )
    preview = RetryPreview(status=status, shown=[], counts=counts)
    not_resent = []
    for row in per_student:
        preview.report_deleted += row["n_deleted"]
        n = row["n"] - row["n_deleted"]
        student = Student(
            pk=row["student_id"],
            full_name=row["student__full_name"],
            nis=row["student__nis"],
            parent_phone=row["student__parent_phone"],
            whatsapp_registered=row["student__whatsapp_registered"],
        )
        reason = student_delivery_problem(student)
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
