"""What the import's preview says: each row with its spreadsheet number, and the verdict on top."""

from django.core.exceptions import NON_FIELD_ERRORS
from django.utils.translation import gettext, ngettext

from .. import import_guardians as guardians
from ..import_columns import STUDENT_COLUMNS, column_label, file_row

# Rows in error named with their reasons in the preview's verdict, at the top of the page
# (all of them are listed below it): few enough to leave the confirm button in sight.
ROWS_IN_ERROR_IN_VERDICT = 3


# Students without a number named in the verdict; the rows to import below flag them all.
WITHOUT_PHONE_IN_VERDICT = 5


def preview_rows(result):
    """The preview's rows with the spreadsheet's row numbers: in error, and to be written;
    the columns named as the student form names them."""
    # A refused row's values are those of every column (result.diff_headers): shown for
    # the columns the file has.
    in_file = set(getattr(result, "student_headers", result.diff_headers))
    shown = [index for index, heading in enumerate(result.diff_headers) if heading in in_file]
    return {
        # The valid rows' columns: the student's own, then its guardians (import_rows.html).
        "student_columns": [column_label(column) for column in STUDENT_COLUMNS],
        "student_file_columns": [column_label(result.diff_headers[index]) for index in shown],
        "student_invalid_rows": [
            {
                "row": file_row(row.number),
                "errors": row_reasons(row),
                "values": [row.values[index] for index in shown],
            }
            for row in result.invalid_rows
        ],
        "student_error_rows": [
            {"row": file_row(error.number), "error": error.error}
            for _line, errors in result.row_errors()
            for error in errors
        ],
        "student_valid_rows": [
            {
                "row": file_row(row.number),
                "import_type": row.import_type,
                "diff": row.diff,
                "name": row.student_name,
                "without_phone": row.without_phone,
                "guardians": [guardian_line(line) for line in row.guardians],
            }
            for row in result.valid_rows()
        ],
    }


def guardian_line(line):
    """A guardian of an imported student as the preview says it: who, the number's check,
    and what the import does to it."""
    if line.number_check == guardians.VALID:
        check = gettext("valid number")
    elif line.number_check == guardians.EMPTY:
        check = gettext("no number")
    else:
        check = gettext("invalid number: %(reason)s") % {"reason": line.number_problem}
    return {
        "relation": line.get_relation_display(),
        "name": line.name,
        "phone": line.phone,
        "check": check,
        "check_class": line.number_check,
        "change": change_text(line),
        "change_class": line.change,
        "number_changed": "number" in line.changed,
    }


def change_text(line):
    if line.change == guardians.NEW:
        return gettext("new guardian")
    if line.change == guardians.KEPT:
        return gettext("left as it is: its columns are empty or not in the file")
    if line.change == guardians.UNCHANGED:
        return gettext("unchanged")
    words = {
        "number": gettext("number changed"),
        "name": gettext("name changed"),
        "relation": gettext("relation changed"),
    }
    return ", ".join(words[what] for what in sorted(line.changed, key=list(words).index))


def preview_verdict(result, rows, *, upload):
    """The preview's first lines: what will be imported, what is refused (the first rows
    with their reasons) and who will get no message; the confirm button's words."""
    valid, invalid = rows["student_valid_rows"], rows["student_invalid_rows"]
    file = upload.get("import_file")
    verdict = {
        "student_file_name": getattr(file, "name", ""),
        "student_refused_count": len(invalid),
        "student_refused_first": [
            gettext("Row %(row)s: %(reasons)s")
            % {"row": item["row"], "reasons": ", ".join(item["errors"])}
            for item in invalid[:ROWS_IN_ERROR_IN_VERDICT]
        ],
        "student_refused_more": max(len(invalid) - ROWS_IN_ERROR_IN_VERDICT, 0),
    }
    if result.has_errors() or not valid:
        return verdict
    without_phone = [item for item in valid if item["without_phone"]]
    shown = [
        gettext("row %(row)s: %(name)s") % {"row": item["row"], "name": item["name"]}
        for item in without_phone[:WITHOUT_PHONE_IN_VERDICT]
    ]
    if len(without_phone) > len(shown):
        shown.append(gettext("and %(count)d more") % {"count": len(without_phone) - len(shown)})
    verdict.update(
        student_import_count=len(valid),
        student_import_summary=ngettext(
            "%(n)d row will be imported (to add: %(new)d, to update: %(updated)d).",
            "%(n)d rows will be imported (to add: %(new)d, to update: %(updated)d).",
            len(valid),
        )
        % {"n": len(valid), "new": result.totals["new"], "updated": result.totals["update"]},
        student_guardian_summary=guardian_summary(valid),
        student_without_phone_count=len(without_phone),
        student_without_phone=ngettext(
            "%(n)d student without a WhatsApp number will not receive the message (%(rows)s).",
            "%(n)d students without a WhatsApp number will not receive the message (%(rows)s).",
            len(without_phone),
        )
        % {"n": len(without_phone), "rows": "; ".join(shown)},
        student_confirm_label=(
            ngettext(
                "Import the %(n)d valid row",
                "Import the %(n)d valid rows",
                len(valid),
            )
            % {"n": len(valid)}
            if invalid
            else gettext("Confirm import")
        ),
    )
    return verdict


def guardian_summary(valid):
    """One line counting what the import does to guardians, over the rows to import."""
    counts = {"new": 0, "numbers": 0, "others": 0, "same": 0}
    for item in valid:
        for line in item["guardians"]:
            if line["change_class"] == guardians.NEW:
                counts["new"] += 1
            elif line["change_class"] == guardians.CHANGED:
                counts["numbers" if line["number_changed"] else "others"] += 1
            else:
                counts["same"] += 1
    return (
        gettext(
            "Guardians: new %(new)d; number changed %(numbers)d; name or relation changed "
            "%(others)d; unchanged %(same)d."
        )
        % counts
    )


def row_reasons(row):
    """A refused row's reasons, each after its column's label: ``["NIS: …", …]``."""
    return [
        message if field == NON_FIELD_ERRORS else f"{column_label(field)}: {message}"
        for field, field_messages in row.error_dict.items()
        for message in field_messages
    ]


def describe_invalid_row(row):
    """``Row 4: Parent's WhatsApp number: Invalid …`` for the message after an import."""
    return gettext("Row %(row)s: %(reasons)s") % {
        "row": file_row(row.number),
        "reasons": ", ".join(row_reasons(row)),
    }
