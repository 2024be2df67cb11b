"""A report's files on its page, in a real browser: a class of 60 on a 1366x768 laptop and
on a 390x844 phone (nothing wider than the screen), one file uploaded, then removed."""

import os

import pytest

from reports.models import ReportFile
from students.models import Guardian, Student
from tests.conftest import PDF, store_report_file
from tests.e2e.test_admin_browser import (  # noqa: F401  (fixtures, used by name)
    log_in,
    school,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or fails, where CI requires it)
    expect = None

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: Where to keep the pages' pictures for a look (REPORT_FILES_SHOTS=folder), else nowhere.
SHOTS = os.environ.get("REPORT_FILES_SHOTS", "")


def a_class_of_sixty(report):
    students = Student.objects.bulk_create(
        Student(
            nis=f"A{n:03d}",
            full_name=f"Siswa Nomor {n} Binti Abdurrahman",
            classroom=report.classroom,
        )
        for n in range(1, 61)
    )
    Guardian.objects.bulk_create(
        Guardian(student=student, name="Ibu", relation="ibu", phone="") for student in students
    )
    for student in students[:40]:
        store_report_file(report, student, name=f"{student.nis}.pdf")
    return students


def fits_sideways(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


@pytest.mark.parametrize(
    ("device", "viewport"),
    [("laptop", {"width": 1366, "height": 768}), ("phone", {"width": 390, "height": 844})],
)
def test_a_file_is_uploaded_and_removed_from_the_report_page(
    browser,
    live_server,
    school,  # noqa: F811
    tmp_path,
    device,
    viewport,
):
    report = school
    students = a_class_of_sixty(report)
    context = browser.new_context(base_url=live_server.url, locale="id-ID", viewport=viewport)
    context.set_default_timeout(20_000)
    page = context.new_page()
    log_in(page)
    page.goto(f"/admin/reports/monthlyreport/{report.pk}/change/")

    section = page.locator("#report-files")
    expect(section.locator(".rf-count")).to_have_text("40 dari 60 siswa sudah punya berkas")
    assert fits_sideways(page), f"the report page is wider than the {device}'s screen"
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/report-files-{device}.png", full_page=False)

    # Upload the 41st child's file from their line.
    child = students[40]
    line = section.locator(f"tr[data-student='{child.nis}']")
    expect(line.locator(".rf-none")).to_have_text("belum ada berkas")
    upload = tmp_path / "rapor.pdf"
    upload.write_bytes(PDF)
    line.locator("input[type=file]").set_input_files(str(upload))
    with page.expect_navigation():
        line.locator("input[type=submit]").click()

    expect(page.locator(".messagelist")).to_contain_text(
        f"{child.full_name}: berkas laporan ditambahkan."
    )
    expect(section.locator(".rf-count")).to_have_text("41 dari 60 siswa sudah punya berkas")
    expect(line.locator(".rf-view")).to_contain_text("PDF")
    assert ReportFile.objects.filter(monthly_report=report, student=child).exists()
    assert fits_sideways(page)

    # Remove it: a confirmation first, then the line says there is no file.
    line.locator(".rf-remove").click()
    expect(page.locator("h1")).to_have_text("Hapus berkas laporan ini?")
    assert fits_sideways(page)
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/report-file-remove-{device}.png")
    with page.expect_navigation():
        page.locator("input[type=submit]").click()
    expect(page.locator(".messagelist")).to_contain_text("berkas laporan dihapus.")
    expect(line.locator(".rf-none")).to_have_text("belum ada berkas")
    assert not ReportFile.objects.filter(monthly_report=report, student=child).exists()
    context.close()
