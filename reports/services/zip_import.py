"""The ZIP bulk upload: a whole class's report files, previewed, then stored on confirm.

A file is matched to a student by the NIS at the start of its name (``S001.pdf``,
``S001 - Ahmad.pdf``, ``s001_ahmad.PDF``), whatever the case; the NIS must end there
(``S0011.pdf`` is not ``S001``'s) and the longest NIS that fits wins. Nothing is stored by
the preview. The archive is read from a file on disk: its central directory (bounded
first, from the end record), then each entry as a stream in chunks, never a whole entry
or the whole archive in memory. A hostile or damaged archive (a path leaving the folder,
an entry unpacking far beyond its packed size, more bytes than its header says, too many
entries or bytes, encryption) is refused whole: nothing of it is stored.
"""

import contextlib
import logging
import posixpath
import re
import stat
import tempfile
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from students.models import Student

from ..filetypes import HEAD_BYTES, sniff
from ..models import ReportFile, report_file_storage
from .files import ReportFileRefused, _megabytes, report_file_store

logger = logging.getLogger(__name__)

#: Bytes read from an entry at a time.
CHUNK_BYTES = 64 * 1024
#: An entry to store is kept in memory up to this size, then in a temporary file.
SPOOL_BYTES = 1024 * 1024
#: The compression-ratio guard applies to entries unpacking to more than this: a small
#: blank page may compress very well, a bomb is large.
RATIO_FLOOR_BYTES = 1024 * 1024
#: Central directory bytes allowed per entry (its header, a name, some extra fields).
DIRECTORY_BYTES_PER_ENTRY = 1024

#: Files a computer adds to a folder, not report files: ignored, listed as such.
_SYSTEM_FILES = {"thumbs.db", "desktop.ini", "__macosx"}
_ARCHIVE_EXTENSIONS = (".zip", ".rar", ".7z", ".tar", ".gz")
# The errors zipfile and zlib raise for a damaged, truncated or unsupported entry.
_UNREADABLE = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)


class ZipRefused(Exception):
    """The whole ZIP is refused, nothing stored; ``str(error)`` says why (admin's language)."""


@dataclass
class ZipEntry:
    """One file of the ZIP and what the upload makes of it."""

    name: str
    size: int
    student: Student | None = None
    reason: str = ""
    replaces: bool = False
    content_type: str | None = None
    info: zipfile.ZipInfo | None = field(default=None, repr=False, compare=False)

    @property
    def basename(self) -> str:
        return posixpath.basename(self.name.rstrip("/"))


@dataclass
class StudentWithoutFile:
    student: Student
    #: The file uploaded before stays; without one, the parent gets no report file.
    has_stored_file: bool


@dataclass
class ZipPreview:
    """What confirming would do: the files to store, and every file or student left out."""

    to_store: list[ZipEntry] = field(default_factory=list)
    unmatched: list[ZipEntry] = field(default_factory=list)
    refused: list[ZipEntry] = field(default_factory=list)
    duplicates: list[ZipEntry] = field(default_factory=list)
    ignored: list[ZipEntry] = field(default_factory=list)
    without_file: list[StudentWithoutFile] = field(default_factory=list)

    @property
    def new_count(self) -> int:
        return sum(not entry.replaces for entry in self.to_store)

    @property
    def replace_count(self) -> int:
        return sum(entry.replaces for entry in self.to_store)

    @property
    def left_out_count(self) -> int:
        """Files of the ZIP that will not be stored (ignored ones aside)."""
        return len(self.unmatched) + len(self.refused) + len(self.duplicates)


@dataclass(frozen=True)
class ZipStored:
    stored: int
    replaced: int


def report_zip_preview(*, monthly_report, zip_file) -> ZipPreview:
    """What storing ``zip_file`` (a path or a binary file on disk) would do; stores nothing.

    Raises ZipRefused when the whole ZIP must be refused.
    """
    with _open_archive(zip_file) as archive:
        return _preview(monthly_report, archive)


