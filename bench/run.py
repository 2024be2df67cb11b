"""The benchmark, in one command: ``python bench/run.py [--quick] [--out FILE]``.

Chooses PostgreSQL + Redis when both answer on this machine, else SQLite + the embedded
(filesystem) broker; creates its own database (``manage.py migrate``), starts the fake
Fonnte and the workers it needs, measures every figure against a baseline run in the
same process, prints the table and writes it as Markdown. Everything it created is
removed at the end. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.processes import FakeServer

SECTIONS = ("enqueue", "send", "admin", "memory", "zip", "links")


def sizes(quick: bool, full_baseline: bool) -> dict:
    if quick:
        return {
            "enqueue": (50, 200),
            "enqueue_profile": 200,
            "dispatch": 100,
            "baseline_max": 200,
            "processes": (1,),
            "latencies": (0.0, 0.05),
            "messages": lambda n, latency: 12 * n,
            "send_max": 300,
            "inprocess": 20,
            "admin_rows": 2_000,
            "admin_reports": 20,
            "memory": 30,
            "memory_warmup": 10,
            "zip": (20, 40),
            "zip_file_bytes": 30_000,
            "links": (50, 200),
        }
    return {
        "enqueue": (1_000, 10_000, 100_000),
        "enqueue_profile": 10_000,
        "dispatch": 2_000,
        "baseline_max": 100_000 if full_baseline else 10_000,
        "processes": (1, 2, 4),
        "latencies": (0.0, 0.05),
        # 0 ms: a fixed count (one worker: figure 4's 10,000); 50 ms: about the same time
        # per run whatever the number of processes.
        "messages": lambda n, latency: 600 if latency == 0 else 300 * n,
        "send_max": 1_200,  # the largest batch: 300 messages for each of 4 processes
        "inprocess": 200,
        "admin_rows": 100_000,
        "admin_reports": 100,
        "memory": 10_000,
        "memory_warmup": 300,
        # A class's ZIP of report files, then one twice as large (files of 300 KB).
        "zip": (500, 1_000),
        "zip_file_bytes": 300_000,
        "links": (1_000, 10_000),
    }


class Context:
    """What the parts share: the setup, the fake Fonnte, the sizes, a logger, an admin."""

    def __init__(self, setup, fake, sizes, results_dir, verbose=True, what_if=""):
        self.setup = setup
        self.what_if = what_if
        self.fake = fake
        self.fake_token = common.FAKE_TOKEN
        self.sizes = sizes
        self.results_dir = results_dir
        self.verbose = verbose
        self._admin = None

    def log(self, text: str) -> None:
        if self.verbose:
            print(text, flush=True)

    def admin_client(self):
        from django.contrib.auth import get_user_model
        from django.test import Client

        if self._admin is None:
            self._admin = get_user_model().objects.create_superuser(
                f"bench{common.PID}", "bench@example.com", None
            )
        client = Client()
        client.force_login(self._admin)
        client.get("/admin/")  # the first request of a session does one-time work
        return client


def run(args) -> int:
    started = time.perf_counter()
    load_before = os.getloadavg()
    setup = common.choose(args.backend)
    print(f"Benchmark on {setup.label} (work folder {setup.workdir})", flush=True)
    if setup.is_postgres:
        print(f"  database {setup.database_name}, broker {setup.broker_url}, queue {setup.queue}")
    out_path = Path(args.out) if args.out else None
    if out_path:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    # cProfile listings go next to the table (a quick run leaves the full run's alone).
    results_dir = out_path.parent if out_path and not args.quick else None
    fake = None
    machine: dict[str, str] = {}
    sections, failures = [], []
    try:
        migrate_seconds = common.create_database(setup)
        print(f"  migrated in {migrate_seconds:.1f} s", flush=True)
        fake = FakeServer(setup)
        setup.fake_url = fake.send_url
        common.configure_django(setup)
        ctx = Context(
            setup,
            fake,
            sizes(args.quick, args.full_baseline),
            results_dir,
            what_if=args.what_if,
        )
        machine = common.machine_info(setup)
        wanted = [s for s in SECTIONS if s in args.only] if args.only else list(SECTIONS)
        # The send part's one-worker pool at 0 ms doubles as the memory measurement.
        ctx.share_memory = "send" in wanted and "memory" in wanted
        modules = {
            "enqueue": "bench.enqueue",
            "send": "bench.send",
            "admin": "bench.admin_pages",
            "memory": "bench.memory",
            "zip": "bench.zip_upload",
            "links": "bench.parent_links",
        }
        import importlib

        for name in wanted:
            part_started = time.perf_counter()
            print(f"[{name}]", flush=True)
            try:
                section = importlib.import_module(modules[name]).run(ctx)
            except Exception:
                failures.append(name)
                trace = traceback.format_exc()
                print(trace, file=sys.stderr, flush=True)
                section = common.Section(f"{name}: FAILED")
                section.notes.append("failed: " + trace.strip().splitlines()[-1])
            section.details.append(
                ("time this part took", f"{time.perf_counter() - part_started:.0f} s")
            )
            sections.append(section)
    finally:
        if fake is not None:
            fake.stop()
        for what, action in (
            ("queue", lambda: common.purge_queue(setup)),
            ("redis keys", lambda: common.cleanup_broker(setup)),
            ("database", lambda: common.drop_database(setup, keep_workdir=args.keep_logs)),
        ):
            try:
                action()
            except Exception as err:
                print(f"cleanup of the {what} failed: {err}", file=sys.stderr)
    total = time.perf_counter() - started
    meta = {
        "Run": "finished "
        + datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        + f", `python bench/run.py{' --quick' if args.quick else ''}`, "
        f"{total / 60:.1f} min in all",
        **machine,
        "Load average (1 min) at start / end": f"{load_before[0]:.2f} / {os.getloadavg()[0]:.2f}"
        " (other work on this machine competes with the benchmark)",
    }
    title = "Benchmark" + (" (quick: tiny sizes, a smoke run)" if args.quick else "")
    if args.what_if:
        title += f" — WHAT-IF {args.what_if} (proposed changes applied by bench/whatif_app.py)"
    text = common.render(sections, meta, title)
    print()
    print(text)
    if out_path:
        out_path.write_text(text + "\n")
        print(f"Written to {out_path}")
    return 1 if failures else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument(
        "--out",
        default=str(common.ROOT / "bench" / "results" / "latest.md"),
        help="Markdown file (default: bench/results/latest.md)",
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "postgres", "sqlite"),
        default="auto",
        help="auto: PostgreSQL + Redis when both answer, else SQLite + filesystem broker",
    )
    parser.add_argument(
        "--only", nargs="+", choices=SECTIONS, help="run only these parts (for development)"
    )
    parser.add_argument(
        "--what-if",
        default="",
        help="run the workers with proposed changes (bench/whatif_app.py): reuse-db,prefetch2",
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the work folder (worker and fake logs)"
    )
    parser.add_argument(
        "--full-baseline",
        action="store_true",
        help="also run the seed's way at 100,000 recipients instead of extrapolating",
    )
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
