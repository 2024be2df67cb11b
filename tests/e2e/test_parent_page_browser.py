"""The parent's page on a 390x844 phone, in a real browser: the school, the child, the button.

With ``UPDATE_SCREENSHOTS=1`` it also writes docs/screenshots/hp-halaman-orang-tua.png (the
first screen a parent sees), for the staff manual.
"""

import os
from pathlib import Path

import pytest

from broadcasts.models import MonthlyReportBroadcast
from broadcasts.services import broadcast_create_for_report
from tests.conftest import store_report_file

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
SCREENSHOT = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "hp-halaman-orang-tua.png"
)


@pytest.fixture(autouse=True)
def _fresh_fake():
    """Replaces the e2e conftest's: no worker and no fake Fonnte are needed here."""
    yield


@pytest.fixture
def link(report, make_student, django_user_model):
    staff = django_user_model.objects.create_superuser("tu", "tu@example.com", "pw")
    student = make_student(name="Aisyah Putri")
    store_report_file(report, student, name="A001.pdf", user=staff)
    broadcast_create_for_report(monthly_report=report)
    row = MonthlyReportBroadcast.objects.get()
    return row, f"/laporan/{row.link_token}/"


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url,
        locale="id-ID",
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        java_script_enabled=False,  # the page needs none
        accept_downloads=True,
    )
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def test_a_parent_opens_the_report_on_a_phone(phone, link):
    row, path = link
    phone.goto(path)

    body = phone.locator("body")
    for text in ("TK ABA Assalam", "Aisyah Putri", "November 2026", "Buka laporan"):
        assert text in body.inner_text()
    button = phone.get_by_role("link", name="Buka laporan")
    box = button.bounding_box()
    # Large, on the first screen, the whole width of the card: easy to tap.
    assert box["height"] >= 48 and box["width"] >= 300 and box["y"] + box["height"] <= 844
    assert phone.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=str(SCREENSHOT))

    with phone.expect_response(lambda response: response.url.endswith("/berkas/")) as answer:
        button.click()
    response = answer.value
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline")
    row.refresh_from_db()
    assert row.opened_at is not None and row.open_count == 1
