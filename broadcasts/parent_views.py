"""The parent's page, under ``/laporan/<token>/``: their child's report, no login.

``<token>/`` is the page (school, child, month, a "Buka laporan" button), ``<token>/berkas/``
the file itself (``?unduh=1``: as a download). A link that does not open (unknown, revoked,
expired, report deleted, no file now) gets the same page and status whichever it is, with
the school's contact. Only a fetch of the file can count as opened (services.opens). In
production nginx sends the bytes (settings.REPORT_FILES_ACCEL_REDIRECT).

Every answer is private and kept out of caches, referrers and search engines; tokens never
reach a log line (tkassalam.log_filters masks them in request paths).
"""

import logging
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseNotAllowed
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from reports.file_response import report_file_download_name, report_file_response
from reports.months import month_name
from tkassalam.language import school_language
from tkassalam.security import client_ip_address

from .selectors.report_link import report_link_open
from .services.opens import broadcast_record_open, file_fetch_counts

logger = logging.getLogger(__name__)

#: Links that do not open, per client address, before the answer is 429 for MISS_WINDOW
#: seconds. Django's cache (per process with the default LocMemCache): nginx's limit_req
#: (deploy/nginx) is the guard across processes; this one holds under runserver or any proxy.
MISS_LIMIT = 30
MISS_WINDOW = 600

PRIVATE_HEADERS = {
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}
# The page: its own inline style, nothing else (no script, no outside resource).
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def _private(view):
    """GET and HEAD only; PRIVATE_HEADERS on every answer of ``view``, refusals included.

    Not require_safe: its refusal is logged by Django with the request (the token) attached.
    csrf_exempt: the pages take no form; without it a POST would get the CSRF middleware's
    403 (logged by django.security.csrf, without these headers) before this wrapper runs.
    """

    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method in ("GET", "HEAD"):
            response = view(request, *args, **kwargs)
        else:
            response = HttpResponseNotAllowed(["GET", "HEAD"])
            response._has_been_logged = True
        for header, value in PRIVATE_HEADERS.items():
            response[header] = value
        return response

    return wrapped


@_private
def report_page(request, token):
    """The page a parent lands on; never counts as opened (link previews fetch it)."""
    link = report_link_open(token)
    if link is None:
        return _unavailable(request)
    context = {
        "school": settings.SCHOOL_NAME,
        "student_name": link.student_name,
        "month": month_name(link.month),
        "year": link.year,
        "expires_on": timezone.localdate(link.expires_at),
        "is_image": link.content_type.startswith("image/"),
    }
    return _page(request, "broadcasts/parent/report.html", context, status=200)


@_private
def report_file(request, token):
    """The child's file, inline or (``?unduh=1``) as a download; a person's GET counts."""
    link = report_link_open(token)
    if link is None:
        return _unavailable(request)
    try:
        response = report_file_response(
            file_name=link.file_name,
            content_type=link.content_type,
            filename=report_file_download_name(
                nis=link.nis, month=link.month, year=link.year, content_type=link.content_type
            ),
            as_attachment=request.GET.get("unduh") == "1",
        )
    except OSError:
        logger.warning("Report file missing from storage (broadcast %s)", link.broadcast_id)
        return _unavailable(request)
    if file_fetch_counts(
        method=request.method,
        range_header=request.headers.get("Range", ""),
        user_agent=request.headers.get("User-Agent", ""),
        is_staff=request.user.is_staff,
    ):
        broadcast_record_open(broadcast_id=link.broadcast_id)
    return response


@_private
def no_such_link(request):
    """A path under /laporan/ that is no link's page or file: as an unknown link."""
    return _unavailable(request)


def _unavailable(request):
    """The one answer for every link that does not open: 404, or 429 past MISS_LIMIT."""
    key = f"parent-link-miss:{client_ip_address(request) or '-'}"
    cache.add(key, 0, timeout=MISS_WINDOW)
    try:
        misses = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=MISS_WINDOW)
        misses = 1
    limited = misses > MISS_LIMIT
    context = {
        "school": settings.SCHOOL_NAME,
        "website": settings.SCHOOL_WEBSITE,
        "contact": settings.SCHOOL_CONTACT,
        "limited": limited,
    }
    response = _page(
        request, "broadcasts/parent/unavailable.html", context, status=429 if limited else 404
    )
    logger.info("A personal link did not open (%d)", response.status_code)
    # Django's request logger would write the path, and pass the request (its path, the
    # token) to every handler as extra: this line says what happened instead.
    response._has_been_logged = True
    return response


def _page(request, template, context, *, status):
    with school_language():  # parents read Indonesian, whatever their phone's language
        body = render_to_string(template, context, request=request)
    response = HttpResponse(body, status=status)
    response["Content-Security-Policy"] = PAGE_CSP
    return response
