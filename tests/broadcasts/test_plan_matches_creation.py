"""The confirmation says what the click does: plan and creation agree over mixed classes.

Property-style: seeded random classes of children with guardians of every kind (opted out,
no number, not on WhatsApp, invalid, one number written three ways, shared within a child
and between twins), some with a report file, some messaged before (and renumbered since);
for each, the plan's counts equal what confirming created, with either choice for the
children without a file, and never two rows to one (report, child, number).
"""

import random

import pytest

from broadcasts.models import MonthlyReportBroadcast
from broadcasts.selectors import broadcast_plan, row_phone
from broadcasts.services import WithoutFile, broadcast_create_for_report
from students.models import Guardian
from tests.conftest import store_report_file

#: One number, as staff write it: the same WhatsApp number each time.
SHARED_FORMS = ("0812-7777-0001", "6281277770001", "+62 812 7777 0001", " 0812 7777 0001 ")


def _phone(rng, i):
    kind = rng.choice(["own", "own", "own", "shared", "invalid", "blank"])
    if kind == "own":
        return f"0813-{i:04d}-{rng.randrange(10_000):04d}"
    if kind == "shared":
        return rng.choice(SHARED_FORMS)
    if kind == "invalid":
        return rng.choice(["0812", "0812 34", "(0812)"])
    return rng.choice(["", "   "])


def _mixed_class(rng, report, make_student, make_guardian, admin_user, size=12):
    students = []
    for i in range(size):
        student = make_student(_phone(rng, i), name=f"Anak {i:02d}")
        for relation in rng.sample(["ayah", "wali"], rng.randrange(3)):
            make_guardian(
                student,
                relation,
                _phone(rng, 100 + i),
                receives_messages=rng.random() > 0.2,
                whatsapp_registered=rng.choice([None, None, True, False]),
            )
        if rng.random() < 0.15:
            student.guardians.all().delete()  # no guardian at all
        students.append(student)
    for student in rng.sample(students, size // 3):
        store_report_file(report, student, user=admin_user)
    return students


def _earlier_send_then_changes(rng, report, students):
    """Some children messaged before; then numbers change and guardians are added."""
    broadcast_create_for_report(monthly_report=report, without_file=WithoutFile.WAIT)
    guardians = list(Guardian.objects.filter(student__in=students).order_by("pk"))
    for guardian in rng.sample(guardians, len(guardians) // 3):
        guardian.phone = rng.choice([*SHARED_FORMS, "0899-0000-1111", "0812", ""])
        guardian.save()
    for student in rng.sample(students, 2):
        Guardian.objects.create(
            student=student, relation="wali", name="Wali Baru", phone=rng.choice(SHARED_FORMS)
        )


def _assert_never_twice(report):
    seen, guardians = set(), set()
    for student_id, phone, guardian_id in MonthlyReportBroadcast.objects.filter(
        monthly_report=report
    ).values_list("student_id", "phone_number", "guardian_id"):
        phone, _valid = row_phone(phone)  # a valid number in any form, normalized
        assert (student_id, phone) not in seen
        seen.add((student_id, phone))
        assert guardian_id is None or guardian_id not in guardians
        guardians.add(guardian_id)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("without_file", list(WithoutFile))
@pytest.mark.parametrize("sent_before", [False, True])
def test_the_plan_counts_what_creation_makes(
    seed, without_file, sent_before, report, make_student, make_guardian, admin_user
):
    rng = random.Random(seed)
    students = _mixed_class(rng, report, make_student, make_guardian, admin_user)
    if sent_before:
        _earlier_send_then_changes(rng, report, students)

    plan = broadcast_plan(monthly_report=report)
    outcome = broadcast_create_for_report(monthly_report=report, without_file=without_file)

    counts = plan.counts_waiting if without_file == WithoutFile.WAIT else plan.counts
    assert (outcome.created, outcome.invalid_phone, outcome.children) == (
        counts.total,
        counts.invalid,
        counts.children,
    )
    if without_file == WithoutFile.WAIT:
        assert outcome.waiting_for_file == len(plan.without_file)
    assert outcome.no_guardian == len(plan.no_guardian)
    assert (
        outcome.skipped_no_phone,
        outcome.skipped_not_on_whatsapp,
        outcome.skipped_opted_out,
    ) == (len(plan.no_phone), len(plan.not_on_whatsapp), len(plan.opted_out))
    assert sum(plan.existing.values()) == (
        outcome.already_sent + outcome.under_way + outcome.not_delivered
    )
    _assert_never_twice(report)
    # What is left is what the next plan announces, and sending everything leaves nothing.
    broadcast_create_for_report(monthly_report=report, without_file=WithoutFile.SEND)
    assert broadcast_plan(monthly_report=report).new_recipients == 0
    _assert_never_twice(report)
