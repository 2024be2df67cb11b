"""The school's language, for texts recorded once and read by every admin."""

from django.conf import settings
from django.utils import translation


def school_language():
    """Write the enclosed texts in the school's language (LANGUAGE_CODE), not the requester's.

    For what is recorded for every admin to read (the history, a row's error): written
    once, by whoever clicked, and read later by admins who may have chosen another language.
    """
    return translation.override(settings.LANGUAGE_CODE)
