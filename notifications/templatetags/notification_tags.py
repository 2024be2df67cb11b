"""Template tags for the admin header (``tkassalam/templates/admin/base_site.html``)."""

from django import template

from notifications.selectors import notification_unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notification_count(context) -> int:
    """The logged-in staff user's unread notifications; no query for anyone else."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_active or not user.is_staff:
        return 0
    return notification_unread_count(user=user)
