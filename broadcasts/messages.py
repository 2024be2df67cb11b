"""The WhatsApp text a parent receives: a template with named placeholders.

The school edits the template in the admin (MessageTemplate, always one row: the text in
use); until it does, the row holds DEFAULT_TEMPLATE. Placeholders are Indonesian words
because school staff write them.

The personal link ({tautan_laporan}, broadcasts.links) stands in for the website: when the
child has a report file, a line holding {tautan_laporan} is kept and the lines holding
{situs_sekolah} are left out (the template must use {tautan_laporan} for that; a template
without it keeps its website line). Without a file, every line holding {tautan_laporan} is
left out and the message is the one sent before links existed.
"""

import re
import string

from django.conf import settings
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from notifications.whatsapp.base import MAX_MESSAGE_LENGTH
from reports.models import MonthlyReport
from reports.months import month_name
from students.models import Classroom, Guardian, Student
from students.relations import FATHER_HONORIFICS, MOTHER_HONORIFICS

from .links import TOKEN_MASK, new_link_token, report_link_url
from .models import MessageTemplate

# The seed system's text, reworded where it misled parents: "Silakan" as the dictionary
# spells it, and no "login ke sistem" (there is no login). The link line (with the child's
# file) stands in for the website line (without it): see the module's docstring. It is content the
# school writes for parents (always Indonesian), not interface text, so it is not a msgid.
DEFAULT_TEMPLATE = (
    "🔔 *Notifikasi {nama_sekolah}*\n"
    "\n"
    "Assalamualaikum Yth. Orang Tua/Wali dari *{nama_siswa}*\n"
    "\n"
    "Laporan perkembangan ananda *{nama_siswa}*\n"
    "Laporan bulan *{bulan} {tahun}* telah tersedia.\n"
    "Buka laporan ananda di sini: {tautan_laporan}\n"
    "\n"
    "Silakan hubungi wali kelas {kelas} untuk melihat detail laporan.\n"
    "Informasi lebih lanjut: {situs_sekolah}\n"
    "\n"
    "Terima kasih atas perhatiannya.\n"
    "\n"
    "_Pesan otomatis dari {nama_sekolah}_"
)

#: Every placeholder a template may use, with what it becomes (shown to the admin).
PLACEHOLDERS = {
    "nama_siswa": gettext_lazy("the student's full name"),
    "nama_wali": gettext_lazy("the name of the guardian the message is for"),
    "nama_orang_tua": gettext_lazy("the same as {nama_wali} (the older name)"),
    "kelas": gettext_lazy("the classroom"),
    "bulan": gettext_lazy("the report's month, in Indonesian (Januari … Desember)"),
    "tahun": gettext_lazy("the report's year"),
    "nama_sekolah": lazy(lambda: _school_text("name"), str)(),
    "situs_sekolah": lazy(lambda: _school_text("website"), str)(),
    "tautan_laporan": gettext_lazy(
        "the child's personal link to their report file; a line with it is left out when the "
        "child has no file, and when it is there, the lines with {situs_sekolah} are left out"
    ),
}


def _school_text(what: str) -> str:
    """The school's name or website as this installation has it: the admin sees the value."""
    if what == "name":
        return _("the school's name: %(name)s") % {"name": settings.SCHOOL_NAME}
    if settings.SCHOOL_WEBSITE:
        return _(
            "the school's website: %(website)s; a line with it is left out when there is none"
        ) % {"website": settings.SCHOOL_WEBSITE}
    return _("the school's website: none is set, so a line with it is left out")


def template_has_link(text: str) -> bool:
    """Whether the template puts the child's link in the message (``{tautan_laporan}``).

    Without it no message carries a link: no row gets one, and nobody waits for a file.
    """
    try:
        return any(
            field == "tautan_laporan" for _t, field, _s, _c in string.Formatter().parse(text)
        )
    except ValueError:
        return False


def template_errors(text: str) -> list[str]:
    """Why ``text`` cannot be used as a template: unknown placeholders, stray braces.

    ``{0}``, ``{}``, ``{nama_siswa.x}`` and ``{nama_siswa[0]}`` are unknown names. A format
    spec or conversion (``{nama_siswa:d}``, ``{nama_siswa!z}``) would fail or change the text
    only when the message is rendered, for every parent: refused here instead.
    """
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return [_("A { or } is not closed. Write {{ or }} for a brace in the text itself.")]
    fields = {field for _text, field, _spec, _conversion in parsed if field is not None}
    errors = []
    formatted = sorted(
        _as_written(field, spec, conversion)
        for _text, field, spec, conversion in parsed
        if field is not None and (spec or conversion)
    )
    if formatted:
        errors.append(
            _(
                "A placeholder is only its name in braces, with nothing after a “:” or “!”: "
                "%(placeholders)s. Write for example {nama_siswa}."
            )
            % {"placeholders": ", ".join(dict.fromkeys(formatted))}
        )
    unknown = sorted(fields - PLACEHOLDERS.keys())
    if unknown:
        errors.append(
            _("Unknown placeholder(s): %(unknown)s. Allowed: %(allowed)s.")
            % {
                "unknown": ", ".join(f"{{{name}}}" for name in unknown),
                "allowed": ", ".join(f"{{{name}}}" for name in PLACEHOLDERS),
            }
        )
    if not text.strip():
        errors.append(_("The message is empty."))
    if not errors:
        errors.extend(_length_errors(text))
    return errors


