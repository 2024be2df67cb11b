"""Whether a guardian can be messaged: one rule per guardian, in Python and in SQL."""

import unicodedata

from django.db import models
from django.db.models import Case, Exists, OuterRef, Q, Value, When
from django.utils.translation import gettext_lazy as _

from students.models import Guardian
from students.phones import InvalidPhoneNumber, is_valid_phone, normalize_phone

from ..models import MonthlyReportBroadcast

#: The characters a guardian's number may be made of and still count as no number: exactly
#: those ``str.strip()`` removes (Python's whitespace, the no-break space among them).
PHONE_BLANKS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
    "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def has_phone(phone: str) -> bool:
    """True when a guardian has a number (anything but PHONE_BLANKS): the one definition.

    For guardians already in memory; guardian_has_phone() is the same test in SQL, and the
    two agree on every value (tests/broadcasts/test_phone_definition.py, on each database).
    """
    return bool(phone.strip(PHONE_BLANKS))


def _guardian(**lookups) -> Exists:
    return Exists(Guardian.objects.filter(pk=OuterRef("guardian_id"), **lookups))


def guardian_has_phone() -> Exists:
    """True for a row whose guardian has a number now: has_phone() in SQL.

    The blanks are listed, not ``\\s``: what ``\\s`` covers differs between PostgreSQL,
    SQLite (Python's re) and MariaDB, so a no-break space was a number on one and none on
    another. ``iregex``: MariaDB's ``regex`` compares bytes (REGEXP BINARY), which would
    split a multi-byte blank; no blank has a case, so ignoring case changes nothing.
    """
    return _guardian(phone__iregex=f"[^{PHONE_BLANKS}]")


def guardian_not_on_whatsapp() -> Exists:
    """True for a row whose guardian's number was checked and has no WhatsApp."""
    return _guardian(whatsapp_registered=False)


class NotResendable(models.TextChoices):
    """Why a guardian gets no message, or a failed (or unknown) row is not put back to be sent.

    Checked in this order; the first is about the row only (a report to send about).
    """

    REPORT_DELETED = "report_deleted", _("report deleted")
    GUARDIAN_REMOVED = "guardian_removed", _("guardian removed")
    OPTED_OUT = "opted_out", _("does not receive messages")
    NO_PHONE = "no_phone", _("no phone number")
    NOT_ON_WHATSAPP = "not_on_whatsapp", _("not on WhatsApp")


#: A guardian whose number is invalid: their row is made (or put back) and fails at once.
INVALID_PHONE = "invalid_phone"

#: A row a resend leaves as it is because its guardian's number now is one another row of
#: the same (report, child) already has: never twice to one number about one child.
NUMBER_TAKEN = "number_taken"


def guardian_delivery_problem(guardian) -> str | None:
    """Why a message to this guardian would not reach Fonnte, or None: the one rule.

    ``guardian`` is a Guardian (None for one removed), or anything with its
    ``receives_messages``, ``phone`` and ``whatsapp_registered``. Checked in this order:
    removed (NotResendable.GUARDIAN_REMOVED), opted out of messages (OPTED_OUT), no number
    (NO_PHONE), a number checked and not on WhatsApp (NOT_ON_WHATSAPP) — no row, or the
    row is left as it is — then an invalid number (INVALID_PHONE: the row is made or put
    back and fails without a call). Sending, its confirmation and every resend decide
    with it; not_resendable_reason() is its first checks in SQL.
    """
    if guardian is None:
        return NotResendable.GUARDIAN_REMOVED
    if not guardian.receives_messages:
        return NotResendable.OPTED_OUT
    if not has_phone(guardian.phone):
        return NotResendable.NO_PHONE
    if guardian.whatsapp_registered is False:
        # Fonnte's /validate said so: /send would accept it and never deliver.
        return NotResendable.NOT_ON_WHATSAPP
    if not is_valid_phone(guardian.phone):
        return INVALID_PHONE
    return None


def row_phone(raw_phone: str) -> tuple[str, bool]:
    """The number a row keeps for ``raw_phone`` (a guardian's), and whether it is valid.

    Valid numbers are normalized; an invalid one is kept as entered, so its row fails at
    send time, visibly, and the admins hear of it. Creation and resending both use this,
    and the database's "one row per (report, child, number)" compares what it returns.
    """
    raw_phone = raw_phone.strip()
    try:
        return normalize_phone(raw_phone)[:20], True
    except InvalidPhoneNumber:
        return raw_phone[:20], False


