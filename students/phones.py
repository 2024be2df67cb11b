"""Indonesian mobile numbers: one normal form (``6281234567890``) and a masked form for logs."""

import functools
import re

import phonenumbers
from django.utils.translation import gettext_lazy as _

_MOBILE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}
_ALLOWED = re.compile(r"^\+?[\d\s().\-]+$")


class InvalidPhoneNumber(ValueError):
    """The text is not an Indonesian mobile number; ``reason`` says why, for an admin."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


# Memoized: the confirmation, the creation of a class's rows and every resend read the
# same numbers, and parsing one costs ~70 µs (a refused number is parsed again each time).
@functools.lru_cache(maxsize=4096)
def normalize_phone(raw: str) -> str:
    """``raw`` as digits with the country code (``6281234567890``), or InvalidPhoneNumber.

    Accepts ``0812-3456-7890``, ``+62 812 3456 7890``, ``812 3456 7890`` and ``6281234567890``.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber(_("The phone number is empty."))
    if not _ALLOWED.match(text):
        raise InvalidPhoneNumber(
            _("The phone number may contain only digits, spaces, +, - and ().")
        )
    digits = re.sub(r"\D", "", text)
    # "62…" without "+" is already international: Indonesian mobiles never start with 62
    # nationally (they start with 08, or 8 without the trunk zero).
    if not text.startswith("+") and digits.startswith("62"):
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, "ID")
    except phonenumbers.NumberParseException as err:
        raise InvalidPhoneNumber(_("The phone number cannot be read.")) from err
    if number.country_code != 62:
        raise InvalidPhoneNumber(_("Only Indonesian (+62) numbers can receive messages."))
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(_("The phone number is too short, too long or does not exist."))
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidPhoneNumber(_("The phone number is not a mobile (WhatsApp) number."))
    return f"{number.country_code}{number.national_number}"


def phone_key(phone: str) -> str:
    """The number ``phone`` stands for: ``0812-…``, ``+62 812…`` and ``62812…`` are one.

    Normalized when valid; an invalid number is itself, stripped. What a WhatsApp check
    answers for (Guardian.save) and what the import matches a stored guardian by.
    """
    try:
        return normalize_phone(phone or "")
    except InvalidPhoneNumber:
        return (phone or "").strip()


def is_valid_phone(raw: str) -> bool:
    """True when ``raw`` normalizes to an Indonesian mobile number."""
    try:
        normalize_phone(raw)
    except InvalidPhoneNumber:
        return False
    return True


def mask_phone(phone: str) -> str:
    """Hide the middle of a number for logs and alerts: ``6281234567890`` → ``62812****7890``."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) < 10:
        return "****" + digits[-2:] if digits else ""
    return f"{digits[:5]}****{digits[-4:]}"


# A number inside free text (Fonnte's raw answers, failure reasons, alerts), in whatever
# form it was stored: any run of 10 to 15 digits. Fonnte's ids are shorter.
_NUMBER_IN_TEXT = re.compile(r"(?<!\d)\d{10,15}(?!\d)")


def mask_phones_in(text: str) -> str:
    """``text`` with every number in it masked as mask_phone masks one."""
    return _NUMBER_IN_TEXT.sub(lambda match: mask_phone(match.group()), text or "")
