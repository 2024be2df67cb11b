"""Who a report's send would message: each child's guardians, one message per number.

The one reading of a class that the confirmation (plan.broadcast_plan) and the send itself
(services.creation) share, so the page says exactly what the click does. Three queries
whatever the size of the class: its students, their guardians, the report's rows.
"""

from dataclasses import dataclass, field

from students.models import Guardian, Student

from ..models import MonthlyReportBroadcast
from .delivery import (
    INVALID_PHONE,
    guardian_delivery_problem,
    has_phone,
    row_phone,
    same_number,
)


@dataclass(frozen=True)
class Recipient:
    """One message a send would make: to this guardian of this child, at this number."""

    student: Student
    guardian: Guardian
    #: The number as the row keeps it (row_phone): normalized, or as entered when invalid.
    phone: str
    #: False for a number that is no Indonesian mobile number: the row fails without a call.
    valid: bool


@dataclass(frozen=True)
class SkippedGuardian:
    """A guardian a send leaves out, and why (a NotResendable reason)."""

    student: Student
    guardian: Guardian
    reason: str


@dataclass
class ChildRecipients:
    """One child of the class: the new messages a send makes, and the guardians left out."""

    student: Student
    recipients: list[Recipient] = field(default_factory=list)
    skipped: list[SkippedGuardian] = field(default_factory=list)
    #: Guardians sharing a number with one already messaged (or to be): no second message.
    shared_number: list[Guardian] = field(default_factory=list)
    #: The child already has rows for the report (some guardian was messaged before).
    has_rows: bool = False
    #: Guardians messaged for the report at a number they no longer have: one message per
    #: guardian and report (the database's rule), so not again at the new one.
    renumbered: list[Guardian] = field(default_factory=list)

    @property
    def unreachable(self) -> bool:
        """No guardian of this child gets a message, now or before: nobody would be told."""
        return not self.recipients and not self.has_rows


def report_recipients(*, monthly_report) -> list[ChildRecipients]:
    """Every child of the report's class that a send would message or could not, by name.

    A guardian gets a message when they receive messages, have a number on WhatsApp (or
    not checked yet), and neither they nor another guardian of the child at the same number
    has a row for this report (a guardian messaged at an earlier number is ``renumbered``:
    not messaged again). A child none of whose guardians has a row or gets one is
    listed with no recipients (``unreachable``). Children whose every guardian was already
    messaged are left out: a send does nothing for them.
    """
    students = list(
        Student.objects.filter(classroom_id=monthly_report.classroom_id)
        .only("id", "nis", "full_name", "classroom_id")
        .order_by("full_name", "id")
    )
    guardians: dict[int, list[Guardian]] = {}
    for guardian in (
        Guardian.objects.filter(student__classroom_id=monthly_report.classroom_id)
        .only(
            "id",
            "student_id",
            "name",
            "relation",
            "phone",
            "receives_messages",
            "whatsapp_registered",
        )
        .order_by("student_id", "id")
    ):
        guardians.setdefault(guardian.student_id, []).append(guardian)
    taken_guardians: dict[int, str] = {}
    taken_numbers: dict[int, set[str]] = {}
    for student_id, guardian_id, phone in MonthlyReportBroadcast.objects.filter(
        monthly_report=monthly_report
    ).values_list("student_id", "guardian_id", "phone_number"):
        taken_guardians[guardian_id] = phone
        taken_numbers.setdefault(student_id, set()).add(same_number(phone))
    children = []
    for student in students:
        numbers = taken_numbers.get(student.pk, set())
        child = ChildRecipients(student=student, has_rows=bool(numbers))
        for guardian in guardians.get(student.pk, ()):
            guardian.student = student  # read above: no query when a page names the child
            if guardian.pk in taken_guardians:
                if has_phone(guardian.phone) and same_number(
                    row_phone(guardian.phone)[0]
                ) != same_number(taken_guardians[guardian.pk]):
                    child.renumbered.append(guardian)
                continue
            problem = guardian_delivery_problem(guardian)
            if problem not in (None, INVALID_PHONE):
                child.skipped.append(SkippedGuardian(student, guardian, problem))
                continue
            phone, valid = row_phone(guardian.phone)
            if same_number(phone) in numbers:
                child.shared_number.append(guardian)
                continue
            numbers.add(same_number(phone))
            child.recipients.append(Recipient(student, guardian, phone, valid))
        if child.recipients or child.skipped or child.renumbered or child.unreachable:
            children.append(child)
    return children
