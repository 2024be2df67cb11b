"""Abandoned ZIP uploads of report files go after REPORT_ZIP_PREVIEW_MAX_AGE, by beat's task
and, where no beat runs (cron mode), by a command; recent ones and other files stay."""

import io
import os
import time

from django.core.management import call_command

from reports import tasks
from reports.zip_uploads import UPLOAD_PREFIX


def kept(folder, name, *, age):
    path = folder / name
    path.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_the_command_deletes_only_expired_uploads(settings, tmp_path):
    settings.REPORT_ZIP_DIR = tmp_path
    old = kept(tmp_path, f"{UPLOAD_PREFIX}old", age=settings.REPORT_ZIP_PREVIEW_MAX_AGE + 10)
    recent = kept(tmp_path, f"{UPLOAD_PREFIX}recent", age=60)
    other = kept(tmp_path, "not-ours.zip", age=settings.REPORT_ZIP_PREVIEW_MAX_AGE + 10)
    out = io.StringIO()

    call_command("purge_report_zip_uploads", stdout=out)

    assert not old.exists() and recent.exists() and other.exists()
    assert "Deleted 1 expired ZIP upload(s)" in out.getvalue()


def test_beats_task_does_the_same(settings, tmp_path):
    settings.REPORT_ZIP_DIR = tmp_path
    kept(tmp_path, f"{UPLOAD_PREFIX}old", age=settings.REPORT_ZIP_PREVIEW_MAX_AGE + 10)
    assert tasks.purge_report_zip_uploads() == 1 and list(tmp_path.iterdir()) == []


def test_a_missing_folder_is_nothing_to_purge(settings, tmp_path):
    settings.REPORT_ZIP_DIR = tmp_path / "never-made"
    call_command("purge_report_zip_uploads", stdout=io.StringIO())
    assert not settings.REPORT_ZIP_DIR.exists()
