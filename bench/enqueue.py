"""Figure 1: the admin action's confirm step for 1,000 / 10,000 / 100,000 children.

The children have guardians as a school's do (``common.guardian_specs``, ``mix``): 60 %
two, a few sharing a number, some opted out or without a number; 10,000 children make
15,200 messages to 16,000 guardians. Ours: the real admin POST
(``action=send_whatsapp_broadcast``, ``post=yes``) through Django's test client, in this
process: ``broadcast_create_for_report`` (bulk_create) and one dispatch task published
after the commit. Baseline, the seed's way done in Django: for each message
``MonthlyReportBroadcast.objects.create(...)`` then
``send_monthly_report_whatsapp.delay(report_id, row.id)``, same rows, autocommit.

Also measured (details): where the confirm step's time goes, the worker-side dispatcher
publishing one task per row, and the confirmation page shown before the click.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time

from .common import (
    QueryCount,
    Row,
    Section,
    delete_classrooms,
    expected_messages,
    fmt_ratio,
    fmt_seconds,
    make_classroom,
    make_report,
    make_report_files,
    own_peak_kb,
    own_peak_reset,
    purge_queue,
)

TARGET_SECONDS_10K = 2.0
ACTION_URL = "/admin/reports/monthlyreport/"


def _speedup(ratio: float) -> str:
    return f"{fmt_ratio(ratio)} faster" if ratio >= 1.05 else f"{fmt_ratio(ratio)} (no gain)"


def _confirm(client, report):
    return client.post(
        ACTION_URL,
        {"action": "send_whatsapp_broadcast", "_selected_action": [report.pk], "post": "yes"},
    )


def _ours(client, report, expected: int) -> dict:
    from broadcasts.models import MonthlyReportBroadcast

    rss_before = own_peak_reset()
    with QueryCount() as queries:
        started = time.perf_counter()
        response = _confirm(client, report)
        seconds = time.perf_counter() - started
    peak = own_peak_kb() - rss_before
    created = MonthlyReportBroadcast.objects.filter(monthly_report=report).count()
    if response.status_code != 302 or created != expected:
        raise RuntimeError(
            f"confirm step: HTTP {response.status_code}, {created} rows for {expected} messages"
        )
    return {"seconds": seconds, "queries": len(queries), "peak_kb": peak}


def _seed_way(report) -> dict:
    """The seed's loop in Django: one create() and one delay() per message, autocommit.

    The seed had one number a child; its loop, given the guardians, reads them with the
    students (two queries) and makes one row per receiving guardian and number.
    """
    from broadcasts.messages import current_template, message_context, render_message
    from broadcasts.models import MonthlyReportBroadcast
    from broadcasts.tasks import send_monthly_report_whatsapp
    from students.models import Student
    from students.phones import InvalidPhoneNumber, normalize_phone

    with QueryCount() as queries:
        started = time.perf_counter()
        template = current_template()
        for student in Student.objects.filter(classroom_id=report.classroom_id).prefetch_related(
            "guardians"
        ):
            numbers = set()
            for guardian in student.guardians.all():
                if not guardian.receives_messages or not guardian.phone.strip():
                    continue
                try:
                    phone = normalize_phone(guardian.phone)
                except InvalidPhoneNumber:
                    phone = guardian.phone
                if phone in numbers:
                    continue
                numbers.add(phone)
                row = MonthlyReportBroadcast.objects.create(
                    monthly_report=report,
                    student=student,
                    guardian=guardian,
                    phone_number=phone[:20],
                    message=render_message(
                        message_context(student=student, guardian=guardian, monthly_report=report),
                        template,
                    ),
                )
                send_monthly_report_whatsapp.delay(report.pk, row.pk)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "queries": len(queries)}


def _kinds(queries) -> str:
    """``20 INSERT`` / ``1 SELECT, 2 UPDATE``: the statements a CaptureQueriesContext saw."""
    kinds: dict[str, int] = {}
    for q in queries.captured_queries:
        kind = q["sql"].split(None, 1)[0].upper()
        kinds[kind] = kinds.get(kind, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "no statements"


def _breakdown(ctx, classroom, section: Section) -> None:
    """The confirm step's parts, timed one by one on a fresh report (same code paths)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from broadcasts import queue
    from broadcasts.messages import current_template, message_context, render_message
    from broadcasts.models import MonthlyReportBroadcast
    from broadcasts.selectors.recipients import report_recipients
    from broadcasts.services import broadcast_create_for_report

    report = make_report(classroom)
    timings = {}
    started = time.perf_counter()
    children = report_recipients(monthly_report=report)
    timings["report_recipients(): children, guardians, rows (3 queries), numbers checked"] = (
        time.perf_counter() - started
    )
    chosen = [r for child in children for r in child.recipients]
    n = len(chosen)
    template = current_template()
    started = time.perf_counter()
    texts = [
        render_message(
            message_context(student=r.student, guardian=r.guardian, monthly_report=report),
            template,
        )
        for r in chosen
    ]
    timings["message_context() + render_message() per message"] = time.perf_counter() - started
    started = time.perf_counter()
    rows = [
        MonthlyReportBroadcast(
            monthly_report=report,
            student=r.student,
            guardian=r.guardian,
            phone_number=r.phone,
            message=t,
        )
        for r, t in zip(chosen, texts, strict=True)
    ]
    timings["MonthlyReportBroadcast(...) instances"] = time.perf_counter() - started
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        with transaction.atomic():
            MonthlyReportBroadcast.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
        timings["bulk_create(batch_size=500) + commit: {q}"] = time.perf_counter() - started
    insert_queries = _kinds(queries)
    started = time.perf_counter()
    queue.dispatch_after_commit()  # outside a transaction: publishes at once
    timings["publish the one dispatch task"] = time.perf_counter() - started
    purge_queue(ctx.setup)
    total = sum(timings.values())
    for what, seconds in timings.items():
        label = what.replace("{q}", insert_queries)
        section.details.append(
            (
                f"confirm step, {len(children):,} children, {n:,} messages: {label}",
                f"{fmt_seconds(seconds)} ({seconds / n * 1e6:.0f} µs/row, "
                f"{seconds / total * 100:.0f} %)",
            )
        )
    # What the product's single-statement variant would cost (batch_size=None: one INSERT on
    # PostgreSQL, the largest batch SQLite allows), on another fresh report.
    report2 = make_report(classroom)
    rows2 = [
        MonthlyReportBroadcast(
            monthly_report=report2,
            student=r.student,
            guardian=r.guardian,
            phone_number=r.phone_number,
            message=r.message,
        )
        for r in rows
    ]
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        with transaction.atomic():
            MonthlyReportBroadcast.objects.bulk_create(rows2, ignore_conflicts=True)
        seconds = time.perf_counter() - started
    section.details.append(
        (
            f"what-if: bulk_create(batch_size=None) of the same {n:,} rows",
            f"{fmt_seconds(seconds)}, {_kinds(queries)}",
        )
    )
    # A profile of the whole service call, on a smaller classroom of its own.
    small = make_classroom("enqueue-profile", ctx.sizes["dispatch"], guardians="mix")
    report3 = make_report(small)
    profiler = cProfile.Profile()
    profiler.enable()
    broadcast_create_for_report(monthly_report=report3)
    profiler.disable()
    purge_queue(ctx.setup)
    delete_classrooms([small])
    if ctx.results_dir is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(60)
        (ctx.results_dir / "profile-enqueue.txt").write_text(out.getvalue())


