"""The report page and its confirmations answer at first sight: who failed, how to send,
and the same counts in the same words on every page (issue 12, §2-5 and §9)."""

import contextlib
import re
from unittest import mock

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import constants, get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext

from broadcasts.exceptions import BroadcastFailed
from broadcasts.models import BroadcastArchive, MonthlyReportBroadcast
from broadcasts.selectors import UNDELIVERED_LIST_LIMIT
from broadcasts.services.sending import broadcast_send
from students.models import Guardian, Student
from tests.broadcast_rows import guardian_row

REPORTS = "/admin/reports/monthlyreport/"
BROADCASTS = "/admin/broadcasts/monthlyreportbroadcast/"
STUDENTS = "/admin/students/student/"


def text_of(html: str) -> str:
    """What the admin reads: tags dropped, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def change_page(client, report) -> str:
    response = client.get(f"{REPORTS}{report.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def undelivered_table(page: str) -> str:
    match = re.search(r'<table class="wa-undelivered">.*?</table>', page, re.S)
    assert match, "no list of the children whose messages failed"
    return match.group(0)


@pytest.fixture
def dispatch():
    with mock.patch("broadcasts.tasks.dispatch_pending_broadcasts.delay") as delay:
        yield delay


@pytest.fixture
def make_row(make_student):
    def make(report, status, *, name=None, phone="0812-3456-7890", error=""):
        return guardian_row(
            monthly_report=report,
            student=make_student(phone, name=name),
            phone_number="6281234567890",
            message="Laporan bulan ini telah tersedia.",
            status=status,
            error_message=error,
        )

    return make


@pytest.fixture
def delivered_in_part(report, make_row):
    """Two sent, one failed (its reason names the number), one unknown, one waiting."""
    return {
        "sent": [make_row(report, "sent", name=n) for n in ("Aisyah Putri", "Bima Saputra")],
        "failed": make_row(
            report, "failed", name="Citra Lestari", error="target invalid: 6281234567890"
        ),
        "unknown": make_row(report, "unknown", name="Dewi Anggraini", error="Fonnte diam"),
        "pending": make_row(report, "pending", name="Eko Prasetyo"),
    }


# --- §2: the report page names who failed ------------------------------------------------------


def test_the_report_page_names_the_children_not_reached_with_reason_and_links(
    admin_client, report, delivered_in_part
):
    failed, unknown = delivered_in_part["failed"], delivered_in_part["unknown"]

    page = change_page(admin_client, report)
    table = undelivered_table(page)
    rows = re.findall(r"<tr class=\"wa-row-(\w+)\">(.*?)</tr>", table, re.S)

    # Failed first (a click resends them), then unknown; the sent and waiting ones not at all.
    assert [(kind, text_of(html)) for kind, html in rows] == [
        (
            "failed",
            # The child, then the guardian with the relation ("Ibu Siti (ibu)").
            f"Citra Lestari ({failed.student.nis}) {failed.guardian} Gagal target invalid: "
            "6281234567890 perbaiki nomornya",
        ),
        (
            "unknown",
            f"Dewi Anggraini ({unknown.student.nis}) {unknown.guardian} Tidak pasti: periksa "
            "sebelum mengirim ulang Fonnte diam perbaiki nomornya",
        ),
    ]
    assert f'href="{BROADCASTS}{failed.pk}/change/"' in rows[0][1]
    assert f'href="{STUDENTS}{failed.student_id}/change/"' in rows[0][1]
    assert f'href="{BROADCASTS}{unknown.pk}/change/"' in rows[1][1]
    assert "dan " not in text_of(table)  # all of them are listed


def test_each_count_links_to_the_broadcast_list_of_that_report_and_status(
    admin_client, report, delivered_in_part
):
    page = change_page(admin_client, report)
    counts = re.search(r'<div class="wa-progress-counts".*?</div>', page, re.S).group(0)
    links = dict(
        (m.group(2), m.group(1).replace("&amp;", "&"))
        for m in re.finditer(r'<a[^>]*href="([^"]+)"[^>]*>[^<]*<b data-count="(\w+)"', counts)
    )

    base = f"{BROADCASTS}?monthly_report__id__exact={report.pk}&"
    assert links == {
        "sent": base + "status__exact=sent",
        "failed": base + "status__exact=failed",
        "in_progress": base + "status__in=sending%2Cretrying",
        "unknown": base + "status__exact=unknown",
        "waiting": base + "status__exact=pending",
    }
    # Each link opens the list with exactly those rows.
    for name, expected in [("failed", 1), ("sent", 2), ("waiting", 1), ("in_progress", 0)]:
        listed = admin_client.get(links[name])
        assert listed.status_code == 200
        assert listed.context["cl"].result_count == expected, name

    # An archived report's rows are gone: its counts link nowhere, and nobody is listed.
    archived = report.__class__.objects.create(classroom=report.classroom, month=1, year=2026)
    BroadcastArchive.objects.create(monthly_report=archived, sent=3, failed=2)
    archived_page = change_page(admin_client, archived)
    assert "status__exact=" not in archived_page and "wa-undelivered" not in archived_page


def test_a_long_list_stops_at_the_limit_and_links_the_rest_in_one_query(
    admin_client, report, make_student
):
    students = Student.objects.bulk_create(
        Student(nis=f"L{i:04d}", full_name=f"Anak {i:03d}", classroom=report.classroom)
        for i in range(UNDELIVERED_LIST_LIMIT + 7)
    )
    guardians = Guardian.objects.bulk_create(
        Guardian(student=student, name="Ibu", relation="ibu", phone="081234567890")
        for student in students
    )

    def queries_for(count):
        MonthlyReportBroadcast.objects.all().delete()
        MonthlyReportBroadcast.objects.bulk_create(
            MonthlyReportBroadcast(
                monthly_report=report,
                student=student,
                guardian=guardian,
                phone_number="1",
                status="failed",
            )
            for student, guardian in zip(students[:count], guardians[:count], strict=True)
        )
        with CaptureQueriesContext(connection) as queries:
            page = change_page(admin_client, report)
        return len(queries), page

    few, _page = queries_for(2)
    many, page = queries_for(UNDELIVERED_LIST_LIMIT + 7)

    assert many == few, f"{few} queries for 2 failed rows, {many} for {UNDELIVERED_LIST_LIMIT + 7}"
    assert undelivered_table(page).count("<tr class=") == UNDELIVERED_LIST_LIMIT
    more = re.search(r'<p class="wa-undelivered-more"><a href="([^"]+)">([^<]+)</a>', page)
    assert more.group(2) == "dan 7 lainnya"
    assert more.group(1).replace("&amp;", "&") == (
        f"{BROADCASTS}?monthly_report__id__exact={report.pk}&status__in=failed%2Cunknown"
    )
    assert admin_client.get(more.group(1).replace("&amp;", "&")).context["cl"].result_count == (
        UNDELIVERED_LIST_LIMIT + 7
    )


def test_a_teacher_sees_who_failed_masked_with_links_they_can_open(
    client, django_user_model, report, delivered_in_part
):
    teacher = django_user_model.objects.create_user("guru", password="pw", is_staff=True)
    teacher.groups.add(Group.objects.get(name="guru"))
    report.classroom.teachers.add(teacher)
    client.force_login(teacher)
    failed = delivered_in_part["failed"]

    page = change_page(client, report)
    table = undelivered_table(page)

    assert "34567890" not in page  # the number in the reason is masked
    assert "target invalid: 62812****7890" in text_of(table)
    # A teacher may look at the row and the student (read-only): "student data", not "fix".
    assert "data siswa" in text_of(table) and "perbaiki nomornya" not in text_of(table)
    for url in (f"{BROADCASTS}{failed.pk}/change/", f"{STUDENTS}{failed.student_id}/change/"):
        assert f'href="{url}"' in table
        assert client.get(url).status_code == 200


def test_staff_who_may_not_open_the_rows_get_no_links_to_them(
    client, django_user_model, report, delivered_in_part
):
    user = django_user_model.objects.create_user("tamu", password="pw", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_monthlyreport", "view_all_classrooms"])
    )
    client.force_login(user)

    page = change_page(client, report)

    assert "Citra Lestari" in undelivered_table(page)
    assert BROADCASTS not in page and STUDENTS not in page


# --- §3: a send button on an unsent report -----------------------------------------------------


def send_form(page):
    return re.search(
        r'<form method="post" action="([^"]+)" class="wa-send-form">(.*?)</form>', page, re.S
    )


def test_an_unsent_report_has_a_send_button_that_opens_the_confirmation(
    admin_client, report, make_student
):
    make_student(name="Aisyah Putri")

    form = send_form(change_page(admin_client, report))

    assert form, "no send button on the page of a report not sent yet"
    assert form.group(1) == REPORTS
    assert 'name="action" value="send_whatsapp_broadcast"' in form.group(2)
    assert f'name="_selected_action" value="{report.pk}"' in form.group(2)
    assert 'value="Kirim notifikasi WhatsApp"' in form.group(2)
    confirmation = admin_client.post(
        REPORTS, {"action": "send_whatsapp_broadcast", "_selected_action": [report.pk]}
    )
    assert confirmation.templates[0].name.endswith("send_whatsapp_confirmation.html")
    assert not MonthlyReportBroadcast.objects.exists()


def test_no_send_button_once_sent_or_for_a_teacher(
    client, admins, django_user_model, classroom, report, make_row
):
    make_row(report, "sent")
    archived = report.__class__.objects.create(classroom=classroom, month=1, year=2026)
    BroadcastArchive.objects.create(monthly_report=archived, sent=1)
    unsent = report.__class__.objects.create(classroom=classroom, month=2, year=2026)
    teacher = django_user_model.objects.get(username="guru")
    teacher.groups.add(Group.objects.get(name="guru"))
    classroom.teachers.add(teacher)

    client.force_login(admins[1])
    assert not send_form(change_page(client, report))
    assert not send_form(change_page(client, archived))
    assert send_form(change_page(client, unsent))
    client.force_login(teacher)
    assert not send_form(change_page(client, unsent))


# --- §4 and §9: the same counts in the same words ---------------------------------------------


@pytest.fixture
def class_with_an_invalid_number(make_student):
    return [
        make_student("0812-3456-7890", name="Aisyah Putri"),
        make_student("+62 813 1111 2222", name="Bima Saputra"),
        make_student("0812", name="Dewi Anggraini"),
    ]


def send(client, report, **extra):
    data = {"action": "send_whatsapp_broadcast", "_selected_action": [report.pk], **extra}
    return client.post(REPORTS, data)


def test_confirmation_banner_and_progress_count_the_same_messages(
    admin_client,
    report,
    class_with_an_invalid_number,
    dispatch,
    outbox,
    django_capture_on_commit_callbacks,
):
    confirmation = text_of(send(admin_client, report).content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        response = send(admin_client, report, post="yes")
    (banner,) = get_messages(response.wsgi_request)
    for row in MonthlyReportBroadcast.objects.order_by("pk"):
        with contextlib.suppress(BroadcastFailed):  # the invalid number: fails, no call
            broadcast_send(broadcast_id=row.pk, monthly_report_id=report.pk)
    listing = text_of(admin_client.get(REPORTS).content.decode())
    page = text_of(change_page(admin_client, report))

    # Three messages, one per parent; the invalid number is one of them, and fails.
    assert (
        "3 anak, 3 nomor WhatsApp: 2 akan dikirim, 1 akan gagal (nomornya bukan nomor seluler "
        "Indonesia yang valid)." in confirmation
    )
    assert str(banner) == (
        f"{report}: 3 anak, 3 nomor WhatsApp: 2 akan dikirim, 1 akan gagal (nomornya bukan nomor "
        "seluler Indonesia yang valid): perbaiki nomor wali di data siswa, lalu kirim ulang "
        "pesan yang gagal."
    )
    # A banner that announces a failure is a warning, not a green success.
    assert banner.level == constants.WARNING
    assert len(outbox) == 2
    for shown in (listing, page):
        assert "selesai dengan kegagalan 2 dari 3 terkirim, 1 gagal" in shown
        assert not re.search(r"\d+ ?%", shown)  # no "100%" beside a failure


def test_a_send_without_failures_is_a_success_banner(
    admin_client, report, make_student, dispatch, django_capture_on_commit_callbacks
):
    make_student(name="Aisyah Putri")

    confirmation = text_of(send(admin_client, report).content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        response = send(admin_client, report, post="yes")

    assert "1 anak, 1 nomor WhatsApp: semuanya akan dikirim." in confirmation
    (banner,) = get_messages(response.wsgi_request)
    assert str(banner) == f"{report}: 1 anak, 1 nomor WhatsApp: semuanya akan dikirim."
    assert banner.level == constants.SUCCESS


def test_the_confirmation_shows_the_invalid_number_once_with_a_link_to_fix_it(
    admin_client, report, class_with_an_invalid_number
):
    dewi = class_with_an_invalid_number[2]
    dewi.guardians.update(phone="0812-999")

    page = send(admin_client, report).content.decode()
    invalid = page.split('class="wa-invalid">')[1].split("</ul>")[0]

    assert text_of(invalid) == f"Dewi Anggraini ({dewi.nis}), Ibu Siti (ibu): 0812-999"
    assert f'href="{STUDENTS}{dewi.pk}/change/"' in invalid
    assert page.count("0812-999") == 1
    # Said once: no second paragraph repeating the count of invalid numbers.
    assert "Akan gagal, nomornya" not in page


def test_the_confirmation_masks_the_invalid_number_for_who_may_not_change_students(
    client, django_user_model, report, class_with_an_invalid_number
):
    sender = django_user_model.objects.create_user("pengirim", password="pw", is_staff=True)
    sender.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_monthlyreport", "send_whatsapp_broadcast", "view_all_classrooms"]
        )
    )
    client.force_login(sender)
    dewi = class_with_an_invalid_number[2]
    # Too long to be valid, long enough to be masked as a number is.
    dewi.guardians.update(phone="0812-3456-7899-1234")

    page = send(client, report).content.decode()
    invalid = page.split('class="wa-invalid">')[1].split("</ul>")[0]

    assert "3456-7899" not in page and "34567899" not in page
    assert text_of(invalid) == f"Dewi Anggraini ({dewi.nis}), Ibu Siti (ibu): 08123****1234"
    assert STUDENTS not in invalid  # no link to a page this sender cannot open


def test_the_decision_comes_before_the_details_on_the_confirmation(
    admin_client, report, class_with_an_invalid_number
):
    page = send(admin_client, report).content.decode()
    content = page.split('id="content"')[1]

    headline = content.index('class="wa-recipients"')
    button = content.index('value="Ya, kirim"')
    assert headline < button < content.index('class="wa-device module"')
    assert button < content.index('class="wa-invalid"') < content.index('class="wa-preview"')


# --- §5: a resend page with nothing to resend --------------------------------------------------


def test_a_report_resend_page_with_nothing_to_resend_says_so_once_and_links_each_child(
    admin_client, report, make_row
):
    invalid = make_row(report, "failed", name="Aisyah Putri", phone="12345")
    no_phone = make_row(report, "failed", name="Bima Saputra", phone="")

    page = admin_client.post(
        REPORTS, {"action": "resend_failed_broadcasts", "_selected_action": [report.pk]}
    ).content.decode()
    text = text_of(page.split('id="content"')[1])

    assert (
        text.count(
            "Belum ada pesan yang bisa dikirim ulang: perbaiki dulu nomor wali murid anak-anak "
            "di bawah ini di data siswa, lalu kirim ulang."
        )
        == 1
    )
    # No count of "0 messages resent", no "if confirmed …" beside a page without a confirm.
    assert "0 pesan" not in text and "Jika dikonfirmasi" not in text
    assert 'value="Ya, kirim ulang"' not in page
    for row in (invalid, no_phone):
        assert f'href="{STUDENTS}{row.student_id}/change/"' in page
    assert (
        f"Aisyah Putri ({invalid.student.nis}), {invalid.guardian}: perbaiki nomornya dulu" in text
    )
    assert (
        f"Bima Saputra ({no_phone.student.nis}), {no_phone.guardian}: tambahkan nomor wali murid"
    ) in text


@pytest.mark.parametrize("action", ["retry_failed", "resend_unknown"])
def test_a_broadcast_resend_page_with_nothing_to_resend_says_so_once_and_links_each_child(
    admin_client, report, make_row, action
):
    status = "failed" if action == "retry_failed" else "unknown"
    row = make_row(report, status, name="Aisyah Putri", phone="12345")

    page = admin_client.post(
        BROADCASTS, {"action": action, "_selected_action": [row.pk]}
    ).content.decode()
    text = text_of(page.split('id="content"')[1])

    assert text.count("Belum ada pesan yang bisa dikirim ulang") == 1
    assert "0 pesan" not in text and "Jika dikonfirmasi" not in text
    assert "Nomornya bukan nomor seluler Indonesia yang valid: 1." in text
    assert f'href="{STUDENTS}{row.student_id}/change/"' in page
    assert '<input type="submit"' not in page.split('id="content"')[1]
    assert MonthlyReportBroadcast.objects.get(pk=row.pk).status == status


def test_a_resend_that_leaves_a_failure_is_a_warning_banner(
    admin_client, report, make_row, dispatch, django_capture_on_commit_callbacks
):
    make_row(report, "failed", name="Aisyah Putri")
    make_row(report, "failed", name="Bima Saputra", phone="12345")  # fails again at once

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            REPORTS,
            {"action": "resend_failed_broadcasts", "_selected_action": [report.pk], "post": "yes"},
        )

    (banner,) = get_messages(response.wsgi_request)
    assert "1 pesan gagal akan dikirim ulang" in str(banner)
    assert "Akan gagal lagi" in str(banner)
    assert banner.level == constants.WARNING
