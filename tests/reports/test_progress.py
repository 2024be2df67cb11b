"""Delivery progress per report: counts from the rows, one query per page, live JSON."""

import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from broadcasts.models import BroadcastArchive, BroadcastStatus, MonthlyReportBroadcast
from broadcasts.selectors import Progress, ProgressState, broadcast_progress
from reports.models import MonthlyReport
from students.models import Classroom, Guardian, Student
from tests.broadcast_rows import guardian_row

CHANGELIST = "/admin/reports/monthlyreport/"
PROGRESS_URL = "/admin/reports/monthlyreport/progress/"


def add_rows(report, students, statuses):
    """One row per status, each for its own student (one row per report and student)."""
    MonthlyReportBroadcast.objects.bulk_create(
        MonthlyReportBroadcast(
            monthly_report=report, student=student, phone_number="6281234567890", status=status
        )
        for student, status in zip(students, statuses, strict=True)
    )


@pytest.fixture
def students(classroom):
    def make(n):
        start = Student.objects.count()
        made = Student.objects.bulk_create(
            Student(nis=f"P{start + i:05d}", full_name=f"Murid {start + i}", classroom=classroom)
            for i in range(n)
        )
        Guardian.objects.bulk_create(
            Guardian(student=student, name="Ibu", relation="ibu", phone="081234567890")
            for student in made
        )
        return made

    return make


def widget(page, report):
    """The report's progress widget in a page, as HTML."""
    match = re.search(
        rf'<div class="wa-progress" data-report-id="{report.pk}".*?</div>\s*</div>', page, re.S
    )
    assert match, f"no progress widget for report {report.pk}"
    return match.group(0)


def count_in(html, name):
    return int(re.search(rf'data-count="{name}">(\d+)<', html).group(1))


MIX = ["sent"] * 3 + ["failed"] * 2 + ["unknown"] + ["sending"] + ["retrying"] * 2 + ["pending"] * 4


def test_counts_add_up_to_the_rows_for_a_mix_of_statuses(report, students):
    add_rows(report, students(len(MIX)), MIX)

    progress = broadcast_progress(monthly_report_ids=[report.pk])[report.pk]

    assert progress == Progress(
        sent=3, failed=2, unknown=1, in_progress=3, waiting=4, children=13, children_reached=3
    )
    assert progress.total == MonthlyReportBroadcast.objects.filter(monthly_report=report).count()
    assert progress.total == 13
    assert progress.finished == 6
    assert progress.percent == 46  # 6 of 13, rounded down
    assert progress.state == ProgressState.SENDING


@pytest.mark.parametrize(
    ("statuses", "state", "percent"),
    [
        ([], ProgressState.NOT_SENT, 0),
        (["sent", "pending"], ProgressState.SENDING, 50),
        (["sent", "sending"], ProgressState.SENDING, 50),
        (["failed", "failed", "retrying"], ProgressState.SENDING, 66),
        (["sent", "sent"], ProgressState.FINISHED, 100),
        (["sent", "failed"], ProgressState.FINISHED_WITH_FAILURES, 100),
        (["sent", "unknown"], ProgressState.FINISHED_WITH_FAILURES, 100),
    ],
)
def test_the_state_follows_the_rows(report, students, statuses, state, percent):
    add_rows(report, students(len(statuses)), statuses)

    progress = broadcast_progress(monthly_report_ids=[report.pk])[report.pk]

    assert progress.state == state
    assert progress.percent == percent


def test_an_archived_report_shows_its_archived_counts(report):
    BroadcastArchive.objects.create(monthly_report=report, sent=3, failed=1, unknown=2)

    progress = broadcast_progress(monthly_report_ids=[report.pk])[report.pk]

    assert progress == Progress(sent=3, failed=1, unknown=2, archived=True)
    assert progress.total == 6
    assert progress.state == ProgressState.FINISHED_WITH_FAILURES


