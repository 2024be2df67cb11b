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
    assert "1 anak, 1 nomor WhatsApp: semuanya akan dikirim." in decision
    assert "4 anak, 4 nomor WhatsApp: 3 akan dikirim, 1 akan gagal" in decision
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
    assert "1 anak, 1 nomor WhatsApp" in message
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
        ("wait", "2 anak, 2 nomor WhatsApp: 1 akan dikirim, 1 akan gagal", 2, 1),
        ("send", "4 anak, 4 nomor WhatsApp: 2 akan dikirim, 2 akan gagal", 4, 2),
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
            student.guardians.update(whatsapp_registered=False)
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
    assert made.filter(guardian__phone="0812").count() == failed  # fail, not sent
    assert not made.filter(guardian__whatsapp_registered=False).exists()
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
    assert f"{report}: 1 anak, 1 nomor WhatsApp" in wait and str(plain) not in wait
    plain_headline = page.split(f'data-report-id="{plain.pk}"')[1].split("</p>")[0]
    assert "3 anak, 3 nomor WhatsApp: semuanya akan dikirim." in plain_headline

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

    assert "2 anak, 2 nomor WhatsApp: semuanya akan dikirim." in decision
    assert "2 dari 2 anak yang akan dikirimi pesan sudah punya berkas laporan." in decision
    assert 'name="without_file"' not in page and 'class="wa-without-file"' not in page


def test_a_report_without_any_file_sends_as_today_whatever_the_choice(
    admin_client, report, make_student, dispatch
):
    for name in ("Satu", "Dua"):
        make_student(name=name)

    page = post_action(admin_client, report).content.decode()
    assert 'name="without_file"' not in page and "sudah punya berkas laporan" not in page
    assert "2 anak, 2 nomor WhatsApp: semuanya akan dikirim." in page

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


def test_with_two_guardians_per_child_the_choices_count_children_and_numbers(
    admin_client, admin_user, report, make_student, make_guardian, dispatch
):
    """Files are the children's, messages the numbers': each choice counts both, as it does."""
    ani = make_student("0812-3456-7890", name="Ani Berkas")
    make_guardian(ani, "ayah", "0813-1111-2222")
    budi = make_student("0814-2222-3333", name="Budi Belum")
    make_guardian(budi, "ayah", "0815-3333-4444")
    citra = make_student("0816-4444-5555", name="Citra Belum")
    make_guardian(citra, "ayah", "0816-4444-5555")  # the mother's number: one message
    store_report_file(report, ani, user=admin_user)

    page = post_action(admin_client, report).content.decode()

    assert "1 dari 3 anak yang akan dikirimi pesan sudah punya berkas laporan." in page
    wait = page.split('class="wa-choice-wait"')[1].split("</label>")[0]
    send = page.split('class="wa-choice-send"')[1].split("</label>")[0]
    assert "1 anak, 2 nomor WhatsApp: semuanya akan dikirim." in wait
    assert "3 anak, 5 nomor WhatsApp: semuanya akan dikirim." in send

    waited = post_action(admin_client, report, post="yes", without_file="wait")
    (message,) = [str(m) for m in get_messages(waited.wsgi_request)]
    assert message == (
        f"{report}: 1 anak, 2 nomor WhatsApp: semuanya akan dikirim. "
        "2 anak belum dikirimi sampai berkas laporannya diunggah: kirim lagi setelah itu."
    )
    rows = MonthlyReportBroadcast.objects.filter(monthly_report=report)
    assert set(rows.values_list("student", flat=True)) == {ani.pk}
    assert rows.count() == 2 and all(row.link_token for row in rows)

    admin_client.get(CHANGELIST)  # the first banner shown, and gone
    sent = post_action(admin_client, report, post="yes", without_file="send")
    (message,) = [str(m) for m in get_messages(sent.wsgi_request)]
    assert message.startswith(f"{report}: 2 anak, 3 nomor WhatsApp: semuanya akan dikirim.")
    assert rows.all().count() == 5  # rows.all(): not the list read above
    assert not rows.filter(student__in=[budi, citra], link_token__isnull=False).exists()


def test_the_plan_counts_messages_and_children_without_a_file_apart(
    report, make_student, make_guardian, admin_user
):
    ani = make_student(name="Ani Berkas")
    budi = make_student("0814-2222-3333", name="Budi Belum")
    make_guardian(budi, "ayah", "0812")  # invalid, about a child without a file
    store_report_file(report, ani, user=admin_user)

    plan = broadcast_plan(monthly_report=report)

    assert (plan.children, plan.new_recipients) == (2, 3)
    assert (plan.children_with_file, plan.messages_without_file) == (1, 2)
    assert plan.without_file == [budi]
    assert (plan.counts_waiting.children, plan.counts_waiting.total) == (1, 1)
    assert plan.counts_waiting.invalid == 0 and plan.counts.invalid == 1
