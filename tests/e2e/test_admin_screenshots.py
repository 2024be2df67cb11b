"""The screenshots of the staff manual (docs/panduan-admin.md), taken in a real browser.

Only with ``UPDATE_SCREENSHOTS=1`` (``make screenshots``): the pages are asserted by the
other browser tests, so this costs CI nothing. Each is the first screen at 1366x768, as a
school admin's laptop shows it, and one the report list on a 390x844 phone. The school is
made of demo data (invented names, numbers 0812-1000-00xx); its November report is sent
in this process with the locmem backend, one number invalid, so that the pages show a
failure, its reason and receipts as the workers leave them. Nothing is published.
"""

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from broadcasts.models import MonthlyReportBroadcast
from broadcasts.services import (
    broadcast_create_for_report,
    broadcast_process_due,
    broadcast_record_status,
)
from notifications.whatsapp.base import DeviceState, DeviceStatus
from notifications.whatsapp.locmem import LocmemBackend
from reports.models import MonthlyReport
from students.models import Classroom, Guardian, Student
from tests.conftest import restore_roles

try:
    from playwright.sync_api import expect
except ImportError:  # the dev extra is not installed: the browser fixture says so
    expect = None

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.environ.get("UPDATE_SCREENSHOTS") != "1",
        reason="writes docs/screenshots/: run with UPDATE_SCREENSHOTS=1 (make screenshots)",
    ),
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "kata-sandi-demo-123"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
#: (NIS, child, parent, number as the school typed it, on WhatsApp) per class.
MELATI = [
    ("A001", "Aisyah Putri", "Ibu Siti", "0812-1000-0001", True),
    ("A002", "Bima Saputra", "Bapak Ahmad", "0812-1000-0002", True),
    ("A003", "Citra Lestari", "Ibu Rina", "0812", None),  # too short: its message fails
    ("A004", "Dewi Anggraini", "Ibu Wati", "0812-1000-0004", True),
    ("A005", "Eko Prasetyo", "Bapak Joko", "", None),  # no number: no message
]
MAWAR = [
    ("B001", "Fajar Ramadhan", "Bapak Dedi", "0812-1000-0011", True),
    ("B002", "Gita Permata", "Ibu Lina", "0812-1000-0012", True),
    ("B003", "Hana Safitri", "Ibu Yuni", "0812-100", None),  # too short: will fail
    ("B004", "Ilham Maulana", "Bapak Rudi", "0812-1000-0014", False),  # not on WhatsApp
    ("B005", "Jihan Aulia", "Ibu Tika", "", None),
]
#: Some children have their father too: (NIS, name, relation, number, on WhatsApp).
SECOND_GUARDIANS = [
    ("A001", "Bapak Hendra", "ayah", "0812-1000-0031", True),
    ("A004", "Bapak Yusuf", "ayah", "0812-1000-0034", True),
    ("B001", "Ibu Maya", "ibu", "0812-1000-0041", True),
    ("B002", "Bapak Arif", "ayah", "0812-1000-0042", True),
]
#: A father's and a mother's columns. Rows 3 and 5 are refused; row 4 has no number.
IMPORT_CSV = """nis,nama_lengkap,kelas,nama_ayah,nomor_ayah,nama_ibu,nomor_ibu
C001,Kirana Putri,TK A Melati,Bapak Anton,0812-1000-0021,Ibu Sari,0812-1000-0022
C002,Lutfi Hakim,TK A Melati,,,Ibu Fitri,0812
C003,Nadia Rahma,TK A Melati,,,Ibu Nur,
C004,Omar Said,TK C Kenanga,,,Ibu Desi,0812-1000-0024
C005,Putri Ayu,TK B Mawar,Bapak Hadi,0812-1000-0025,Ibu Lia,0812-1000-0026
"""


@pytest.fixture(autouse=True)
def _fresh_fake():
    """Replaces the e2e conftest's: no worker and no fake Fonnte, the sending is in-process."""
    yield


def checked(guardian, on_whatsapp):
    """As Fonnte's check left the number (saving a number clears the check)."""
    Guardian.objects.filter(pk=guardian.pk).update(
        whatsapp_registered=on_whatsapp,
        whatsapp_checked_at=None if on_whatsapp is None else timezone.now(),
    )


