"""django-import-export's own msgids that the student import/export pages show.

The library ships no Indonesian catalog. Django merges every catalog and the project's
(LOCALE_PATHS) wins, so these msgids are translated in tkassalam/locale. They are listed
here only so that ``make messages`` (makemessages) finds them in a source of ours and
keeps them instead of marking them obsolete. Each must match the library's msgid exactly,
trailing space included (import_export 4.x: admin.py, forms.py and its templates).
Strings of blocks our template replaces (admin/students/student/import.html) are left out.
"""

from django.utils.translation import gettext_noop

IMPORT_EXPORT_MSGIDS = (
    # Page titles, breadcrumbs and the changelist's buttons (admin.py, change_list_*_item.html).
    gettext_noop("Import"),
    gettext_noop("Export"),
    # The upload and export forms (forms.py, import.html, export.html).
    gettext_noop("File to import"),
    gettext_noop("Format"),
    gettext_noop("Submit"),
    gettext_noop("Select all"),
    gettext_noop("This importer will import the following fields: "),
    gettext_noop("This exporter will export the following fields: "),
    # Errors on the upload and export forms (admin.py, forms.py).
    gettext_noop(
        "%(exc_name)s encountered while trying to read file. "
        "Ensure you have chosen the correct format for the file."
    ),
    gettext_noop(
        "No valid data to import. Ensure your file has the correct headers or data for import."
    ),
    gettext_noop('Select at least 1 field for "%(resource_name)s" to export'),
    # A student's history after an import: "%s through import_export" % import_type.
    gettext_noop("new through import_export"),
    gettext_noop("update through import_export"),
)
