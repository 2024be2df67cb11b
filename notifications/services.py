"""Telling the school's admins: an in-app Notification each, and one email."""

import logging
import re
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import Notification

logger = logging.getLogger(__name__)

#: An email subject longer than this is cut: mail clients show far less anyway.
SUBJECT_MAX_LENGTH = 150
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")

#: Members of these groups, and superusers, receive alerts about failed messages.
ADMIN_GROUPS = ("super_admin", "admin")


def admin_recipients():
    """Active users who must hear about failures: superusers and the admin groups."""
    User = get_user_model()
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=ADMIN_GROUPS))
        .distinct()
        .order_by("pk")
    )


def notification_send_to_admins(
    *,
    title: str,
    body: str,
    link: str = "",
    level: str = Notification.Level.ERROR,
    key: str = "",
) -> list[Notification]:
    """Create one Notification per admin; after commit, send one email to them and ADMIN_EMAIL."""
    admins = list(admin_recipients())
    notifications = Notification.objects.bulk_create(
        Notification(recipient=user, level=level, title=title, body=body, link=link, key=key)
        for user in admins
    )
    addresses = {user.email for user in admins if user.email}
    if settings.ADMIN_EMAIL:
        addresses.add(settings.ADMIN_EMAIL)
    if addresses:
        transaction.on_commit(
            partial(_email_admins, title=title, body=body, link=link, addresses=sorted(addresses))
        )
    logger.info(
        "Admin alert sent: %s",
        title,
        extra={"notifications": len(notifications), "emails": len(addresses)},
    )
    return notifications


def email_subject(text: str) -> str:
    """One line for an email subject: control characters and line breaks become a space
    (Django refuses a subject with a newline, BadHeaderError), cut to SUBJECT_MAX_LENGTH."""
    line = " ".join(_CONTROL_CHARACTERS.sub(" ", str(text)).split())
    if len(line) > SUBJECT_MAX_LENGTH:
        cut = line[: SUBJECT_MAX_LENGTH - 1]
        line = (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"  # at a word's end
    return line


def _email_admins(*, title, body, link, addresses):
    text = body
    if link:
        text = f"{body}\n\n{settings.SITE_URL.rstrip('/')}{link}"
    try:
        send_mail(
            subject=email_subject(f"[{settings.SCHOOL_NAME}] {title}"),
            message=text,
            from_email=None,
            recipient_list=addresses,
        )
    except Exception:
        # Any failure of the email backend (SMTP down, a refused header, a broken custom
        # backend): the in-app notifications are already saved, and the sweep or task that
        # raised the alert must go on; the traceback goes to the log (secrets masked).
        logger.exception("Could not email the admin alert %r", email_subject(title))


def notification_sent_since(*, key: str, since) -> bool:
    """Whether an alert of this kind went out at or after ``since``."""
    return Notification.objects.filter(key=key, created_at__gte=since).exists()


def notification_mark_read(*, notification: Notification) -> None:
    """Mark as read once; reading it again keeps the first time."""
    notification_mark_read_many(recipient=notification.recipient_id, ids=[notification.pk])


def notification_mark_read_many(*, recipient, ids) -> int:
    """Mark the recipient's given notifications read, in one update; return how many changed."""
    return Notification.objects.filter(
        recipient=recipient, pk__in=list(ids), read_at__isnull=True
    ).update(read_at=timezone.now())
