"""``manage.py check``: the student import's limits are usable numbers."""

from django.conf import settings
from django.core.checks import Error, register

POSITIVE_SETTINGS = (
    "STUDENT_IMPORT_MAX_BYTES",
    "STUDENT_IMPORT_MAX_ROWS",
    "STUDENT_IMPORT_PREVIEW_MAX_AGE",
)


@register()
def check_import_limits(app_configs=None, **kwargs):
    """E001: each import limit is a positive number (0 would refuse every file)."""
    return [
        Error(
            f"{name} must be a positive number (got {getattr(settings, name)!r}).",
            hint="Leave it out of .env for the default (see .env.example).",
            id="students.E001",
        )
        for name in POSITIVE_SETTINGS
        if getattr(settings, name) <= 0
    ]
