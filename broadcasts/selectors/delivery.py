"""Whether a parent can be messaged: one rule per student, in Python and in SQL."""

from django.db import models
from django.db.models import Case, Exists, OuterRef, Q, Value, When
from django.utils.translation import gettext_lazy as _

from students.models import Student
from students.phones import is_valid_phone

from ..models import MonthlyReportBroadcast

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
