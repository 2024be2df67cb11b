"""How a guardian stands to the child, read off the honorific a school writes before a name.

"Ibu Siti" is the mother, "Bapak Ahmad" the father; a name without one ("Siti") tells
nothing, and its guardian is a ``wali``. The student import reads a file's one-parent
columns so (students.resources). Migration students 0006 keeps its own frozen copy of
these patterns, as a migration must.
"""

import re

from .models import GuardianRelation

# How a school writes a mother's or a father's honorific before a name ("Ibu Siti", "Bpk.
# Ahmad"); broadcasts.messages reads both lists too. Whole words, case aside: "Budi" is not
# "Bu" + "di". Not "Umi" or "Abi": they are first names too ("Umi Kalsum").
MOTHER_HONORIFICS = ("ibu", "bu", "bunda", "ibunda", "mama", "nyonya", "ny")
FATHER_HONORIFICS = ("bapak", "bpk", "bp", "pak", "ayah", "ayahanda", "papa", "abah", "tuan", "tn")


def _starts_with(words) -> re.Pattern:
    return re.compile(rf"\s*({'|'.join(words)})\b\.?(\s|$)", re.I)


_MOTHER = _starts_with(MOTHER_HONORIFICS)
_FATHER = _starts_with(FATHER_HONORIFICS)


def relation_of(name: str) -> GuardianRelation:
    """``ibu`` or ``ayah`` when ``name`` begins with their honorific, else ``wali``."""
    if _MOTHER.match(name or ""):
        return GuardianRelation.IBU
    if _FATHER.match(name or ""):
        return GuardianRelation.AYAH
    return GuardianRelation.WALI


def told_by_honorific(name: str) -> bool:
    """Whether ``name`` itself says the relation (it begins with an honorific)."""
    return bool(_MOTHER.match(name or "") or _FATHER.match(name or ""))


def without_honorific(name: str) -> str:
    """``name`` as compared across files: its honorific and case left out ("Ibu Siti" → "siti")."""
    name = name or ""
    found = _MOTHER.match(name) or _FATHER.match(name)
    return (name[found.end() :] if found else name).strip().casefold()
