"""Storing, replacing and removing a child's report file, checked by content.

Every change goes through here (the one-file form, the ZIP upload, the retention prune):
the file is checked (type by its first bytes, size), written to the private storage, and
the row made or pointed at it in one transaction; the file it replaced is deleted once
that transaction commits, so a failure leaves the old file served and nothing orphaned.
Each change is written to the report's history (the admin's LogEntry), naming who did it.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import localize
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tkassalam.language import school_language

from ..filetypes import HEAD_BYTES, sniff
from ..models import ReportFile, report_file_storage

logger = logging.getLogger(__name__)


class ReportFileRefused(Exception):
    """The file cannot be a report file; ``str(error)`` says why, in the admin's language."""


@dataclass(frozen=True)
class CheckedFile:
    content_type: str
    size: int


def check_report_file(content) -> CheckedFile:
    """The type and size of ``content`` (a file object), or ReportFileRefused saying why.

    Reads the first bytes and seeks to the end, never the whole file into memory; leaves
    the file at its start.
    """
    content.seek(0)
    head = content.read(HEAD_BYTES)
    size = content.seek(0, 2)
    content.seek(0)
    if not size:
        raise ReportFileRefused(_("The file is empty."))
    if size > settings.REPORT_FILE_MAX_BYTES:
        raise ReportFileRefused(
            _("The file is %(size)s; a report file may be at most %(max)s.")
            % {"size": _megabytes(size), "max": _megabytes(settings.REPORT_FILE_MAX_BYTES)}
        )
    content_type = sniff(head)
    if content_type is None:
        raise ReportFileRefused(
            _("The file is not a PDF, JPEG or PNG (checked by its content, not its name).")
        )
    return CheckedFile(content_type=content_type, size=size)


def report_file_store(*, monthly_report, student, content, original_name, user) -> ReportFile:
    """Store ``content`` as ``student``'s file for ``monthly_report``, replacing any before.

    Raises ReportFileRefused for a file that is not a report file (nothing stored). The
    row is kept when a file is replaced: links already sent serve the new file.
    """
    checked = check_report_file(content)
    storage = report_file_storage()
    draft = ReportFile(monthly_report=monthly_report, content_type=checked.content_type)
    new_name = storage.save(draft.file.field.generate_filename(draft, ""), content)
    try:
        with transaction.atomic():
            # Locked: of two admins replacing the same child's file at once, the second
            # waits and then deletes the file the first stored (none is left orphaned).
            report_file = _current_file(monthly_report, student)
            replaced = report_file.file.name if report_file else None
            if report_file is None:
                report_file = ReportFile(monthly_report=monthly_report, student=student)
            report_file.content_type = checked.content_type
            report_file.size = checked.size
            report_file.original_name = (original_name or "")[:255]
            report_file.uploaded_by = user
            report_file.uploaded_at = timezone.now()
            report_file.file.name = new_name
            report_file.save()
            _log(
                user,
                monthly_report,
                _REPLACED if replaced else _ADDED,
                {"student": student.full_name, "name": report_file.original_name or new_name},
            )
            if replaced:
                transaction.on_commit(lambda: _delete_quietly(replaced))
    except IntegrityError as err:
        _delete_quietly(new_name)
        if not ReportFile.objects.filter(monthly_report=monthly_report, student=student).exists():
            raise
        # Two first files for one child at the same moment (two admins, two tabs): the
        # other one was stored; this one is not, and the admin is told so.
        logger.info("Report file of student %s: another upload was stored first", student.pk)
        raise ReportFileRefused(
            _(
                "Another file for this child was stored at the same moment (by another "
                "admin?): look at the file there now and upload again if it should be "
                "replaced."
            )
        ) from err
    except Exception:
        _delete_quietly(new_name)
        raise
    return report_file


def _current_file(monthly_report, student) -> ReportFile | None:
    """The child's file row for the report, locked until the transaction ends, or None."""
    return (
        ReportFile.objects.select_for_update()
        .filter(monthly_report=monthly_report, student=student)
        .order_by("pk")  # no join: only this row is locked
        .first()
    )


def report_file_remove(*, report_file, user) -> None:
    """Remove a child's file: the row now, the stored file once the removal commits.

    The stored file goes through report_file_deleted (every deleted row's file does: a
    report or a student deleted, the retention prune), so it is deleted once, here too.
    """
    with transaction.atomic():
        report_file.delete()
        _log(user, report_file.monthly_report, _REMOVED, {"student": report_file.student.full_name})


def report_file_deleted(sender, instance, using, **kwargs) -> None:
    """post_delete of a ReportFile (reports.apps): its stored file goes once the deletion commits.

    However the row went (removed here, pruned, or cascaded from its report or student),
    the file does not outlive it; a rolled-back deletion keeps it.
    """
    name = instance.file.name
    if name:
        transaction.on_commit(lambda: _delete_quietly(name), using=using)


def _delete_quietly(name: str) -> None:
    """Delete a stored file; a file already gone or a storage error is logged, not raised."""
    try:
        report_file_storage().delete(name)
    except Exception:
        logger.exception("Report file could not be deleted from storage: %s", name)


#: What the report's history says of each change (written in the school's language).
_ADDED = gettext_lazy("Report file of %(student)s added (%(name)s).")
_REPLACED = gettext_lazy("Report file of %(student)s replaced (%(name)s).")
_REMOVED = gettext_lazy("Report file of %(student)s removed.")


def _log(user, monthly_report, text, params: dict) -> None:
    """A line in the report's history, naming who did it; none for a change without a user."""
    if user is None or user.pk is None:
        return
    # Recorded once, read by every admin: the school's language, not the uploader's.
    with school_language():
        message = str(text) % params
    LogEntry.objects.log_actions(user.pk, [monthly_report], CHANGE, change_message=message)


def _megabytes(size: int) -> str:
    return _("%(megabytes)s MB") % {"megabytes": localize(round(size / 1024 / 1024, 1))}