def _dispatcher(ctx, report, section: Section) -> Row:
    """The worker-side dispatcher publishing one send task per row, vs delay() in a loop.

    On ``sizes['dispatch']`` of the report's rows (the others are marked handed over):
    publishing is linear in the rows, and 10,000 would cost half a minute here.
    """
    from django.utils import timezone

    from broadcasts.models import MonthlyReportBroadcast
    from broadcasts.services import broadcast_dispatch_pending
    from broadcasts.tasks import send_monthly_report_whatsapp

    sample = ctx.sizes["dispatch"]
    ids = list(
        MonthlyReportBroadcast.objects.filter(monthly_report=report)
        .order_by("pk")
        .values_list("pk", flat=True)[:sample]
    )
    # Only these rows are waiting for the dispatcher.
    MonthlyReportBroadcast.objects.filter(enqueued_at__isnull=True).exclude(pk__in=ids).update(
        enqueued_at=timezone.now()
    )
    purge_queue(ctx.setup)
    with QueryCount() as queries:
        started = time.perf_counter()
        published = broadcast_dispatch_pending()
        ours = time.perf_counter() - started
    ours_queries = len(queries)
    purged = purge_queue(ctx.setup)
    started = time.perf_counter()
    for pk in ids:
        send_monthly_report_whatsapp.delay(report.pk, pk)
    baseline = time.perf_counter() - started
    purge_queue(ctx.setup)
    section.details.append(
        (
            f"dispatcher (in a worker): publish {published:,} send tasks",
            f"{fmt_seconds(ours)} ({ours / published * 1000:.2f} ms a task), {ours_queries} "
            f"queries, {purged:,} messages on the queue; one delay() per row: "
            f"{fmt_seconds(baseline)} ({baseline / len(ids) * 1000:.2f} ms a task)",
        )
    )
    return Row(
        f"Dispatcher (worker side): publish {published:,} send tasks",
        f"{fmt_seconds(ours)} · {ours_queries} queries",
        f"{fmt_seconds(baseline)} (delay() per row)",
        _speedup(baseline / ours),
        "",
        None,
    )