def longest_context() -> dict[str, str]:
    """The longest value each placeholder can take: what the length check fills in.

    Names are as long as their columns allow (Student.full_name and Guardian.name, 150;
    Classroom.name, 100), the month is the longest Indonesian name (September), the year
    has four digits (MonthlyReport allows 2000 to 2100); the school's name and website are
    this installation's own settings, as every message has them. The link is the longest a
    token makes (``SITE_URL/laporan/`` + 43 characters + ``/``).
    """
    widest = {
        "nama_siswa": Student._meta.get_field("full_name").max_length,
        "nama_wali": Guardian._meta.get_field("name").max_length,
        "nama_orang_tua": Guardian._meta.get_field("name").max_length,
        "kelas": Classroom._meta.get_field("name").max_length,
    }
    return {
        **{name: "W" * length for name, length in widest.items()},
        "bulan": max((month_name(month) for month in range(1, 13)), key=len),
        "tahun": "2100",
        "nama_sekolah": settings.SCHOOL_NAME,
        "situs_sekolah": settings.SCHOOL_WEBSITE,
        "tautan_laporan": report_link_url("W" * len(new_link_token())),
    }


def _length_errors(text: str) -> list[str]:
    """The message for the longest values must fit Fonnte's limit (MAX_MESSAGE_LENGTH)."""
    # With the link (website lines left out) and without it (link lines left out).
    context = longest_context()
    longest = max(
        len(render_message(context, text)),
        len(render_message({**context, "tautan_laporan": ""}, text)),
    )
    if longest <= MAX_MESSAGE_LENGTH:
        return []
    return [
        _(
            "The message is too long: with the longest names (student: %(student)d "
            "characters, guardian: %(guardian)d, classroom: %(classroom)d) it would have "
            "%(longest)d characters, and Fonnte sends at most %(max)d. Shorten the text to "
            "at most %(allowed)d characters (it has %(length)d)."
        )
        % {
            "student": Student._meta.get_field("full_name").max_length,
            "guardian": Guardian._meta.get_field("name").max_length,
            "classroom": Classroom._meta.get_field("name").max_length,
            "longest": longest,
            "max": MAX_MESSAGE_LENGTH,
            "allowed": max(len(text) - (longest - MAX_MESSAGE_LENGTH), 0),
            "length": len(text),
        }
    ]


def _as_written(field: str, spec: str, conversion: str | None) -> str:
    """``{nama_siswa!r:>10}`` back from string.Formatter's parts, to name it in an error."""
    conversion = f"!{conversion}" if conversion else ""
    spec = f":{spec}" if spec else ""
    return f"{{{field}{conversion}{spec}}}"


def current_template() -> str:
    """The text of the school's template row; the default while the row is not made yet."""
    text = (
        MessageTemplate.objects.filter(pk=MessageTemplate.SCHOOL_PK)
        .values_list("text", flat=True)
        .first()
    )
    return text or DEFAULT_TEMPLATE


def message_template_get_or_create() -> MessageTemplate:
    """The school's one template row, made with DEFAULT_TEMPLATE the first time it is needed.

    Its primary key is fixed (SCHOOL_PK): two first requests at once both try to insert
    the same key, the database's primary key refuses the second on SQLite, PostgreSQL and
    MariaDB alike, and get_or_create then reads the row the first one made.
    """
    template, _created = MessageTemplate.objects.get_or_create(
        pk=MessageTemplate.SCHOOL_PK, defaults={"text": DEFAULT_TEMPLATE}
    )
    return template


def message_context(*, student, guardian, monthly_report, link_url: str = "") -> dict[str, str]:
    """The value of every placeholder, for one guardian of one student, about one report.

    ``link_url``: the row's personal link. {nama_orang_tua} is {nama_wali}, so a school's
    text written before guardians existed keeps working.
    """
    return {
        "nama_siswa": student.full_name,
        "nama_wali": guardian.name,
        "nama_orang_tua": guardian.name,
        "kelas": monthly_report.classroom.name,
        "bulan": month_name(monthly_report.month),
        "tahun": str(monthly_report.year),
        "nama_sekolah": settings.SCHOOL_NAME,
        "situs_sekolah": settings.SCHOOL_WEBSITE,
        "tautan_laporan": link_url,
    }


