import pytest

from broadcasts.messages import DEFAULT_TEMPLATE, has_honorific, message_context, render_message


def test_the_message_follows_the_seed_template_with_the_month_in_indonesian(
    report, make_student, settings
):
    student = make_student(name="Aisyah Putri")
    text = render_message(
        message_context(student=student, guardian=student.guardians.get(), monthly_report=report)
    )
    assert text == (
        "🔔 *Notifikasi TK ABA Assalam*\n"
        "\n"
        "Assalamualaikum Yth. Orang Tua/Wali dari *Aisyah Putri*\n"
        "\n"
        "Laporan perkembangan ananda *Aisyah Putri*\n"
        "Laporan bulan *November 2026* telah tersedia.\n"
        "\n"
        "Silakan hubungi wali kelas TK A Melati untuk melihat detail laporan.\n"
        "Informasi lebih lanjut: https://tkassalam.example.sch.id\n"
        "\n"
        "Terima kasih atas perhatiannya.\n"
        "\n"
        "_Pesan otomatis dari TK ABA Assalam_"
    )


def test_month_names_are_indonesian_even_when_the_admin_uses_english(
    report, make_student, settings
):
    from django.utils import translation

    report.month = 8
    with translation.override("en"):
        text = render_message(_context(make_student(), report))
    assert "*Agustus 2026*" in text


def test_school_name_comes_from_settings_and_the_website_line_is_dropped_without_one(
    report, make_student, settings
):
    settings.SCHOOL_NAME = "TK Harapan"
    settings.SCHOOL_WEBSITE = ""
    text = render_message(_context(make_student(), report))
    assert "*Notifikasi TK Harapan*" in text
    assert "_Pesan otomatis dari TK Harapan_" in text
    assert "Informasi lebih lanjut" not in text


def test_the_default_text_says_silakan_and_asks_no_login_without_a_link():
    assert "Silakan" in DEFAULT_TEMPLATE
    assert "Silahkan" not in DEFAULT_TEMPLATE
    assert "login" not in DEFAULT_TEMPLATE.lower()


@pytest.mark.parametrize(
    "name",
    [
        "Ibu Siti",
        "ibu siti",
        "IBU SITI",
        "Bapak Ahmad",
        "Bpk. Ahmad",
        "Bpk.Ahmad",
        "Bp Ahmad",
        "Pak Joko",
        "Bu Rina",
        "Ayah Dedi",
        "Bunda Rina",
        "Ibunda Ani",
        "Ny. Ani",
        "Bapak/Ibu Hadi",
    ],
)
@pytest.mark.parametrize("placeholder", ["nama_wali", "nama_orang_tua"])
def test_a_parent_name_with_an_honorific_is_not_prefixed_again(
    report, make_student, name, placeholder
):
    student = make_student(parent_name=name)
    template = f"Yth. Bapak/Ibu {{{placeholder}}}, laporan {{nama_siswa}} siap."

    text = render_message(
        message_context(student=student, guardian=student.guardians.get(), monthly_report=report),
        template,
    )

    assert has_honorific(name)
    assert text == f"Yth. {name}, laporan {student.full_name} siap."


@pytest.mark.parametrize("name", ["Siti", "Budi Santoso", "Bunga", "Pakde Joko", "Umi Kalsum"])
@pytest.mark.parametrize("placeholder", ["nama_wali", "nama_orang_tua"])
def test_a_parent_name_without_an_honorific_keeps_the_templates(
    report, make_student, name, placeholder
):
    student = make_student(parent_name=name)

    text = render_message(
        _context(student, report),
        f"Yth. Bapak/Ibu {{{placeholder}}}, Ibu {{{{{placeholder}}}}}.",
    )

    assert not has_honorific(name)
    assert text == f"Yth. Bapak/Ibu {name}, Ibu {{{placeholder}}}."


def _context(student, report, guardian=None):
    """The context of the message to the student's (only) guardian, or to ``guardian``."""
    guardian = guardian or student.guardians.get()
    return message_context(student=student, guardian=guardian, monthly_report=report)


def test_each_guardian_of_a_child_is_named_in_their_own_message(
    report, make_student, make_guardian
):
    student = make_student(parent_name="Ibu Siti", name="Ani")
    mother = student.guardians.get()
    father = make_guardian(student, "ayah", name="Pak Budi")
    template = "Yth. Bapak/Ibu {nama_wali}: laporan {nama_siswa}. ({nama_orang_tua})"

    to_mother = render_message(_context(student, report, mother), template)
    to_father = render_message(_context(student, report, father), template)

    assert to_mother == "Yth. Ibu Siti: laporan Ani. (Ibu Siti)"
    assert to_father == "Yth. Pak Budi: laporan Ani. (Pak Budi)"


def test_the_honorific_rule_reads_the_guardian_name_when_only_the_old_placeholder_is_given():
    """A context built before {nama_wali} existed (only nama_orang_tua) still drops the prefix."""
    context = {"nama_orang_tua": "Ibu Siti", "nama_siswa": "Ani", "situs_sekolah": ""}

    assert render_message(context, "Bapak/Ibu {nama_orang_tua}, {nama_siswa}") == "Ibu Siti, Ani"


@pytest.mark.parametrize("placeholder", ["nama_wali", "nama_orang_tua"])
def test_a_guardian_without_a_name_is_addressed_without_a_stray_space(
    report, make_student, placeholder
):
    """Guardian.name may be blank (an import with only nomor_ayah): no "Bapak/Ibu ,"."""
    student = make_student(parent_name="", name="Ani")
    template = (
        f"Yth. Bapak/Ibu {{{placeholder}}}, laporan {{nama_siswa}} siap.\nSalam {{{placeholder}}}"
    )

    text = render_message(_context(student, report), template)

    assert text == "Yth. Bapak/Ibu, laporan Ani siap.\nSalam"
