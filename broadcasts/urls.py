"""Fonnte's webhooks, under ``/webhooks/``: ``fonnte/<secret>/status/`` and ``…/connect/``.

The trailing slash is optional: a URL pasted into the Fonnte dashboard without it must
not meet CommonMiddleware's redirect (a POST is not repeated) nor a 404 that logs the path.
"""

from django.urls import re_path

from . import webhooks

app_name = "broadcasts"

urlpatterns = [
    re_path(r"^fonnte/(?P<secret>[^/]+)/status/?$", webhooks.fonnte_status, name="fonnte-status"),
    re_path(
        r"^fonnte/(?P<secret>[^/]+)/connect/?$", webhooks.fonnte_connect, name="fonnte-connect"
    ),
]
