"""The Celery app: ``celery -A tkassalam worker``."""

import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tkassalam.settings")

app = Celery("tkassalam")
# Every Celery setting lives in Django settings under the CELERY_ prefix.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _mask_secrets_in_celery_logs(logger=None, **kwargs):
    """A worker replaces the root's handlers with Celery's own: they mask secrets too."""
    from .log_filters import MaskSecrets

    for handler in logger.handlers if logger is not None else ():
        if not any(isinstance(existing, MaskSecrets) for existing in handler.filters):
            handler.addFilter(MaskSecrets())


@app.on_after_configure.connect
def _create_local_folders(sender, **kwargs):
    """The embedded (filesystem) broker and beat's schedule file need their folders."""
    folders = [os.path.dirname(sender.conf.beat_schedule_filename)]
    if sender.conf.broker_url.startswith("filesystem://"):
        options = sender.conf.broker_transport_options
        folders += [
            options.get(key) for key in ("data_folder_in", "processed_folder", "control_folder")
        ]
    for folder in filter(None, folders):
        os.makedirs(folder, exist_ok=True)


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(sender=None, **kwargs):
    """Around each task, what Django does around each request: drop an old or broken connection.

    CELERY_DB_REUSE_MAX keeps the connection between tasks; this still closes one older
    than CONN_MAX_AGE or left unusable by an error, and has the next query health-check it.
    """
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return  # an eager task runs inside the caller's request or transaction
    from django.db import close_old_connections

    close_old_connections()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _log_times_with_their_offset(logger=None, **kwargs):
    """Celery's own log lines (worker, beat) carry the UTC offset, as the project's do."""
    from django.conf import settings

    for handler in logger.handlers if logger is not None else ():
        if handler.formatter is not None:
            handler.formatter.datefmt = settings.LOG_DATEFMT