def report_zip_store(*, monthly_report, zip_file, user) -> ZipStored:
    """Store every matched file of ``zip_file`` for ``monthly_report``, all or none.

    The preview is made again first (students or files may have changed since it was
    shown), so what is stored is what it says. Raises ZipRefused (nothing stored).
    """
    with _open_archive(zip_file) as archive:
        preview = _preview(monthly_report, archive)
        stored_names = []
        try:
            with transaction.atomic():
                for entry in preview.to_store:
                    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
                        _read_entry(archive, entry.info, sink=spool)
                        report_file = report_file_store(
                            monthly_report=monthly_report,
                            student=entry.student,
                            content=spool,
                            original_name=entry.basename,
                            user=user,
                        )
                    stored_names.append(report_file.file.name)
        except ReportFileRefused as err:
            _delete_stored(stored_names)
            raise ZipRefused(str(err)) from err
        except BaseException:
            # Rolled back: the rows are gone, so are the files written for them; the
            # files they would have replaced stay (their deletion waited for the commit).
            _delete_stored(stored_names)
            raise
    logger.info(
        "Report ZIP upload: report %s, %d file(s) stored, %d replacing an earlier one",
        monthly_report.pk,
        len(preview.to_store),
        preview.replace_count,
    )
    return ZipStored(stored=len(preview.to_store), replaced=preview.replace_count)


def match_nis(filename: str, nis_by_key: dict[str, object]) -> object | None:
    """The value of the NIS ``filename`` starts with (its base name, any case), or None.

    ``nis_by_key`` maps each NIS in ``nis_key`` form to what to return. The NIS must be
    followed by the end of the name or by a character that is not a letter or digit;
    among NISes that fit, the longest wins.
    """
    name = nis_key(posixpath.basename(filename))
    for length in sorted({len(key) for key in nis_by_key}, reverse=True):
        if len(name) < length:
            continue
        if len(name) > length and name[length].isalnum():
            continue
        found = nis_by_key.get(name[:length])
        if found is not None:
            return found
    return None


def nis_key(text: str) -> str:
    """A NIS or a file name as compared: Unicode-composed (macOS writes names decomposed),
    case folded, spaces around it dropped."""
    return unicodedata.normalize("NFC", text).casefold().strip()


# --- Reading the archive --------------------------------------------------------------


@contextlib.contextmanager
def _open_archive(zip_file):
    """``zipfile.ZipFile`` over ``zip_file`` after the checks that need no entry read."""
    with contextlib.ExitStack() as stack:
        try:
            source = stack.enter_context(open(zip_file, "rb")) if _is_path(zip_file) else zip_file
            _check_end_record(source)
            archive = stack.enter_context(zipfile.ZipFile(source))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as err:
            logger.info("Report ZIP upload refused, unreadable: %s", type(err).__name__)
            raise ZipRefused(
                _("The file is not a ZIP file, or it is damaged. Make the ZIP again and upload it.")
            ) from err
        _check_directory(archive)
        yield archive


def _is_path(zip_file) -> bool:
    return isinstance(zip_file, (str, bytes)) or hasattr(zip_file, "__fspath__")


def _check_end_record(source):
    """Refuse too many entries before zipfile reads the central directory into memory."""
    source.seek(0)
    end = zipfile._EndRecData(source)  # the end record only: zipfile's own reader
    if end is None:
        raise zipfile.BadZipFile("no end record")
    entries, directory_size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    max_entries = settings.REPORT_ZIP_MAX_ENTRIES
    if entries > max_entries or directory_size > max_entries * DIRECTORY_BYTES_PER_ENTRY:
        raise ZipRefused(_too_many_entries())
    source.seek(0)


def _too_many_entries() -> str:
    return _(
        "The ZIP holds more than %(max)d files; at most %(max)d can be uploaded at once. "
        "Split it into several ZIP files."
    ) % {"max": settings.REPORT_ZIP_MAX_ENTRIES}


