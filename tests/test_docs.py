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


#: Each screenshot the manual shows, and the screen it was taken on (width, height).
SCREENSHOTS = {
    "screenshots/import-preview.png": (1366, 768),
    "screenshots/message-template.png": (1366, 768),
    "screenshots/send-confirmation.png": (1366, 768),
    "screenshots/report-progress.png": (1366, 768),
    "screenshots/broadcast-list.png": (1366, 768),
    "screenshots/report-failures.png": (1366, 768),
    "screenshots/hp-daftar-laporan.png": (390, 844),
    "screenshots/zip-upload-preview.png": (1366, 768),
    "screenshots/hp-halaman-orang-tua.png": (390, 844),
    "screenshots/send-confirmation-files.png": (1366, 768),
    "screenshots/report-opened.png": (1366, 768),
    "screenshots/student-guardians.png": (1366, 768),
    "screenshots/student-list.png": (1366, 768),
}


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header (its IHDR chunk comes first)."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR", path
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_it_shows_every_screenshot_taken_at_a_laptops_or_a_phones_size():
    text = re.sub(r"<!--.*?-->", "", manual(), flags=re.S)
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(shown) == sorted(SCREENSHOTS)
    folder = MANUAL.parent / "screenshots"
    assert sorted(f"screenshots/{png.name}" for png in folder.glob("*.png")) == sorted(shown)
    assert {path: png_size(MANUAL.parent / path) for path in shown} == SCREENSHOTS


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
