"""The staff manual (docs/panduan-admin.md): linked from the README, true to the code, and
written for a school admin, without the internals."""

import re
from pathlib import Path

from django.utils import translation

from broadcasts.messages import PLACEHOLDERS
from broadcasts.models import BroadcastStatus

ROOT = Path(__file__).resolve().parent.parent
MANUAL = ROOT / "docs" / "panduan-admin.md"
README = ROOT / "README.md"

#: Words of the machinery, not of a school admin (issue 12, §11 and §7).
INTERNAL_WORDS = [
    "lease",
    "leases",
    "conditional",
    "UPDATE",
    "endpoint",
    "endpoints",
    "worker",
    "workers",
    "task",
    "tasks",
    "Celery",
    "webhook",
    "webhooks",
    "broker",
    "Redis",
    "beat",
    "cron",
    "placeholder",
    "placeholders",
    "API",
    "HTTP",
    "JSON",
    "token",
    "database",
    "manage.py",
]


def manual():
    return MANUAL.read_text(encoding="utf-8")


def test_the_readme_links_the_manual():
    links = re.findall(r"\]\(([^)\s]+)\)", README.read_text(encoding="utf-8"))
    assert "docs/panduan-admin.md" in links
    assert MANUAL.is_file()


def test_the_manual_has_no_internal_words():
    text = manual()
    found = [
        word
        for word in INTERNAL_WORDS
        if re.search(rf"(?<![\w.]){re.escape(word)}(?![\w])", text, flags=re.IGNORECASE)
    ]
    # Nor the names of settings or the addresses Fonnte answers on.
    found += re.findall(r"\b[A-Z]+_[A-Z_]+\b|(?<![\w.])/(?:send|validate|device)\b(?!-)", text)
    assert found == []


def test_every_screenshot_it_shows_exists_and_the_phone_one_is_announced():
    text = manual()
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", re.sub(r"<!--.*?-->", "", text, flags=re.S))
    assert {"screenshots/report-progress.png", "screenshots/send-confirmation.png"} <= set(shown)
    assert [path for path in shown if not (MANUAL.parent / path).is_file()] == []
    assert "docs/screenshots/hp-daftar-laporan.png" in text


def test_it_lists_exactly_the_placeholders_a_message_may_use():
    listed = re.findall(r"^\| `\{(\w+)\}` \|", manual(), flags=re.MULTILINE)
    assert listed == list(PLACEHOLDERS)


def test_it_names_each_status_as_the_admin_shows_it():
    text = manual()
    with translation.override("id"):
        shown = [str(status.label).split(":")[0] for status in BroadcastStatus]
    assert [label for label in shown if f"| **{label}** |" not in text] == []


def test_the_quick_start_keeps_two_commands():
    readme = README.read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quick_start, flags=re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make run", "make test"]
    assert "`TEST_MATRIX=sqlite make test`" in quick_start  # the fast run, named
