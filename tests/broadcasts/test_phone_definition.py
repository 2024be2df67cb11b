"""One definition of "the guardian has a phone number", the same in Python and in SQL."""

import sys

import pytest

from broadcasts.models import MonthlyReportBroadcast
from broadcasts.selectors import (
    INVALID_PHONE,
    PHONE_BLANKS,
    NotResendable,
    broadcast_plan,
    broadcast_resend_plan,
    broadcast_retry_preview,
    guardian_delivery_problem,
    guardian_has_phone,
    has_phone,
    shown_and_more,
)
from broadcasts.services import broadcast_create_for_report, broadcast_resend
from students.models import Guardian
from tests.broadcast_rows import guardian_row

VALUES = [
    "",
    " ",
    "\u00a0",  # a no-break space, as a spreadsheet may leave it
    " \u00a0\t\n\u3000 ",
    "\t0812-3456-7890",
    "\u00a00812-3456-7890",
    "\u200b",  # zero-width space: not whitespace, so something is there (an invalid number)
    "\u2080",  # its UTF-8 bytes are all bytes of blanks: a byte-wise match would miss it
    "-",
    "12345",
    *PHONE_BLANKS,
]


def test_the_blanks_are_exactly_what_strip_removes():
    blanks = {chr(c) for c in range(sys.maxunicode + 1) if not chr(c).strip()}
    assert set(PHONE_BLANKS) == blanks


def test_python_and_sql_agree_on_every_value(report, make_student):
    rows = {}
    for value in VALUES:
        row = guardian_row(
            monthly_report=report, student=make_student(value), phone_number="x", status="failed"
        )
        rows[row.pk] = value
    in_sql = set(
        MonthlyReportBroadcast.objects.filter(guardian_has_phone()).values_list("pk", flat=True)
    )

    assert {pk: pk in in_sql for pk in rows} == {pk: has_phone(v) for pk, v in rows.items()}
    assert [has_phone(v) for v in VALUES[:9]] == [False] * 4 + [True] * 5


@pytest.mark.parametrize("blank", ["\u00a0", " \t ", "\u3000"])
def test_a_number_of_blanks_is_no_number_on_every_page_and_in_the_service(
    report, make_student, dispatch, blank
):
    student = make_student(blank)
    plan = broadcast_plan(monthly_report=report)
    assert [skipped.guardian.student_id for skipped in plan.no_phone] == [student.pk]
    assert plan.new_recipients == 0
    created = broadcast_create_for_report(monthly_report=report)
    assert (created.created, created.skipped_no_phone) == (0, 1)

    row = guardian_row(monthly_report=report, student=student, phone_number="0812", status="failed")
    (resend_plan,) = broadcast_resend_plan(monthly_reports=[report])
    preview = broadcast_retry_preview(broadcasts=MonthlyReportBroadcast.objects.all())
    outcome = broadcast_resend(broadcast_ids=[row.pk])

    assert (resend_plan.no_phone, resend_plan.will_resend) == ([row], 0)
    assert (preview.no_phone, preview.will_resend) == (1, 0)
    assert (outcome.resent, outcome.no_phone) == ((), (row.pk,))
    row.refresh_from_db()
    assert (row.status, row.phone_number) == ("failed", "0812")


@pytest.mark.parametrize(
    ("phone", "registered", "problem"),
    [
        # No number comes first, whatever else is known about the guardian's number.
        ("\u00a0", False, NotResendable.NO_PHONE),
        ("", None, NotResendable.NO_PHONE),
        # Then "not on WhatsApp", even for a number that is also invalid.
        ("0812", False, NotResendable.NOT_ON_WHATSAPP),
        ("0812-3456-7890", False, NotResendable.NOT_ON_WHATSAPP),
        # Then the invalid number; an unchecked (None) or registered one is no problem.
        ("0812", None, INVALID_PHONE),
        ("0812", True, INVALID_PHONE),
        ("0812-3456-7890", None, None),
        (" +62 812 3456 7890 ", True, None),
    ],
)
def test_guardian_delivery_problem_checks_in_order(phone, registered, problem):
    guardian = Guardian(phone=phone, whatsapp_registered=registered)
    assert guardian_delivery_problem(guardian) == problem
    # Before any of these: a guardian removed, then one who opted out, whatever the number.
    assert guardian_delivery_problem(None) == NotResendable.GUARDIAN_REMOVED
    guardian.receives_messages = False
    assert guardian_delivery_problem(guardian) == NotResendable.OPTED_OUT


