"""Celery tasks for students: thin wrappers that take ids and call one service."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from notifications.whatsapp import RETRYABLE_ERRORS

from . import imports, services


@shared_task(
    # Another check holding the /validate lease, Fonnte or the network not well now, or
    # a database blip: try again. A refused token (SenderRejected) is final.
    autoretry_for=(services.WhatsAppCheckBusy, *RETRYABLE_ERRORS, OperationalError, InterfaceError),
    max_retries=10,
    default_retry_delay=60,
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=True,
)
def check_whatsapp_numbers(student_ids):
    """Check whether these students' guardians' numbers have WhatsApp (one /validate call)."""
    outcome = services.student_check_whatsapp(student_ids=student_ids)
    return {
        "registered": outcome.registered,
        "not_registered": outcome.not_registered,
        "unknown": outcome.unknown,
        "invalid": outcome.invalid,
    }


@shared_task
def purge_import_uploads():
    """Delete the uploads of import previews left unconfirmed too long (beat, every 15 min)."""
    return imports.import_uploads_purge()
