"""Figure 4: resident memory of a worker after 10,000 messages (fake Fonnte at 0 ms).

One ``celery -A tkassalam worker --concurrency=1`` (a main process and one pool process).
Baseline: the same processes after a warm-up of a few hundred messages, so the ratio is
the growth over the 10,000. The same run counts, on the PostgreSQL server, the
transactions and connections our database saw per message (the workers' real cost,
including what an in-process query count cannot see).

To save time, the send part (bench/send.py) runs this measurement with its one-worker
pool at 0 ms and uses its 10,000 messages as that configuration's rate too; run alone
(``--only memory``), this part starts its own worker.
"""

from __future__ import annotations

from .common import (
    QueryCount,
    Row,
    Section,
    delete_classrooms,
    fmt_ratio,
    make_classroom,
    pg_stats_settled,
    purge_queue,
    rss_kb,
)
from .processes import Workers

TARGET_GROWTH = 1.10


def _rss(workers: Workers) -> tuple[int, int]:
    (main, children), *_ = workers.pids()
    return rss_kb(main), sum(rss_kb(c) for c in children)


def measure(ctx, workers: Workers, classroom) -> dict:
    """Warm the worker up, note its memory, send ``sizes['memory']`` messages, note it again."""
    from .send import prepare_batch, run_batch

    total, warm = ctx.sizes["memory"], ctx.sizes["memory_warmup"]
    ctx.fake.config(latency=0.0)
    report = prepare_batch(ctx, classroom, warm)
    run_batch(ctx, workers, report, warm, timeout=120)
    warm_rss = _rss(workers)
    report = prepare_batch(ctx, classroom, total)
    before = pg_stats_settled(ctx.setup) if ctx.setup.is_postgres else None
    with QueryCount() as own:
        batch = run_batch(ctx, workers, report, total, timeout=120 + total / 10)
    after_rss = _rss(workers)
    after = pg_stats_settled(ctx.setup) if ctx.setup.is_postgres else None
    result = {"warm": warm_rss, "after": after_rss, "batch": batch, "total": total, "warmup": warm}
    if before is not None and after is not None:
        # Our own statements in between (publishing the tasks, the checks), one each.
        result["xacts"] = (after[0] - before[0] - len(own)) / total
        result["sessions"] = (after[1] - before[1]) / total
    ctx.log(
        f"  memory: {total:,} messages at {batch['rate']:.1f}/s; RSS main "
        f"{warm_rss[0] / 1024:.1f} -> {after_rss[0] / 1024:.1f} MiB, pool "
        f"{warm_rss[1] / 1024:.1f} -> {after_rss[1] / 1024:.1f} MiB"
        + (
            f"; {result['xacts']:.2f} transactions and {result['sessions']:.2f} new "
            "connections per message"
            if "xacts" in result
            else ""
        )
    )
    return result


def run(ctx) -> Section:
    section = Section(f"4. Memory: one worker after {ctx.sizes['memory']:,} messages")
    result = getattr(ctx, "memory_result", None)
    if result is None:
        classroom = make_classroom("memory", ctx.sizes["memory"])
        workers = Workers(ctx.setup, 1, tag="memory", what_if=ctx.what_if)
        try:
            result = measure(ctx, workers, classroom)
        finally:
            workers.stop()
            delete_classrooms([classroom])
            purge_queue(ctx.setup)
    else:
        section.notes.append(
            "Measured with the send part's one-worker pool at 0 ms (its 10,000 messages are "
            "also that configuration's rate in figure 2)."
        )
    total, warm = result["total"], result["warmup"]
    warm_total, after_total = sum(result["warm"]), sum(result["after"])
    growth = after_total / warm_total
    section.rows.append(
        Row(
            f"Worker RSS after {total:,} messages (main + pool process)",
            f"{after_total / 1024:.1f} MiB ({result['after'][0] / 1024:.1f} + "
            f"{result['after'][1] / 1024:.1f})",
            f"{warm_total / 1024:.1f} MiB after {warm} messages",
            fmt_ratio(growth),
            f"< {fmt_ratio(TARGET_GROWTH)} (no leak)",
            growth < TARGET_GROWTH,
        )
    )
    section.details.append(
        (
            f"one worker, {total:,} messages at 0 ms",
            f"{result['batch']['rate']:.1f} messages/s",
        )
    )
    if "xacts" in result:
        section.rows.append(
            Row(
                "Database transactions per message, seen by PostgreSQL",
                f"{result['xacts']:.2f}",
                "0 (bare call)",
                f"+{result['xacts']:.2f}",
                "≤ 5",
                round(result["xacts"], 2) <= 5.0,
            )
        )
        section.rows.append(
            Row(
                "New database connections per message (PostgreSQL sessions)",
                f"{result['sessions']:.2f}",
                "0 (bare call)",
                f"+{result['sessions']:.2f}",
                "≈ 0 (reused)",
                result["sessions"] < 0.01,
            )
        )
        section.notes.append(
            "Transactions and sessions are PostgreSQL's pg_stat_database counters for the "
            "benchmark's database over those messages, less the benchmark's own statements: "
            "in autocommit each statement is a transaction, a worker's connection set-up and "
            "connectivity check (SELECT 1) included."
        )
    return section
