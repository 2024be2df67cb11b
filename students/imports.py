"""The student import's uploads: limits checked before a file is parsed, and a short-lived store.

django-import-export reads a whole file into memory and keeps the upload between the
preview and its confirmation. An 865 KB XLSX can declare a million rows; the upload holds
parents' numbers. Here a file is measured while it streams (its size, then its rows, up to
one more than allowed), and the kept upload lives in STUDENT_IMPORT_DIR for at most
STUDENT_IMPORT_PREVIEW_MAX_AGE seconds (ImportUploadStorage, import_uploads_purge).
"""

import contextlib
import csv
import logging
import os
import re
import tempfile
import zipfile
import zlib
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from import_export.tmp_storages import TempFolderStorage
from openpyxl.utils.cell import range_boundaries
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse

from tkassalam.kept_uploads import expired_uploads_purge, upload_expired

logger = logging.getLogger(__name__)

# Every worksheet of the workbook, not only the active one: openpyxl sizes each of them
# when the library opens the file, reading a sheet without a declared size to its end.
_WORKSHEET = re.compile(r"xl/worksheets/[^/]+\.xml")
_ROW_TAG = f"{{{SHEET_MAIN_NS}}}row"
_DIMENSION_TAG = f"{{{SHEET_MAIN_NS}}}dimension"
# A damaged or encrypted archive, bad XML: the library's own read then refuses the file
# with its message (openpyxl reads the sheets with the same parser).
_UNREADABLE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, SyntaxError)


def check_import_file(upload, *, is_xlsx):
    """Refuse a file too large or with too many rows for one import, before it is parsed."""
    max_bytes = settings.STUDENT_IMPORT_MAX_BYTES
    if upload.size > max_bytes:
        raise ValidationError(
            _(
                "The file is %(size)s; at most %(max)s can be imported at once. Split it "
                "into smaller files."
            ),
            code="too_large",
            params={"size": filesizeformat(upload.size), "max": filesizeformat(max_bytes)},
        )
    max_rows = settings.STUDENT_IMPORT_MAX_ROWS
    # The first row holds the column names; one row more than allowed is enough to refuse.
    rows = (xlsx_rows if is_xlsx else csv_rows)(upload, stop_after=max_rows + 2)
    upload.seek(0)
    if rows - 1 > max_rows:
        raise ValidationError(
            _(
                "The file has more than %(max)d rows of students; at most %(max)d can be "
                "imported at once. Split it into several files. Empty rows below the data "
                "count too: delete them."
            ),
            code="too_many_rows",
            params={"max": max_rows},
        )


def csv_rows(upload, *, stop_after):
    """The rows the library will read from a CSV (blank lines aside), counted while streaming.

    Counting stops after ``stop_after`` rows. A line break inside a quoted cell is one row,
    as for the library; a file that is not CSV counts what it can (the library refuses it).
    """
    upload.seek(0)
    # The delimiter does not matter to the count: only quotes join lines.
    lines = (line.decode("utf-8", "replace") for line in upload)
    rows = 0
    with contextlib.suppress(csv.Error):
        for row in csv.reader(lines):
            rows += bool(row)
            if rows >= stop_after:
                break
    return rows


def xlsx_rows(upload, *, stop_after):
    """The most rows openpyxl will read from one sheet of this XLSX, up to ``stop_after``.

    openpyxl (read-only, as the library opens it) reads a sheet to its declared size
    (``<dimension ref="A1:E1000000">``), adding empty rows up to it; without one, to the
    last ``<row>``, filling gaps in their numbers. Only the XML's start is read for a
    declared size; rows are counted while streaming, never all loaded.
    """
    upload.seek(0)
    most = 0
    with contextlib.suppress(*_UNREADABLE), zipfile.ZipFile(upload) as archive:
        for name in archive.namelist():
            if _WORKSHEET.fullmatch(name):
                most = max(most, _sheet_rows(archive, name, stop_after=stop_after))
                if most >= stop_after:
                    break
    return most


def _sheet_rows(archive, name, *, stop_after):
    row = 0
    with archive.open(name) as source:
        for event, element in iterparse(source, events=("start", "end")):
            if event == "end":
                element.clear()  # keep memory small: only the count matters
            elif element.tag == _DIMENSION_TAG and not row:
                with contextlib.suppress(TypeError, ValueError):
                    declared = range_boundaries(element.get("ref", ""))[3]
                    if declared is not None:
                        return declared
            elif element.tag == _ROW_TAG:
                with contextlib.suppress(TypeError, ValueError):
                    row = int(float(element.get("r") or row + 1))
                if row >= stop_after:
                    return row
    return row


# --- The upload kept between preview and confirm ----------------------------------------

UPLOAD_PREFIX = "student-import-"


class ImportUploadExpired(Exception):
    """The preview's upload is gone: confirmed already, abandoned too long, or purged."""


class ImportUploadStorage(TempFolderStorage):
    """The library's temporary upload, in STUDENT_IMPORT_DIR, readable by its owner only.

    The confirm step (a storage opened by name) reads the file once and deletes it at once,
    whatever the import then does; a file older than STUDENT_IMPORT_PREVIEW_MAX_AGE is
    expired, and each new upload first purges the expired ones.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._confirming = self.name is not None

    def save(self, data):
        import_uploads_purge()
        directory = upload_dir()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix=UPLOAD_PREFIX, dir=directory)  # mode 0600
        self.name = os.path.basename(path)
        with os.fdopen(fd, "wb") as file:
            file.write(data)

    def read(self):
        path = self.get_full_path()
        if not self.name.startswith(UPLOAD_PREFIX) or _expired(path):
            self.remove()
            raise ImportUploadExpired(self.name)
        try:
            with open(path, self.read_mode, encoding=self.encoding) as file:
                return file.read()
        except FileNotFoundError as err:
            raise ImportUploadExpired(self.name) from err
        finally:
            if self._confirming:
                self.remove()

    def remove(self):
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.get_full_path())

    def get_full_path(self):
        return str(upload_dir() / os.path.basename(self.name or ""))


def upload_dir():
    return Path(settings.STUDENT_IMPORT_DIR)


def _expired(path, *, now=None):
    """Whether the file at ``path`` is missing or older than the preview may live."""
    return upload_expired(path, max_age=settings.STUDENT_IMPORT_PREVIEW_MAX_AGE, now=now)


def import_uploads_purge(*, now=None):
    """Delete the uploads of previews older than STUDENT_IMPORT_PREVIEW_MAX_AGE; how many."""
    purged = expired_uploads_purge(
        upload_dir(),
        prefix=UPLOAD_PREFIX,
        max_age=settings.STUDENT_IMPORT_PREVIEW_MAX_AGE,
        now=now,
    )
    if purged:
        logger.info("Student import: deleted %d expired preview upload(s)", purged)
    return purged