def _check_directory(archive):
    """The refusals of the whole ZIP that its central directory tells."""
    infos = archive.infolist()
    if len(infos) > settings.REPORT_ZIP_MAX_ENTRIES:
        raise ZipRefused(_too_many_entries())
    for info in infos:
        if _unsafe_path(info.filename) or _unsafe_path(getattr(info, "orig_filename", "")):
            raise ZipRefused(
                _(
                    "The ZIP holds a file whose path leaves its folder (%(name)s): such a "
                    "ZIP is refused, nothing was stored. Make the ZIP again from a folder."
                )
                % {"name": info.orig_filename[:100]}
            )
        if info.flag_bits & 0x1:
            raise ZipRefused(
                _(
                    "The ZIP is protected by a password: nothing was stored. Make the ZIP "
                    "again without a password."
                )
            )
    total = sum(info.file_size for info in infos)
    if total > settings.REPORT_ZIP_MAX_UNPACKED_BYTES:
        raise ZipRefused(
            _(
                "Unpacked, the ZIP's files would take %(size)s; at most %(max)s can be "
                "uploaded at once."
            )
            % {
                "size": _megabytes(total),
                "max": _megabytes(settings.REPORT_ZIP_MAX_UNPACKED_BYTES),
            }
        )
    for info in infos:
        if (
            info.file_size > RATIO_FLOOR_BYTES
            and info.file_size > max(info.compress_size, 1) * settings.REPORT_ZIP_MAX_RATIO
        ):
            raise _bomb(info.filename)


def _bomb(name) -> ZipRefused:
    logger.warning("Report ZIP upload refused: an entry unpacks far beyond its size")
    return ZipRefused(
        _(
            "The file %(name)s in the ZIP unpacks to far more than it holds (a “ZIP bomb”): "
            "the ZIP is refused, nothing was stored."
        )
        % {"name": name[:100]}
    )


def _unsafe_path(name: str) -> bool:
    """A path that could leave the folder it is unpacked to: absolute, ``..``, a drive,
    a backslash (a Windows separator), a NUL."""
    if not name:
        return False
    if "\\" in name or "\0" in name or name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return True
    return ".." in name.split("/")


def _read_entry(archive, info, *, sink=None) -> tuple[bytes, int]:
    """The first bytes and the size of an entry read to its end in chunks, written to
    ``sink`` if given; more bytes than its header declares refuses the whole ZIP."""
    head, size = b"", 0
    try:
        with archive.open(info) as source:
            while chunk := source.read(CHUNK_BYTES):
                size += len(chunk)
                if size > info.file_size or size > settings.REPORT_FILE_MAX_BYTES:
                    raise _bomb(info.filename)
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                if sink is not None:
                    sink.write(chunk)
    except _UNREADABLE as err:
        logger.info("Report ZIP upload refused, an entry is unreadable: %s", type(err).__name__)
        raise ZipRefused(
            _(
                "The file %(name)s in the ZIP cannot be read (the ZIP is damaged): nothing "
                "was stored. Make the ZIP again and upload it."
            )
            % {"name": info.filename[:100]}
        ) from err
    if size != info.file_size:
        raise ZipRefused(
            _(
                "The file %(name)s in the ZIP cannot be read (the ZIP is damaged): nothing "
                "was stored. Make the ZIP again and upload it."
            )
            % {"name": info.filename[:100]}
        )
    if sink is not None:
        sink.seek(0)
    return head, size


# --- The preview --------------------------------------------------------------------


def _preview(monthly_report, archive) -> ZipPreview:
    preview = ZipPreview()
    students = list(
        Student.objects.filter(classroom_id=monthly_report.classroom_id).order_by("full_name")
    )
    by_key = {nis_key(student.nis): student for student in students}
    stored = set(
        ReportFile.objects.filter(monthly_report=monthly_report).values_list(
            "student_id", flat=True
        )
    )
    matched: dict[int, list[ZipEntry]] = {}
    unmatched = []
    for info in archive.infolist():
        entry = ZipEntry(name=info.filename, size=info.file_size, info=info)
        if _ignored(info):
            entry.reason = _ignored_reason(info)
            preview.ignored.append(entry)
            continue
        entry.student = match_nis(entry.basename, by_key)
        refusal = _refusal_by_name_or_size(info)
        if refusal is None:
            head, _size = _read_entry(archive, info)
            refusal = _refusal_by_content(head)
            entry.content_type = sniff(head)
        if refusal is not None:
            entry.reason = refusal
            preview.refused.append(entry)
        elif entry.student is None:
            unmatched.append(entry)
        else:
            matched.setdefault(entry.student.pk, []).append(entry)
    _explain_unmatched(unmatched, monthly_report)
    preview.unmatched = unmatched
    for entries in matched.values():
        if len(entries) > 1:
            names = ", ".join(entry.basename for entry in entries)
            for entry in entries:
                entry.reason = _(
                    "%(student)s has %(count)d files in the ZIP (%(names)s): none of them is "
                    "stored. Keep one file per student in the ZIP."
                ) % {"student": entry.student.full_name, "count": len(entries), "names": names}
            preview.duplicates.extend(entries)
        else:
            (entry,) = entries
            entry.replaces = entry.student.pk in stored
            preview.to_store.append(entry)
    preview.to_store.sort(key=lambda entry: entry.student.full_name)
    getting_one = {entry.student.pk for entry in preview.to_store}
    preview.without_file = [
        StudentWithoutFile(student=student, has_stored_file=student.pk in stored)
        for student in students
        if student.pk not in getting_one
    ]
    return preview