def _confirmation_page(client, report, section: Section, n: int, messages: int) -> None:
    """The page the admin sees before confirming (broadcast_plan): also part of "send".

    Where the page itself cannot be drawn (a branch whose template is half-way through a
    change), its selector alone is measured, and the detail says so.
    """
    from broadcasts.selectors import broadcast_plan

    what = (
        f"confirmation page before the click (broadcast_plan), {n:,} children, "
        f"{messages:,} messages"
    )
    try:
        with QueryCount() as queries:
            started = time.perf_counter()
            response = client.post(
                ACTION_URL, {"action": "send_whatsapp_broadcast", "_selected_action": [report.pk]}
            )
            seconds = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"confirmation page: HTTP {response.status_code}")
    except Exception as err:  # measured below without the page, and said so
        with QueryCount() as queries:
            started = time.perf_counter()
            broadcast_plan(monthly_report=report)
            seconds = time.perf_counter() - started
        what = (
            f"confirmation's broadcast_plan() alone, {n:,} children, {messages:,} messages "
            f"(the page failed on this branch: {type(err).__name__})"
        )
    section.details.append((what, f"{fmt_seconds(seconds)}, {len(queries)} queries"))


def run(ctx) -> Section:
    section = Section("1. Enqueue: the admin's confirm step")
    client = ctx.admin_client()
    classrooms = []
    measured: dict[int, dict] = {}
    baselines: dict[int, dict] = {}
    dispatch_row = None
    measured_files = None
    messages: dict[int, int] = {}
    try:
        for n in ctx.sizes["enqueue"]:
            classroom = make_classroom(f"enqueue-{n}", n, guardians="mix")
            classrooms.append(classroom)
            messages[n] = expected_messages(classroom)
            report, seed_report = make_report(classroom), make_report(classroom)
            if n == ctx.sizes["enqueue_profile"]:
                _confirmation_page(client, report, section, n, messages[n])
            measured[n] = _ours(client, report, messages[n])
            purge_queue(ctx.setup)
            if n == ctx.sizes["enqueue_profile"]:
                dispatch_row = _dispatcher(ctx, report, section)
                _breakdown(ctx, classroom, section)
                with_files = make_report(classroom)
                make_report_files(with_files)
                measured_files = (n, _ours(client, with_files, messages[n]))
                purge_queue(ctx.setup)
            if n <= ctx.sizes["baseline_max"]:
                baselines[n] = _seed_way(seed_report)
                purge_queue(ctx.setup)
            ctx.log(
                f"  enqueue {n:>7,} children, {messages[n]:>7,} messages: "
                f"ours {fmt_seconds(measured[n]['seconds'])} "
                f"{measured[n]['queries']} q"
                + (
                    f"; seed way {fmt_seconds(baselines[n]['seconds'])} {baselines[n]['queries']} q"
                    if n in baselines
                    else ""
                )
            )
    finally:
        delete_classrooms(classrooms)
        purge_queue(ctx.setup)

    # The seed's way for sizes not run: a straight line through the two largest runs.
    measured_sizes = sorted(baselines)
    extrapolated = set()
    if len(measured_sizes) >= 2:
        a, b = measured_sizes[-2], measured_sizes[-1]
        for n in ctx.sizes["enqueue"]:
            if n in baselines:
                continue
            per_s = (baselines[b]["seconds"] - baselines[a]["seconds"]) / (b - a)
            per_q = (baselines[b]["queries"] - baselines[a]["queries"]) / (b - a)
            baselines[n] = {
                "seconds": baselines[b]["seconds"] + per_s * (n - b),
                "queries": round(baselines[b]["queries"] + per_q * (n - b)),
            }
            extrapolated.add(n)
    # "Does not grow": no more statements than at the smallest size (which may hold one
    # more, a per-process cache filled by the first click, e.g. the admin log's ContentType).
    smallest = measured[min(measured)]["queries"]
    for n in ctx.sizes["enqueue"]:
        ours, base = measured[n], baselines.get(n)
        mark = " (extrapolated)" if n in extrapolated else ""
        time_target = f"< {TARGET_SECONDS_10K:g} s" if n == 10_000 else ""
        section.rows.append(
            Row(
                f"Confirm step, {n:,} children ({messages[n]:,} messages): wall time",
                fmt_seconds(ours["seconds"]),
                (fmt_seconds(base["seconds"]) + mark) if base else "—",
                _speedup(base["seconds"] / ours["seconds"]) if base else "—",
                time_target,
                (ours["seconds"] < TARGET_SECONDS_10K) if n == 10_000 else None,
            )
        )
        section.rows.append(
            Row(
                f"Confirm step, {n:,} children ({messages[n]:,} messages): SQL queries",
                str(ours["queries"]),
                (f"{base['queries']:,}" + mark) if base else "—",
                f"{fmt_ratio(base['queries'] / max(ours['queries'], 1))} fewer" if base else "—",
                f"flat (≤ {smallest} at {min(measured):,})",
                ours["queries"] <= smallest,
            )
        )
        section.details.append(
            (
                f"confirm step, {n:,} children: peak memory of the web process",
                f"+{ours['peak_kb'] / 1024:.0f} MiB over its resident size before the request",
            )
        )
    if measured_files is not None:
        n, ours = measured_files
        section.rows.append(
            Row(
                f"Confirm step, {n:,} children ({messages[n]:,} messages), each child with a "
                "report file (a personal link per row): wall time · SQL queries",
                f"{fmt_seconds(ours['seconds'])} · {ours['queries']} q",
                fmt_seconds(measured[n]["seconds"]) + " without files",
                fmt_ratio(ours["seconds"] / measured[n]["seconds"]),
                f"< {TARGET_SECONDS_10K:g} s" if n == 10_000 else "",
                (ours["seconds"] < TARGET_SECONDS_10K) if n == 10_000 else None,
            )
        )
    if dispatch_row is not None:
        section.rows.append(dispatch_row)
    if extrapolated:
        section.notes.append(
            "The seed's way for "
            + ", ".join(f"{n:,}" for n in sorted(extrapolated))
            + " children is extrapolated linearly from its "
            + " and ".join(f"{n:,}" for n in measured_sizes[-2:])
            + " runs (it would take minutes); run with --full-baseline to measure it."
        )
    section.notes.append(
        "Children with guardians as a school's (bench/common.py guardian_specs): 60 % with two "
        "(ayah and ibu), 40 % with one; in 50 children one pair sharing a number, one ibu and "
        "one only guardian opted out, one only guardian without a number: 1.52 messages a "
        "child, 1.6 guardians."
    )
    section.notes.append(
        "Ours is the real admin POST through Django's test client (session, permissions, "
        "messages included) up to its redirect, the commit and the one broker publish; the "
        "seed's way is timed from its first query to its last delay(). Both build the same "
        "rows (normalized number, rendered message)."
    )
    return section