def add_class(name, students):
    classroom = Classroom.objects.create(name=name)
    for nis, child, parent, phone, on_whatsapp in students:
        student = Student.objects.create(nis=nis, full_name=child, classroom=classroom)
        relation = "ayah" if parent.startswith("Bapak") else "ibu"
        guardian = Guardian.objects.create(
            student=student, name=parent, relation=relation, phone=phone
        )
        checked(guardian, on_whatsapp)
    for nis, name, relation, phone, on_whatsapp in SECOND_GUARDIANS:
        student = Student.objects.filter(nis=nis, classroom=classroom).first()
        if student is not None:
            guardian = Guardian.objects.create(
                student=student, name=name, relation=relation, phone=phone
            )
            checked(guardian, on_whatsapp)
    return MonthlyReport.objects.create(classroom=classroom, month=11, year=2026)


@pytest.fixture
def school(settings, monkeypatch):
    """Two classes: TK A Melati's report sent (one failure, receipts), TK B Mawar's not."""
    settings.WHATSAPP_RUNNER = "cron"  # sent below, in this process: nothing to publish
    # The school's phone as Fonnte reports it when all is well (locmem has no device).
    monkeypatch.setattr(
        LocmemBackend,
        "device_status",
        lambda self, timeout=None: DeviceStatus(
            state=DeviceState.CONNECTED, device="6281210000099", quota=950
        ),
    )
    restore_roles()  # an earlier transactional test's flush removed them
    admin = get_user_model().objects.create_user("kepala", password=PASSWORD, is_staff=True)
    admin.groups.add(Group.objects.get(name="admin"))
    sent = add_class("TK A Melati", MELATI)
    unsent = add_class("TK B Mawar", MAWAR)
    broadcast_create_for_report(monthly_report=sent, requested_by=admin)
    broadcast_process_due(max_jobs=10)
    for nis, state in (("A001", "read"), ("A002", "delivered"), ("A004", "sent")):
        for row in MonthlyReportBroadcast.objects.filter(student__nis=nis):
            broadcast_record_status(
                message_id=row.fonnte_message_id, state_id="", state=state, status=""
            )
    return {"sent": sent, "unsent": unsent}


def open_as_admin(browser, live_server, viewport):
    context = browser.new_context(base_url=live_server.url, locale="id-ID", viewport=viewport)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", "kepala")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")
    return context, page


def shoot(page, name):
    """The first screen only: what the admin sees before scrolling."""
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_take_the_manuals_screenshots(browser, live_server, school, tmp_path):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    sent, unsent = school["sent"], school["unsent"]
    context, page = open_as_admin(browser, live_server, LAPTOP)
    try:
        page.goto("/admin/reports/monthlyreport/")
        expect(page.locator(f".wa-progress[data-report-id='{sent.pk}']")).to_have_attribute(
            "data-state", "finished_with_failures"
        )
        shoot(page, "report-progress")

        page.goto(f"/admin/reports/monthlyreport/{sent.pk}/change/")
        expect(page.locator(".wa-undelivered tbody tr")).to_contain_text("Citra Lestari")
        shoot(page, "report-failures")

        page.goto("/admin/broadcasts/monthlyreportbroadcast/")
        expect(page.locator("#result_list .wa-status")).to_contain_text(["Gagal"])
        shoot(page, "broadcast-list")

        page.goto(f"/admin/reports/monthlyreport/{unsent.pk}/change/")
        with page.expect_navigation():
            page.click(".wa-send-form input[type=submit]")
        expect(page.locator(".wa-decision input[type=submit]")).to_be_visible()
        shoot(page, "send-confirmation")

        page.goto("/admin/broadcasts/messagetemplate/")
        with page.expect_navigation():
            page.click("#result_list tbody tr th a")
        shoot(page, "message-template")

        csv = tmp_path / "siswa.csv"
        csv.write_text(IMPORT_CSV, encoding="utf-8")
        page.goto("/admin/students/student/import/")
        page.set_input_files("input[name=import_file]", str(csv))
        page.select_option("select[name=format]", label="csv")
        with page.expect_navigation():
            page.click("#content input[type=submit]")
        expect(page.locator("#import-verdict")).to_contain_text("2 baris ditolak")
        shoot(page, "import-preview")

        page.goto("/admin/students/student/")
        expect(page.locator("#result_list tbody tr")).to_have_count(10)
        shoot(page, "student-list")

        aisyah = Student.objects.get(nis="A001")
        page.goto(f"/admin/students/student/{aisyah.pk}/change/")
        expect(page.locator("input[name='guardians-1-phone']")).to_have_value("0812-1000-0031")
        shoot(page, "student-guardians")
    finally:
        context.close()

    context, page = open_as_admin(browser, live_server, PHONE)
    try:
        page.goto("/admin/reports/monthlyreport/")
        expect(page.locator(f".wa-progress[data-report-id='{sent.pk}']")).to_be_visible()
        shoot(page, "hp-daftar-laporan")
    finally:
        context.close()