def _ignored(info) -> bool:
    parts = [part for part in info.filename.split("/") if part]
    return info.is_dir() or any(
        part.startswith(".") or part.casefold() in _SYSTEM_FILES for part in parts
    )


def _ignored_reason(info) -> str:
    if info.is_dir():
        return _("A folder: only the files in it are read.")
    return _("A file the computer adds (hidden or system file): ignored.")


def _refusal_by_name_or_size(info) -> str | None:
    if stat.S_ISLNK(info.external_attr >> 16):
        # A symbolic link's entry holds a path, not a report: never read, never stored.
        return _("A shortcut (link) to another file, not a file: not stored.")
    if info.filename.casefold().endswith(_ARCHIVE_EXTENSIONS):
        return _nested()
    if info.file_size > settings.REPORT_FILE_MAX_BYTES:
        return _("The file is %(size)s; a report file may be at most %(max)s.") % {
            "size": _megabytes(info.file_size),
            "max": _megabytes(settings.REPORT_FILE_MAX_BYTES),
        }
    if info.file_size == 0:
        return _("The file is empty.")
    return None


def _refusal_by_content(head: bytes) -> str | None:
    # A ZIP named .pdf (or a Word file, itself a ZIP) is not opened either: not a report.
    if sniff(head) is None:
        return _("The file is not a PDF, JPEG or PNG (checked by its content, not its name).")
    return None


def _nested() -> str:
    return _(
        "A ZIP (or other archive) inside the ZIP is not opened: put its files in the ZIP itself."
    )


def _explain_unmatched(entries, monthly_report):
    """Say why each file matches no student of the class: another class's NIS, or none."""
    if not entries:
        return
    candidates = set().union(*(_nis_candidates(entry.basename) for entry in entries))
    others = {
        row["key"]: row["classroom__name"]
        for row in Student.objects.exclude(classroom_id=monthly_report.classroom_id)
        .annotate(key=Lower("nis"))
        .filter(key__in=candidates)
        .values("key", "classroom__name")
    }
    for entry in entries:
        # As the class's own students are matched: the longest NIS the name starts with.
        classroom = match_nis(entry.basename, others) if others else None
        if classroom:
            entry.reason = _(
                "The NIS at the start of the name is a student of another class (%(classroom)s)."
            ) % {"classroom": classroom}
        else:
            entry.reason = _(
                "No student of this class has the NIS the name starts with. Name each file "
                "after the student's NIS, e.g. S001.pdf or S001 - Name.pdf."
            )


#: How many starts of one file name are looked up as another class's NIS.
_MOST_CANDIDATES = 8


def _nis_candidates(filename: str) -> set[str]:
    """Every start of ``filename`` that match_nis could take for a NIS (``s001-2 x.pdf``:
    ``s001``, ``s001-2``, …), the shortest first, at most _MOST_CANDIDATES."""
    name = nis_key(filename)
    ends = [i for i in range(1, len(name) + 1) if i == len(name) or not name[i].isalnum()]
    return {name[:end] for end in ends[:_MOST_CANDIDATES]}


def _delete_stored(names):
    storage = report_file_storage()
    for name in names:
        try:
            storage.delete(name)
        except Exception:
            logger.exception("Report ZIP upload: a stored file could not be deleted: %s", name)
