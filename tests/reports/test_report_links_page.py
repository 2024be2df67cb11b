"""The report's list and page: "dibuka: n dari m", the follow-up list, revoking a report's
links after a confirmation, and the live JSON's opened count."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from broadcasts.links import new_link_token
from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast
from broadcasts.selectors import FOLLOW_UP_LIST_LIMIT

CHANGELIST = "/admin/reports/monthlyreport/"
PROGRESS_URL = "/admin/reports/monthlyreport/progress/"


def make_row(report, student, *, link=True, **fields):
    now = timezone.now()
    fields.setdefault("guardian", student.guardians.first())
    return MonthlyReportBroadcast.objects.create(
        monthly_report=report,
        student=student,
        phone_number=fields.pop("phone_number", "6281234567890"),
        status=fields.pop("status", BroadcastStatus.SENT),
        sent_at=fields.pop("sent_at", now),
        link_token=new_link_token() if link else None,
        link_created_at=now if link else None,
        **fields,
    )


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("kepala", "k@example.com", "pw")


@pytest.fixture
def guru(django_user_model, report):
    user = django_user_model.objects.create_user("guru", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="guru"))
    report.classroom.teachers.add(user)
    return user


def test_the_list_and_page_show_opened_of_sent_only_with_links(
    client, superuser, report, make_student, classroom
):
    from reports.models import MonthlyReport

    make_row(report, make_student(), opened_at=timezone.now(), open_count=2)
    make_row(report, make_student())
    make_row(report, make_student())
    plain = MonthlyReport.objects.create(classroom=classroom, month=10, year=2026)
    make_row(plain, make_student(), link=False)
    client.force_login(superuser)

    listing = client.get(CHANGELIST).content.decode()
    page = client.get(f"{CHANGELIST}{report.pk}/change/").content.decode()
    plain_page = client.get(f"{CHANGELIST}{plain.pk}/change/").content.decode()

    assert listing.count("dibuka: 1 dari 3") == 1
    assert "dibuka: 1 dari 3" in page
    assert "file_opened=opened" in page  # the count opens the filtered broadcast list
    assert "dibuka:" not in plain_page


def test_the_progress_json_carries_the_opened_count(client, superuser, report, make_student):
    row = make_row(report, make_student())
    make_row(report, make_student())
    client.force_login(superuser)

    def opened():
        data = client.get(PROGRESS_URL, {"ids": report.pk}).json()["reports"][str(report.pk)]
        return data["opened"], data["with_link"], data["opened_summary"]

    assert opened() == (0, 2, "dibuka: 0 dari 2")
    MonthlyReportBroadcast.objects.filter(pk=row.pk).update(opened_at=timezone.now())
    assert opened() == (1, 2, "dibuka: 1 dari 2")


def test_opened_counts_only_sent_messages_alike_on_list_page_json_and_filter(
    client, superuser, report, make_student
):
    # A message whose outcome is unknown may reach the parent, who opens it; and one being
    # resent keeps its earlier opening. "n of those sent" never counts them: else the
    # pages would say "opened: 2 of 1", and the live update stop while some parent sent
    # the message has not opened it.
    make_row(report, make_student(name="Sudah Buka"), opened_at=timezone.now(), open_count=1)
    make_row(report, make_student(name="Belum Buka"))
    make_row(
        report,
        make_student(name="Tak Pasti"),
        status=BroadcastStatus.UNKNOWN,
        opened_at=timezone.now(),
        open_count=1,
    )
    make_row(
        report,
        make_student(name="Dikirim Ulang"),
        status=BroadcastStatus.PENDING,
        sent_at=None,
        opened_at=timezone.now(),
        open_count=3,
    )
    client.force_login(superuser)

    listing = client.get(CHANGELIST).content.decode()
    page = client.get(f"{CHANGELIST}{report.pk}/change/").content.decode()
    data = client.get(PROGRESS_URL, {"ids": report.pk}).json()["reports"][str(report.pk)]
    filtered = client.get(
        "/admin/broadcasts/monthlyreportbroadcast/",
        {"monthly_report__id__exact": report.pk, "file_opened": "opened"},
    )

    assert "dibuka: 1 dari 2" in listing
    assert "dibuka: 1 dari 2" in page
    assert (data["opened"], data["sent"], data["opened_summary"]) == (1, 2, "dibuka: 1 dari 2")
    assert [row.student.full_name for row in filtered.context["cl"].result_list] == ["Sudah Buka"]
    assert 'data-all-opened=""' in page  # Belum Buka has not opened it: keep polling


def test_the_pages_stop_asking_once_no_sent_link_is_left_to_open(
    client, superuser, report, make_student, settings
):
    # Sent without a link (the admin chose to), revoked, expired: none of them will be
    # opened, so the report list stops polling although "opened" stays below "sent".
    long_ago = timezone.now() - timedelta(days=settings.REPORT_LINK_DAYS + 1)
    make_row(report, make_student(), opened_at=timezone.now(), open_count=1)
    make_row(report, make_student(), link=False)
    make_row(report, make_student(), link_revoked_at=timezone.now())
    expired = make_row(report, make_student())
    MonthlyReportBroadcast.objects.filter(pk=expired.pk).update(link_created_at=long_ago)
    waiting = make_row(report, make_student(), status=BroadcastStatus.PENDING, sent_at=None)
    client.force_login(superuser)

    def asked():
        page = client.get(CHANGELIST).content.decode()
        data = client.get(PROGRESS_URL, {"ids": report.pk}).json()["reports"][str(report.pk)]
        return data["opened_summary"], data["awaiting_open"], 'data-all-opened="1"' in page

    assert asked() == ("dibuka: 1 dari 4", 0, True)
    # Its message goes out with a live link: there is something to watch again.
    MonthlyReportBroadcast.objects.filter(pk=waiting.pk).update(
        status=BroadcastStatus.SENT, sent_at=timezone.now()
    )
    assert asked() == ("dibuka: 1 dari 5", 1, False)


def test_the_follow_up_list_names_children_not_opened_after_n_days(
    client, superuser, report, make_student, settings
):
    settings.REPORT_FOLLOW_UP_DAYS = 3
    now = timezone.now()
    due = make_row(report, make_student(name="Ahmad Telat"), sent_at=now - timedelta(days=4))
    make_row(report, make_student(name="Budi Baru"), sent_at=now - timedelta(days=2))
    make_row(
        report,
        make_student(name="Cici Sudah"),
        sent_at=now - timedelta(days=4),
        opened_at=now,
        open_count=1,
    )
    client.force_login(superuser)

    page = client.get(f"{CHANGELIST}{report.pk}/change/").content.decode()

    assert "Belum dibuka setelah 3 hari" in page
    follow_up = page.split('class="wa-follow-up"')[1].split("</table>")[0]
    assert "Ahmad Telat" in follow_up
    assert "Budi Baru" not in follow_up and "Cici Sudah" not in follow_up
    assert f"/admin/students/student/{due.student.pk}/change/" in follow_up
    assert f"/admin/broadcasts/monthlyreportbroadcast/{due.pk}/change/" in follow_up


def test_the_follow_up_list_names_each_guardian_of_a_child(
    client, superuser, report, make_student, make_guardian, settings
):
    """Two guardians of one child, neither opened: two lines, each naming its guardian."""
    settings.REPORT_FOLLOW_UP_DAYS = 3
    old = timezone.now() - timedelta(days=4)
    child = make_student(name="Ahmad Telat", parent_name="Siti")
    ayah = make_guardian(child, "ayah", name="Budi")
    make_row(report, child, sent_at=old)
    make_row(report, child, guardian=ayah, phone_number="6281311112222", sent_at=old)
    client.force_login(superuser)

    page = client.get(f"{CHANGELIST}{report.pk}/change/", HTTP_ACCEPT_LANGUAGE="en")

    follow_up = page.content.decode().split('class="wa-follow-up"')[1].split("</table>")[0]
    assert re.findall(r'<td class="wa-guardian">([^<]*)</td>', follow_up) == [
        "Siti (mother)",
        "Budi (father)",
    ]


def test_a_long_follow_up_list_stops_with_a_link_to_the_rest(
    client, superuser, report, make_student
):
    old = timezone.now() - timedelta(days=10)
    for _ in range(FOLLOW_UP_LIST_LIMIT + 2):
        make_row(report, make_student(), sent_at=old)
    client.force_login(superuser)

    page = client.get(f"{CHANGELIST}{report.pk}/change/").content.decode()

    follow_up = page.split('class="wa-follow-up"')[1].split("</table>")[0]
    assert follow_up.count("<tr>") == FOLLOW_UP_LIST_LIMIT + 1  # with the heading's row
    assert "dan 2 lainnya" in page
    assert "file_opened=follow_up" in page


def test_nothing_to_follow_up_shows_no_list(client, superuser, report, make_student):
    make_row(report, make_student())  # sent now
    client.force_login(superuser)
    page = client.get(f"{CHANGELIST}{report.pk}/change/").content.decode()
    assert 'class="wa-follow-up"' not in page and "Belum dibuka setelah" not in page


def test_revoking_a_report_confirms_with_the_count_then_revokes(
    client, superuser, report, make_student
):
    rows = [make_row(report, make_student()) for _ in range(3)]
    make_row(report, make_student(), link_revoked_at=timezone.now())
    url = f"{CHANGELIST}{report.pk}/revoke-links/"
    client.force_login(superuser)

    page = client.get(f"{CHANGELIST}{report.pk}/change/").content.decode()
    assert f'href="{url}"' in page
    confirmation = client.get(url)
    assert confirmation.status_code == 200
    assert (
        "Tautan 3 orang tua ke laporan ini akan berhenti berlaku" in confirmation.content.decode()
    )
    assert not MonthlyReportBroadcast.objects.filter(
        pk__in=[row.pk for row in rows], link_revoked_at__isnull=False
    ).exists()

    response = client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert response["Location"] == f"{CHANGELIST}{report.pk}/change/"
    assert (
        MonthlyReportBroadcast.objects.filter(
            pk__in=[row.pk for row in rows], link_revoked_at__isnull=False
        ).count()
        == 3
    )
    after = client.get(url).content.decode()
    assert "Tidak ada tautan aktif ke laporan ini" in after


def test_a_teacher_sees_opened_but_cannot_revoke(client, guru, report, make_student):
    row = make_row(report, make_student(), opened_at=timezone.now(), open_count=1)
    make_row(report, make_student(), sent_at=timezone.now() - timedelta(days=9))
    url = f"{CHANGELIST}{report.pk}/revoke-links/"
    client.force_login(guru)

    page = client.get(f"{CHANGELIST}{report.pk}/change/").content.decode()

    assert "dibuka: 1 dari 2" in page
    assert "Belum dibuka setelah" in page
    assert url not in page
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    row.refresh_from_db()
    assert row.link_revoked_at is None


def test_the_report_pages_queries_do_not_grow_with_rows(client, superuser, report, make_student):
    client.force_login(superuser)
    old = timezone.now() - timedelta(days=9)
    make_row(report, make_student(), sent_at=old)
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as ctx:
            client.get(CHANGELIST)
        listing = len(ctx.captured_queries)
        with CaptureQueriesContext(connection) as ctx:
            client.get(f"{CHANGELIST}{report.pk}/change/")
        counts.append((listing, len(ctx.captured_queries)))
        for i in range(12):
            make_row(report, make_student(), sent_at=old, opened_at=old if i % 2 else None)
    assert counts[0] == counts[1]
