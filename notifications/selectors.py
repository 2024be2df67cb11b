"""Reads about admins' notifications."""

from .models import Notification


def notification_unread_count(*, user) -> int:
    """How many of ``user``'s own notifications are unread: one COUNT on the unread index."""
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user).unread().count()
