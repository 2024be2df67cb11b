"""Reading Fonnte's JSON bodies: loose types ("78", "true", lists) made plain values."""

import json


def _whole_number(value) -> int | None:
    """Fonnte sends the quota as a string ("78"); anything but a whole number gives None."""
    text = _text(value)
    return int(text) if text.isascii() and text.isdigit() else None


def _numbers(value) -> set[str]:
    """A list of numbers from /validate as digits with the country code (0812… → 62812…)."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        return set()
    found = set()
    for item in value:
        digits = "".join(ch for ch in _text(item) if ch.isdigit())
        if digits.startswith("0"):
            digits = "62" + digits[1:]
        if digits:
            found.add(digits)
    return found


def _json_object(raw: str) -> dict | None:
    """The body as a dict with lower-cased keys (the docs spell ``Status`` both ways), or None."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {str(key).casefold(): value for key, value in data.items()}


def _reason(body: dict) -> str:
    # Some answers carry the text in "detail" instead of "reason".
    return _text(body.get("reason")) or _text(body.get("detail"))


def _flag(value) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().casefold() in {"true", "false"}:
        return value.strip().casefold() == "true"
    return None


def _first_id(value) -> str:
    # "id" is a list aligned with "target"; we send one target per request.
    if isinstance(value, list | tuple):
        return _text(value[0]) if value else ""
    return _text(value)


def _text(value) -> str:
    if value is None or isinstance(value, bool):
        return ""
    return str(value).strip()
