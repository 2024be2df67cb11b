"""Figure 2: messages per second through real workers, against a bare loop of the same calls.

Ours: N worker processes (``celery -A tkassalam worker --concurrency=1``, N of them, as
deploy/ runs them), the production settings module, sending pending rows through the
fake Fonnte (a separate process). The rows' send tasks are published by the product's
dispatcher (``broadcast_dispatch_pending``) while the workers run. Baseline: N processes
each posting the same requests in a bare ``requests.Session().post`` loop.

Rates are counted at the fake from the arrival times of accepted requests, leaving out
the first 10 % (warm-up, publishing): see common.window_rate.

Per-message cost in one process (details): the service (``broadcast_send``) called in this
process for a few hundred rows, its SQL queries counted, against the bare call.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time

from . import memory
from .common import (
    QueryCount,
    Row,
    Section,
    delete_classrooms,
    fmt_seconds,
    make_classroom,
    make_pending_rows,
    make_report,
    purge_queue,
    window_rate,
)
from .processes import Workers, bare_loops

TARGET_SHARE_50MS = 0.90
TARGET_QUERIES = 5


def sample_message(report) -> str:
    from broadcasts.messages import message_context, render_message
    from students.models import Guardian

    guardian = (
        Guardian.objects.filter(student__classroom_id=report.classroom_id)
        .select_related("student")
        .order_by("student_id", "id")
        .first()
    )
    return render_message(
        message_context(student=guardian.student, guardian=guardian, monthly_report=report)
    )


def _wait_all_final(report, expected: int, timeout: float = 30.0) -> int:
    from broadcasts.models import FINAL_STATUSES, MonthlyReportBroadcast

    deadline = time.monotonic() + timeout
    while True:
        done = MonthlyReportBroadcast.objects.filter(
            monthly_report=report, status__in=FINAL_STATUSES
        ).count()
        if done >= expected or time.monotonic() > deadline:
            return done
        time.sleep(0.1)


def prepare_batch(ctx, classroom, count: int):
    """A new report with ``count`` pending rows, not published yet; the fake forgets earlier."""
    ctx.fake.reset()
    report = make_report(classroom)
    make_pending_rows(report, limit=count)
    return report


def run_batch(ctx, workers: Workers, report, count: int, timeout: float) -> dict:
    """Publish the report's pending rows (the dispatcher), wait for the fake to get them all."""
    from broadcasts.models import MonthlyReportBroadcast
    from broadcasts.services import broadcast_dispatch_pending

    fake = ctx.fake
    with QueryCount() as publish_queries:
        started = time.perf_counter()
        published = broadcast_dispatch_pending()
        publish_seconds = time.perf_counter() - started
    received = fake.wait_for(count, timeout=timeout)
    if received < count:
        errors = workers.errors()[-10:]
        raise RuntimeError(
            f"the fake got {received} of {count} messages in {timeout:.0f}s; worker errors:\n"
            + "\n".join(errors)
        )
    times = fake.times()
    done = _wait_all_final(report, count)
    sent = MonthlyReportBroadcast.objects.filter(monthly_report=report, status="sent").count()
    rate, counted, span = window_rate(times["accepted_at"])
    return {
        "rate": rate,
        "counted": counted,
        "span": span,
        "published": published,
        "publish_seconds": publish_seconds,
        "publish_queries": len(publish_queries),
        "sent": sent,
        "final": done,
        "duplicates": times["duplicates"],
        "report": report,
    }


def run_bare(ctx, processes: int, count: int, message: str) -> dict:
    fake = ctx.fake
    fake.reset()
    bare_loops(fake, processes, count, message)
    times = fake.times()
    rate, counted, span = window_rate(times["accepted_at"])
    return {"rate": rate, "counted": counted, "span": span}


#: Statements that frame a transaction rather than read or write rows.
TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}


