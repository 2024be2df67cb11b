"""The guardians of the student import: what a row's cells say, and what changes for whom.

A file names guardians either by the one-parent columns of earlier files
(``nama_orang_tua``/``nomor_whatsapp``: one guardian, its relation read off the name's
honorific, else ``wali``) or by relation (``nama_ayah``/``nomor_ayah``, ``nama_ibu``/…,
``nama_wali``/…). A guardian is matched by (student, relation), the one-parent columns'
first by (student, number), so importing a file again updates guardians instead of adding
them.

A guardian's two cells both empty leave that guardian as it is: an import never deletes a
guardian (the student's page does). Otherwise the two cells are the guardian's name and
number as they will be: one empty cell empties that field (a name beside an empty number
cell removes the number, as the one-parent import always did).

Nothing here queries the database: the resource (students.resources) reads the file's
students' guardians before the rows and writes the changes in bulk after them, so that an
import's queries per row do not grow with its guardians.
"""

from dataclasses import dataclass, field

from .models import Guardian, GuardianRelation
from .phones import InvalidPhoneNumber, normalize_phone, phone_key
from .relations import relation_of, told_by_honorific, without_honorific

#: The one-parent columns' group, beside the relations' groups.
PARENT = "parent"

# What the import does to a guardian, for the preview.
NEW = "new"
CHANGED = "changed"
UNCHANGED = "unchanged"
#: Its cells are empty or its columns are not in the file.
KEPT = "kept"

# A guardian's number as the preview says it.
VALID = "valid"
EMPTY = "empty"
INVALID = "invalid"


@dataclass(frozen=True)
class GuardianCells:
    """What one row says of one guardian: its name and number (``62…`` or empty)."""

    group: str  # PARENT or a GuardianRelation value
    name: str
    phone: str

    @property
    def relation(self) -> str:
        return relation_of(self.name) if self.group == PARENT else self.group


@dataclass
class GuardianLine:
    """One guardian of an imported student as the preview shows it."""

    relation: str
    name: str
    phone: str
    change: str  # NEW, CHANGED, UNCHANGED or KEPT
    #: What changed, of "name", "number", "relation" (CHANGED only).
    changed: tuple[str, ...] = ()

    @property
    def number_check(self) -> str:
        if not self.phone:
            return EMPTY
        try:
            normalize_phone(self.phone)
        except InvalidPhoneNumber:
            return INVALID
        return VALID

    @property
    def number_problem(self) -> str:
        """Why the number cannot receive messages (a kept guardian's old number only)."""
        try:
            normalize_phone(self.phone)
        except InvalidPhoneNumber as err:
            return str(err.reason)
        return ""

    def get_relation_display(self) -> str:
        return str(GuardianRelation(self.relation).label)


@dataclass
class GuardianPlan:
    """What one row does to its student's guardians: the preview's lines, and the writes."""

    lines: list[GuardianLine] = field(default_factory=list)
    #: The student's guardians after the import, oldest first.
    guardians: list[Guardian] = field(default_factory=list)
    to_create: list[Guardian] = field(default_factory=list)
    to_update: list[Guardian] = field(default_factory=list)

    @property
    def reachable(self) -> bool:
        """Whether some guardian will have a valid number."""
        return any(line.number_check == VALID for line in self.lines)

    @property
    def unchecked(self) -> bool:
        """Whether some guardian will have a number not checked on WhatsApp yet."""
        return any(
            guardian.phone and guardian.whatsapp_registered is None for guardian in self.guardians
        )


