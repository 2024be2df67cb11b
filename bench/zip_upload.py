"""Figure 5: the ZIP upload of a class's report files, memory flat whatever the ZIP's size.

A ZIP of 500 files of 300 KB (PDF-headed, half random and half text, deflated: about
150 MB packed → 225 MB) for a class of 500 students, then the same twice as large (1,000
files, 1,000 students). Each goes through the admin's page in this process as the web
server would run it: the upload request (its multipart body streamed from a file on
disk, as gunicorn hands it over: Django parses it into a temporary file), its preview
page, then the confirm request that stores every file. Wall time of each request, and the
process's resident memory high-water mark (VmHWM, reset before each request) above its
resident memory before it: the ZIP twice as large must not need more memory. The
preview is then made once more under tracemalloc (Python's own allocations, its peak).
"""

from __future__ import annotations

import os
import re
import time
import tracemalloc
import zipfile
from pathlib import Path

from .common import (
    Row,
    Section,
    delete_classrooms,
    fmt_ratio,
    fmt_seconds,
    make_classroom,
    make_report,
    own_peak_kb,
    own_peak_reset,
)

#: Peak growth allowed for the ZIP twice as large, over the smaller one's (MiB).
FLAT_MIB = 8
BOUNDARY = "benchzipboundary7a1f"


def build_zip(path: Path, students, file_bytes: int) -> int:
    """Write the ZIP entry by entry (never whole in memory); its size in bytes."""
    text = b"BT /F1 12 Tf 72 712 Td (Laporan bulanan) Tj ET\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for student in students:
            half = file_bytes // 2
            body = b"%PDF-1.5\n" + os.urandom(half) + text * (half // len(text))
            archive.writestr(f"laporan/{student.nis} - {student.full_name}.pdf", body)
    return path.stat().st_size


def multipart_body(zip_path: Path, body_path: Path) -> int:
    """The upload form's request body, on disk, copied in chunks; its length."""
    with open(body_path, "wb") as out, open(zip_path, "rb") as source:
        out.write(
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="zip_file"; '
                f'filename="kelas.zip"\r\nContent-Type: application/zip\r\n\r\n'
            ).encode()
        )
        while chunk := source.read(1 << 20):
            out.write(chunk)
        out.write(f"\r\n--{BOUNDARY}--\r\n".encode())
    return body_path.stat().st_size


def post_streamed(client, url: str, body_path: Path, length: int):
    """POST ``body_path`` to ``url`` through Django's handler, read from disk as a server would."""
    from django.test.client import ClientHandler

    with open(body_path, "rb") as body:
        environ = client._base_environ(
            REQUEST_METHOD="POST",
            PATH_INFO=url,
            CONTENT_TYPE=f"multipart/form-data; boundary={BOUNDARY}",
            CONTENT_LENGTH=str(length),
            **{"wsgi.input": body},
        )
        return ClientHandler(enforce_csrf_checks=False)(environ)


def measured(action):
    """``action()``'s result, its wall time, and the peak RSS above the RSS before (KiB)."""
    before = own_peak_reset()
    started = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - started
    return result, seconds, max(own_peak_kb() - before, 0)


