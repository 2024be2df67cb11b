"""The school's own wording: placeholders checked before anything is sent, preview, use."""

import pytest
from django.utils import translation

from broadcasts.messages import DEFAULT_TEMPLATE, current_template, template_errors
from broadcasts.models import MessageTemplate, MonthlyReportBroadcast
from broadcasts.services import broadcast_create_for_report

ADD_URL = "/admin/broadcasts/messagetemplate/add/"


def test_the_seed_text_is_a_valid_template():
    assert template_errors(DEFAULT_TEMPLATE) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Halo {nama_sisw}", "{nama_sisw}"),
        ("Halo {nama_siswa} {NAMA}", "{NAMA}"),
        ("Kurung {nama_siswa", "{{"),
        ("Kurung }", "{{"),
        ("   ", "Pesan kosong."),  # the message is empty
        ("Halo {0}", "{0}"),
        ("Halo {}", "{}"),
        ("Halo {nama_siswa.upper}", "{nama_siswa.upper}"),
        ("Halo {nama_siswa[0]}", "{nama_siswa[0]}"),
    ],
)
def test_a_misspelt_placeholder_or_stray_brace_is_an_error_that_names_it(text, expected):
    errors = template_errors(text)
    assert errors
    assert expected in " ".join(errors)


@pytest.mark.parametrize(
    "placeholder",
    [
        "{nama_siswa:d}",  # ValueError for a text when rendered
        "{nama_siswa!z}",  # ValueError: unknown conversion
        "{nama_siswa!r}",  # renders 'Aisyah' with quotes
        "{nama_siswa:>{kelas}}",  # a nested placeholder as the width
        "{bulan:%B}",
        "{tahun:>30}",  # pads the year with spaces
    ],
)
def test_a_format_spec_or_conversion_is_an_error_that_names_the_placeholder(placeholder):
    with translation.override("id"):
        errors = template_errors(f"Laporan {placeholder} sudah ada.")

    assert len(errors) == 1
    assert placeholder in errors[0]
    assert "Isian otomatis hanya berisi namanya" in errors[0]


def test_the_admin_form_refuses_a_format_spec(admin_client):
    response = admin_client.post(ADD_URL, {"text": "Laporan {nama_siswa:d} sudah ada."})

    form = response.context["adminform"].form
    assert "{nama_siswa:d}" in str(form.errors["text"])
    assert not MessageTemplate.objects.exists()


def test_the_default_is_used_until_the_school_writes_its_own(db):
    assert current_template() == DEFAULT_TEMPLATE
    MessageTemplate.objects.create(text="Ananda {nama_siswa}: laporan {bulan} {tahun} siap.")
    assert current_template() == "Ananda {nama_siswa}: laporan {bulan} {tahun} siap."


def test_new_rows_use_the_schools_template(report, make_student):
    MessageTemplate.objects.create(
        text="Yth. {nama_orang_tua}, laporan {nama_siswa} ({kelas}) {bulan} {tahun} siap."
    )
    make_student(name="Aisyah", parent_name="Ibu Siti")
    broadcast_create_for_report(monthly_report=report)
    assert MonthlyReportBroadcast.objects.get().message == (
        "Yth. Ibu Siti, laporan Aisyah (TK A Melati) November 2026 siap."
    )


def test_the_admin_form_refuses_a_typo_and_saves_nothing(admin_client):
    response = admin_client.post(ADD_URL, {"text": "Laporan {nama_sisw} sudah ada."})
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.has_error("text", code="invalid_template")
    assert "{nama_sisw}" in str(form.errors["text"])
    assert not MessageTemplate.objects.exists()


def test_the_admin_saves_a_good_template_and_previews_it_for_a_real_student(
    admin_client, report, make_student, admin_user
):
    make_student(name="Bima Saputra")
    response = admin_client.post(ADD_URL, {"text": "Laporan {nama_siswa} bulan {bulan}."})
    template = MessageTemplate.objects.get()
    assert response.status_code == 302
    assert template.updated_by == admin_user

    page = admin_client.get(f"/admin/broadcasts/messagetemplate/{template.pk}/change/")
    assert "Laporan Bima Saputra bulan November." in page.content.decode()
    assert "{nama_orang_tua}" in page.content.decode()  # the placeholder list


