from celery import shared_task

from .services.retention import report_files_prune


@shared_task
def prune_report_files():
    """Remove the files past REPORT_FILES_KEEP_DAYS (beat, daily); the number removed."""
    return report_files_prune().files