def _in_process(ctx, classroom, section: Section) -> dict:
    """broadcast_send in this process for K rows vs the bare call: ms and queries per message."""
    import requests
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from broadcasts.models import MonthlyReportBroadcast
    from broadcasts.services import broadcast_send
    from notifications.whatsapp import get_backend

    k, warm = ctx.sizes["inprocess"], 20
    ctx.fake.config(latency=0.0)
    report = make_report(classroom)
    make_pending_rows(report, limit=2 * k + warm)
    ids = list(
        MonthlyReportBroadcast.objects.filter(monthly_report=report)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    get_backend.cache_clear()  # FONNTE_URL points at the fake (settings from the environment)
    for pk in ids[:warm]:
        broadcast_send(broadcast_id=pk, monthly_report_id=report.pk)
    measured = ids[warm : warm + k]
    # Django's query log keeps times rounded to the millisecond: time each statement here.
    sql_seconds: dict[str, float] = {}

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = sql.split(None, 1)[0].upper()
            sql_seconds[kind] = sql_seconds.get(kind, 0.0) + time.perf_counter() - started

    with CaptureQueriesContext(connection) as queries, connection.execute_wrapper(timed):
        started = time.perf_counter()
        for pk in measured:
            broadcast_send(broadcast_id=pk, monthly_report_id=report.pk)
        ours = (time.perf_counter() - started) / k
    kinds: dict[str, int] = {}
    for q in queries.captured_queries:
        kind = q["sql"].split(None, 1)[0].upper()
        kinds[kind] = kinds.get(kind, 0) + 1

    message = sample_message(report)
    session = requests.Session()
    url, token = ctx.fake.send_url, ctx.fake_token

    def bare(i):
        session.post(
            url,
            data={"target": f"62814{i:08d}", "message": message, "countryCode": "0"},
            headers={"Authorization": token},
            timeout=(5.0, 30.0),
            allow_redirects=False,
        ).json()

    for i in range(warm):
        bare(i)
    started = time.perf_counter()
    for i in range(k):
        bare(warm + i)
    bare_per = (time.perf_counter() - started) / k

    # Opening a database connection, as a worker does when its connection was closed.
    started = time.perf_counter()
    for _ in range(20):
        connection.close()
        connection.ensure_connection()
    connect = (time.perf_counter() - started) / 20

    # Where the service's time goes.
    profiled = ids[warm + k : warm + 2 * k]
    profiler = cProfile.Profile()
    profiler.enable()
    for pk in profiled:
        broadcast_send(broadcast_id=pk, monthly_report_id=report.pk)
    profiler.disable()
    if ctx.results_dir is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(60)
        (ctx.results_dir / "profile-send.txt").write_text(out.getvalue())

    per_kind = ", ".join(f"{n / k:g} {kind}" for kind, n in sorted(kinds.items()))
    section.details.append(
        (
            f"broadcast_send() in this process, {k} messages, fake at 0 ms",
            f"{ours * 1000:.2f} ms/message vs bare call {bare_per * 1000:.2f} ms "
            f"(+{(ours - bare_per) * 1000:.2f} ms); {len(queries) / k:g} queries/message "
            f"({per_kind})",
        )
    )
    section.details.append(
        (
            "… of which in SQL statements (timed around each; BEGIN and COMMIT apart), per message",
            ", ".join(
                f"{kind} {sql_seconds[kind] / k * 1000:.2f} ms" for kind in sorted(sql_seconds)
            )
            + f"; total {sum(sql_seconds.values()) / k * 1000:.2f} ms",
        )
    )
    section.details.append(
        ("opening a database connection (Django, this process)", f"{connect * 1000:.2f} ms")
    )
    # BEGIN and COMMIT (Django logs them as queries) frame a transaction, they query
    # nothing: figure 25 counts the transactions PostgreSQL saw.
    statements = sum(n for kind, n in kinds.items() if kind not in TRANSACTION_CONTROL)
    return {
        "ours": ours,
        "bare": bare_per,
        "queries": statements / k,
        "connect": connect,
    }


def run(ctx) -> Section:
    section = Section("2. Send path: real workers vs a bare loop of the same calls")
    sizes = ctx.sizes
    procs = sizes["processes"]
    latencies = sizes["latencies"]
    share_memory = getattr(ctx, "share_memory", False) and 1 in procs and 0.0 in latencies
    size = max(sizes["send_max"], sizes["memory"] if share_memory else 0)
    classroom = make_classroom("send", size)
    ours: dict[tuple[int, float], dict] = {}
    bare: dict[tuple[int, float], dict] = {}
    try:
        inproc = _in_process(ctx, classroom, section)
        for n in procs:
            workers = Workers(ctx.setup, n, tag=f"send{n}", what_if=ctx.what_if)
            try:
                for latency in latencies:
                    ctx.fake.config(latency=latency)
                    count = sizes["messages"](n, latency)
                    if share_memory and n == 1 and latency == 0.0:
                        # Figure 4's 10,000 messages through this one worker: also this rate.
                        ctx.memory_result = memory.measure(ctx, workers, classroom)
                        result = ours[(n, latency)] = ctx.memory_result["batch"]
                    else:
                        report = prepare_batch(ctx, classroom, count)
                        timeout = 60 + count * (latency + 0.1) / n
                        result = ours[(n, latency)] = run_batch(
                            ctx, workers, report, count, timeout=timeout
                        )
                    ctx.log(
                        f"  send {n} worker(s), {latency * 1000:.0f} ms: {count} messages, "
                        f"{result['rate']:.1f}/s (published in "
                        f"{fmt_seconds(result['publish_seconds'])}, {result['sent']} sent, "
                        f"{result['duplicates']} duplicates)"
                    )
                    # The baseline right after, on the machine in the same state.
                    message = sample_message(result["report"])
                    bare[(n, latency)] = run_bare(ctx, n, count, message)
                    ctx.log(
                        f"  bare {n} process(es), {latency * 1000:.0f} ms: {count} messages, "
                        f"{bare[(n, latency)]['rate']:.1f}/s"
                    )
            finally:
                workers.stop()
    finally:
        ctx.fake.config(latency=0.0)
        delete_classrooms([classroom])
        purge_queue(ctx.setup)

    for latency in latencies:
        for n in procs:
            o, b = ours[(n, latency)], bare[(n, latency)]
            share = o["rate"] / b["rate"] if b["rate"] else 0.0
            is_50 = abs(latency - 0.05) < 1e-9
            section.rows.append(
                Row(
                    f"{n} worker process{'es' if n > 1 else ''}, fake at "
                    f"{latency * 1000:.0f} ms: messages/s",
                    f"{o['rate']:.1f}",
                    f"{b['rate']:.1f}",
                    f"{share * 100:.1f} %",
                    f"≥ {TARGET_SHARE_50MS * 100:.0f} % of bare" if is_50 else "",
                    (share >= TARGET_SHARE_50MS) if is_50 else None,
                )
            )
            if o["duplicates"] or o["sent"] != o["published"]:
                section.notes.append(
                    f"{n} worker(s) at {latency * 1000:.0f} ms: {o['sent']} of "
                    f"{o['published']} rows sent, {o['duplicates']} duplicate sends."
                )
    if 0.0 in latencies:
        for n in procs:
            o, b = ours[(n, 0.0)], bare[(n, 0.0)]
            if not (o["rate"] and b["rate"]):
                continue
            # Per message and process: a process spends n/rate seconds on each message.
            overhead = (n / o["rate"] - n / b["rate"]) * 1000
            section.rows.append(
                Row(
                    f"{n} worker process{'es' if n > 1 else ''}, 0 ms: overhead per message "
                    "(per process)",
                    f"{n / o['rate'] * 1000:.2f} ms/message",
                    f"{n / b['rate'] * 1000:.2f} ms/message",
                    f"+{overhead:.2f} ms",
                    "report",
                    None,
                )
            )
    section.rows.append(
        Row(
            "SQL statements per message (broadcast_send, counted in one process; "
            "BEGIN/COMMIT apart)",
            f"{inproc['queries']:g}",
            "0 (bare call)",
            f"+{inproc['queries']:g}",
            f"≤ {TARGET_QUERIES}",
            inproc["queries"] <= TARGET_QUERIES,
        )
    )
    counts = {
        (n, lat): (
            sizes["memory"] if share_memory and n == 1 and lat == 0.0 else sizes["messages"](n, lat)
        )
        for n in procs
        for lat in latencies
    }
    section.notes.append(
        "Workers: N separate `celery -A tkassalam worker --concurrency=1 --pool=prefork` "
        "processes (each a main process and one pool process), as deploy/ runs them, "
        "with --without-mingle (start-up only). Messages sent by our workers: "
        + "; ".join(
            f"{lat * 1000:.0f} ms: " + ", ".join(f"{counts[(n, lat)]:,}" for n in procs)
            for lat in latencies
        )
        + " for "
        + ", ".join(map(str, procs))
        + " processes (the bare loops: "
        + ", ".join(f"{sizes['messages'](n, 0.0):,}" for n in procs)
        + " at 0 ms), each bare loop run right after our workers' batch of the same size and "
        "processes. Rates are counted at the fake, from the arrival times of the last 90 % "
        "of the accepted requests."
    )
    return section
