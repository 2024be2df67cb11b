"""Celery tasks: thin wrappers that take ids and call one service each."""

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import services
from .exceptions import BroadcastFailed, BroadcastRetry


class SendTask(Task):
    """Alerts the admins when a send ends in failure: the on-failure handler of the design."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        broadcast_id = kwargs.get("broadcast_id", args[1] if len(args) > 1 else None)
        if broadcast_id is not None:
            services.broadcast_handle_task_failure(broadcast_id=broadcast_id, exc=exc)


@shared_task(
    base=SendTask,
    # Only passing failures are retried: Fonnte/network trouble (BroadcastRetry, raised
    # after the row is parked) and a database blip before the row was claimed.
    # A bad number or a refused token is final at once (see services.broadcast_send).
    autoretry_for=(BroadcastRetry, OperationalError, InterfaceError),
    max_retries=settings.WHATSAPP_MAX_ATTEMPTS - 1,
    default_retry_delay=settings.WHATSAPP_RETRY_DELAY,
    retry_backoff=False,
    retry_jitter=False,
    # An expected end, logged without a traceback; on_failure still alerts.
    throws=(BroadcastFailed,),
)
def send_monthly_report_whatsapp(monthly_report_id, broadcast_id):
    """Send one parent's WhatsApp message about one monthly report."""
    services.broadcast_send(broadcast_id=broadcast_id, monthly_report_id=monthly_report_id)


@shared_task(
    autoretry_for=(OperationalError, InterfaceError), max_retries=5, default_retry_delay=30
)
def dispatch_pending_broadcasts():
    """Publish a send task for every pending row not yet handed to the workers."""
    return services.broadcast_dispatch_pending()


@shared_task(
    autoretry_for=(OperationalError, InterfaceError), max_retries=5, default_retry_delay=60
)
def alert_broadcast_failures(monthly_report_id):
    """Tell the admins, in one alert, about a report's rows that failed since the last alert."""
    return services.broadcast_alert_failures(monthly_report_id=monthly_report_id)


@shared_task(
    autoretry_for=(OperationalError, InterfaceError), max_retries=2, default_retry_delay=30
)
def recover_broadcasts():
    """Every minute (celery beat): settle stuck rows, requeue lost tasks, send due alerts."""
    recovery = services.broadcast_recover()
    return {
        "stuck_marked_unknown": recovery.stuck_marked_unknown,
        "requeued": recovery.requeued,
        "alerted": recovery.alerted,
    }
