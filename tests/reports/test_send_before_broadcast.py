"""Before a broadcast: device and quota on the confirmation page; numbers not on WhatsApp."""

import logging
import time
from unittest import mock

import pytest
import requests
from django.contrib.messages import get_messages

from broadcasts.models import MonthlyReportBroadcast
from broadcasts.services import broadcast_create_for_report
from students.models import Guardian, Student
from tests.conftest import FONNTE_TEST_URL

CHANGELIST = "/admin/reports/monthlyreport/"
DEVICE_URL = FONNTE_TEST_URL.rsplit("/", 1)[0] + "/device"


def post_action(client, report, **extra):
    data = {"action": "send_whatsapp_broadcast", "_selected_action": [report.pk], **extra}
    return client.post(CHANGELIST, data)


def device(state="connect", quota="78"):
    return {
        "device": "6282227097005",
        "device_status": state,
        "quota": quota,
        "package": "Reguler",
        "expired": "20 Desember 2026",
        "status": True,
    }


@pytest.fixture
def class_of_three(make_student):
    students = [
        make_student("0812-3456-7890", name="Aisyah Putri"),
        make_student("0813-1111-2222", name="Bima Saputra"),
        make_student("0813-3333-4444", name="Citra Lestari"),
    ]
    Guardian.objects.filter(student=students[2]).update(whatsapp_registered=False)
    return students


@pytest.fixture
def dispatch():
    with mock.patch("broadcasts.tasks.dispatch_pending_broadcasts.delay") as delay:
        yield delay


# --- Creation ----------------------------------------------------------------------------------


def test_a_number_not_on_whatsapp_gets_no_row_and_is_counted(report, class_of_three, dispatch):
    make_no_phone = Student.objects.create(nis="N999", full_name="Dewi", classroom=report.classroom)
    Guardian.objects.create(student=make_no_phone, name="Ibu Dewi", relation="ibu", phone="")

    outcome = broadcast_create_for_report(monthly_report=report)

    assert outcome.created == 2
    assert outcome.skipped_not_on_whatsapp == 1
    assert outcome.skipped_no_phone == 1
    students = set(MonthlyReportBroadcast.objects.values_list("student_id", flat=True))
    assert students == {class_of_three[0].pk, class_of_three[1].pk}
    assert make_no_phone.pk not in students


def test_an_unchecked_number_is_still_sent(report, make_student, dispatch):
    make_student("0812-3456-7890")  # whatsapp_registered is None
    outcome = broadcast_create_for_report(monthly_report=report)
    assert (outcome.created, outcome.skipped_not_on_whatsapp) == (1, 0)


