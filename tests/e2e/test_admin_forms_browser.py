"""The message template and the student import as a school admin meets them at 1366x768.

The template is one row in its list, opened and saved from there; after "Lanjutkan" the
import's verdict and its button are on the first screen, and the valid rows of a file with
rows in error are imported without choosing the file again. No worker, no Fonnte: these
pages send nothing.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from broadcasts.messages import current_template
from broadcasts.models import MessageTemplate
from students.models import Classroom, Student
from tests.conftest import restore_roles
from tests.e2e.test_admin_browser import PASSWORD, log_in
from tests.e2e.test_admin_lists_browser import developer_words

try:
    from playwright.sync_api import expect
except ImportError:  # the dev extra is not installed: the browser fixture says so
    expect = None

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORT = {"width": 1366, "height": 768}
# Rows 3 and 5 are refused; row 4 has no number.
STUDENTS_CSV = """nis,nama_lengkap,kelas,nama_orang_tua,nomor_whatsapp
A001,Aisyah Putri,TK A Melati,Ibu Siti,0812-1000-0001
A002,Bima Saputra,TK A Melati,Bapak Ahmad,0812
A003,Citra Lestari,TK A Melati,Ibu Rina,
A004,Dewi Anggraini,TK Z Tidak Ada,Ibu Wati,0812-1000-0004
A005,Eko Prasetyo,TK A Melati,Bapak Joko,0812-1000-0005
"""


@pytest.fixture(autouse=True)
def _fresh_fake():
    """Replaces the e2e conftest's: no worker and no fake Fonnte are started for these pages."""
    yield


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="id-ID", viewport=VIEWPORT)
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def school():
    """A class and the school's administrator (the ``admin`` group, not a superuser)."""
    restore_roles()  # an earlier transactional test's flush removed them
    Classroom.objects.create(name="TK A Melati")
    admin = get_user_model().objects.create_user(
        "kepala", "kepala@example.com", PASSWORD, is_staff=True
    )
    admin.groups.add(Group.objects.get(name="admin"))


def on_first_screen(locator):
    """Whether the element is inside the 768 px of the first screen, the page not scrolled."""
    return locator.evaluate(
        "el => window.scrollY === 0 && el.getBoundingClientRect().top >= 0"
        " && el.getBoundingClientRect().bottom <= window.innerHeight"
    )


def test_the_template_row_and_the_import_verdict_on_the_first_screen(page, school, tmp_path):
    log_in(page)

    # The template: one row, the text in use, opened from the list and saved.
    page.goto("/admin/broadcasts/messagetemplate/")
    expect(page.locator("#changelist-form .paginator")).to_contain_text("1 templat pesan")
    assert page.locator("#content a.addlink").count() == 0
    with page.expect_navigation():
        page.click("#result_list tbody tr th a")
    text = page.locator("textarea[name=text]")
    assert "Silakan" in text.input_value()
    assert page.locator("#content .deletelink").count() == 0
    assert developer_words(page) == []
    text.fill("Yth. Bapak/Ibu {nama_orang_tua}, laporan {nama_siswa} {bulan} {tahun} siap.")
    with page.expect_navigation():
        page.click("input[name=_save]")
    assert MessageTemplate.objects.count() == 1
    assert current_template().startswith("Yth. Bapak/Ibu {nama_orang_tua}")

    # The import: after "Lanjutkan", the verdict and its button are on the first screen.
    csv = tmp_path / "siswa.csv"
    csv.write_text(STUDENTS_CSV, encoding="utf-8")
    page.goto("/admin/students/student/import/")
    page.set_input_files("input[name=import_file]", str(csv))
    page.select_option("select[name=format]", label="csv")
    with page.expect_navigation():
        page.click("#content input[type=submit]")
    verdict = page.locator("#import-verdict")
    expect(verdict).to_contain_text("siswa.csv")
    expect(verdict).to_contain_text("3 baris akan diimpor")
    expect(verdict).to_contain_text("2 baris ditolak")
    expect(verdict).to_contain_text("Baris 3: Nomor WhatsApp orang tua")
    expect(verdict).to_contain_text("tidak akan menerima pesan (baris 4: Citra Lestari)")
    button = page.locator("input[name=confirm]")
    expect(button).to_have_value("Impor 3 baris yang valid")
    assert on_first_screen(verdict) and on_first_screen(button)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert developer_words(page) == []

    # The valid rows, from the upload kept for them: no file chosen again.
    with page.expect_navigation():
        button.click()
    expect(page.locator(".messagelist")).to_contain_text("Siswa ditambahkan: 3")
    assert set(Student.objects.values_list("nis", flat=True)) == {"A001", "A003", "A005"}
