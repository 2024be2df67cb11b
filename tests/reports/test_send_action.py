"""The admin action: confirmation page first, rows on confirm, never a second message."""

import re
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages

from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast

CHANGELIST = "/admin/reports/monthlyreport/"


def post_action(client, report, **extra):
    data = {"action": "send_whatsapp_broadcast", "_selected_action": [report.pk], **extra}
    return client.post(CHANGELIST, data)


@pytest.fixture
def class_of_four(make_student):
    return [
        make_student("0812-3456-7890", name="Aisyah Putri"),
        make_student("+62 813 1111 2222", name="Bima Saputra"),
        make_student("", name="Citra Lestari"),
        make_student("0812", name="Dewi Anggraini"),
    ]


@pytest.fixture
def dispatch():
    with mock.patch("broadcasts.tasks.dispatch_pending_broadcasts.delay") as delay:
        yield delay


def test_the_confirmation_page_shows_counts_skips_and_a_real_message(
    admin_client, report, class_of_four
):
    response = post_action(admin_client, report)

    assert response.status_code == 200
    assert response.templates[0].name.endswith("send_whatsapp_confirmation.html")
    page = response.content.decode()
    # Dewi's number (0812) is invalid: her message is one of the three, and fails; the
    # list and the banner count her the same way (tests/reports/test_report_page.py).
    assert (
        "3 anak, 3 nomor WhatsApp: 2 akan dikirim, 1 akan gagal (nomornya bukan nomor "
        "seluler Indonesia yang valid)." in page
    )
    assert "Citra Lestari" in page and "tidak ada nomor telepon" in page
    nobody = page.split('class="wa-no-guardian"')[1].split("</ul>")[0]
    assert "Citra Lestari" in nobody and "Aisyah Putri" not in nobody
    invalid = page.split('class="wa-invalid"')[1].split("</ul>")[0]
    assert "Dewi Anggraini" in invalid and "Aisyah Putri" not in invalid
    assert "Laporan bulan *November 2026* telah tersedia" in page
    assert 'name="post" value="yes"' in page
    assert not MonthlyReportBroadcast.objects.exists()