def guardians_plan(*, student, existing, cells) -> GuardianPlan:
    """What ``cells`` (the row's non-empty guardians) do to ``existing`` (the student's
    guardians, oldest first): each matched by relation, or new."""
    plan = GuardianPlan()
    touched = {}
    remaining = list(existing)
    # A wali of the file is matched by relation; else a wali holding a father's or mother's
    # number is that parent (see _match).
    file_has_wali = any(cell.group == GuardianRelation.WALI for cell in cells)
    for cell in cells:
        guardian = _match(cell, remaining, existing, file_has_wali=file_has_wali)
        if guardian is None:
            guardian = Guardian(
                student=student, relation=cell.relation, name=cell.name, phone=cell.phone
            )
            plan.to_create.append(guardian)
            touched[id(guardian)] = GuardianLine(cell.relation, cell.name, cell.phone, NEW)
            continue
        remaining.remove(guardian)
        changed = _apply(guardian, cell)
        if changed:
            plan.to_update.append(guardian)
        touched[id(guardian)] = GuardianLine(
            guardian.relation,
            guardian.name,
            guardian.phone,
            CHANGED if changed else UNCHANGED,
            changed,
        )
    for guardian in [*existing, *plan.to_create]:
        line = touched.get(id(guardian)) or GuardianLine(
            guardian.relation, guardian.name, guardian.phone, KEPT
        )
        plan.lines.append(line)
        plan.guardians.append(guardian)
    return plan


def _match(cell, remaining, existing, *, file_has_wali=False):
    """The guardian a row's cells are about: the first of the relation; for the
    one-parent columns, first the guardian holding the number (unless the name's
    honorific says another relation), and last the student's one guardian (the one such
    a file made). For the father's or mother's columns, when the student has no guardian of
    that relation and the row names no wali: the wali holding that number."""
    if cell.group == PARENT and cell.phone:
        # The relation read off a name without an honorific is a guess ("Siti" reads as
        # wali), the number is not: else an earlier export's parent would overwrite
        # another wali, or be added beside the guardian holding that number. Of parents
        # sharing one phone, the one of the relation, or else of the name, is meant.
        same = [guardian for guardian in remaining if phone_key(guardian.phone) == cell.phone]
        ranked = [guardian for guardian in same if guardian.relation == cell.relation]
        if not told_by_honorific(cell.name):
            name = without_honorific(cell.name)
            ranked += [guardian for guardian in same if without_honorific(guardian.name) == name]
            ranked += same
        elif all(guardian.relation != cell.relation for guardian in remaining):
            ranked += same  # "Ibu Siti" at the number of the wali "Siti": now the mother
        if ranked:
            return ranked[0]
    for guardian in remaining:
        if guardian.relation == cell.relation:
            return guardian
    if cell.group in (GuardianRelation.AYAH, GuardianRelation.IBU) and cell.phone:
        # A parent moved from the one-parent model without an honorific became a wali
        # (students migration 0006); the first file with nama_ayah/nama_ibu tells who they
        # are. Without this every such child would get the parent a second time, as a new
        # guardian beside the wali at the same number.
        for guardian in remaining:
            if (
                not file_has_wali
                and guardian.relation == GuardianRelation.WALI
                and phone_key(guardian.phone) == cell.phone
            ):
                return guardian
    if cell.group == PARENT and len(existing) == 1 and existing[0] in remaining:
        return existing[0]
    return None


def _apply(guardian, cell) -> tuple[str, ...]:
    """Set ``cell``'s values on ``guardian``; what changed. A new number is unchecked."""
    changed = []
    if guardian.name != cell.name:
        guardian.name = cell.name
        changed.append("name")
    # The same number in another form ("0812-…" stored, "62812…" read) is left as stored.
    if phone_key(guardian.phone) != cell.phone:
        # As Guardian.save does (bulk_update does not call it): the check answered for
        # the old number only.
        guardian.phone = cell.phone
        guardian.whatsapp_registered = None
        guardian.whatsapp_checked_at = None
        changed.append("number")
    # Only a name's own honorific, or the father's or mother's column (a wali at that
    # number, _match), moves a guardian to another relation.
    moves = cell.group != PARENT or told_by_honorific(cell.name)
    if moves and guardian.relation != cell.relation:
        guardian.relation = cell.relation
        changed.append("relation")
    return tuple(changed)


#: The fields the import changes on a guardian (bulk_update).
UPDATED_FIELDS = ["name", "phone", "relation", "whatsapp_registered", "whatsapp_checked_at"]
