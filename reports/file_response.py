"""A report file's answer, for staff (the report page) and for parents (their link).

One place decides how the bytes go: in production nginx sends them (X-Accel-Redirect to
the ``internal`` location named by settings.REPORT_FILES_ACCEL_REDIRECT, deploy/nginx);
without it Django streams the file from its storage, never reading it whole. Imports
nothing from broadcasts/: the parent's view calls it with what its link selected.
"""

import re
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, HttpResponse
from django.utils.http import content_disposition_header

from .filetypes import EXTENSIONS
from .models import report_file_storage
from .months import month_name


def report_file_response(
    *, file_name: str, content_type: str, filename: str, as_attachment: bool = False
) -> HttpResponse:
    """The stored file ``file_name`` shown inline (or downloaded) as ``filename``.

    Raises FileNotFoundError when the storage has no such file: behind nginx too (a stat,
    no read), so that the caller answers its own page instead of nginx's bare 404.
    """
    prefix = settings.REPORT_FILES_ACCEL_REDIRECT
    if prefix:
        if not report_file_storage().exists(file_name):
            raise FileNotFoundError(file_name)
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = quote(f"{prefix.rstrip('/')}/{file_name}")
        response["Content-Disposition"] = content_disposition_header(as_attachment, filename)
    else:
        response = FileResponse(
            report_file_storage().open(file_name, "rb"),
            content_type=content_type,
            as_attachment=as_attachment,
            filename=filename,
        )
    response["Cache-Control"] = "private, no-store"
    return response


def report_file_download_name(*, nis: str, month: int, year: int, content_type: str) -> str:
    """``Laporan-S001-Maret-2026.pdf``: the NIS (not the child's name), the month, the
    real type's extension."""
    nis = re.sub(r"[^A-Za-z0-9]+", "-", nis).strip("-")
    parts = ["Laporan", nis, month_name(month), str(year)]
    return "-".join(part for part in parts if part) + EXTENSIONS.get(content_type, "")
