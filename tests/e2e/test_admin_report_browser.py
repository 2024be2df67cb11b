"""The monthly report's pages on a 1366x768 laptop, in a real browser (issue 12, §2-4).

From the page of a report not sent yet: the send button, a confirmation whose decision
(what will happen, the confirm and back buttons) fits the first screen, the banner, the
list's progress and the report page counting the same messages in the same words, and
the report page naming the child whose message failed, with links that open.
"""

import re

import pytest

from broadcasts.models import MonthlyReportBroadcast
from students.models import Guardian, Student
from tests.e2e.test_admin_browser import (  # noqa: F401  (fixtures, used by name)
    FINISH_TIMEOUT_MS,
    log_in,
    school,
)
from tests.e2e.test_admin_lists_browser import developer_words

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or fails, where CI requires it)
    expect = None

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture
def laptop(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="id-ID", viewport=LAPTOP)
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def bottom(locator) -> float:
    """Where the element ends, in the viewport (the page is not scrolled)."""
    return locator.evaluate("element => element.getBoundingClientRect().bottom")


def fits_sideways(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_a_report_is_sent_from_its_page_and_every_page_counts_alike(
    laptop,
    school,  # noqa: F811
    fake,
    worker,
):
    page, report = laptop, school
    for nis, name, phone in [
        ("A001", "Aisyah Putri", "0812-1000-0001"),
        ("A002", "Bima Saputra", "0812-1000-0002"),
        ("A003", "Dewi Anggraini", "0812"),  # not a valid number: its message fails
        ("A004", "Eko Prasetyo", ""),  # no number: skipped, no message
        ("A005", "Fajar Ramadhan", "0812-1000-0005"),  # not on WhatsApp: skipped
    ]:
        student = Student.objects.create(nis=nis, full_name=name, classroom=report.classroom)
        Guardian.objects.create(student=student, name="Ibu", relation="ibu", phone=phone)
    # Checked with Fonnte and not on WhatsApp (saving a number clears the check).
    Guardian.objects.filter(student__nis="A005").update(whatsapp_registered=False)
    dewi = Student.objects.get(nis="A003")
    log_in(page)

    # The report page of an unsent report: a send button, no action dropdown needed.
    page.goto(f"/admin/reports/monthlyreport/{report.pk}/change/")
    send = page.locator(".wa-send-form input[type=submit]")
    expect(send).to_have_value("Kirim notifikasi WhatsApp")
    with page.expect_navigation():
        send.click()

    # The confirmation: the decision inside the first screen, the details below it.
    headline = page.locator(".wa-recipients")
    expect(headline).to_have_text(
        "3 anak, 3 nomor WhatsApp: 2 akan dikirim, 1 akan gagal (nomornya bukan nomor "
        "seluler Indonesia yang valid)."
    )
    confirm = page.locator(".wa-decision input[type=submit]")
    back = page.locator(".wa-decision .cancel-link")
    assert page.evaluate("window.scrollY") == 0
    assert bottom(headline) <= LAPTOP["height"]
    assert bottom(confirm) <= LAPTOP["height"], "the confirm button is below the fold"
    assert bottom(back) <= LAPTOP["height"]
    assert fits_sideways(page)
    assert developer_words(page) == []
    # The invalid number, shown once, its child a link to fix it.
    # The child, then the guardian and relation (whatever the setup names them), the number.
    expect(page.locator(".wa-invalid li")).to_have_text(
        re.compile(rf"^Dewi Anggraini \({dewi.nis}\), .+ \(\w+\): 0812$")
    )
    with page.expect_navigation():
        confirm.click()

    # The banner announces a failure: a warning, in the confirmation's words.
    banner = page.locator(".messagelist li")
    expect(banner).to_have_class(re.compile(r"\bwarning\b"))
    expect(banner).to_contain_text("3 anak, 3 nomor WhatsApp: 2 akan dikirim, 1 akan gagal")

    # The list's progress ends with the same three messages: no percentage.
    widget = page.locator(f".wa-progress[data-report-id='{report.pk}']")
    expect(widget).to_have_attribute(
        "data-state", "finished_with_failures", timeout=FINISH_TIMEOUT_MS
    )
    expect(widget.locator("[data-field='summary']")).to_have_text("2 dari 3 terkirim, 1 gagal")
    assert "%" not in widget.inner_text()
    assert fake.accepted_count_by_target() == {"6281210000001": 1, "6281210000002": 1}

    # The report page: the same counts, and who failed, with links that open.
    page.goto(f"/admin/reports/monthlyreport/{report.pk}/change/")
    expect(page.locator(".wa-progress [data-field='summary']")).to_have_text(
        "2 dari 3 terkirim, 1 gagal"
    )
    assert page.locator(".wa-send-form").count() == 0  # sent: no second send button
    failed_row = page.locator(".wa-undelivered tbody tr")
    expect(failed_row).to_have_count(1)
    expect(failed_row).to_contain_text(f"Dewi Anggraini ({dewi.nis})")
    expect(failed_row).to_contain_text("Nomor telepon tidak valid")
    assert bottom(failed_row) <= LAPTOP["height"], "who failed is below the fold"
    assert fits_sideways(page)
    assert developer_words(page) == []
    row = MonthlyReportBroadcast.objects.get(student=dewi)

    with page.expect_navigation():
        failed_row.locator("a.wa-student-link").click()
    assert page.url.endswith(f"/admin/students/student/{dewi.pk}/change/")
    # The link leads to where the number is fixed: the guardian's row on the child's page.
    expect(page.locator("input[name='guardians-0-phone']")).to_have_value("0812")
    expect(page.locator("input[name='guardians-INITIAL_FORMS']")).to_have_value("1")
    page.go_back()
    with page.expect_navigation():
        failed_row.locator("a.wa-row-link").click()
    assert page.url.endswith(f"/admin/broadcasts/monthlyreportbroadcast/{row.pk}/change/")
    page.go_back()
    with page.expect_navigation():
        page.locator(".wa-progress-counts a.wa-count-failed").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text("Dewi Anggraini")

    # Resending while Dewi's number is still wrong: one sentence, her name a link, no
    # confirm button.
    page.goto("/admin/reports/monthlyreport/")
    page.check(f"#result_list input[name=_selected_action][value='{report.pk}']")
    page.select_option("select[name=action]", "resend_failed_broadcasts")
    with page.expect_navigation():
        page.click("#changelist-form button[name=index]")
    expect(page.locator(".wa-nothing")).to_have_text(
        "Belum ada pesan yang bisa dikirim ulang: perbaiki dulu nomor wali murid anak-anak di "
        "bawah ini di data siswa, lalu kirim ulang."
    )
    expect(page.locator(".wa-invalid a.wa-student-link")).to_have_text("Dewi Anggraini")
    assert page.locator("#content input[type=submit]").count() == 0
    assert developer_words(page) == []
