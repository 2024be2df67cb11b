"""The confirmation's choice when a report has files: wait for the missing files (the
default) or send the old message to the children without one; counts agree with the rows."""

from unittest import mock

import pytest
from django.contrib.messages import get_messages

from broadcasts.models import MonthlyReportBroadcast
from broadcasts.selectors import broadcast_plan
from broadcasts.services import WithoutFile, broadcast_create_for_report
from tests.conftest import store_report_file

CHANGELIST = "/admin/reports/monthlyreport/"


def post_action(client, report, **extra):
    data = {"action": "send_whatsapp_broadcast", "_selected_action": [report.pk], **extra}
    return client.post(CHANGELIST, data)


@pytest.fixture
def dispatch():
    with mock.patch("broadcasts.tasks.dispatch_pending_broadcasts.delay") as delay:
        yield delay


@pytest.fixture
def class_with_files(report, make_student, admin_user):
    """Five children: two with a file, one of those without a number; three without a file,
    one of those with an invalid number."""
    with_file = [make_student(name="Aisyah Berkas"), make_student("", name="Bima Tanpa Nomor")]
    without = [
        make_student(name="Citra Belum"),
        make_student(name="Dewi Belum"),
        make_student("0812", name="Eka Nomor Salah"),
    ]
    for student in with_file:
        store_report_file(report, student, user=admin_user)
    return with_file, without


def test_the_plan_counts_children_with_and_without_a_file(report, class_with_files):
    plan = broadcast_plan(monthly_report=report)

    assert plan.has_files
    assert plan.new_recipients == 4  # Bima has no number
    assert plan.with_file == 1
    assert [s.full_name for s in plan.without_file] == [
        "Citra Belum",
        "Dewi Belum",
        "Eka Nomor Salah",
    ]
    assert (plan.counts.total, plan.counts.invalid) == (4, 1)
    assert (plan.counts_waiting.total, plan.counts_waiting.invalid) == (1, 0)


def test_the_confirmation_offers_the_choice_waiting_by_default(
    admin_client, report, class_with_files
):
    page = post_action(admin_client, report).content.decode()

    assert "1 dari 4 anak yang akan dikirimi pesan sudah punya berkas laporan." in page
    decision = page.split('class="wa-decision module"')[1].split('class="wa-device module"')[0]
    assert 'name="without_file" value="wait" checked' in decision
    assert 'name="without_file" value="send">' in decision
    assert "Tunda sampai berkasnya diunggah" in decision
    assert "Kirim tanpa tautan (pesan lama)" in decision
    # Each choice's words count the rows it would create.
    assert "Pesan untuk 1 orang tua: semuanya akan dikirim." in decision
    assert "Pesan untuk 4 orang tua: 3 akan dikirim, 1 akan gagal" in decision
    without = page.split('class="wa-without-file"')[1].split("</ul>")[0]
    assert "Citra Belum" in without and "Aisyah Berkas" not in without
    assert "/admin/students/student/" in without


def test_waiting_creates_rows_only_for_children_with_a_file_and_sending_again_adds_the_rest(
    admin_client, admin_user, report, class_with_files, dispatch
):
    (aisyah, _bima), without = class_with_files

    response = post_action(admin_client, report, post="yes", without_file="wait")

    assert response.status_code == 302
    assert list(MonthlyReportBroadcast.objects.values_list("student_id", flat=True)) == [aisyah.pk]
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Pesan untuk 1 orang tua" in message
    assert "3 anak belum dikirimi sampai berkas laporannya diunggah" in message

    store_report_file(report, without[0], user=admin_user)
    post_action(admin_client, report, post="yes", without_file="wait")
    assert set(MonthlyReportBroadcast.objects.values_list("student_id", flat=True)) == {
        aisyah.pk,
        without[0].pk,
    }


@pytest.mark.parametrize(
    ("choice", "announced", "rows", "failed"),
    [
        ("wait", "Pesan untuk 2 orang tua: 1 akan dikirim, 1 akan gagal", 2, 1),
        ("send", "Pesan untuk 4 orang tua: 2 akan dikirim, 2 akan gagal", 4, 2),
    ],
)
def test_each_choice_creates_exactly_the_rows_its_words_announced(
    admin_client, admin_user, report, make_student, dispatch, choice, announced, rows, failed
):
    # With and without a file: a valid number, an invalid one, one not on WhatsApp.
    students = {
        (has_file, kind): make_student(
            "0812" if kind == "invalid" else "0812-3456-7890", name=f"{kind} {has_file}"
        )
        for has_file in (True, False)
        for kind in ("valid", "invalid", "not_on_wa")
    }
    for (has_file, kind), student in students.items():
        if kind == "not_on_wa":
            student.whatsapp_registered = False
            student.save(update_fields=["whatsapp_registered"])
        if has_file:
            store_report_file(report, student, user=admin_user)

    page = post_action(admin_client, report).content.decode()
    label = page.split(f'class="wa-choice-{choice}"')[1].split("</label>")[0]
    assert announced in label
    # Of the children to be messaged, and says so: the report page counts the class.
    assert "2 dari 4 anak yang akan dikirimi pesan sudah punya berkas laporan." in page
    report_page = admin_client.get(f"{CHANGELIST}{report.pk}/change/").content.decode()
    assert "3 dari 6 siswa sudah punya berkas" in report_page

    response = post_action(admin_client, report, post="yes", without_file=choice)

    made = MonthlyReportBroadcast.objects.filter(monthly_report=report)
    assert made.count() == rows
    assert made.filter(student__parent_phone="0812").count() == failed  # fail, not sent
    assert not made.filter(student__whatsapp_registered=False).exists()
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert announced in message


