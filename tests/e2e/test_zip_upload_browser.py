"""The ZIP upload of a report's files in a real browser, on a 1366x768 laptop and a phone.

The school's admin chooses a ZIP, reads the preview (the verdict and the button within
the first screen, nothing wider than the screen) and confirms; the report page says how
many files were stored. With ``UPDATE_SCREENSHOTS=1`` (``make screenshots``) the laptop's
preview is the manual's docs/screenshots/zip-upload-preview.png (1366x768);
ZIP_UPLOAD_SCREENSHOT=<file.png> saves it elsewhere.
"""

import os
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from reports.models import MonthlyReport, ReportFile
from students.models import Student
from tests.conftest import PDF
from tests.e2e.test_admin_browser import log_in, school  # noqa: F401  (fixtures, used by name)
from tests.e2e.test_admin_report_browser import bottom, fits_sideways

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or fails, where CI requires it)
    expect = None

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "zip-upload-preview.png"
SCREENS = {"laptop": {"width": 1366, "height": 768}, "phone": {"width": 360, "height": 740}}


def allow_file_uploads():
    """The admin group's permission to manage report files (its migration grants it)."""
    permission, _ = Permission.objects.get_or_create(
        codename="manage_report_files",
        content_type=ContentType.objects.get_for_model(MonthlyReport),
        defaults={"name": "Can upload, replace and remove report files"},
    )
    Group.objects.get(name="admin").permissions.add(permission)


@pytest.mark.parametrize("screen", list(SCREENS))
def test_a_zip_is_previewed_then_stored(
    browser,
    live_server,
    school,  # noqa: F811
    tmp_path,
    screen,
):
    report = school
    allow_file_uploads()
    for n, name in enumerate(["Aisyah Putri", "Bima Saputra", "Citra Lestari"], start=1):
        Student.objects.create(nis=f"A00{n}", full_name=name, classroom=report.classroom)
    zip_path = tmp_path / "laporan-november.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("A001 - Aisyah Putri.pdf", PDF)
        archive.writestr("a002_bima.PDF", PDF)
        archive.writestr("Z999 - entah siapa.pdf", PDF)
        archive.writestr("A003.pdf", b"bukan laporan")
    context = browser.new_context(
        base_url=live_server.url, locale="id-ID", viewport=SCREENS[screen]
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        log_in(page)
        page.goto(f"/admin/reports/monthlyreport/{report.pk}/upload-zip/")
        expect(page.locator("h1")).to_contain_text("Unggah berkas laporan (ZIP)")
        page.set_input_files("input[name=zip_file]", str(zip_path))
        page.click("input[type=submit]")

        verdict = page.locator(".zip-verdict-store")
        expect(verdict).to_contain_text("2 berkas akan disimpan")
        confirm = page.locator("input[name=confirm]")
        expect(confirm).to_have_value("Simpan 2 berkas")
        assert bottom(confirm) <= SCREENS[screen]["height"]
        assert fits_sideways(page)
        expect(page.locator(".zip-unmatched")).to_contain_text("Z999 - entah siapa.pdf")
        expect(page.locator(".zip-refused")).to_contain_text("PDF, JPEG, atau PNG")
        expect(page.locator(".zip-verdict-left-out")).to_contain_text("2 berkas dari ZIP")
        if screen == "laptop" and os.environ.get("ZIP_UPLOAD_SCREENSHOT"):
            page.screenshot(path=os.environ["ZIP_UPLOAD_SCREENSHOT"])
        elif screen == "laptop" and os.environ.get("UPDATE_SCREENSHOTS") == "1":
            page.screenshot(path=str(SCREENSHOT))

        confirm.click()
        expect(page.locator(".messagelist")).to_contain_text(
            "2 berkas disimpan, 0 mengganti berkas lama."
        )
        assert page.url.endswith(f"/admin/reports/monthlyreport/{report.pk}/change/")
        assert set(ReportFile.objects.values_list("student__nis", flat=True)) == {"A001", "A002"}
    finally:
        context.close()
