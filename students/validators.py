"""Names that a spreadsheet cannot run as a formula and a screen shows as they are."""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

#: A cell beginning with one of these is a formula to Excel, LibreOffice and Google Sheets
#: (OWASP, "CSV Injection": https://owasp.org/www-community/attacks/CSV_Injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: Refused anywhere in a name. Cc: control characters (newline, tab, escape …): a newline
#: in a classroom's name breaks the alert email's subject. Cf: invisible format characters
#: (zero-width space, soft hyphen, a byte-order mark pasted from a file, bidi overrides
#: that show a name backwards): two names that look the same would differ, search would
#: miss them, and an override disguises what an admin or a parent reads. School records
#: are typed in Latin script, which needs none of them. Zl, Zp: the Unicode line and
#: paragraph separators, newlines to many programs.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
#: U+FFFD stands for a character lost in a conversion (a file read in the wrong encoding,
#: or a control character an XLSX export could not store): never part of a real name.
REPLACEMENT_CHARACTER = "\ufffd"


def validate_name(value):
    """Refuse control and invisible characters anywhere and a formula's first character."""
    for char in value:
        if char == REPLACEMENT_CHARACTER or unicodedata.category(char) in REFUSED_CATEGORIES:
            raise ValidationError(
                _(
                    "A name cannot contain a line break, a tab or another control or "
                    "invisible character (found %(char)s)."
                ),
                code="control_character",
                params={"char": f"U+{ord(char):04X}"},
            )
    if value.startswith(FORMULA_STARTS):
        raise ValidationError(
            _(
                "A name cannot begin with =, +, -, @, a tab or a line break: a spreadsheet "
                "would run it as a formula."
            ),
            code="formula_start",
        )
