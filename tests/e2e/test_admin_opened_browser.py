"""What the school sees of the personal links, in a real browser at 1366x768 (issue 13).

The report list's "dibuka: n dari m" moves without a reload when a parent opens the file;
the broadcast list with its "dibuka" column still fits the laptop; the confirmation's
choice for children without a file is decided on the first screen. With
``UPDATE_SCREENSHOTS=1`` the manual's two screenshots of these pages are taken too.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from broadcasts.links import new_link_token, report_link_url
from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast
from reports.models import MonthlyReport
from students.models import Classroom, Guardian, Student
from tests.conftest import restore_roles, store_report_file
from tests.e2e.test_admin_lists_browser import overflow

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or fails, where CI requires it)
    expect = None

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}
PASSWORD = "kata-sandi-demo-123"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHILDREN = [
    ("A001", "Aisyah Putri"),
    ("A002", "Bima Saputra"),
    ("A003", "Citra Lestari"),
    ("A004", "Dewi Anggraini"),
    ("A005", "Muhammad Alfarizqi Rahmatullah Putra Pratama Wijayakusuma"),
]
#: Each child's mother, the one guardian here (the manual's screenshots show them).
MOTHERS = ["Ibu Siti", "Ibu Rina", "Ibu Wati", "Ibu Lina", "Ibu Yuni"]


@pytest.fixture(autouse=True)
def _fresh_fake():
    """Replaces the e2e conftest's: no worker and no fake Fonnte, rows are made here."""
    yield


@pytest.fixture
def school():
    """TK A Melati's November report, every child with a file, sent with links (one opened,
    three not after 5 days), and its December report with files for two of the five
    children, not sent."""
    restore_roles()
    admin = get_user_model().objects.create_user("kepala", password=PASSWORD, is_staff=True)
    admin.groups.add(Group.objects.get(name="admin"))
    classroom = Classroom.objects.create(name="TK A Melati")
    students = [
        Student.objects.create(nis=nis, full_name=name, classroom=classroom)
        for nis, name in CHILDREN
    ]
    guardians = [
        Guardian.objects.create(
            student=student, name=mother, relation="ibu", phone=f"0812-1000-00{i:02d}"
        )
        for i, (student, mother) in enumerate(zip(students, MOTHERS, strict=True), start=1)
    ]
    sent = MonthlyReport.objects.create(classroom=classroom, month=11, year=2026)
    now = timezone.now()
    rows = []
    for i, student in enumerate(students):
        token = new_link_token()
        rows.append(
            MonthlyReportBroadcast.objects.create(
                monthly_report=sent,
                student=student,
                guardian=guardians[i],
                phone_number=f"62812100000{i + 1:02d}",
                status=BroadcastStatus.UNKNOWN if i == 4 else BroadcastStatus.SENT,
                sent_at=now - timedelta(days=5),
                link_token=token,
                link_created_at=now - timedelta(days=5),
                opened_at=now - timedelta(days=4) if i == 0 else None,
                open_count=3 if i == 0 else 0,
                message=f"Laporan {student.full_name}: {report_link_url(token)}",
            )
        )
    for student in students:  # the links were sent because the children had files
        store_report_file(sent, student, name="rapor.pdf", user=admin)
    unsent = MonthlyReport.objects.create(classroom=classroom, month=12, year=2026)
    for student in students[:2]:
        store_report_file(unsent, student, name="rapor.pdf", user=admin)
    return {"sent": sent, "unsent": unsent, "rows": rows}


@pytest.fixture
def laptop(browser, live_server, school):
    context = browser.new_context(base_url=live_server.url, locale="id-ID", viewport=LAPTOP)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", "kepala")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")
    yield page
    context.close()


def test_the_report_list_shows_the_opened_count_change_without_a_reload(laptop, school):
    page, sent = laptop, school["sent"]
    page.goto("/admin/reports/monthlyreport/")
    opened = page.locator(f".wa-progress[data-report-id='{sent.pk}'] [data-field='opened_summary']")
    expect(opened).to_have_text("dibuka: 1 dari 4")
    page.evaluate("window.notReloaded = true")

    # A parent opens the file (the parent's page sets these, guarded).
    MonthlyReportBroadcast.objects.filter(pk=school["rows"][1].pk, opened_at__isnull=True).update(
        opened_at=timezone.now(), open_count=1
    )

    expect(opened).to_have_text("dibuka: 2 dari 4", timeout=25_000)
    assert page.evaluate("window.notReloaded") is True
    assert overflow(page) <= 0


def test_the_broadcast_list_with_opened_rows_fits_a_laptop(laptop, school):
    page = laptop
    page.goto("/admin/broadcasts/monthlyreportbroadcast/")
    expect(page.locator("#result_list .wa-opened-at")).to_have_count(1)
    assert page.is_visible("#nav-sidebar")
    assert overflow(page) <= 0
    page.goto("/admin/broadcasts/monthlyreportbroadcast/?file_opened=follow_up")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    assert overflow(page) <= 0


def test_the_report_page_lists_who_to_follow_up(laptop, school):
    page, sent = laptop, school["sent"]
    page.goto(f"/admin/reports/monthlyreport/{sent.pk}/change/")
    expect(page.locator(".wa-follow-up-heading")).to_have_text("Belum dibuka setelah 3 hari")
    expect(page.locator(".wa-follow-up tbody tr")).to_have_count(3)
    assert page.locator("body").inner_text().count(school["rows"][0].link_token) == 0
    assert overflow(page) <= 0  # the files section, the follow-up and revoke, the long name
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "report-opened.png"))


def test_the_confirmations_file_choice_is_decided_on_the_first_screen(laptop, school, settings):
    # The sample message's link as the school's would read (the manual shows it).
    settings.SITE_URL = "https://tkassalam.example.sch.id"
    page, unsent = laptop, school["unsent"]
    page.goto(f"/admin/reports/monthlyreport/{unsent.pk}/change/")
    with page.expect_navigation():
        page.click(".wa-send-form input[type=submit]")

    expect(page.locator(".wa-files")).to_have_text(
        "2 dari 5 anak yang akan dikirimi pesan sudah punya berkas laporan."
    )
    wait = page.locator("input[name=without_file][value=wait]")
    expect(wait).to_be_checked()
    confirm = page.locator(".wa-decision input[type=submit]")
    for element in (wait, page.locator("input[name=without_file][value=send]"), confirm):
        box = element.bounding_box()
        assert box and box["y"] + box["height"] <= LAPTOP["height"], box
    assert overflow(page) <= 0
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "send-confirmation-files.png"))

    with page.expect_navigation():
        confirm.click()
    assert set(
        MonthlyReportBroadcast.objects.filter(monthly_report=unsent).values_list(
            "student__nis", flat=True
        )
    ) == {"A001", "A002"}
