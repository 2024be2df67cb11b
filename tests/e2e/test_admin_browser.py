"""The admin as a school admin uses it, in a real browser (Debian's Chromium via Playwright).

A live server, a real Celery worker and the fake Fonnte: log in, import a student file
with bad rows, send a class's broadcast, watch the progress reach the end, resend the
failed message, read the alert. With ``UPDATE_SCREENSHOTS=1`` the screenshots shown in
the README are written to ``docs/screenshots/``.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from broadcasts.models import MonthlyReportBroadcast
from reports.models import MonthlyReport
from students.models import Classroom, Student

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "kata-sandi-uji-123"
#: The parent whose first message Fonnte refuses three times (then accepts).
FLAKY_PHONE = "6281210000003"

STUDENTS_CSV = """nis,full_name,classroom,parent_name,parent_phone
A001,Aisyah Putri,TK A Melati,Ibu Siti,0812-1000-0001
A002,Bima Saputra,TK A Melati,Bapak Ahmad,+62 812 1000 0002
A003,Citra Lestari,TK A Melati,Ibu Rina,812 1000 0003
A004,Dewi Anggraini,TK A Melati,Ibu Wati,0812
A005,Eko Prasetyo,TK Z Tidak Ada,Bapak Joko,0812-1000-0005
A006,Fajar Ramadhan,TK A Melati,Bapak Dedi,6281210000006
"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        pytest.skip("needs Chromium (apt-get install chromium) for the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests
    # make between browser steps are ordinary blocking calls, which Django must allow.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, locale="id-ID", viewport={"width": 1366, "height": 900}
    )
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def school():
    classroom = Classroom.objects.create(name="TK A Melati")
    report = MonthlyReport.objects.create(classroom=classroom, month=11, year=2026)
    get_user_model().objects.create_superuser("kepala", "kepala@example.com", PASSWORD)
    return report


def screenshot(page, name, tmp_path):
    """Into docs/screenshots/ when asked to refresh them, else next to the test's files."""
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def log_in(page):
    page.goto("/admin/login/")
    page.fill("#id_username", "kepala")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))


def import_students(page, tmp_path):
    csv = tmp_path / "siswa.csv"
    csv.write_text(STUDENTS_CSV, encoding="utf-8")
    page.goto("/admin/students/student/import/")
    page.set_input_files("input[name=import_file]", str(csv))
    page.select_option("select[name=format]", label="csv")
    page.check("input[name=valid_rows_only]")
    page.click("input[type=submit]")
    page.wait_for_selector("input[name=confirm]")
    preview = page.content()
    # The two bad rows, with the spreadsheet's row numbers (row 1 holds the column names).
    assert "0812" in preview and "TK Z Tidak Ada" in preview
    screenshot(page, "import-preview", tmp_path)
    page.click("input[name=confirm]")
    page.wait_for_selector(".messagelist")


def run_report_action(page, report, action):
    page.goto("/admin/reports/monthlyreport/")
    page.check(f"input[name=_selected_action][value='{report.pk}']")
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def wait_for_state(page, report, state):
    page.goto("/admin/reports/monthlyreport/")
    page.wait_for_selector(
        f".wa-progress[data-report-id='{report.pk}'][data-state='{state}']", timeout=45_000
    )


def test_an_admin_imports_sends_watches_resends_and_reads_the_alert(
    page, school, fake, worker, tmp_path
):
    report = school
    fake.script(FLAKY_PHONE, "http_500", "http_500", "http_500")

    log_in(page)
    import_students(page, tmp_path)
    assert sorted(Student.objects.values_list("nis", flat=True)) == [
        "A001",
        "A002",
        "A003",
        "A006",
    ]

    run_report_action(page, report, "send_whatsapp_broadcast")
    page.wait_for_selector("input[name=post][value=yes]", state="attached")
    assert "4 orang tua akan menerima pesan WhatsApp." in page.content()
    screenshot(page, "send-confirmation", tmp_path)
    page.click("#content form input[type=submit]")
    page.wait_for_selector(".messagelist .success")

    # The list refreshes itself while sending; three parents get it, one fails 3 times.
    wait_for_state(page, report, "finished_with_failures")
    screenshot(page, "report-progress", tmp_path)
    assert fake.accepted_count_by_target() == {
        "6281210000001": 1,
        "6281210000002": 1,
        "6281210000006": 1,
    }

    run_report_action(page, report, "resend_failed_broadcasts")
    page.click("#content form input[type=submit]")
    page.wait_for_selector(".messagelist")
    wait_for_state(page, report, "finished")
    assert fake.duplicates() == {}
    assert fake.accepted_count_by_target()[FLAKY_PHONE] == 1
    assert set(MonthlyReportBroadcast.objects.values_list("status", flat=True)) == {"sent"}

    # The alert about the failure: counted in the header, opened, then read.
    page.goto("/admin/")
    with page.expect_navigation():
        page.click("a:has-text('Notifikasi (')")
    with page.expect_navigation():
        page.click("#result_list tbody tr th a")
    page.wait_for_selector("#content form, #content .readonly")
    assert "Citra Lestari" in page.content()
    page.goto("/admin/")
    assert page.locator("a:has-text('Notifikasi (')").count() == 0