# How parents are addressed, as a school writes them before a name: "Ibu Siti", "Bpk. Ahmad",
# "Bunda Rina" (students.relations keeps the one list; it reads a guardian's relation off them).
# Compared case aside, as whole words; whose parents have none keep the "Bapak/Ibu".
HONORIFICS = FATHER_HONORIFICS + MOTHER_HONORIFICS
_HONORIFIC = r"(?:{})\b\.?".format("|".join(sorted(HONORIFICS, key=len, reverse=True)))
_STARTS_WITH_HONORIFIC = re.compile(
    rf"\s*{_HONORIFIC}(?:\s*/\s*{_HONORIFIC})*(?:(?<=\.)|\s|$)", re.I
)
# "Bapak/Ibu {nama_wali}", "Yth. Ibu {nama_orang_tua}": the template's own honorific(s).
_HONORIFIC_BEFORE_PARENT = re.compile(
    rf"(?<!\w){_HONORIFIC}(?:\s*/\s*{_HONORIFIC})*[ \t]+(?=\{{(?:nama_orang_tua|nama_wali)\}})",
    re.I,
)

_SPACE_BEFORE_PARENT = re.compile(r"[ \t]+(?=\{(?:nama_orang_tua|nama_wali)\})")


def has_honorific(name: str) -> bool:
    """Whether a parent's name already says how to address them ("Ibu Siti", "bpk. Ahmad")."""
    return bool(_STARTS_WITH_HONORIFIC.match(name))


def render_message(context: dict[str, str], template: str | None = None) -> str:
    """Fill in the template; a line about the website is dropped when the school has none.

    A line with {tautan_laporan} is kept only with a link; with one, the lines with
    {situs_sekolah} are left out when the template has a link line (the module's docstring).

    A template's "Bapak/Ibu" before {nama_wali} (or {nama_orang_tua}) is left out for a name
    that carries its own ("Ibu Siti"): never "Bapak/Ibu Ibu Siti".
    """
    template = template if template is not None else current_template()
    name = context.get("nama_wali", context["nama_orang_tua"])
    if has_honorific(name):
        template = _HONORIFIC_BEFORE_PARENT.sub("", template)
    elif not name.strip():
        # A guardian without a name (Guardian.name may be blank): "Bapak/Ibu," not "Bapak/Ibu ,".
        template = _SPACE_BEFORE_PARENT.sub("", template)
    context = {"tautan_laporan": "", **context}
    lines = template.splitlines()
    has_link_line = any("{tautan_laporan}" in line for line in lines)
    if not context["tautan_laporan"]:
        lines = [line for line in lines if "{tautan_laporan}" not in line]
    if not context["situs_sekolah"] or (context["tautan_laporan"] and has_link_line):
        lines = [
            line for line in lines if "{situs_sekolah}" not in line or "{tautan_laporan}" in line
        ]
    return "\n".join(lines).format(**context)


def message_preview(template: str) -> tuple[str, Guardian] | None:
    """``(text, guardian)``: the template rendered for a real guardian who would receive it
    (the guardian's student loaded), or None while there is none.

    Who would receive it as sending decides (delivery.guardian_delivery_problem): not a
    guardian whose number is blank, not on WhatsApp or invalid.
    """
    # Here, not at the top: the selectors package renders messages (plan.py) itself.
    from .selectors.delivery import PHONE_BLANKS, guardian_delivery_problem

    candidates = (
        Guardian.objects.select_related("student__classroom")
        .filter(receives_messages=True, phone__iregex=f"[^{PHONE_BLANKS}]")
        .exclude(whatsapp_registered=False)
        .order_by("pk")
    )
    guardian = next(
        (g for g in candidates.iterator(chunk_size=100) if guardian_delivery_problem(g) is None),
        None,
    )
    if guardian is None:
        return None
    student = guardian.student
    report = (
        MonthlyReport.objects.filter(classroom=student.classroom)
        .order_by("-year", "-month")
        .first()
    )
    if report is None:
        today = timezone.localdate()
        report = MonthlyReport(classroom=student.classroom, month=today.month, year=today.year)
    # A sample link, its token masked: a link opened from the admin is not a parent opening it.
    context = message_context(
        student=student,
        guardian=guardian,
        monthly_report=report,
        link_url=report_link_url(TOKEN_MASK),
    )
    return render_message(context, template), guardian
