"""How work reaches the workers: the one place that publishes Celery messages.

With ``WHATSAPP_RUNNER = "celery"`` (the default) rows are handed to Celery workers.
With ``"cron"`` (shared hosting, no long-running process) nothing is published:
``manage.py process_broadcasts``, run from cron, picks up due rows itself.
"""

import logging
from dataclasses import dataclass

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
    # batch(): on Redis the messages go out in pipelined round trips (one per 1,000), not one
    # each; other transports publish at once. A failed flush raises before the caller stamps
    # the rows, so they stay unstamped and the dispatcher or the recovery sweep sends them.
    with task.app.producer_or_acquire() as producer, producer.batch():
        for broadcast_id, monthly_report_id in rows:
            task.apply_async(
                kwargs={"monthly_report_id": monthly_report_id, "broadcast_id": broadcast_id},
                producer=producer,
            )


def schedule_failure_alert(monthly_report_id, *, countdown: int) -> None:
    """Run the report's grouped failure alert in ``countdown`` seconds."""
    if uses_celery():
        tasks.alert_broadcast_failures.apply_async((monthly_report_id,), countdown=countdown)


@dataclass(frozen=True)
class QueueDepth:
    """Messages waiting in the default queue; None with the reason when the broker can't tell."""

    messages: int | None
    error: str = ""


def queue_depth() -> QueueDepth:
    """How many task messages wait in the default queue. Never raises."""
    app = tasks.send_monthly_report_whatsapp.app
    connection = app.connection_for_read()
    try:
        with connection:
            # One quick retry, not the default retry-for-seconds: a sweep or an operator waits.
            connection.ensure_connection(max_retries=1)
            try:
                declared = connection.default_channel.queue_declare(
                    queue=app.conf.task_default_queue, passive=True
                )
            except connection.channel_errors as err:
                # Redis deletes an empty list, so its empty queue "does not exist" (404).
                if str(getattr(err, "reply_code", "")) == "404":
                    return QueueDepth(0)
                raise
            return QueueDepth(declared.message_count)
    except (*connection.connection_errors, *connection.channel_errors, KombuError, OSError) as err:
        text = " ".join(str(err).split())[:200]
        logger.warning("Cannot read the broker queue depth: %s", type(err).__name__)
        return QueueDepth(None, f"{type(err).__name__}: {text}" if text else type(err).__name__)
