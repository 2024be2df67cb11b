"""The ZIP upload's file, kept between its preview and the confirmation.

In REPORT_ZIP_DIR (folder 0700, file 0600), named ``report-zip-<report>-<user>-<token>.zip``
with a random token of 192 bits: the confirm step finds it only from the same report's
page, by the same user, with the token its preview gave. Deleted on confirm, and once
older than REPORT_ZIP_PREVIEW_MAX_AGE by the next upload and by beat's purge
(reports.tasks.purge_report_zip_uploads).
"""

import contextlib
import logging
import os
import re
import secrets
from pathlib import Path

from django.conf import settings

from tkassalam.kept_uploads import expired_uploads_purge, upload_expired

logger = logging.getLogger(__name__)

UPLOAD_PREFIX = "report-zip-"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")


def upload_dir() -> Path:
    return Path(settings.REPORT_ZIP_DIR)


def _kept_name(token, *, report, user) -> str:
    return f"{UPLOAD_PREFIX}{report.pk}-{user.pk}-{token}.zip"


def kept_upload_save(upload, *, report, user) -> str:
    """Copy ``upload`` to the private folder in chunks; the token that names it."""
    kept_uploads_purge()
    directory = upload_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)  # 32 characters
    target = directory / _kept_name(token, report=report, user=user)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        for chunk in upload.chunks():
            file.write(chunk)
    return token


def kept_upload_path(token, *, report, user) -> Path | None:
    """The kept ZIP for this report and user, or None (a wrong or missing token)."""
    if not token or not _TOKEN.fullmatch(token):
        return None
    path = upload_dir() / _kept_name(token, report=report, user=user)
    return path if path.is_file() else None


def kept_upload_claim(token, *, report, user) -> Path | None:
    """Take the kept ZIP for the confirm step, or None (wrong token, gone or expired).

    Renamed first (atomic): of two clicks on the confirm button, one stores, the other is
    told the preview is gone. The caller deletes the returned file.
    """
    path = kept_upload_path(token, report=report, user=user)
    if path is None:
        return None
    claimed = path.with_suffix(".confirming")
    try:
        os.rename(path, claimed)
    except FileNotFoundError:
        return None
    if expired(claimed):
        kept_file_remove(claimed)
        return None
    return claimed


def kept_file_remove(path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def kept_upload_remove(token, *, report, user) -> None:
    if token and _TOKEN.fullmatch(token):
        with contextlib.suppress(FileNotFoundError):
            os.remove(upload_dir() / _kept_name(token, report=report, user=user))


def expired(path, *, now=None) -> bool:
    return upload_expired(path, max_age=settings.REPORT_ZIP_PREVIEW_MAX_AGE, now=now)


def kept_uploads_purge(*, now=None) -> int:
    """Delete the kept ZIPs older than REPORT_ZIP_PREVIEW_MAX_AGE; how many."""
    purged = expired_uploads_purge(
        upload_dir(), prefix=UPLOAD_PREFIX, max_age=settings.REPORT_ZIP_PREVIEW_MAX_AGE, now=now
    )
    if purged:
        logger.info("Report ZIP upload: deleted %d expired preview upload(s)", purged)
    return purged