def test_confirming_creates_the_rows_and_hands_them_to_the_workers(
    admin_client, report, class_of_four, dispatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(admin_client, report, post="yes")

    assert response.status_code == 302
    # Three rows, Dewi's invalid number included: it fails at send time, visibly.
    assert MonthlyReportBroadcast.objects.filter(status=BroadcastStatus.PENDING).count() == 3
    dispatch.assert_called_once_with()
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "3 anak, 3 nomor WhatsApp: 2 akan dikirim, 1 akan gagal (nomornya bukan" in message
    assert "1 wali dilewati: tidak ada nomor telepon" in message
    assert "1 anak tidak punya wali yang dapat menerima pesan" in message


def test_running_the_action_again_sends_nobody_a_second_message(
    admin_client, report, class_of_four, dispatch
):
    post_action(admin_client, report, post="yes")
    MonthlyReportBroadcast.objects.filter(student=class_of_four[0]).update(
        status=BroadcastStatus.SENT
    )

    confirm_page = post_action(admin_client, report).content.decode()
    response = post_action(admin_client, report, post="yes")

    assert "Tidak ada pesan baru untuk dikirim." in confirm_page
    # In the words of the progress ("menunggu", "dalam proses"): the two rows not sent yet.
    assert "1 terkirim, 2 menunggu atau dalam proses, 0 gagal atau tidak pasti" in confirm_page
    assert MonthlyReportBroadcast.objects.count() == 3
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Tidak ada pesan baru untuk dikirim." in message
    assert "1 pesan sudah terkirim dan tidak dikirim lagi" in message
    assert "2 pesan sebelumnya masih menunggu atau dalam proses" in message


def test_staff_without_the_send_permission_cannot_run_the_action(
    client, django_user_model, report, class_of_four, dispatch
):
    teacher = django_user_model.objects.create_user("guru", password="pw", is_staff=True)
    teacher.user_permissions.add(Permission.objects.get(codename="view_monthlyreport"))
    client.force_login(teacher)

    page = client.get(CHANGELIST).content.decode()
    response = post_action(client, report, post="yes")

    assert "send_whatsapp_broadcast" not in page
    assert not MonthlyReportBroadcast.objects.exists()
    assert response.status_code in (200, 302)
    dispatch.assert_not_called()


def test_the_report_list_shows_delivery_counts_from_the_rows(admin_client, report, make_student):
    for status in ["sent", "sent", "failed", "pending"]:
        MonthlyReportBroadcast.objects.create(
            monthly_report=report, student=make_student(), phone_number="62812", status=status
        )
    page = admin_client.get(CHANGELIST).content.decode()
    assert "2 dari 4 terkirim, 1 gagal" in page


def test_an_archived_report_shows_why_it_cannot_be_sent_and_creates_nothing(
    admin_client, report, class_of_four, dispatch
):
    from broadcasts.models import BroadcastArchive

    BroadcastArchive.objects.create(monthly_report=report, sent=3, failed=1)

    page = post_action(admin_client, report).content.decode()
    response = post_action(admin_client, report, post="yes")
    listing = admin_client.get(CHANGELIST).content.decode()

    assert "tidak dapat dikirim lagi" in page
    assert "nomor WhatsApp:" not in page
    assert not MonthlyReportBroadcast.objects.exists()
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "diarsipkan" in message
    assert "diarsipkan: 3 dari 4 terkirim" in listing


def test_who_sent_and_when_is_kept_in_the_reports_history(
    admin_client, admin_user, report, class_of_four, dispatch
):
    from django.contrib.admin.models import LogEntry

    post_action(admin_client, report, post="yes")

    entry = LogEntry.objects.get(object_id=str(report.pk))
    assert entry.user == admin_user
    assert "2 akan dikirim, 1 akan gagal" in entry.get_change_message()
    history = admin_client.get(f"/admin/reports/monthlyreport/{report.pk}/history/")
    assert "2 akan dikirim, 1 akan gagal" in history.content.decode()


def test_a_class_with_only_invalid_numbers_receives_nothing_and_is_told_so(
    admin_client, report, make_student, dispatch, django_capture_on_commit_callbacks
):
    make_student("0812", name="Dewi Anggraini")
    make_student("12345", name="Eko Prasetyo")

    page = post_action(admin_client, report).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(admin_client, report, post="yes")

    assert "2 anak, 2 nomor WhatsApp: 0 akan dikirim, 2 akan gagal" in page
    assert MonthlyReportBroadcast.objects.count() == 2  # rows kept: the admins hear of them
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "2 anak, 2 nomor WhatsApp: 0 akan dikirim, 2 akan gagal" in message


# --- A sent report keeps its class and period ------------------------------------------------


def change_report(client, report, **changes):
    data = {
        "classroom": report.classroom_id,
        "month": report.month,
        "year": report.year,
        **changes,
    }
    return client.post(f"{CHANGELIST}{report.pk}/change/", data)


def test_class_and_period_are_editable_before_anything_was_sent(admin_client, report):
    response = change_report(admin_client, report, month=10)

    assert response.status_code == 302
    report.refresh_from_db()
    assert report.month == 10


def test_class_and_period_are_read_only_once_the_report_has_messages(
    admin_client, report, class_of_four, dispatch
):
    from students.models import Classroom

    post_action(admin_client, report, post="yes")
    other = Classroom.objects.create(name="TK B Mawar")

    page = admin_client.get(f"{CHANGELIST}{report.pk}/change/").content.decode()
    change_report(admin_client, report, classroom=other.pk, month=10, year=2027)

    assert 'name="month"' not in page and 'name="classroom"' not in page
    report.refresh_from_db()
    assert (report.classroom_id, report.month, report.year) == (
        class_of_four[0].classroom_id,
        11,
        2026,
    )


def test_an_archived_report_keeps_its_class_and_period_too(admin_client, report):
    from broadcasts.models import BroadcastArchive

    BroadcastArchive.objects.create(monthly_report=report, sent=3)

    change_report(admin_client, report, month=10)

    report.refresh_from_db()
    assert report.month == 11


# --- A sent report stays: deleting it would let it be sent again -------------------------------


def delete_on_the_change_page(client, report):
    return client.post(f"{CHANGELIST}{report.pk}/delete/", {"post": "yes"})


def delete_selected(client, report):
    return client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [report.pk], "post": "yes"}
    )


