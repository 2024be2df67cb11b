"""The admin login under django-axes: who the client is behind nginx, and the refusal page."""

import ipaddress

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext


def client_ip_address(request):
    """The client's address: the right-most X-Forwarded-For entry when our nginx sent the request.

    nginx (deploy/nginx/tkassalam.conf) runs on the same machine as gunicorn and sets the
    header to the address it saw; were it to append instead, anything a client wrote in
    the header would stand to the left of that address, so the right-most entry is the
    one no client chooses. A request that did not come from the loopback interface came
    from the client itself, whose header proves nothing: its own address counts.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and _is_loopback(remote):
        candidate = forwarded.rsplit(",", 1)[-1].strip()
        if _is_address(candidate):
            return candidate
    return remote or None


def login_username(request, credentials):
    """The username axes counts failures for, as the database compares it (case aside).

    MariaDB's default collation matches ``Admin`` to ``admin``: without this, each spelling
    of a name would get its own allowance of wrong passwords.
    """
    username = (credentials or {}).get("username")
    if username is None:
        username = request.POST.get("username", "")
    return str(username).strip().lower()


def lockout_response(request, original_response=None, credentials=None):
    """The admin login page again, status 429, saying why the login was refused and for how long."""
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    message = ngettext(
        "Too many failed logins for this user from this address. Try again in %(minutes)d "
        "minute, or ask an administrator to unlock the login.",
        "Too many failed logins for this user from this address. Try again in %(minutes)d "
        "minutes, or ask an administrator to unlock the login.",
        minutes,
    ) % {"minutes": minutes}
    username = request.POST.get("username", "")
    context = {
        **admin.site.each_context(request),
        "title": _("Log in"),
        "app_path": request.get_full_path(),
        "username": request.user.get_username(),
        "form": AdminAuthenticationForm(request, initial={"username": username}),
        REDIRECT_FIELD_NAME: request.POST.get(REDIRECT_FIELD_NAME, ""),
        "lockout_message": message,
    }
    return render(request, "admin/login_locked.html", context, status=429)


def _is_loopback(value):
    try:
        return ipaddress.ip_address(value).is_loopback
    except ValueError:
        return False


def _is_address(value):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
