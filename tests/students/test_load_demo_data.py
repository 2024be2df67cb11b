"""`make run`'s demo school: what a newcomer finds in the admin, and what it never does."""

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from reports.models import MonthlyReport
from students.models import Guardian, Student
from students.phones import is_valid_phone


def load():
    out = StringIO()
    call_command("load_demo_data", stdout=out)
    return out.getvalue()


def printed_password(output):
    return re.search(r"user: admin\s+password: (\S+)", output).group(1)


@pytest.fixture
def local(settings):
    settings.DEBUG = True
    settings.WHATSAPP_BACKEND = "console"


def test_a_school_with_gaps_in_its_data_and_a_report_for_this_month(db, local, client):
    output = load()

    today = timezone.localdate()
    reports = MonthlyReport.objects.filter(month=today.month, year=today.year)
    assert reports.count() == 2
    assert Student.objects.count() == 14
    phones = list(Guardian.objects.values_list("phone", flat=True))
    assert "" in phones  # a guardian without a number: skipped, shown on the confirmation page
    assert any(phone and not is_valid_phone(phone) for phone in phones)  # a wrong one
    assert sum(is_valid_phone(phone) for phone in phones) >= 10
    # Valid numbers are stored as the admin form stores them: a typed number finds them.
    assert all(phone.startswith("62") for phone in phones if is_valid_phone(phone))
    assert client.login(username="admin", password=printed_password(output))
    assert client.get("/admin/reports/monthlyreport/").status_code == 200


def test_children_with_two_guardians_a_shared_number_an_opt_out_and_twins(db, local):
    load()

    by_child = {}
    for guardian in Guardian.objects.select_related("student"):
        by_child.setdefault(guardian.student.nis, []).append(guardian)
    relations = {nis: {g.relation for g in guardians} for nis, guardians in by_child.items()}
    assert sum(rels >= {"ayah", "ibu"} for rels in relations.values()) >= 3
    assert "wali" in set().union(*relations.values())
    # Ayah and ibu of one child sharing one phone.
    assert any(
        len(guardians) == 2 and len({g.phone for g in guardians}) == 1
        for guardians in by_child.values()
    )
    # A guardian who asked for no messages, beside one who gets them.
    opted_out = Guardian.objects.get(receives_messages=False)
    assert opted_out.student.guardians.filter(receives_messages=True).exists()
    # Twins: two children of one class with the same guardians' numbers.
    numbers = {nis: {g.phone for g in guardians} for nis, guardians in by_child.items()}
    twins = [nis for nis in numbers if numbers[nis] == numbers["A007"]]
    assert sorted(twins) == ["A007", "A008"]


def test_running_it_again_adds_nothing_and_gives_a_new_password(db, local, client):
    first = printed_password(load())
    second = printed_password(load())

    assert Student.objects.count() == 14
    assert Guardian.objects.count() == 20
    assert MonthlyReport.objects.count() == 2
    assert get_user_model().objects.filter(username="admin").count() == 1
    assert first != second
    assert not client.login(username="admin", password=first)
    assert client.login(username="admin", password=second)


def test_refuses_without_debug(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=true"):
        load()
    assert not MonthlyReport.objects.exists()


def test_a_real_sender_gets_no_demo_numbers(db, local, settings):
    settings.WHATSAPP_BACKEND = "fonnte"

    output = load()

    assert "demo students not" in output
    assert not Student.objects.exists()
    assert MonthlyReport.objects.count() == 2


def test_running_it_again_after_a_second_guardian_of_a_relation_was_added(db, local):
    # The admin tried the page: a grandmother added as a second wali of a child.
    load()
    student = Student.objects.get(nis="B006")
    Guardian.objects.create(student=student, relation="wali", name="Nenek Ani", phone="")

    load()

    assert list(student.guardians.order_by("pk").values_list("name", flat=True)) == [
        "Bapak Tono",
        "Nenek Ani",
    ]