@pytest.mark.parametrize("delete", [delete_on_the_change_page, delete_selected])
def test_an_admin_cannot_delete_a_report_whose_messages_were_made(
    client, admins, report, class_of_four, dispatch, delete
):
    from django.contrib.auth.models import Group

    from broadcasts.models import BroadcastArchive
    from reports.models import MonthlyReport

    group_admin = admins[1]
    assert group_admin.groups.get() == Group.objects.get(name="admin")
    client.force_login(group_admin)
    post_action(client, report, post="yes")
    rows = set(MonthlyReportBroadcast.objects.values_list("pk", flat=True))
    assert len(rows) == 3
    archived = MonthlyReport.objects.create(classroom=report.classroom, month=10, year=2026)
    BroadcastArchive.objects.create(monthly_report=archived, sent=3)

    response = delete(client, report)
    archived_response = delete(client, archived)

    for page, obj in ((response, report), (archived_response, archived)):
        assert page.status_code == 200  # Django's "cannot delete" page, nothing deleted
        assert page.context["protected"] == [
            f"{obj}: pesan WhatsApp ke orang tua sudah dibuat untuk laporan ini. Catatan siapa "
            "saja yang sudah diberi tahu harus tetap ada, jadi laporan ini tidak bisa dihapus."
        ]
        assert 'name="post"' not in page.content.decode()  # no confirm button
    assert MonthlyReport.objects.filter(pk__in=[report.pk, archived.pk]).count() == 2
    assert (
        set(
            MonthlyReportBroadcast.objects.filter(monthly_report=report).values_list(
                "pk", flat=True
            )
        )
        == rows
    )
    assert BroadcastArchive.objects.filter(monthly_report=archived).exists()


@pytest.mark.parametrize("delete", [delete_on_the_change_page, delete_selected])
def test_an_admin_can_delete_a_report_with_no_messages(client, admins, report, delete):
    from reports.models import MonthlyReport

    client.force_login(admins[1])

    response = delete(client, report)

    assert response.status_code == 302
    assert not MonthlyReport.objects.filter(pk=report.pk).exists()