def test_the_send_its_confirmation_and_the_resend_pages_decide_alike(
    report, make_student, dispatch
):
    """One guardian per outcome of guardian_delivery_problem(): each page puts them alike."""
    students = {
        "none": make_student(" "),
        "not_on_whatsapp": make_student("0812-3456-7890", whatsapp_registered=False),
        "invalid": make_student("0812"),
        "ok": make_student("0812-3456-7891"),
        "opted_out": make_student("0812-3456-7892"),
    }
    Guardian.objects.filter(student=students["opted_out"]).update(receives_messages=False)

    def guardians_of(skipped):
        return [s.guardian.student_id for s in skipped]

    plan = broadcast_plan(monthly_report=report)
    created = broadcast_create_for_report(monthly_report=report)
    assert (guardians_of(plan.no_phone), guardians_of(plan.not_on_whatsapp)) == (
        [students["none"].pk],
        [students["not_on_whatsapp"].pk],
    )
    assert guardians_of(plan.opted_out) == [students["opted_out"].pk]
    assert plan.new_recipients == 2
    assert [r.guardian.student_id for r in plan.invalid_phone] == [students["invalid"].pk]
    assert (created.skipped_no_phone, created.skipped_not_on_whatsapp) == (1, 1)
    assert (created.created, created.invalid_phone, created.skipped_opted_out) == (2, 1, 1)

    rows = {
        key: MonthlyReportBroadcast.objects.get_or_create(
            monthly_report=report,
            student=student,
            guardian=student.guardians.get(),
            defaults={"phone_number": "x"},
        )[0]
        for key, student in students.items()
    }
    MonthlyReportBroadcast.objects.update(status="failed")
    (resend_plan,) = broadcast_resend_plan(monthly_reports=[report])
    preview = broadcast_retry_preview(broadcasts=MonthlyReportBroadcast.objects.all())
    outcome = broadcast_resend(broadcast_ids=[row.pk for row in rows.values()])
    assert [row.pk for row in resend_plan.no_phone] == [rows["none"].pk]
    assert [row.pk for row in resend_plan.not_on_whatsapp] == [rows["not_on_whatsapp"].pk]
    assert [row.pk for row in resend_plan.opted_out] == [rows["opted_out"].pk]
    assert [row.pk for row in resend_plan.invalid_phone] == [rows["invalid"].pk]
    assert [row.pk for row in resend_plan.to_resend] == [rows["ok"].pk]
    assert (preview.no_phone, preview.not_on_whatsapp, preview.invalid_phone) == (1, 1, 1)
    assert preview.opted_out == 1
    assert [row.pk for row in preview.shown] == [rows["ok"].pk]
    assert (outcome.no_phone, outcome.not_on_whatsapp, outcome.opted_out) == (
        (rows["none"].pk,),
        (rows["not_on_whatsapp"].pk,),
        (rows["opted_out"].pk,),
    )
    assert sorted(outcome.resent) == sorted([rows["ok"].pk, rows["invalid"].pk])
    assert outcome.invalid_phone == (rows["invalid"].pk,)


def test_shown_and_more_lists_the_first_items_and_counts_the_rest():
    class Page:
        names = ["a", "b", "c", "d", "e"]
        shown, more = shown_and_more("names", 3)
        all_shown, none_more = shown_and_more("names", 5)

    assert (Page().shown, Page().more) == (["a", "b", "c"], 2)
    assert (Page().all_shown, Page().none_more) == (["a", "b", "c", "d", "e"], 0)


@pytest.fixture
def dispatch():
    from unittest import mock

    with mock.patch("broadcasts.tasks.dispatch_pending_broadcasts.delay") as delay:
        yield delay
