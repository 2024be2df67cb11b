"""The broadcast list stays cheap however many rows there are (a fixed, small query count);
its filters and search find the rows staff look for, and a row is named as they know it."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from broadcasts.models import BroadcastAttempt, MonthlyReportBroadcast
from broadcasts.services import broadcast_resend
from reports.models import MonthlyReport
from students.models import Guardian, Student
from students.phones import normalize_phone
from tests.broadcast_rows import guardian_row

LIST_URL = "/admin/broadcasts/monthlyreportbroadcast/"
READS_STUDENT = re.compile(r"FROM [`\"]?students_student\b")

URLS = [
    "/admin/broadcasts/monthlyreportbroadcast/",
    "/admin/broadcasts/monthlyreportbroadcast/?status__exact=failed",
    "/admin/broadcasts/monthlyreportbroadcast/?q=Siswa",
    "/admin/broadcasts/monthlyreportbroadcast/?q=0812-3456-7890",
    # The facet counts ("Tampilkan hitungan"): a COUNT per report in the report filter.
    "/admin/broadcasts/monthlyreportbroadcast/?_facets=True",
    "/admin/broadcasts/monthlyreportbroadcast/?delivery_state=other",
    "/admin/broadcasts/monthlyreportbroadcast/?monthly_report__id__exact=deleted",
    "/admin/reports/monthlyreport/",
    # A COUNT per year, month and class in the report list's filters.
    "/admin/reports/monthlyreport/?_facets=True",
]


def fill(classroom, reports, per_report):
    """``per_report`` children, every other one with two guardians: a row per guardian."""
    students = Student.objects.bulk_create(
        Student(nis=f"Q{i:05d}", full_name=f"Siswa {i}", classroom=classroom)
        for i in range(per_report)
    )
    guardians = Guardian.objects.bulk_create(
        Guardian(student=student, name=f"{relation} {i}", relation=relation, phone=phone)
        for i, student in enumerate(students)
        for relation, phone in (("ibu", "0812"), ("ayah", "0813"))[: 1 + i % 2]
    )
    for month in range(1, reports + 1):
        report = MonthlyReport.objects.create(classroom=classroom, month=month, year=2025)
        MonthlyReportBroadcast.objects.bulk_create(
            MonthlyReportBroadcast(
                monthly_report=report,
                student=guardian.student,
                guardian=guardian,
                phone_number=f"62{guardian.phone[1:]}1234567",
                message="m",
                status=("sent", "failed", "pending")[i % 3],
            )
            for i, guardian in enumerate(guardians)
        )


def queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", URLS)
def test_the_query_count_does_not_depend_on_the_number_of_rows(admin_client, classroom, url):
    fill(classroom, reports=1, per_report=3)
    few = queries(admin_client, url)
    MonthlyReportBroadcast.objects.all().delete()
    MonthlyReport.objects.all().delete()
    Student.objects.all().delete()
    fill(classroom, reports=12, per_report=150)  # 1,800 rows, more than a page
    many = queries(admin_client, url)
    assert many == few
    assert many <= 12


def test_the_delivery_state_filter_lists_fixed_states_and_finds_the_rest(
    admin_client, classroom, report
):
    fill(classroom, reports=0, per_report=4)
    states = ["read", "", "delivered", "queued"]  # "queued": a state we do not rank
    MonthlyReportBroadcast.objects.bulk_create(
        MonthlyReportBroadcast(
            monthly_report=report,
            student=student,
            phone_number="62812",
            message="m",
            delivery_state=state,
        )
        for student, state in zip(Student.objects.order_by("nis"), states, strict=True)
    )
    url = "/admin/broadcasts/monthlyreportbroadcast/"

    def shown(value):
        response = admin_client.get(url, {"delivery_state": value})
        return sorted(row.delivery_state for row in response.context["cl"].result_list)

    page = admin_client.get(url).content.decode()
    assert "?delivery_state=delivered" in page
    assert "=queued" not in page  # the values are not read from the rows
    assert shown("read") == ["read"]
    assert shown("none") == [""]
    assert shown("other") == ["queued"]


def make_row(report, student, **fields):
    return guardian_row(
        monthly_report=report,
        student=student,
        phone_number=normalize_phone(student.guardians.first().phone),
        message="m",
        **fields,
    )


def found(client, q, **filters):
    response = client.get(LIST_URL, {"q": q, **filters})
    assert response.status_code == 200
    return sorted(row.student.full_name for row in response.context["cl"].result_list)


@pytest.mark.parametrize(
    "typed", ["0812-0000-1111", "+62 812 0000 1111", "812 0000 1111", "6281200001111"]
)
def test_a_phone_number_is_found_as_staff_type_it(admin_client, report, make_student, typed):
    make_row(report, make_student("0812-0000-1111", name="Aisyah"))
    make_row(report, make_student("0813-2222-3333", name="Bima"))

    assert found(admin_client, typed) == ["Aisyah"]


def test_a_name_or_nis_search_still_works_and_filters_still_apply_to_a_phone(
    admin_client, report, make_student
):
    aisyah = make_row(report, make_student("0812-0000-1111", name="Aisyah"), status="failed")
    make_row(report, make_student("0813-2222-3333", name="Bima"))

    assert found(admin_client, aisyah.student.nis) == ["Aisyah"]
    assert found(admin_client, "bim") == ["Bima"]
    assert found(admin_client, "0812-9999-9999") == []
    assert found(admin_client, "0812-0000-1111", status__exact="failed") == ["Aisyah"]
    assert found(admin_client, "0812-0000-1111", status__exact="sent") == []


def test_a_phone_search_costs_what_a_name_search_costs(admin_client, report, make_student):
    make_row(report, make_student("0812-0000-1111", name="Aisyah"))

    by_phone = queries(admin_client, f"{LIST_URL}?q=0812-0000-1111")
    assert by_phone == queries(admin_client, f"{LIST_URL}?q=Aisyah")


def test_a_row_is_named_by_its_student_and_report_with_no_query_of_its_own(
    admin_client, report, make_student
):
    row = make_row(report, make_student("0812-0000-1111", name="Aisyah Putri"), status="failed")
    now = timezone.now()
    for number, outcome in [(1, "retry"), (2, "failed")]:
        BroadcastAttempt.objects.create(
            broadcast=row, number=number, started_at=now, finished_at=now, outcome=outcome
        )
    name = "Aisyah Putri · TK A Melati · November 2026"

    assert (
        str(
            MonthlyReportBroadcast.objects.select_related(
                "student", "monthly_report__classroom"
            ).get()
        )
        == name
    )
    # (No delete page: nobody deletes a row, see test_admin_pages.)
    for page in ("change", "history"):
        url = f"{LIST_URL}{row.pk}/{page}/"
        with CaptureQueriesContext(connection) as ctx:
            content = admin_client.get(url).content.decode()
        assert name in content
        assert "6281200001111" not in content.split("<main")[0]  # not in the title
        assert not [q for q in ctx.captured_queries if READS_STUDENT.search(q["sql"])]
    change = admin_client.get(f"{LIST_URL}{row.pk}/change/").content.decode()
    assert ">Akan dicoba lagi<" in change  # the attempt lines, not "retry"
    assert ">Gagal<" in change

    MonthlyReport.objects.all().delete()
    assert (
        "Aisyah Putri · laporan dihapus"
        in admin_client.get(f"{LIST_URL}{row.pk}/change/").content.decode()
    )


def test_a_resend_logs_the_rows_by_name_in_a_fixed_number_of_queries(
    admin_user, report, make_student
):
    def resend(n):
        rows = [make_row(report, make_student(), status="failed") for _ in range(n)]
        with CaptureQueriesContext(connection) as ctx:
            broadcast_resend(broadcast_ids=[row.pk for row in rows], requested_by=admin_user)
        return len(ctx.captured_queries)

    assert resend(2) == resend(20)
    assert set(LogEntry.objects.values_list("object_repr", flat=True)) >= {
        f"{student.full_name} · TK A Melati · November 2026" for student in Student.objects.all()
    }


def test_a_guardian_s_name_finds_the_messages_for_them(
    admin_client, report, make_student, make_guardian
):
    child = make_student("0812-0000-1111", name="Aisyah", parent_name="Siti Aminah")
    ayah = make_guardian(child, "ayah", "0813-2222-3333", name="Budi Santoso")
    make_row(report, child)
    guardian_row(
        monthly_report=report,
        student=child,
        guardian=ayah,
        phone_number="6281322223333",
        message="m",
    )
    make_row(report, make_student("0814-4444-5555", name="Bima", parent_name="Rina"))

    response = admin_client.get(LIST_URL, {"q": "Budi"})

    assert [(r.student.full_name, r.guardian_id) for r in response.context["cl"].result_list] == [
        ("Aisyah", ayah.pk)
    ]
