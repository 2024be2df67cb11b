"""Figure 6: the parent's page and file (``/laporan/<token>/``) with 1,000 and 10,000 rows.

A class of N students, each with a report file (ReportFile rows bulk-created, one real
stored file shared), their rows made by ``broadcast_create_for_report`` (so each has a
personal link). Measured through Django's test client in this process (server time:
middleware, view, template; no network): the page, the file in production
(X-Accel-Redirect, nginx would send the bytes) and the file streamed by Django
(development), median of 9 requests after a warm-up, and the statements of one request.
Target: the statements and the time do not grow with the rows (the token is indexed).
"""

from __future__ import annotations

import time

from .common import (
    QueryCount,
    Row,
    Section,
    delete_classrooms,
    fmt_ratio,
    fmt_seconds,
    make_classroom,
    make_report,
    make_report_files,
    median,
    purge_queue,
)

REPEAT = 9
PHONE_UA = "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"


def _measure(client, path, accel: str) -> tuple[float, int, int]:
    from django.test import override_settings

    with override_settings(REPORT_FILES_ACCEL_REDIRECT=accel):
        response = client.get(path)  # warm-up
        times = []
        for _ in range(REPEAT):
            started = time.perf_counter()
            response = client.get(path)
            if response.streaming:
                b"".join(response.streaming_content)
            times.append(time.perf_counter() - started)
        with QueryCount() as queries:
            response = client.get(path)
            if response.streaming:
                b"".join(response.streaming_content)
    return median(times), len(queries), response.status_code


def run(ctx) -> Section:
    from django.core.files.base import ContentFile
    from django.test import Client

    from broadcasts.models import MonthlyReportBroadcast
    from broadcasts.services import broadcast_create_for_report
    from reports.models import report_file_storage

    section = Section("6. The parent's page and file (personal links)")
    sizes = ctx.sizes.get("links", (1_000, 10_000))
    stored = report_file_storage().save("bench/report.pdf", ContentFile(b"%PDF-1.4\n" * 30_000))
    client = Client(HTTP_USER_AGENT=PHONE_UA)
    results = {}
    classrooms = []
    try:
        for n in sizes:
            classroom = make_classroom(f"links-{n}", n)
            classrooms.append(classroom)
            report = make_report(classroom)
            make_report_files(report, stored)
            broadcast_create_for_report(monthly_report=report)
            purge_queue(ctx.setup)
            token = (
                MonthlyReportBroadcast.objects.filter(monthly_report=report)
                .order_by("pk")
                .values_list("link_token", flat=True)[n // 2]
            )
            path = f"/laporan/{token}/"
            results[n] = {
                "page": _measure(client, path, ""),
                "file (X-Accel-Redirect)": _measure(client, path + "berkas/", "/_report-files/"),
                "file (streamed by Django)": _measure(client, path + "berkas/", ""),
            }
            ctx.log(
                f"  links {n:>7,}: "
                + "; ".join(
                    f"{what} {fmt_seconds(t)} {q} q" for what, (t, q, _s) in results[n].items()
                )
            )
    finally:
        delete_classrooms(classrooms)
        report_file_storage().delete(stored)
    small, large = min(results), max(results)
    for what in results[large]:
        t_small, q_small, _ = results[small][what]
        t_large, q_large, status = results[large][what]
        section.rows.append(
            Row(
                f"Parent's {what}, {large:,} rows: server time · SQL queries",
                f"{fmt_seconds(t_large)} · {q_large} q (HTTP {status})",
                f"{fmt_seconds(t_small)} · {q_small} q at {small:,} rows",
                fmt_ratio(t_large / t_small),
                "queries flat",
                q_large <= q_small,
            )
        )
    section.notes.append(
        "Each file fetch counts as an opening (a phone's User-Agent): two guarded UPDATEs "
        "(open_count + 1; opened_at once) besides the one SELECT of the link with its file."
    )
    return section
