"""Uploads kept on disk between a preview and its confirmation, and their expiry.

The student import (students.imports) and the ZIP upload of report files
(reports.zip_uploads) both keep what staff uploaded in a private folder under a name
starting with their own prefix, until it is confirmed or too old. One rule for both: a
file is expired when it is gone or older than the preview may live.
"""

import contextlib
import os
import time


def upload_expired(path, *, max_age: int, now: float | None = None) -> bool:
    """Whether the file at ``path`` is missing or older than ``max_age`` seconds."""
    try:
        age = (now or time.time()) - os.stat(path).st_mtime
    except FileNotFoundError:
        return True
    return age > max_age


def expired_uploads_purge(folder, *, prefix: str, max_age: int, now: float | None = None) -> int:
    """Delete the files of ``folder`` named ``prefix…`` and expired; how many were deleted."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    purged = 0
    for entry in entries:
        if entry.name.startswith(prefix) and upload_expired(entry.path, max_age=max_age, now=now):
            with contextlib.suppress(FileNotFoundError):
                os.remove(entry.path)
                purged += 1
    return purged
