"""Bahasa Indonesia by default, English on request, through the admin header's switcher."""

import ast
import dataclasses
import datetime
import gettext as gettext_module
import re
import struct
from pathlib import Path

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext

from notifications.models import Notification


@pytest.fixture
def admin_client(client, admins):
    client.force_login(admins[0])
    return client


def switch_language(client, code, next_url="/admin/"):
    return client.post("/i18n/setlang/", {"language": code, "next": next_url})


def test_the_admin_is_in_indonesian_without_accept_language(admin_client):
    html = admin_client.get("/admin/").content.decode()

    assert "<title>Administrasi situs |" in html  # Django's "Site administration"
    assert ">Keluar</button>" in html  # Django's "Log out"
    assert "Site administration" not in html
    changelist = admin_client.get("/admin/students/student/").content.decode()
    assert ">Beranda</a>" in changelist  # Django's "Home" in the breadcrumbs


def test_the_login_page_is_in_indonesian_and_offers_english(client):
    html = client.get("/admin/login/").content.decode()

    assert '<html lang="id"' in html
    assert 'action="/i18n/setlang/"' in html
    assert 'value="en"' in html


def test_the_switcher_returns_to_the_same_page(admin_client):
    page = "/admin/students/student/?q=Siti"
    html = admin_client.get(page).content.decode()
    assert '<input type="hidden" name="next" value="/admin/students/student/?q=Siti">' in html

    response = switch_language(admin_client, "en", next_url=page)

    assert response.status_code == 302
    assert response["Location"] == page


def test_set_language_switches_the_admin_to_english_and_back(admin_client):
    switch_language(admin_client, "en")
    english = admin_client.get("/admin/").content.decode()
    switch_language(admin_client, "id")
    indonesian = admin_client.get("/admin/").content.decode()

    assert '<html lang="en"' in english
    assert "<title>Site administration |" in english
    assert ">Log out</button>" in english
    assert '<html lang="id"' in indonesian
    assert "<title>Administrasi situs |" in indonesian
    assert ">Keluar</button>" in indonesian


def test_the_current_language_is_marked_in_the_switcher(admin_client):
    html = admin_client.get("/admin/").content.decode()

    assert 'value="id" lang="id" aria-current="true" disabled>Bahasa Indonesia<' in html
    assert 'value="en" lang="en">English<' in html


