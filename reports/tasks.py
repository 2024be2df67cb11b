from celery import shared_task

from .services.retention import report_files_prune
from .zip_uploads import kept_uploads_purge


@shared_task
def prune_report_files():
    """Remove the files past REPORT_FILES_KEEP_DAYS (beat, daily); the number removed."""
    return report_files_prune().files


@shared_task
def purge_report_zip_uploads():
    """Delete the ZIP uploads of previews left unconfirmed too long (beat, every 15 min)."""
    return kept_uploads_purge()
