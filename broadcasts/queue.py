"""How work reaches the workers: the one place that publishes Celery messages.

With ``WHATSAPP_RUNNER = "celery"`` (the default) rows are handed to Celery workers.
With ``"cron"`` (shared hosting, no long-running process) nothing is published:
``manage.py process_broadcasts``, run from cron, picks up due rows itself.
"""

import logging

from django.conf import settings
from django.db import transaction
from kombu.exceptions import KombuError

from . import tasks

logger = logging.getLogger(__name__)


def uses_celery() -> bool:
    return settings.WHATSAPP_RUNNER == "celery"


def dispatch_after_commit() -> None:
    """After the current transaction commits, have a worker publish every pending row."""
    if uses_celery():
        # robust: a broker outage must not turn the admin's saved click into an error
        # page; the rows are safe in the database and recover_broadcasts requeues them.
        transaction.on_commit(tasks.dispatch_pending_broadcasts.delay, robust=True)


def publish_sends(rows) -> None:
    """Publish send tasks for ``(broadcast_id, monthly_report_id)`` pairs over one connection."""
    if not uses_celery():
        return
    task = tasks.send_monthly_report_whatsapp
    with task.app.producer_or_acquire() as producer:
        for broadcast_id, monthly_report_id in rows:
            task.apply_async(
                kwargs={"monthly_report_id": monthly_report_id, "broadcast_id": broadcast_id},
                producer=producer,
            )


def schedule_failure_alert(monthly_report_id, *, countdown: int) -> None:
    """Run the report's grouped failure alert in ``countdown`` seconds."""
    if uses_celery():
        tasks.alert_broadcast_failures.apply_async((monthly_report_id,), countdown=countdown)


def queue_depth() -> int | None:
    """Messages waiting in the default queue, or None when the broker cannot tell."""
    app = tasks.send_monthly_report_whatsapp.app
    try:
        with app.connection_for_read() as connection:
            channel = connection.default_channel
            return channel.queue_declare(
                queue=app.conf.task_default_queue, passive=True
            ).message_count
    except (KombuError, OSError, AttributeError, NotImplementedError) as err:
        logger.warning("Cannot read the broker queue depth: %s", type(err).__name__)
        return None
