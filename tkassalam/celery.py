"""The Celery app: ``celery -A tkassalam worker``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tkassalam.settings")

app = Celery("tkassalam")
# Every Celery setting lives in Django settings under the CELERY_ prefix.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
