"""Month names in Indonesian, whatever language the admin site is shown in."""

from django.utils import translation
from django.utils.dates import MONTHS


def month_name(month: int, language: str = "id") -> str:
    """``1`` → ``Januari``: parents always read Indonesian."""
    with translation.override(language):
        return str(MONTHS[month])
