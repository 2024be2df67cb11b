"""Figure 3: the admin pages with 100,000 broadcast rows, across 100 reports.

Pages, fetched as a superuser with Django's test client in this process (server time:
the whole request through middleware, view and template, no network): the report list
with its delivery progress, and the broadcast list filtered by status (failed), plus the
unfiltered broadcast list. Median of 5 after one warm-up; SQL queries of one request.
Baseline: the same pages with 1 % of the rows (1,000), measured first in the same run:
the ratio is what 100 times the rows costs.
"""

from __future__ import annotations

import time
from datetime import timedelta

from .common import (
    Row,
    Section,
    delete_classrooms,
    fmt_ratio,
    fmt_seconds,
    make_classroom,
    make_report,
    median,
    recipients,
)

PAGES = [
    ("Report list with delivery progress", "/admin/reports/monthlyreport/"),
    (
        "Broadcast list filtered by status (failed)",
        "/admin/broadcasts/monthlyreportbroadcast/?status__exact=failed",
    ),
    ("Broadcast list, unfiltered", "/admin/broadcasts/monthlyreportbroadcast/"),
    (
        "Broadcast list filtered by report file (opened)",
        "/admin/broadcasts/monthlyreportbroadcast/?file_opened=opened",
    ),
    (
        "Broadcast list filtered by report file (not opened after N days)",
        "/admin/broadcasts/monthlyreportbroadcast/?file_opened=follow_up",
    ),
]
TARGET_SECONDS = 0.5
REPEATS = 5

#: How the rows stand, as after a month of sending: (status, share per 100 rows).
STATUS_MIX = [("sent", 90), ("failed", 4), ("unknown", 2), ("pending", 2), ("retrying", 2)]
RESPONSE = (
    '{"detail": "success! message in queue", "id": ["80367170"], "process": "pending", '
    '"requestid": 2937001, "status": true, "target": ["6281234567890"]}'
)


def _fill(by_classroom, messages, per_report_range) -> int:
    """Rows for messages[per_report_range] of every report, with a realistic status mix.

    ``messages``: per classroom, (student, guardian, number) of each message a send makes
    (children with guardians as a school's: two for most, see common.guardian_specs).

    The first report of each classroom gets its rows through the ORM (bulk_create); the
    classroom's other reports get copies made by the database (INSERT … SELECT over the
    model's columns), which loads 100,000 rows in seconds instead of a minute.
    """
    from django.db import connection
    from django.db.models import Max
    from django.utils import timezone

    from broadcasts.links import new_link_token
    from broadcasts.messages import current_template, message_context, render_message
    from broadcasts.models import MonthlyReportBroadcast

    statuses = [status for status, share in STATUS_MIX for _ in range(share)]
    now = timezone.now()
    # Sent with a personal link five days ago; one parent in 50 opened the file (the
    # opened filter's worst case: few matches, found by its index, not by a scan).
    linked_at = now - timedelta(days=5)
    template = current_template()
    meta = MonthlyReportBroadcast._meta
    q = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    table, columns = q(meta.db_table), ", ".join(q(f.column) for f in fields)

    def copied(field) -> str:
        if field.name == "monthly_report":
            return "%s"
        if field.name == "link_token":  # unique: the copy's own, the report's id appended
            return f"{q(field.column)} || %s"
        return q(field.column)

    values = ", ".join(copied(f) for f in fields)
    # The parameters in the order of the placeholders in ``values``.
    value_params = [f.name for f in fields if f.name in ("monthly_report", "link_token")]
    where = f"{q('monthly_report_id')} = %s AND {q(meta.pk.column)} > %s"
    # Identifiers from the model's own metadata; the values are parameters.
    copy_sql = f"INSERT INTO {table} ({columns}) SELECT {values} FROM {table} WHERE {where}"  # noqa: S608
    created = 0
    for classroom_id, reports in by_classroom.items():
        first, others = reports[0], reports[1:]
        last_id = MonthlyReportBroadcast.objects.aggregate(m=Max("pk"))["m"] or 0
        rows = []
        for i in per_report_range:
            student, guardian, phone = messages[classroom_id][i]
            status = statuses[(i * 7 + classroom_id) % len(statuses)]
            rows.append(
                MonthlyReportBroadcast(
                    monthly_report=first,
                    student=student,
                    guardian=guardian,
                    phone_number=phone,
                    message=render_message(
                        message_context(student=student, guardian=guardian, monthly_report=first),
                        template,
                    ),
                    status=status,
                    retry_count=1 if status != "pending" else 0,
                    sent_at=now if status == "sent" else None,
                    response=RESPONSE if status == "sent" else "",
                    fonnte_message_id="80367170" if status == "sent" else "",
                    error_message="Fonnte menolak nomor ini: target invalid"
                    if status == "failed"
                    else "",
                    enqueued_at=now,
                    link_token=new_link_token(),
                    link_created_at=linked_at,
                    opened_at=now if status == "sent" and i % 50 == 0 else None,
                    open_count=1 if status == "sent" and i % 50 == 0 else 0,
                )
            )
        MonthlyReportBroadcast.objects.bulk_create(rows, batch_size=2000)
        with connection.cursor() as cursor:
            for report in others:
                params = [
                    report.pk if name == "monthly_report" else f"-{report.pk}"
                    for name in value_params
                ]
                cursor.execute(copy_sql, [*params, first.pk, last_id])
        created += len(rows) * len(reports)
    return created