def test_there_is_one_template_per_school(admin_client, db):
    MessageTemplate.objects.create(text="Halo {nama_siswa}")
    assert admin_client.get(ADD_URL).status_code == 403


def test_preview_shows_the_posted_text_for_a_real_student_and_saves_nothing(
    admin_client, report, make_student
):
    make_student(name="Bima Saputra")
    response = admin_client.post(
        ADD_URL, {"text": "Laporan {nama_siswa} bulan {bulan}.", "_preview": "Pratinjau"}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Laporan Bima Saputra bulan November." in page
    assert "errornote" not in page
    assert not MessageTemplate.objects.exists()


def test_preview_of_a_changed_text_leaves_the_saved_one(admin_client, report, make_student):
    make_student(name="Bima Saputra")
    template = MessageTemplate.objects.create(text="Lama: {nama_siswa}.")
    url = f"/admin/broadcasts/messagetemplate/{template.pk}/change/"

    page = admin_client.post(url, {"text": "Baru: {nama_siswa}.", "_preview": "Pratinjau"})

    assert page.status_code == 200
    assert "Baru: Bima Saputra." in page.content.decode()
    assert "Lama: Bima Saputra." not in page.content.decode()
    template.refresh_from_db()
    assert template.text == "Lama: {nama_siswa}."
    assert template.updated_by is None


def test_preview_of_a_misspelt_placeholder_is_the_form_error(admin_client, report, make_student):
    make_student(name="Bima Saputra")
    template = MessageTemplate.objects.create(text="Lama: {nama_siswa}.")
    url = f"/admin/broadcasts/messagetemplate/{template.pk}/change/"

    response = admin_client.post(url, {"text": "Baru: {nama_sisw}.", "_preview": "Pratinjau"})

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.has_error("text", code="invalid_template")
    assert "{nama_sisw}" in str(form.errors["text"])
    assert "Lama: Bima Saputra." not in response.content.decode()  # not the saved one's preview
    template.refresh_from_db()
    assert template.text == "Lama: {nama_siswa}."


def test_the_form_has_a_preview_button_in_indonesian(admin_client, db):
    page = admin_client.get(ADD_URL).content.decode()
    assert '<input type="submit" value="Pratinjau" name="_preview">' in page
    assert "Tekan “Pratinjau”" in page


# --- Length: Fonnte sends at most 60,000 characters ---------------------------------------


def form_errors(response):
    assert response.status_code == 200
    return " ".join(response.context["adminform"].form.errors.get("text", []))


def test_a_template_longer_than_fonnte_accepts_is_refused_in_indonesian(admin_client):
    response = admin_client.post(ADD_URL, {"text": "Halo {nama_siswa}. " + "x" * 100_000})

    errors = form_errors(response)
    assert "paling banyak 60000 karakter" in errors
    assert not MessageTemplate.objects.exists()


def test_a_template_whose_longest_message_is_too_long_is_refused_saying_how_long(admin_client):
    # 400 * 13 = 5,200 characters as written; 400 * 151 = 60,400 with 150-character names.
    text = "{nama_siswa}." * 400

    errors = form_errors(admin_client.post(ADD_URL, {"text": text}))

    assert errors.startswith("Pesan terlalu panjang")
    assert "bisa mencapai 60400 karakter" in errors
    assert "paling banyak 60000" in errors
    assert "paling banyak 4800 karakter (sekarang 5200)" in errors
    assert not MessageTemplate.objects.exists()


def test_a_template_whose_longest_message_just_fits_is_saved(admin_client, settings):
    settings.SCHOOL_WEBSITE = ""  # its line is left out of every message
    padding = 60_000 - 100 - len("September") - len("\n")
    text = "{kelas}{bulan}\n" + "x" * padding + "\nInfo: {situs_sekolah}"

    assert admin_client.post(ADD_URL, {"text": text}).status_code == 302

    assert MessageTemplate.objects.get().text.replace("\r\n", "\n") == text


def test_the_school_name_counts_at_its_configured_length(settings):
    text = "{nama_sekolah}" + "x" * (60_000 - 20)
    settings.SCHOOL_NAME = "S" * 20
    assert template_errors(text) == []

    settings.SCHOOL_NAME = "S" * 21
    assert len(template_errors(text)) == 1
