"""The admin's lists as a school admin sees them on a 1366x768 laptop and a 390x844 phone.

A live server and Chromium (no worker: the rows are made here, as the worker leaves
them). What the admin came for is on the first screen without scrolling sideways: a
failed message's status and reason, the report's progress; and no developer word.
Layout is measured in the page.
"""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from broadcasts.models import BroadcastAttempt, MonthlyReportBroadcast
from reports.models import MonthlyReport
from students.models import Classroom, Student
from tests.broadcasts.test_admin_pages import DEVELOPER_WORDS
from tests.conftest import restore_roles

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "kata-sandi-uji-123"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
LONG_REASON = (
    "Nomor tujuan tidak terdaftar di WhatsApp menurut Fonnte setelah tiga kali percobaan "
    "pengiriman, periksa kembali nomor orang tua di data siswa lalu kirim ulang pesannya"
)


@pytest.fixture(autouse=True)
def _fresh_fake():
    """No worker and no fake Fonnte here: the rows are made as a worker leaves them."""
    yield


@pytest.fixture
def school():
    """A class with long names, its report sent: a failed row with a long reason and two
    attempts numbered 1 by a resend, a delivered and a read row, one waiting."""
    restore_roles()
    classroom = Classroom.objects.create(name="TK B Bunga Matahari Kelompok Pagi")
    report = MonthlyReport.objects.create(classroom=classroom, month=11, year=2026)
    now = timezone.now()
    rows = {}
    for i, status in enumerate(["failed", "sent", "sent", "pending", "unknown"]):
        student = Student.objects.create(
            nis=f"2026{i:04d}",
            full_name=f"Muhammad Alfarizqi Rahmatullah Putra Pratama Wijayakusuma {i}",
            classroom=classroom,
            parent_name="Ibu Siti Nurhaliza Rahmawati Kusumaningrum",
            parent_phone=f"6281234567{i:03d}",
            whatsapp_registered=bool(i),
        )
        rows[status if status not in rows else "read"] = MonthlyReportBroadcast.objects.create(
            monthly_report=report,
            student=student,
            phone_number=student.parent_phone,
            message="Assalamu'alaikum",
            status=status,
            retry_count=1 if status == "failed" else 0,
            error_message=LONG_REASON if status == "failed" else "",
            response='{"status": false, "reason": "target invalid"}' if status == "failed" else "",
            delivery_state={"sent": "delivered"}.get(status, ""),
            sent_at=now if status == "sent" else None,
        )
    rows["read"].delivery_state = "read"
    rows["read"].save()
    for number, outcome in ((1, "retry"), (2, "failed"), (1, "failed")):
        BroadcastAttempt.objects.create(
            broadcast=rows["failed"],
            number=number,
            started_at=now,
            finished_at=now + timedelta(seconds=1),
            outcome=outcome,
            detail="Fonnte: target invalid",
        )
    admin = get_user_model().objects.create_user("kepala", password=PASSWORD, is_staff=True)
    admin.groups.add(Group.objects.get(name="admin"))
    return {"report": report, "rows": rows}


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


def overflow(page) -> int:
    """How far the page, or the list's own scrolling box, runs past its right edge (px)."""
    return page.evaluate(
        """() => Math.max(
            document.documentElement.scrollWidth - window.innerWidth,
            ...Array.from(document.querySelectorAll("#changelist .results"),
                          box => box.scrollWidth - box.clientWidth),
        )"""
    )


def on_first_screen(page, selector) -> dict:
    """Where ``selector``'s element is, and whether it lies inside the window, seen."""
    return page.eval_on_selector(
        selector,
        """element => {
            const box = element.getBoundingClientRect();
            return {
                left: box.left, right: box.right, top: box.top, bottom: box.bottom,
                text: element.innerText,
                inside: box.left >= 0 && box.right <= window.innerWidth
                    && box.top >= 0 && box.bottom <= window.innerHeight
                    && box.width > 0 && box.height > 0,
            };
        }""",
    )


def developer_words(page) -> list[str]:
    """Words of the code on the page as it reads (a folded section's text included)."""
    return DEVELOPER_WORDS.findall(page.eval_on_selector("body", "body => body.textContent"))


def test_on_a_laptop_the_lists_fit_and_a_failure_says_why(browser, live_server, school):
    context, page = open_as_admin(browser, live_server, LAPTOP)
    failed = school["rows"]["failed"]
    try:
        page.goto("/admin/broadcasts/monthlyreportbroadcast/")
        # The admin's side menu is open, as a laptop shows it first: the list fits beside it.
        assert page.is_visible("#nav-sidebar") and page.is_visible("#main.shifted")
        assert overflow(page) <= 0
        row = f"#result_list tr:has(a[href$='/{failed.pk}/change/'])"
        status = on_first_screen(page, f"{row} .wa-status")
        assert status["inside"] and status["text"] == "Gagal", status
        reason = on_first_screen(page, f"{row} .wa-reason")
        assert reason["inside"] and reason["text"].startswith(LONG_REASON[:40]), reason
        assert page.get_attribute(f"{row} .wa-reason", "title") == LONG_REASON
        assert developer_words(page) == []

        page.goto("/admin/students/student/")
        assert page.is_visible("#nav-sidebar")
        assert overflow(page) <= 0
        flag = on_first_screen(page, "#result_list tbody tr:first-child .field-on_whatsapp")
        assert flag["inside"], flag
        # The child's name opens the child's page, as the NIS does.
        name = page.locator("#result_list tbody tr:first-child .field-full_name a")
        assert name.inner_text().startswith("Muhammad Alfarizqi")
        assert name.get_attribute("href").endswith("/change/")
        assert developer_words(page) == []

        page.goto(f"/admin/broadcasts/monthlyreportbroadcast/{failed.pk}/change/")
        assert developer_words(page) == []
        numbers = page.locator("td.field-ordinal").all_inner_texts()
        assert numbers == ["1", "2", "3"]
        assert page.locator("input[type=submit], .deletelink").count() == 0
    finally:
        context.close()


def test_on_a_phone_progress_and_status_are_in_view(browser, live_server, school):
    context, page = open_as_admin(browser, live_server, PHONE)
    report, failed = school["report"], school["rows"]["failed"]
    try:
        page.goto("/admin/reports/monthlyreport/")
        assert overflow(page) <= 0
        progress = on_first_screen(page, f".wa-progress[data-report-id='{report.pk}']")
        assert progress["inside"], progress
        assert developer_words(page) == []

        page.goto("/admin/broadcasts/monthlyreportbroadcast/")
        assert overflow(page) <= 0
        row = f"#result_list tr:has(a[href$='/{failed.pk}/change/'])"
        status = on_first_screen(page, f"{row} .wa-status")
        assert status["inside"] and status["text"] == "Gagal", status
        assert on_first_screen(page, f"{row} .wa-reason")["inside"]
    finally:
        context.close()