def test_progress_for_many_reports_is_one_query(classroom, students, django_assert_num_queries):
    reports = [
        MonthlyReport.objects.create(classroom=classroom, month=m, year=2026) for m in (1, 2)
    ]
    add_rows(reports[0], students(3), ["sent", "failed", "pending"])
    add_rows(reports[1], students(2), ["sent", "sent"])
    BroadcastArchive.objects.create(monthly_report=reports[1], sent=5)

    with django_assert_num_queries(1):
        progress = broadcast_progress(monthly_report_ids=[r.pk for r in reports] + [999_999])

    assert progress[reports[0].pk] == Progress(
        sent=1, failed=1, waiting=1, children=3, children_reached=1
    )
    assert progress[reports[1].pk] == Progress(sent=5, archived=True)
    assert 999_999 not in progress  # no such report


def test_the_report_list_shows_counts_bar_and_state(admin_client, report, students):
    add_rows(report, students(len(MIX)), MIX)

    page = admin_client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    html = widget(page, report)

    assert 'data-state="sending"' in html
    assert {name: count_in(html, name) for name in MIX_NAMES} == {
        "sent": 3,
        "failed": 2,
        "in_progress": 3,
        "unknown": 1,
        "waiting": 4,
    }
    assert '<strong data-field="state_label">sending</strong>' in html
    # No percentage in the text: "100%" beside a failure would read as success.
    assert not re.search(r">[^<]*\d+%", html)
    # The bar: sent 3/13, failed 2/13, unknown 1/13 of the width (a dot, never a comma).
    assert 'data-segment="sent" style="width: 23.08%"' in html
    assert 'data-segment="failed" style="width: 15.38%"' in html
    assert 'data-segment="unknown" style="width: 7.69%"' in html
    assert "3 of 13 sent, 2 failed, 1 unknown" in html


MIX_NAMES = ["sent", "failed", "in_progress", "unknown", "waiting"]


def test_the_report_list_labels_each_state(admin_client, classroom, students):
    reports = {
        label: MonthlyReport.objects.create(classroom=classroom, month=month, year=2026)
        for month, label in enumerate(
            ["not sent yet", "finished", "finished with failures", "archived"], start=1
        )
    }
    add_rows(reports["finished"], students(2), ["sent", "sent"])
    add_rows(reports["finished with failures"], students(2), ["sent", "unknown"])
    BroadcastArchive.objects.create(monthly_report=reports["archived"], sent=3, failed=1)

    page = admin_client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    def label(report):
        return re.search(r'data-field="state_label">([^<]*)<', widget(page, report)).group(1)

    assert label(reports["not sent yet"]) == "not sent yet"
    assert label(reports["finished"]) == "finished"
    assert label(reports["finished with failures"]) == "finished with failures"
    assert label(reports["archived"]) == "finished with failures"
    assert "archived: 3 of 4 sent" in widget(page, reports["archived"])
    assert count_in(widget(page, reports["archived"]), "failed") == 1


def test_the_report_pages_include_the_progress_script(admin_client, report):
    for url in (CHANGELIST, f"{CHANGELIST}{report.pk}/change/"):
        page = admin_client.get(url).content.decode()
        assert "/static/reports/progress.js" in page
        assert f'data-progress-url="{PROGRESS_URL}"' in page