def test_admin_dates_have_indonesian_month_names(admin_client, admins):
    notification = Notification.objects.create(recipient=admins[0], title="Pesan gagal")
    created = datetime.datetime(2025, 5, 17, 10, 0, tzinfo=timezone.get_current_timezone())
    Notification.objects.filter(pk=notification.pk).update(created_at=created)
    page = "/admin/notifications/notification/"

    indonesian = admin_client.get(page).content.decode()
    english = admin_client.get(page, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "17 Mei 2025, 10.00" in indonesian
    assert "May 17, 2025, 10 a.m." in english


def month_filter(response, field_path):
    """The choices' labels of the changelist filter on ``field_path``, as the page showed them."""
    changelist = response.context["cl"]
    specs = changelist.filter_specs
    (spec,) = [spec for spec in specs if getattr(spec, "field_path", None) == field_path]
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        return [str(choice["display"]) for choice in spec.choices(changelist)]


@pytest.mark.parametrize(
    ("page", "field_path"),
    [
        ("/admin/reports/monthlyreport/", "month"),
        ("/admin/broadcasts/monthlyreportbroadcast/", "monthly_report__month"),
    ],
)
def test_the_month_filters_name_the_months(admin_client, report, page, field_path):
    indonesian = month_filter(admin_client.get(page), field_path)
    english = month_filter(admin_client.get(page, HTTP_ACCEPT_LANGUAGE="en"), field_path)

    assert indonesian[:3] == ["Semua", "Januari", "Februari"]
    assert indonesian[8:] == ["Agustus", "September", "Oktober", "November", "Desember"]
    assert english[:3] == ["All", "January", "February"]
    assert "11" not in indonesian + english


# --- The committed catalog: complete, and compiled from the .po as it is -------------------

CATALOG = Path(__file__).resolve().parent.parent / "tkassalam" / "locale" / "id" / "LC_MESSAGES"

#: Django's own msgids that our templates use (base_site.html, the confirmation pages'
#: breadcrumbs, the import page's). makemessages lists them; they stay empty here so that
#: msgfmt leaves them out and Django's Indonesian catalog answers ("Beranda", …).
DJANGO_OWNED = {"Home", "Django site admin", "Django administration"}


@dataclasses.dataclass
class PoEntry:
    msgid: str = ""
    msgid_plural: str = ""
    msgctxt: str | None = None
    msgstr: dict[int, str] = dataclasses.field(default_factory=dict)
    flags: set[str] = dataclasses.field(default_factory=set)
    obsolete: bool = False


def read_po(path):
    """The .po's entries, header first: just enough of the PO format for our catalog."""
    entries, entry, target = [], PoEntry(), None

    def finish():
        nonlocal entry
        if entry.msgstr:
            entries.append(entry)
        entry = PoEntry()

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            finish()
            continue
        if line.startswith("#~"):
            entry.obsolete = True
            line = line[2:].strip()
            if not line:
                continue
        elif line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        elif line.startswith("#"):
            continue
        keyword, _space, rest = line.partition(" ")
        if line.startswith('"'):
            keyword, rest = None, line
        elif keyword.startswith("msgstr["):
            target = ("msgstr", int(keyword[7:-1]))
        elif keyword == "msgstr":
            target = ("msgstr", 0)
        else:
            target = (keyword, None)
        text = ast.literal_eval(rest)
        name, index = target
        if name == "msgstr":
            entry.msgstr[index] = entry.msgstr.get(index, "") + text
        else:
            setattr(entry, name, (getattr(entry, name) or "") + text)
    finish()
    return entries


@pytest.fixture(scope="module")
def po_entries():
    entries = read_po(CATALOG / "django.po")
    assert entries[0].msgid == "" and "Language: id" in entries[0].msgstr[0]
    return entries[1:]


@pytest.fixture(scope="module")
def mo():
    with open(CATALOG / "django.mo", "rb") as compiled:
        return gettext_module.GNUTranslations(compiled)


def translated(entry):
    return all(entry.msgstr.values())


def test_every_msgid_is_translated_except_djangos_own(po_entries):
    untranslated = {entry.msgid for entry in po_entries if not translated(entry)}

    assert untranslated == DJANGO_OWNED
    with translation.override("id"):
        assert all(gettext(msgid) != msgid for msgid in DJANGO_OWNED)


def test_no_entry_is_fuzzy_or_obsolete(po_entries):
    assert [e.msgid for e in po_entries if "fuzzy" in e.flags or e.obsolete] == []


def test_every_named_placeholder_has_the_python_format_flag(po_entries):
    """msgfmt --check compares the placeholders of msgid and msgstr only with the flag."""
    unflagged = [
        entry.msgid
        for entry in po_entries
        if re.search(r"%\(\w+\)[sd]", entry.msgid) and "python-format" not in entry.flags
    ]
    assert unflagged == []


def test_the_mo_is_compiled_from_the_po_as_committed(po_entries, mo):
    """Edit the .po without recompiling and this fails: make messages recompiles."""
    stale = []
    for entry in (e for e in po_entries if translated(e) and not e.obsolete):
        if entry.msgid_plural:
            compiled = [mo.ngettext(entry.msgid, entry.msgid_plural, n) for n in (1, 2)]
            expected = [entry.msgstr[0]] * 2  # nplurals=1: one form for every n
        elif entry.msgctxt is not None:
            compiled, expected = mo.pgettext(entry.msgctxt, entry.msgid), entry.msgstr[0]
        else:
            compiled, expected = mo.gettext(entry.msgid), entry.msgstr[0]
        if compiled != expected:
            stale.append(entry.msgid)

    assert stale == []
    # Nor any entry left in the .mo that the .po no longer has (GNU .mo header: count at 8).
    count = struct.unpack("<I", (CATALOG / "django.mo").read_bytes()[8:12])[0]
    header = 1
    assert count == header + sum(1 for e in po_entries if translated(e) and not e.obsolete)