def _analyze() -> None:
    """Fresh planner statistics after a bulk load (autovacuum would do it in production)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE broadcasts_monthlyreportbroadcast")
            cursor.execute("ANALYZE reports_monthlyreport")
        elif connection.vendor == "sqlite":
            cursor.execute("ANALYZE")


def _measure(client) -> dict[str, dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    out = {}
    for name, url in PAGES:
        response = client.get(url)  # warm-up (templates, translations, plans)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {response.status_code}")
        times = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            client.get(url)
            times.append(time.perf_counter() - started)
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        ranked = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))
        out[name] = {
            "seconds": median(times),
            "queries": len(queries),
            "sql_seconds": sum(float(q["time"]) for q in ranked),
            "slowest": [(float(q["time"]), q["sql"][:150]) for q in ranked[:2]],
        }
    return out


def run(ctx) -> Section:
    section = Section(f"3. Admin pages with {ctx.sizes['admin_rows']:,} broadcast rows")
    total = ctx.sizes["admin_rows"]
    n_reports = ctx.sizes["admin_reports"]
    per_report = total // n_reports
    n_classrooms = max(1, n_reports // 10)
    # Children with two guardians for most: 1.52 messages a child, so a report's rows come
    # from fewer children than rows (the first ones of a class of ``per_report``).
    classrooms = [
        make_classroom(f"admin-{i}", per_report, guardians="mix") for i in range(n_classrooms)
    ]
    try:
        by_classroom = {c.pk: [] for c in classrooms}
        for i in range(n_reports):
            classroom = classrooms[i % n_classrooms]
            by_classroom[classroom.pk].append(make_report(classroom))
        messages = {c.pk: recipients(c.pk)[:per_report] for c in classrooms}
        small = max(1, per_report // 100)
        client = ctx.admin_client()
        created = _fill(by_classroom, messages, range(small))
        _analyze()
        baseline = _measure(client)
        created += _fill(by_classroom, messages, range(small, per_report))
        _analyze()
        ours = _measure(client)
    finally:
        delete_classrooms(classrooms)
    for name, _url in PAGES:
        o, b = ours[name], baseline[name]
        ctx.log(
            f"  {name}: {fmt_seconds(o['seconds'])} {o['queries']} q "
            f"(at {small * n_reports:,} rows: {fmt_seconds(b['seconds'])} {b['queries']} q)"
        )
        section.rows.append(
            Row(
                f"{name}: server time",
                fmt_seconds(o["seconds"]),
                f"{fmt_seconds(b['seconds'])} at {small * n_reports:,} rows",
                fmt_ratio(o["seconds"] / b["seconds"]),
                f"< {fmt_seconds(TARGET_SECONDS)} (proposed)",
                o["seconds"] < TARGET_SECONDS,
            )
        )
        section.rows.append(
            Row(
                f"{name}: SQL queries",
                str(o["queries"]),
                f"{b['queries']} at {small * n_reports:,} rows",
                fmt_ratio(o["queries"] / b["queries"]),
                "flat (same as at 1 %)",
                o["queries"] <= b["queries"],
            )
        )
        section.details.append(
            (
                f"{name}: time in SQL",
                f"{o['sql_seconds'] * 1000:.0f} ms of {fmt_seconds(o['seconds'])} "
                f"(at 1 %: {b['sql_seconds'] * 1000:.0f} ms of {fmt_seconds(b['seconds'])})",
            )
        )
        for seconds, sql in o["slowest"]:
            section.details.append((f"{name}: a slow query", f"{seconds * 1000:.0f} ms: `{sql}…`"))
    section.notes.append(
        f"{created:,} rows over {n_reports} reports of {n_classrooms} classrooms "
        f"({per_report:,} rows a report, one per guardian's number, from about "
        f"{round(per_report / 1.52):,} children with two guardians for most; "
        + ", ".join(f"{share} % {status}" for status, share in STATUS_MIX)
        + "), tables vacuumed and analyzed after loading. Server time is the median of "
        f"{REPEATS} requests through Django's test client, in the benchmark process."
    )
    return section