def resend_numbers_taken(candidates, *, batch_size: int = 1000) -> set[int]:
    """Of these rows to resend, the ids whose new number another row of the child has.

    ``candidates`` are ``(id, report id, student id, number now, number after)`` tuples,
    the number after as row_phone() gives it. A row whose number changes may not take one
    that any row of the same (report, child) holds now, nor one an earlier candidate (by
    id) takes: the database holds one row per (report, child, number), and checks it row
    by row as an update goes. Never twice wins: such a row is left as it is. One query
    per ``batch_size`` children whose rows change number; none when no number changes.
    """
    changing = sorted(row for row in candidates if row[3] != row[4])
    if not changing:
        return set()
    reports = {row[1] for row in changing}
    students = sorted({row[2] for row in changing})
    taken: dict[tuple[int, int], set[str]] = {}
    for start in range(0, len(students), batch_size):
        for report_id, student_id, phone in MonthlyReportBroadcast.objects.filter(
            monthly_report_id__in=reports, student_id__in=students[start : start + batch_size]
        ).values_list("monthly_report_id", "student_id", "phone_number"):
            taken.setdefault((report_id, student_id), set()).add(same_number(phone))
    left = set()
    for pk, report_id, student_id, _now, after in changing:
        numbers = taken.setdefault((report_id, student_id), set())
        if same_number(after) in numbers:
            left.add(pk)
        else:
            numbers.add(same_number(after))
    return left


def same_number(phone: str) -> str:
    """What "one row per (report, child, number)" compares of a row's number, on every database.

    MariaDB compares text blind to case, accents and trailing spaces, so two invalid
    numbers kept as entered ("0812-abc", "0812-ABC") are one number to its unique
    constraint and two to PostgreSQL's. Compared folded, on every database, they are one:
    the confirmation and the rows agree, and no insert is silently refused. A valid
    (normalized, digits only) number is itself.
    """
    decomposed = unicodedata.normalize("NFKD", phone)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def resendable() -> Q:
    """Rows a resend may put back: a report to send about, and a guardian who can get it.

    As creation decides (removed, opted out, no number, or not on WhatsApp: no message); a
    row whose report was deleted would only fail again at once.
    """
    return (
        Q(monthly_report__isnull=False)
        & _guardian(receives_messages=True)
        & guardian_has_phone()
        & ~guardian_not_on_whatsapp()
    )


def not_resendable_reason() -> Case:
    """The NotResendable reason of a row, None for a resendable one: resendable() by parts."""
    return Case(
        When(monthly_report__isnull=True, then=Value(NotResendable.REPORT_DELETED)),
        When(~_guardian(), then=Value(NotResendable.GUARDIAN_REMOVED)),
        When(_guardian(receives_messages=False), then=Value(NotResendable.OPTED_OUT)),
        When(~guardian_has_phone(), then=Value(NotResendable.NO_PHONE)),
        When(guardian_not_on_whatsapp(), then=Value(NotResendable.NOT_ON_WHATSAPP)),
        default=None,
        output_field=models.CharField(),
    )


def broadcasts_resend_problems(*, broadcast_ids) -> dict[int, str]:
    """Of these rows, ``{id: reason}`` for those a resend would not send to Fonnte.

    A NotResendable reason or NUMBER_TAKEN (the resend leaves the row as it is) or
    INVALID_PHONE (put back, it fails again at once), as broadcast_resend() decides: the
    report first, then guardian_delivery_problem(), then resend_numbers_taken(). Rows not
    listed would be sent again. One query, and one more when a number changes.
    """
    rows = (
        MonthlyReportBroadcast.objects.filter(pk__in=list(broadcast_ids))
        .select_related("guardian")
        .only(
            "pk",
            "monthly_report_id",
            "student_id",
            "phone_number",
            "guardian__receives_messages",
            "guardian__phone",
            "guardian__whatsapp_registered",
        )
        .order_by("pk")
    )
    problems, candidates = {}, []
    for row in rows:
        if row.monthly_report_id is None:
            problems[row.pk] = NotResendable.REPORT_DELETED
            continue
        problem = guardian_delivery_problem(row.guardian)
        if problem in (None, INVALID_PHONE):
            after = row_phone(row.guardian.phone)[0]
            candidates.append(
                (row.pk, row.monthly_report_id, row.student_id, row.phone_number, after)
            )
        if problem:
            problems[row.pk] = problem
    for pk in resend_numbers_taken(candidates):
        problems[pk] = NUMBER_TAKEN
    return problems
