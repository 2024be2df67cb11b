"""``manage.py check --deploy`` for the alert emails' SMTP settings."""

import ipaddress

from django.conf import settings
from django.core.checks import Warning, register

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@register(deploy=True)
def check_email_transport(app_configs=None, **kwargs):
    """W001: alerts go to a remote SMTP host in clear text (password and parents' numbers)."""
    if settings.EMAIL_BACKEND != SMTP_BACKEND or settings.EMAIL_USE_TLS or settings.EMAIL_USE_SSL:
        return []
    if is_local_host(settings.EMAIL_HOST):
        return []  # a relay on this machine: nothing crosses the network here
    return [
        Warning(
            f"EMAIL_HOST={settings.EMAIL_HOST!r} is another machine, and neither EMAIL_USE_TLS "
            "nor EMAIL_USE_SSL is set: the SMTP password and the alerts would cross the "
            "network unencrypted.",
            hint="Set EMAIL_USE_TLS=true (port 587) or EMAIL_USE_SSL=true (port 465).",
            id="notifications.W001",
        )
    ]


def is_local_host(host):
    """This machine: localhost or a loopback address (no network crossed)."""
    host = (host or "").strip().strip("[]").lower()
    if host in ("", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
