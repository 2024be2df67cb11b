# ruff: noqa: S101, RUF001 - pytest asserts; the table uses the multiplication sign
"""Smoke test of the benchmark: ``pytest bench/test_smoke.py`` (not part of ``make test``).

The quick run uses tiny sizes on SQLite + the filesystem broker (no server needed) and
takes well under a minute; the other tests check the arithmetic and the table.
"""

import os
import subprocess
import sys
from pathlib import Path

from bench.common import Row, Section, render, window_rate

ROOT = Path(__file__).resolve().parent.parent


def test_window_rate_leaves_out_the_first_tenth():
    # 101 arrivals 0.1 s apart: the last 90 % span 9 s and hold 90 intervals.
    times = [i / 10 for i in range(101)]
    rate, counted, span = window_rate(times)
    assert counted == 90
    assert abs(span - 9.0) < 1e-9
    assert abs(rate - 10.0) < 1e-9


def test_window_rate_with_too_few_arrivals():
    assert window_rate([1.0, 2.0]) == (0.0, 2, 0.0)


def test_render_writes_one_table_with_sections_notes_and_details():
    section = Section("1. Something")
    section.rows.append(Row("A figure", "1 s", "2 s", "2.00× faster", "< 2 s", True))
    section.notes.append("a note")
    section.details.append(("a part | with a pipe", "3 ms"))
    text = render([section], {"CPU": "test"}, "Benchmark")
    assert "| 1 | A figure | 1 s | 2 s | 2.00× faster | < 2 s | yes |" in text
    assert "- *1. Something:* a note" in text
    assert "a part \\| with a pipe" in text


def test_quick_run_on_sqlite_and_the_filesystem_broker(tmp_path):
    out = tmp_path / "quick.md"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "BROKER_"))
    }
    result = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, "bench/run.py", "--quick", "--backend", "sqlite", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = out.read_text()
    titles = ("1. Enqueue", "2. Send path", "3. Admin pages", "4. Memory", "5. ZIP upload")
    for title in (*titles, "6. The parent"):
        assert title in text
    assert "SQLite" in text
    assert "FAILED" not in text