def test_the_change_page_shows_the_reports_progress(admin_client, report, students):
    add_rows(report, students(3), ["sent", "failed", "retrying"])

    page = admin_client.get(
        f"{CHANGELIST}{report.pk}/change/", HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    html = widget(page, report)

    assert 'data-state="sending"' in html
    assert [count_in(html, name) for name in MIX_NAMES] == [1, 1, 1, 0, 0]


def page_with_reports(classroom, students, *, reports, rows_per_report):
    """``reports`` reports (months and years of one class) with rows in every status."""
    pupils = students(rows_per_report)
    statuses = [BroadcastStatus.values[i % len(BroadcastStatus.values)] for i in range(len(pupils))]
    for i in range(reports):
        report = MonthlyReport.objects.create(
            classroom=classroom, month=i % 12 + 1, year=2000 + i // 12
        )
        add_rows(report, pupils, statuses)


def changelist_queries(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_report_list_costs_the_same_queries_for_3_or_30_reports(
    admin_client, classroom, students
):
    page_with_reports(classroom, students, reports=3, rows_per_report=2)
    few, few_page = changelist_queries(admin_client)

    MonthlyReport.objects.all().delete()
    MonthlyReportBroadcast.objects.all().delete()
    page_with_reports(classroom, students, reports=30, rows_per_report=25)
    many, many_page = changelist_queries(admin_client)

    assert few_page.count('class="wa-progress"') == 3
    assert many_page.count('class="wa-progress"') == 30
    assert many == few, f"{few} queries for 3 reports, {many} for 30"


def test_the_progress_json_gives_counts_per_report(admin_client, classroom, students):
    sending = MonthlyReport.objects.create(classroom=classroom, month=1, year=2026)
    archived = MonthlyReport.objects.create(classroom=classroom, month=2, year=2026)
    add_rows(sending, students(len(MIX)), MIX)
    BroadcastArchive.objects.create(monthly_report=archived, sent=4)

    response = admin_client.get(
        PROGRESS_URL, {"ids": f"{sending.pk},{archived.pk},999999"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 200
    data = response.json()["reports"]
    assert set(data) == {str(sending.pk), str(archived.pk)}
    assert data[str(sending.pk)] == {
        "sent": 3,
        "failed": 2,
        "unknown": 1,
        "in_progress": 3,
        "waiting": 4,
        "total": 13,
        "finished": 6,
        "percent": 46,
        "state": "sending",
        "state_label": "sending",
        "summary": "3 of 13 sent, 2 failed, 1 unknown",
        "archived": False,
        # No row carries a link: no opened count to show.
        "opened": 0,
        "with_link": 0,
        "awaiting_open": 0,
        "opened_summary": "",
        # One guardian per child here: 13 children, the 3 sent reached.
        "children": 13,
        "children_reached": 3,
        "children_summary": "children reached: 3 of 13",
    }
    assert data[str(archived.pk)]["state"] == "finished"
    # An archive keeps the messages' counts, not the children's.
    assert data[str(archived.pk)]["children_summary"] == ""
    assert data[str(archived.pk)]["archived"] is True
    assert data[str(archived.pk)]["total"] == 4


def test_the_progress_json_speaks_the_admins_language(admin_client, report, students):
    add_rows(report, students(1), ["pending"])

    response = admin_client.get(PROGRESS_URL, {"ids": report.pk}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.json()["reports"][str(report.pk)]["state_label"] == "sending"
    assert response["Content-Type"] == "application/json"


def test_the_progress_json_refuses_bad_ids(admin_client):
    assert admin_client.get(PROGRESS_URL, {"ids": "1,two"}).status_code == 400
    assert (
        admin_client.get(PROGRESS_URL, {"ids": ",".join(map(str, range(501)))}).status_code == 400
    )
    assert admin_client.get(PROGRESS_URL).json() == {"reports": {}}


@pytest.mark.parametrize("odd", ["99999999999999999999999", "²", "-3"])
def test_an_id_no_report_can_have_is_left_out_not_a_server_error(admin_client, report, odd):
    # A number past the ids' range overflowed SQLite's integer (a 500); "²" is no number.
    response = admin_client.get(PROGRESS_URL, {"ids": f"{report.pk},{odd}"})

    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert list(response.json()["reports"]) == [str(report.pk)]


def test_anonymous_and_non_staff_users_get_no_progress(client, django_user_model, report):
    anonymous = client.get(PROGRESS_URL, {"ids": report.pk})
    django_user_model.objects.create_user("ortu", password="pw", is_staff=False)
    client.login(username="ortu", password="pw")
    non_staff = client.get(PROGRESS_URL, {"ids": report.pk})

    for response in (anonymous, non_staff):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_staff_without_the_view_permission_get_403(client, django_user_model, report):
    user = django_user_model.objects.create_user("tamu", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_student"))
    client.force_login(user)

    assert client.get(PROGRESS_URL, {"ids": report.pk}).status_code == 403


def test_a_teacher_who_may_view_reports_gets_the_progress(client, django_user_model, report):
    teacher = django_user_model.objects.create_user("guru", password="pw", is_staff=True)
    teacher.groups.add(Group.objects.get(name="guru"))
    report.classroom.teachers.add(teacher)
    client.force_login(teacher)

    response = client.get(PROGRESS_URL, {"ids": report.pk})

    assert response.status_code == 200
    assert response.json()["reports"][str(report.pk)]["state"] == "not_sent"


def test_a_teacher_gets_no_progress_of_another_class(client, django_user_model, report):
    teacher = django_user_model.objects.create_user("guru", password="pw", is_staff=True)
    teacher.groups.add(Group.objects.get(name="guru"))
    own = MonthlyReport.objects.create(
        classroom=Classroom.objects.create(name="TK B Mawar"), month=11, year=2026
    )
    own.classroom.teachers.add(teacher)
    client.force_login(teacher)

    response = client.get(PROGRESS_URL, {"ids": f"{report.pk},{own.pk}"})

    assert response.status_code == 200
    assert list(response.json()["reports"]) == [str(own.pk)]


# --- Children reached: at least one guardian's message sent -----------------------------------


@pytest.fixture
def two_families(report, make_student, make_guardian):
    """Aisyah: her mother's message sent, her father's failed. Bima: both failed."""
    rows = {}
    for name, statuses in (("Aisyah Putri", ("sent", "failed")), ("Bima Saputra", ("failed",) * 2)):
        child = make_student("0812-3456-7890", name=name, parent_name="Siti")
        ayah = make_guardian(child, "ayah", "0813-1111-2222", name="Budi")
        for guardian, phone, status in zip(
            (child.guardians.get(relation="ibu"), ayah),
            ("6281234567890", "6281311112222"),
            statuses,
            strict=True,
        ):
            rows[(name, guardian.relation)] = guardian_row(
                monthly_report=report,
                student=child,
                guardian=guardian,
                phone_number=phone,
                status=status,
                error_message="" if status == "sent" else "Nomor tidak terdaftar",
            )
    return rows


def test_a_child_is_reached_when_one_guardian_s_message_was_sent(report, two_families):
    progress = broadcast_progress(monthly_report_ids=[report.pk])[report.pk]

    # Four messages, two children; Aisyah reached (her mother's sent), Bima not.
    assert (progress.total, progress.sent, progress.failed) == (4, 1, 3)
    assert (progress.children, progress.children_reached, progress.children_unreached) == (
        2,
        1,
        1,
    )


def test_the_pages_and_the_json_say_children_reached_beside_the_counts(
    admin_client, report, two_families
):
    listed = admin_client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE="id").content.decode()
    page = admin_client.get(
        f"{CHANGELIST}{report.pk}/change/", HTTP_ACCEPT_LANGUAGE="id"
    ).content.decode()
    data = admin_client.get(PROGRESS_URL, {"ids": report.pk}, HTTP_ACCEPT_LANGUAGE="id").json()[
        "reports"
    ][str(report.pk)]

    for html in (listed, page):
        assert 'data-field="children_summary">anak terjangkau: 1 dari 2<' in widget(html, report)
    assert data["children_summary"] == "anak terjangkau: 1 dari 2"
    assert (data["children"], data["children_reached"]) == (2, 1)


def test_the_undelivered_list_names_child_and_guardian(admin_client, report, two_families):
    page = admin_client.get(
        f"{CHANGELIST}{report.pk}/change/", HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()

    table = page.split('class="wa-undelivered"')[1].split("</table>")[0]
    cells = [
        re.sub(r"<[^>]+>", "", row).split()
        for row in re.findall(r"<tr class=\"wa-row-failed\">(.*?)</tr>", table, re.S)
    ]
    named = [" ".join(cell) for cell in cells]
    assert any(n.startswith("Aisyah Putri (N00001) Budi (father)") for n in named)
    assert any(n.startswith("Bima Saputra (N00002) Siti (mother)") for n in named)
    assert any(n.startswith("Bima Saputra (N00002) Budi (father)") for n in named)
    assert len(named) == 3