def test_confirming_tells_the_admin_who_was_skipped_for_not_being_on_whatsapp(
    admin_client, report, class_of_three, dispatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(admin_client, report, post="yes")

    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "1 wali dilewati: nomornya tidak ada di WhatsApp." in message
    assert "1 anak tidak punya wali yang dapat menerima pesan." in message


# --- Confirmation page -------------------------------------------------------------------------


def test_the_page_lists_students_skipped_because_not_on_whatsapp(
    admin_client, report, class_of_three
):
    page = post_action(admin_client, report).content.decode()

    assert "2 anak, 2 nomor WhatsApp: semuanya akan dikirim." in page
    assert 'class="wa-not-on-whatsapp"' in page
    skipped = page.split('class="wa-not-on-whatsapp"')[1].split("</ul>")[0]
    assert "Citra Lestari" in skipped and "Aisyah Putri" not in skipped


def test_the_page_shows_a_connected_device_and_enough_quota(
    admin_client, report, class_of_three, fonnte
):
    fonnte.post(DEVICE_URL, json=device(quota="78"))

    response = post_action(admin_client, report)

    page = response.content.decode()
    assert response.status_code == 200
    assert "wa-device-connected" in page
    assert "Sisa kuota Fonnte: 78; pesan yang akan dikirim: 2." in page
    assert "Reguler" in page
    assert "wa-quota-short" not in page and "wa-device-disconnected" not in page
    # The page asked with a short timeout, not the send timeouts.
    assert fonnte.calls[0].request.req_kwargs["timeout"] == (3.0, 3.0)


def test_the_page_warns_when_the_quota_is_short(admin_client, report, class_of_three, fonnte):
    fonnte.post(DEVICE_URL, json=device(quota="1"))

    page = post_action(admin_client, report).content.decode()

    assert "wa-quota-short" in page
    assert "Kuota tidak cukup: hanya tersisa 1 pesan." in page


def test_the_page_warns_when_the_device_is_disconnected(
    admin_client, report, class_of_three, fonnte
):
    fonnte.post(DEVICE_URL, json=device(state="disconnect", quota="500"))

    page = post_action(admin_client, report).content.decode()

    assert "wa-device-disconnected" in page
    assert "Perangkat WhatsApp sekolah terputus" in page
    assert "wa-quota-short" not in page


@pytest.mark.parametrize(
    "answer",
    [
        {"body": requests.ConnectTimeout("no route")},
        {"body": requests.ReadTimeout("slow")},
        {"body": "<html>502 Bad Gateway</html>", "status": 502},
        {"json": {"status": False, "reason": "token invalid"}},
    ],
    ids=["connect-timeout", "read-timeout", "html", "status-false"],
)
def test_the_page_still_renders_when_fonnte_cannot_tell(
    admin_client, report, class_of_three, fonnte, answer
):
    fonnte.post(DEVICE_URL, **answer)

    started = time.monotonic()
    response = post_action(admin_client, report)

    assert response.status_code == 200
    page = response.content.decode()
    assert "wa-device-unknown" in page
    assert "Status perangkat WhatsApp tidak dapat dibaca" in page
    assert 'name="post" value="yes"' in page
    assert time.monotonic() - started < 5


def test_incomplete_whatsapp_settings_are_said_in_indonesian_and_logged_for_the_operator(
    admin_client, report, class_of_three, fonnte, settings, caplog
):
    settings.FONNTE_API_TOKEN = ""

    with caplog.at_level(logging.WARNING, logger="notifications"):
        response = post_action(admin_client, report)

    assert response.status_code == 200
    page = response.content.decode()
    assert "wa-device-unknown" in page
    assert (
        "(Pengaturan WhatsApp belum lengkap: hubungi operator, rinciannya ada di catatan server)"
        in page
    )
    assert "FONNTE_API_TOKEN" not in page
    assert "FONNTE_API_TOKEN is empty" in caplog.text
    assert len(fonnte.calls) == 0


def test_a_backend_without_a_device_gives_a_neutral_note_without_its_english(
    admin_client, report, class_of_three, settings
):
    settings.WHATSAPP_BACKEND = "notifications.whatsapp.BaseBackend"

    page = post_action(admin_client, report).content.decode()

    assert "wa-device-unknown" in page
    assert "cannot report its device" not in page


def test_the_console_or_locmem_backend_gives_a_neutral_note(admin_client, report, class_of_three):
    page = post_action(admin_client, report).content.decode()  # test settings: locmem

    assert "wa-device-unknown" in page
    assert "wa-warning wa-device" not in page and "wa-quota" not in page


def test_the_quota_counts_only_the_messages_that_reach_fonnte(
    admin_client, report, make_student, fonnte
):
    make_student("0812-3456-7890")
    make_student("0812")  # invalid: its row fails without a call, so it uses no quota
    fonnte.post(DEVICE_URL, json=device(quota="78"))

    page = post_action(admin_client, report).content.decode()

    assert "Sisa kuota Fonnte: 78; pesan yang akan dikirim: 1." in page


def test_the_quota_counts_one_message_per_guardians_number(
    admin_client, report, make_student, make_guardian, fonnte
):
    """Two children, three numbers (a father shares the mother's): three messages use quota."""
    ani = make_student("0812-3456-7890", name="Ani")
    make_guardian(ani, "ayah", "0813-1111-2222")
    budi = make_student("0814-2222-3333", name="Budi")
    make_guardian(budi, "ayah", "0814-2222-3333")  # the same number: one message
    fonnte.post(DEVICE_URL, json=device(quota="3"))

    page = post_action(admin_client, report).content.decode()

    assert "Sisa kuota Fonnte: 3; pesan yang akan dikirim: 3." in page
    assert "wa-quota-short" not in page
    assert "2 anak, 3 nomor WhatsApp: semuanya akan dikirim." in page
