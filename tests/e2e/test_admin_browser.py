"""The admin as a school admin uses it, in a real browser (Debian's Chromium via Playwright).

A live server, a real Celery worker and the fake Fonnte: log in, import a student file
with bad rows, send a class's broadcast, watch the report list's progress move by itself
(no reload) to the end, resend the failed message, read the alert. The staff manual's
screenshots are taken by tests/e2e/test_admin_screenshots.py.

Without Chromium or Playwright the test is skipped, unless ``TEST_REQUIRE`` (a comma
list, as CI exports it) names ``browser``: then it fails.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from broadcasts.models import MonthlyReportBroadcast
from reports.models import MonthlyReport
from students.models import Classroom, Student
from tests.conftest import restore_roles

try:
    from playwright.sync_api import expect
except ImportError:  # the dev extra is not installed: the browser fixture says so
    expect = None

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "kata-sandi-uji-123"
#: The parent whose first message Fonnte refuses three times (then accepts).
FLAKY_PHONE = "6281210000003"
#: Seconds the fake Fonnte takes to answer each message: the sending lasts long enough to
#: be seen. Below the worker's FONNTE_READ_TIMEOUT (1 s, tests/e2e/conftest.py).
FONNTE_LATENCY = 0.4
#: How long the page may take to show the end by itself (it polls every ~3 s).
FINISH_TIMEOUT_MS = 90_000
#: Seconds to wait for the failure alert (WHATSAPP_ALERT_DELAY is 1 s in the e2e worker).
ALERT_WAIT_S = 30
#: The five counts of a report's progress; they add up to its number of rows.
COUNTS = ("sent", "failed", "in_progress", "unknown", "waiting")

STUDENTS_CSV = """nis,full_name,classroom,parent_name,parent_phone
A001,Aisyah Putri,TK A Melati,Ibu Siti,0812-1000-0001
A002,Bima Saputra,TK A Melati,Bapak Ahmad,+62 812 1000 0002
A003,Citra Lestari,TK A Melati,Ibu Rina,812 1000 0003
A004,Dewi Anggraini,TK A Melati,Ibu Wati,0812
A005,Eko Prasetyo,TK Z Tidak Ada,Bapak Joko,0812-1000-0005
A006,Fajar Ramadhan,TK A Melati,Bapak Dedi,6281210000006
"""


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
    """A class, its report, and the school's administrator: a member of the ``admin`` group
    (what the school gives its staff), not a superuser."""
    restore_roles()  # an earlier transactional test's flush removed them
    classroom = Classroom.objects.create(name="TK A Melati")
    report = MonthlyReport.objects.create(classroom=classroom, month=11, year=2026)
    admin = get_user_model().objects.create_user(
        "kepala", "kepala@example.com", PASSWORD, is_staff=True
    )
    admin.groups.add(Group.objects.get(name="admin"))
    return report


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
    page.click("input[type=submit]")
    page.wait_for_selector("input[name=confirm]")
    preview = page.content()
    # The two bad rows, with the spreadsheet's row numbers (row 1 holds the column names).
    assert "0812" in preview and "TK Z Tidak Ada" in preview
    page.click("input[name=confirm]")
    page.wait_for_selector(".messagelist")


def run_report_action(page, report, action):
    page.goto("/admin/reports/monthlyreport/")
    page.check(f"input[name=_selected_action][value='{report.pk}']")
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def read_the_alert(page):
    """Wait for the one unread alert in the header, open it, follow its link to the messages."""
    alerts = page.locator("#notifications-link")
    for _ in range(ALERT_WAIT_S):  # the count is drawn by the server: look again each second
        page.goto("/admin/")
        if "unread" in (alerts.get_attribute("class") or ""):
            break
        page.wait_for_timeout(1000)
    expect(alerts).to_have_class(re.compile(r"\bunread\b"))
    expect(alerts).to_have_text(re.compile(r"\(1\)$"))
    with page.expect_navigation():
        alerts.click()
    with page.expect_navigation():
        page.click("#result_list tbody tr th a")
    assert "Citra Lestari" in page.content()
    with page.expect_navigation():
        page.get_by_role("link", name="Buka pesan terkait").click()
    # Opened once, it is read: the header of the page the link led to shows no count.
    expect(alerts).not_to_have_class(re.compile(r"\bunread\b"))
    expect(alerts).not_to_have_text(re.compile(r"\(\d+\)"))


def shown_progress(widget) -> dict:
    """The widget's state and five counts, read at once (the page may change them any time)."""
    return widget.evaluate(
        """widget => {
            const shown = {state: widget.dataset.state};
            for (const count of widget.querySelectorAll("[data-count]")) {
                shown[count.dataset.count] = Number(count.textContent);
            }
            return shown;
        }"""
    )


def watch_the_list_finish(page, report, total, state, **counts):
    """On the report list the admin just landed on: "sending" with rows left, then — no
    reload, no navigation — the page itself shows ``state`` and the final ``counts``."""
    widget = page.locator(f".wa-progress[data-report-id='{report.pk}']")
    first = shown_progress(widget)
    assert first["state"] == "sending", first
    assert sum(first[name] for name in COUNTS) == total, first
    assert first["sent"] + first["failed"] + first["unknown"] < total, first

    # A reload or a navigation would drop this mark, and the polls are the page's own.
    page.evaluate("window.e2eSameDocument = true")
    progress_path = widget.get_attribute("data-progress-url")
    polls = []

    def count_poll(request):
        if progress_path in request.url:
            polls.append(request.url)

    page.on("request", count_poll)
    try:
        expect(widget).to_have_attribute("data-state", state, timeout=FINISH_TIMEOUT_MS)
    finally:
        page.remove_listener("request", count_poll)
    for name in COUNTS:
        expect(widget.locator(f"[data-count='{name}']")).to_have_text(str(counts.get(name, 0)))
    assert page.evaluate("window.e2eSameDocument") is True
    assert polls, "the page changed without asking the progress view"


def test_an_admin_imports_sends_watches_resends_and_reads_the_alert(
    page, school, fake, worker, tmp_path
):
    report = school
    fake.latency = FONNTE_LATENCY
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
    # Four children, one number each (the import gives each child one guardian): all sent.
    expect(page.locator(".wa-recipients")).to_have_text(
        "4 anak, 4 nomor WhatsApp: semuanya akan dikirim."
    )
    page.click("#content form input[type=submit]")
    page.wait_for_selector(".messagelist .success")

    # Three parents get it; the flaky one is refused on every attempt (the retries' delays
    # keep the report "sending" for seconds): the list shows it all by itself.
    watch_the_list_finish(page, report, 4, "finished_with_failures", sent=3, failed=1)
    assert fake.accepted_count_by_target() == {
        "6281210000001": 1,
        "6281210000002": 1,
        "6281210000006": 1,
    }

    # The alert about the failure: counted in the header, opened (now read), and its link
    # leads to the failed message.
    read_the_alert(page)
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    assert "Citra Lestari" in page.locator("#result_list").inner_text()

    # Refused once more on the resend, accepted on the worker's retry: seen live again.
    fake.script(FLAKY_PHONE, "http_500")
    run_report_action(page, report, "resend_failed_broadcasts")
    page.click("#content form input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    watch_the_list_finish(page, report, 4, "finished", sent=4)
    assert fake.duplicates() == {}
    assert fake.accepted_count_by_target()[FLAKY_PHONE] == 1
    assert set(MonthlyReportBroadcast.objects.values_list("status", flat=True)) == {"sent"}