def test_the_history_is_in_the_schools_language_whatever_the_senders(
    client, admins, report, class_of_four, dispatch
):
    from django.contrib.admin.models import LogEntry

    client.force_login(admins[1])

    response = client.post(
        CHANGELIST,
        {"action": "send_whatsapp_broadcast", "_selected_action": [report.pk], "post": "yes"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    # The sender reads English.
    assert f"{report}: 3 children, 3 WhatsApp numbers: 2 will be sent, 1 will fail" in message
    entry = LogEntry.objects.get(object_id=str(report.pk))
    assert entry.get_change_message().startswith(
        f"{report}: 3 anak, 3 nomor WhatsApp: 2 akan dikirim, 1 akan gagal (nomornya bukan nomor "
        "seluler Indonesia yang valid)"
    )


def save_buttons(page):
    return sorted(set(re.findall(r'name="(_save|_continue|_addanother)"', page)))


def test_save_buttons_only_where_something_can_be_edited(
    client, django_user_model, admins, report, make_student, dispatch
):
    from django.contrib.auth.models import Group

    from reports.models import MonthlyReport

    unsent = MonthlyReport.objects.create(classroom=report.classroom, month=12, year=2026)
    make_student()
    client.force_login(admins[1])
    post_action(client, report, post="yes")

    def buttons(obj):
        return save_buttons(client.get(f"{CHANGELIST}{obj.pk}/change/").content.decode())

    assert buttons(unsent) == ["_addanother", "_continue", "_save"]
    assert buttons(report) == []  # class and period are read-only once sent
    teacher = django_user_model.objects.get(username="guru")
    teacher.groups.add(Group.objects.get(name="guru"))
    unsent.classroom.teachers.add(teacher)  # else the page is "not found" for them
    client.force_login(teacher)
    assert buttons(unsent) == []


# --- Guardians: children and numbers, each guardian left out named -----------------------------


def text_of(html: str) -> str:
    """What the admin reads: tags dropped, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def section(page: str, css_class: str) -> str:
    return text_of(page.split(f'class="{css_class}">')[1].split("</ul>")[0])


@pytest.fixture
def class_with_guardians(make_student, make_guardian):
    """Four children: two numbers, a shared number, nobody reachable, an invalid number."""
    from students.models import Guardian

    aisyah = make_student("0812-3456-7890", name="Aisyah Putri", parent_name="Ibu Rahma")
    make_guardian(aisyah, "ayah", "0813-1111-2222", name="Pak Yusuf")
    bima = make_student("0812-5555-6666", name="Bima Saputra", parent_name="Ibu Wati")
    make_guardian(bima, "ayah", "0812-5555-6666", name="Pak Dedi")  # shares the mother's
    citra = make_student("", name="Citra Lestari", parent_name="Ibu Sari", relation="ibu")
    make_guardian(citra, "ayah", "0813-7777-8888", name="Pak Joko", receives_messages=False)
    wali = make_guardian(citra, "wali", "0813-9999-0000", name="Nenek Ijah")
    Guardian.objects.filter(pk=wali.pk).update(whatsapp_registered=False)
    dewi = make_student("0812", name="Dewi Anggraini", parent_name="Ibu Lina")
    return aisyah, bima, citra, dewi


def test_the_confirmation_counts_children_and_numbers_and_names_each_guardian_left_out(
    admin_client, report, class_with_guardians
):
    from broadcasts.models import MessageTemplate

    _aisyah, _bima, citra, dewi = class_with_guardians
    MessageTemplate.objects.update_or_create(
        pk=MessageTemplate.SCHOOL_PK,
        defaults={"text": "Yth. Bapak/Ibu {nama_wali}: laporan {nama_siswa} siap."},
    )

    page = post_action(admin_client, report).content.decode()
    text = text_of(page)

    # Aisyah: two numbers; Bima: one (shared); Dewi: one, invalid; Citra: nobody.
    assert (
        "3 anak, 4 nomor WhatsApp: 3 akan dikirim, 1 akan gagal (nomornya bukan nomor seluler "
        "Indonesia yang valid)." in text
    )
    assert (
        "1 wali berbagi nomor dengan wali lain dari anak yang sama: satu pesan per nomor." in text
    )
    assert section(page, "wa-no-guardian") == f"Citra Lestari ({citra.nis})"
    assert section(page, "wa-skipped") == (
        f"Citra Lestari ({citra.nis}), Ibu Sari (ibu): tidak ada nomor telepon"
    )
    assert section(page, "wa-opted-out") == (
        f"Citra Lestari ({citra.nis}), Pak Joko (ayah): tidak menerima pesan"
    )
    assert section(page, "wa-not-on-whatsapp") == (
        f"Citra Lestari ({citra.nis}), Nenek Ijah (wali): tidak ada di WhatsApp"
    )
    assert section(page, "wa-invalid") == f"Dewi Anggraini ({dewi.nis}), Ibu Lina (ibu): 0812"
    # The sample is one guardian's message, naming that guardian.
    assert "Pesan seperti yang akan dibaca Ibu Rahma (ibu), wali murid Aisyah Putri:" in text
    assert "Yth. Ibu Rahma: laporan Aisyah Putri siap." in text
    assert not MonthlyReportBroadcast.objects.exists()


def test_the_banner_says_the_confirmations_counts_in_the_same_words(
    admin_client, report, class_with_guardians, dispatch
):
    from django.contrib.messages import constants

    confirmation = text_of(post_action(admin_client, report).content.decode())
    response = post_action(admin_client, report, post="yes")

    (banner,) = get_messages(response.wsgi_request)
    headline = "3 anak, 4 nomor WhatsApp: 3 akan dikirim, 1 akan gagal"
    assert headline in confirmation and headline in str(banner)
    assert str(banner) == (
        f"{report}: {headline} (nomornya bukan nomor seluler Indonesia yang valid): perbaiki "
        "nomor wali di data siswa, lalu kirim ulang pesan yang gagal. "
        "1 anak tidak punya wali yang dapat menerima pesan. "
        "1 wali berbagi nomor dengan wali lain dari anak yang sama: satu pesan per nomor. "
        "1 wali dilewati: tidak ada nomor telepon. "
        "1 wali dilewati: nomornya tidak ada di WhatsApp. "
        "1 wali dilewati: tidak menerima pesan."
    )
    assert banner.level == constants.WARNING
    assert MonthlyReportBroadcast.objects.count() == 4
    assert MonthlyReportBroadcast.objects.values("student").distinct().count() == 3


def test_twins_with_one_guardian_number_are_two_children_and_two_messages(
    admin_client, report, make_student, dispatch
):
    ani = make_student("0812-3456-7890", name="Ani Kembar")
    ana = make_student("0812-3456-7890", name="Ana Kembar")

    page = text_of(post_action(admin_client, report).content.decode())
    response = post_action(admin_client, report, post="yes")

    assert "2 anak, 2 nomor WhatsApp: semuanya akan dikirim." in page
    assert "berbagi nomor" not in page  # one number, but two children: not shared
    (banner,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert banner == f"{report}: 2 anak, 2 nomor WhatsApp: semuanya akan dikirim."
    rows = MonthlyReportBroadcast.objects.order_by("student__full_name")
    assert [(row.student, row.phone_number) for row in rows] == [
        (ana, "6281234567890"),
        (ani, "6281234567890"),
    ]
    assert "*Ana Kembar*" in rows[0].message and "*Ani Kembar*" in rows[1].message


def test_a_shared_number_is_one_message_on_the_page_and_in_the_database(
    admin_client, report, make_student, make_guardian, dispatch
):
    child = make_student("0812-3456-7890", name="Ani")
    make_guardian(child, "ayah", "0812-3456-7890")
    make_guardian(child, "wali", "0812 3456 7890")

    page = text_of(post_action(admin_client, report).content.decode())
    response = post_action(admin_client, report, post="yes")

    assert "1 anak, 1 nomor WhatsApp: semuanya akan dikirim." in page
    assert (
        "2 wali berbagi nomor dengan wali lain dari anak yang sama: satu pesan per nomor." in page
    )
    (banner,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert banner == (
        f"{report}: 1 anak, 1 nomor WhatsApp: semuanya akan dikirim. 2 wali berbagi nomor "
        "dengan wali lain dari anak yang sama: satu pesan per nomor."
    )
    assert MonthlyReportBroadcast.objects.get().phone_number == "6281234567890"


def test_long_lists_are_cut_with_and_n_more(admin_client, report, make_student):
    for i in range(23):
        make_student("", name=f"Anak {i:02d}")

    page = post_action(admin_client, report).content.decode()

    nobody = section(page, "wa-no-guardian")
    assert nobody.count("Anak ") == 20 and nobody.endswith("dan 3 lainnya")
    skipped = section(page, "wa-skipped")
    assert skipped.count("tidak ada nomor telepon") == 20 and skipped.endswith("dan 3 lainnya")


def test_the_invalid_number_is_masked_for_a_sender_who_may_not_see_full_numbers(
    client, django_user_model, report, make_student, make_guardian
):
    sender = django_user_model.objects.create_user("pengirim", password="pw", is_staff=True)
    sender.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_monthlyreport", "send_whatsapp_broadcast", "view_all_classrooms"]
        )
    )
    client.force_login(sender)
    # Too long to be valid, long enough to be masked as a number is.
    dewi = make_student("0812-3456-7899-1234", name="Dewi Anggraini", parent_name="Ibu Lina")
    make_guardian(dewi, "ayah", "", name="Pak Tono")

    page = post_action(client, report).content.decode()

    assert "3456-7899" not in page and "34567899" not in page
    assert (
        section(page, "wa-invalid") == f"Dewi Anggraini ({dewi.nis}), Ibu Lina (ibu): 08123****1234"
    )
    assert "/admin/students/student/" not in page  # no link to a page they cannot open


def test_an_admin_sees_the_invalid_number_once_with_a_link_to_the_child(
    admin_client, report, make_student
):
    dewi = make_student("0812-999", name="Dewi Anggraini", parent_name="Ibu Lina")

    page = post_action(admin_client, report).content.decode()

    invalid = page.split('class="wa-invalid">')[1].split("</ul>")[0]
    assert text_of(invalid) == f"Dewi Anggraini ({dewi.nis}), Ibu Lina (ibu): 0812-999"
    assert f'href="/admin/students/student/{dewi.pk}/change/"' in invalid
    assert page.count("0812-999") == 1


def test_several_reports_each_get_their_own_counts_on_the_page_and_in_the_banner(
    admin_client, report, make_student, make_guardian, classroom, dispatch
):
    from reports.models import MonthlyReport
    from students.models import Classroom

    child = make_student(name="Ani")
    make_guardian(child, "ayah", "0813-1111-2222")
    other_class = Classroom.objects.create(name="TK B Mawar")
    make_student("0814-2222-3333", name="Budi", classroom=other_class)
    other = MonthlyReport.objects.create(classroom=other_class, month=11, year=2026)
    selected = {"_selected_action": [report.pk, other.pk]}

    page = text_of(
        admin_client.post(
            CHANGELIST, {"action": "send_whatsapp_broadcast", **selected}
        ).content.decode()
    )
    response = admin_client.post(
        CHANGELIST, {"action": "send_whatsapp_broadcast", "post": "yes", **selected}
    )

    assert f"{report}: 1 anak, 2 nomor WhatsApp: semuanya akan dikirim." in page
    assert f"{other}: 1 anak, 1 nomor WhatsApp: semuanya akan dikirim." in page
    banners = sorted(str(m) for m in get_messages(response.wsgi_request))
    assert banners == sorted(
        [
            f"{report}: 1 anak, 2 nomor WhatsApp: semuanya akan dikirim.",
            f"{other}: 1 anak, 1 nomor WhatsApp: semuanya akan dikirim.",
        ]
    )


def test_the_confirm_steps_query_count_is_flat_in_children_and_guardians(
    admin_client, report, make_student, make_guardian, classroom, dispatch
):
    """The page and the click: the same queries for 3 children as for 40 with two guardians."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(children):
        MonthlyReportBroadcast.objects.all().delete()
        classroom.students.all().delete()
        for i in range(children):
            student = make_student(f"0812-0000-{i:04d}")
            make_guardian(student, "ayah", f"0813-0000-{i:04d}")
            make_guardian(student, "wali", "", name=f"Wali {i}")  # left out: no number
        with CaptureQueriesContext(connection) as page:
            assert post_action(admin_client, report).status_code == 200
        with CaptureQueriesContext(connection) as click:
            post_action(admin_client, report, post="yes")
        assert MonthlyReportBroadcast.objects.count() == 2 * children
        inserts = [q for q in click.captured_queries if q["sql"].startswith("INSERT")]
        return len(page.captured_queries), len(click.captured_queries) - len(inserts)

    assert queries(3) == queries(40)


def test_a_guardian_renumbered_since_messaged_is_named_not_messaged_again(
    admin_client, report, make_student, make_guardian, dispatch
):
    """One message per guardian and report (the database's rule): the page says so."""
    ani = make_student(name="Ani Renumbered", parent_name="Ibu Rina")
    father = make_guardian(ani, "ayah", "0813-1111-2222", name="Pak Joko")
    post_action(admin_client, report, post="yes")
    mother = ani.guardians.get(relation="ibu")
    mother.phone = "0856-4444-5555"  # corrected after her message was sent
    mother.save()
    father.phone = "+62 813 1111 2222"  # the same number, written otherwise
    father.save()

    page = post_action(admin_client, report).content.decode()

    assert "Tidak ada pesan baru untuk dikirim." in page
    renumbered = page.split('class="wa-renumbered"')[1].split("</ul>")[0]
    assert "Ani Renumbered" in renumbered and "Ibu Rina" in renumbered
    assert "Pak Joko" not in renumbered
    assert "0856" not in page
    post_action(admin_client, report, post="yes")
    assert MonthlyReportBroadcast.objects.count() == 2


def test_a_confirmation_listing_every_kind_of_guardian_has_a_flat_query_count(
    admin_client, admin_user, report, make_student, make_guardian, classroom, dispatch
):
    """Sent before, renumbered since, left out for each reason, invalid, without a file,
    nobody to tell: the page's queries are the same for 2 children of each kind as for 15."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.conftest import store_report_file

    def queries(n):
        MonthlyReportBroadcast.objects.all().delete()
        classroom.students.all().delete()
        renumbered = []
        for i in range(n):
            sent = make_student(f"0812-0001-{i:04d}", name=f"Sent {i}")
            renumbered.append(sent.guardians.get())
            store_report_file(report, sent, user=admin_user)
            nobody = make_student("", name=f"Nobody {i}")
            checked = make_guardian(nobody, "ayah", f"0813-0002-{i:04d}")
            type(checked).objects.filter(pk=checked.pk).update(whatsapp_registered=False)
            make_guardian(nobody, "wali", f"0813-0003-{i:04d}", receives_messages=False)
        post_action(admin_client, report, post="yes", without_file="send")
        for guardian in renumbered:
            guardian.phone = guardian.phone.replace("0001", "0009")
            guardian.save()
        for i in range(n):
            make_student("0812", name=f"Invalid {i}")
            make_student(f"0812-0004-{i:04d}", name=f"Waiting {i}")
        with CaptureQueriesContext(connection) as page:
            html = post_action(admin_client, report).content.decode()
        assert html.count("Sent ") >= min(n, 20) and "Nobody 0" in html
        assert "wa-renumbered" in html and "wa-not-on-whatsapp" in html
        assert "wa-opted-out" in html and "wa-invalid" in html and "wa-no-guardian" in html
        return len(page.captured_queries)

    assert queries(2) == queries(15)