def one_size(ctx, workdir: Path, files: int, file_bytes: int) -> dict:
    from django.urls import reverse

    from reports.models import ReportFile
    from reports.services.zip_import import report_zip_preview

    classroom = make_classroom(f"zip{files}", files)
    report = make_report(classroom)
    students = list(classroom.students.order_by("nis"))
    zip_path = workdir / f"kelas-{files}.zip"
    zip_bytes = build_zip(zip_path, students, file_bytes)
    body_path = workdir / f"body-{files}.bin"
    length = multipart_body(zip_path, body_path)
    client = ctx.admin_client()
    url = reverse("admin:reports_monthlyreport_upload_zip", args=[report.pk])

    page, preview_s, preview_kb = measured(lambda: post_streamed(client, url, body_path, length))
    html = page.content.decode()
    if page.status_code != 200 or 'name="upload"' not in html:
        raise RuntimeError(f"the preview failed: {page.status_code} {html[:2000]}")
    token = re.search(r'name="upload" value="([^"]+)"', html).group(1)
    done, store_s, store_kb = measured(lambda: client.post(url, {"upload": token}))
    stored = ReportFile.objects.filter(monthly_report=report).count()
    if done.status_code != 302 or stored != files:
        raise RuntimeError(f"the store failed: {done.status_code}, {stored} of {files} stored")

    tracemalloc.start()
    report_zip_preview(monthly_report=report, zip_file=zip_path)
    _current, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    body_path.unlink()
    zip_path.unlink()
    result = {
        "files": files,
        "zip_mb": zip_bytes / 1e6,
        "unpacked_mb": files * file_bytes / 1e6,
        "preview_s": preview_s,
        "preview_mib": preview_kb / 1024,
        "store_s": store_s,
        "store_mib": store_kb / 1024,
        "traced_mib": traced_peak / 1024 / 1024,
        "classroom": classroom,
    }
    ctx.log(
        f"  zip: {files} files, {result['zip_mb']:.0f} MB: upload+preview {preview_s:.2f} s "
        f"(peak +{result['preview_mib']:.1f} MiB), store {store_s:.2f} s "
        f"(peak +{result['store_mib']:.1f} MiB), preview tracemalloc peak "
        f"{result['traced_mib']:.1f} MiB"
    )
    return result


def _delete_report_files(classrooms) -> None:
    from django.db import connection

    from reports.models import ReportFile

    ids = [classroom.pk for classroom in classrooms]
    ReportFile.objects.filter(monthly_report__classroom_id__in=ids)._raw_delete(connection.alias)


def run(ctx) -> Section:
    from django.test import override_settings

    small, large = ctx.sizes["zip"]
    file_bytes = ctx.sizes["zip_file_bytes"]
    section = Section(
        f"5. ZIP upload of report files: {small:,} and {large:,} files of {file_bytes // 1000} KB"
    )
    workdir = Path(ctx.setup.workdir) / "zip"
    workdir.mkdir(parents=True, exist_ok=True)
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "report_files": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(workdir / "report-files")},
        },
    }
    results = []
    with override_settings(
        STORAGES=storages,
        REPORT_ZIP_DIR=workdir / "kept",
        REPORT_ZIP_MAX_BYTES=2 * 1024**3,
        FILE_UPLOAD_TEMP_DIR=str(workdir),
    ):
        try:
            for files in (small, large):
                results.append(one_size(ctx, workdir, files, file_bytes))
        finally:
            _delete_report_files([result["classroom"] for result in results])
            delete_classrooms([result["classroom"] for result in results])
    a, b = results
    for phase, label in (
        ("preview", "Upload and preview (one request)"),
        ("store", "Confirm: store every file"),
    ):
        grow = b[f"{phase}_mib"] - a[f"{phase}_mib"]
        flat = grow <= max(FLAT_MIB, a[f"{phase}_mib"] * 0.10)
        section.rows.append(
            Row(
                f"{label}: {large:,} files ({b['zip_mb']:.0f} MB ZIP) against {small:,} "
                f"({a['zip_mb']:.0f} MB); peak memory above the process's",
                f"{fmt_seconds(b[f'{phase}_s'])}, +{b[f'{phase}_mib']:.1f} MiB",
                f"{fmt_seconds(a[f'{phase}_s'])}, +{a[f'{phase}_mib']:.1f} MiB",
                fmt_ratio(b[f"{phase}_s"] / a[f"{phase}_s"]) + f" time, {grow:+.1f} MiB",
                f"memory flat: ≤ +{FLAT_MIB} MiB for twice the ZIP",
                flat,
            )
        )
    for result in results:
        section.details.append(
            (
                f"{result['files']:,} files: preview under tracemalloc",
                f"Python's peak {result['traced_mib']:.1f} MiB "
                f"({result['unpacked_mb']:.0f} MB unpacked)",
            )
        )
    section.notes.append(
        "The upload's body is streamed from a file on disk into Django's handler, as the web "
        "server hands it over; the ZIP is read entry by entry in 64 KB chunks, an entry to "
        "store spooled to a temporary file past 1 MB. Time grows with the bytes; memory "
        "does not."
    )
    return section