def test_waiting_holds_back_only_children_of_a_report_that_has_files(
    admin_client, admin_user, report, make_student, dispatch
):
    # Two reports confirmed at once: one with a file for one of its two children, one of
    # another class with no file at all (it sends the old message to everyone, as today).
    from reports.models import MonthlyReport
    from students.models import Classroom

    other_class = Classroom.objects.create(name="TK B Mawar")
    plain = MonthlyReport.objects.create(classroom=other_class, month=11, year=2026)
    has_file, no_file = make_student(name="Ada Berkas"), make_student(name="Tanpa Berkas")
    for name in ("Satu", "Dua", "Tiga"):
        make_student(name=name, classroom=other_class)
    store_report_file(report, has_file, user=admin_user)
    data = {"action": "send_whatsapp_broadcast", "_selected_action": [report.pk, plain.pk]}

    page = admin_client.post(CHANGELIST, data).content.decode()
    wait = page.split('class="wa-choice-wait"')[1].split("</label>")[0]
    assert f"{report}: Pesan untuk 1 orang tua" in wait and str(plain) not in wait
    plain_headline = page.split(f'data-report-id="{plain.pk}"')[1].split("</p>")[0]
    assert "Pesan untuk 3 orang tua: semuanya akan dikirim." in plain_headline

    admin_client.post(CHANGELIST, {**data, "post": "yes", "without_file": "wait"})

    assert list(
        MonthlyReportBroadcast.objects.filter(monthly_report=report).values_list(
            "student__full_name", flat=True
        )
    ) == ["Ada Berkas"]
    assert MonthlyReportBroadcast.objects.filter(monthly_report=plain).count() == 3
    assert not MonthlyReportBroadcast.objects.filter(student=no_file).exists()


def test_sending_without_a_link_messages_everyone_as_before(
    admin_client, report, class_with_files, dispatch
):
    post_action(admin_client, report, post="yes", without_file="send")
    assert MonthlyReportBroadcast.objects.count() == 4


def test_a_missing_or_unknown_choice_waits(report, class_with_files, admin_client, dispatch):
    post_action(admin_client, report, post="yes", without_file="bogus")
    assert MonthlyReportBroadcast.objects.count() == 1


def test_when_every_child_has_a_file_the_confirmation_says_so_and_offers_no_choice(
    admin_client, report, make_student, admin_user
):
    for name in ("Satu", "Dua"):
        store_report_file(report, make_student(name=name), user=admin_user)

    page = post_action(admin_client, report).content.decode()
    decision = page.split('class="wa-decision module"')[1].split('class="wa-device module"')[0]

    assert "Pesan untuk 2 orang tua: semuanya akan dikirim." in decision
    assert "2 dari 2 anak yang akan dikirimi pesan sudah punya berkas laporan." in decision
    assert 'name="without_file"' not in page and 'class="wa-without-file"' not in page


def test_a_report_without_any_file_sends_as_today_whatever_the_choice(
    admin_client, report, make_student, dispatch
):
    for name in ("Satu", "Dua"):
        make_student(name=name)

    page = post_action(admin_client, report).content.decode()
    assert 'name="without_file"' not in page and "sudah punya berkas laporan" not in page
    assert "Pesan untuk 2 orang tua: semuanya akan dikirim." in page

    outcome = broadcast_create_for_report(monthly_report=report, without_file=WithoutFile.WAIT)
    assert outcome.created == 2 and outcome.waiting_for_file == 0


def test_the_sample_message_is_one_with_the_link_its_token_masked(report, make_student, admin_user):
    make_student(name="Citra Belum")
    zahra = make_student(name="Zahra Berkas")
    store_report_file(report, zahra, user=admin_user)

    plan = broadcast_plan(monthly_report=report)

    # Zahra, the child with a file, although Citra comes first.
    assert plan.preview_student == zahra
    assert "/laporan/********/" in plan.preview


def test_without_files_the_sample_message_has_no_link(report, make_student):
    make_student(name="Citra Belum")

    plan = broadcast_plan(monthly_report=report)

    assert plan.preview_student.full_name == "Citra Belum" and "/laporan/" not in plan.preview


def test_a_message_text_without_the_link_offers_no_wait_and_says_so(
    client, admin_user, report, class_with_files, dispatch
):
    from broadcasts.messages import message_template_get_or_create

    template = message_template_get_or_create()
    template.text = "Laporan {nama_siswa} bulan {bulan} sudah ada."
    template.save()
    plan = broadcast_plan(monthly_report=report)
    assert plan.files_not_in_message and not plan.has_files and not plan.without_file

    client.force_login(admin_user)
    page = post_action(client, report).content.decode()
    assert "tidak memuat {tautan_laporan}" in page and 'name="without_file"' not in page

    # Confirming without a choice (the page offers none) messages every child with a number.
    post_action(client, report, post="yes")
    rows = MonthlyReportBroadcast.objects.filter(monthly_report=report)
    assert rows.count() == 4 and not rows.exclude(link_token=None).exists()
