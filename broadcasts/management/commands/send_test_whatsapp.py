from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, no_translations

from notifications.whatsapp import (
    OutcomeUnknown,
    RecipientRejected,
    SenderRejected,
    TemporaryFailure,
    WhatsAppError,
    get_backend,
)
from students.phones import InvalidPhoneNumber, mask_phone, normalize_phone


def default_message() -> str:
    return (
        f"Pesan uji coba WhatsApp dari {settings.SCHOOL_NAME}. "
        "Jika pesan ini sampai, pengiriman notifikasi berfungsi. Mohon abaikan pesan ini."
    )


class Command(BaseCommand):
    help = (
        "Send ONE test WhatsApp message to PHONE with the configured backend "
        "(WHATSAPP_BACKEND; fonnte sends a real message) and say plainly what happened: "
        "accepted, number refused, account refused (token), Fonnte unreachable or busy, or "
        "no answer after sending. Exits with an error unless the message was accepted. "
        "Nothing is recorded in the broadcasts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "phone", help="Indonesian mobile number, e.g. 0812-3456-7890 or 6281234567890."
        )
        parser.add_argument(
            "--message",
            help="Text to send (default: a short Indonesian test message naming the school).",
        )

    @no_translations  # English throughout, reasons included.
    def handle(self, *args, **options):
        try:
            phone = normalize_phone(options["phone"])
        except InvalidPhoneNumber as err:
            raise CommandError(f"Invalid phone number: {err.reason}") from err
        message = options["message"] or default_message()
        if not message.strip():
            raise CommandError("The message is empty.")
        try:
            backend = get_backend()
        except ImproperlyConfigured as err:
            raise CommandError(f"The WhatsApp backend is not configured: {err}") from err

        masked = mask_phone(phone)
        self.stdout.write(f"Sending one test message to {masked} with the {backend.name} backend…")
        try:
            result = backend.send(phone=phone, message=message)
        except RecipientRejected as err:
            raise CommandError(f"Fonnte refused this number: {err.reason}") from err
        except SenderRejected as err:
            raise CommandError(
                f"Fonnte refused the account (check FONNTE_API_TOKEN): {err.reason}"
            ) from err
        except TemporaryFailure as err:
            raise CommandError(f"Fonnte is unreachable or busy, try later: {err.reason}") from err
        except OutcomeUnknown as err:
            raise CommandError(
                f"{err.reason}. Check the phone before trying again: it may have arrived."
            ) from err
        except WhatsAppError as err:
            raise CommandError(f"Not sent: {err.reason}") from err

        message_id = result.message_id or "(none given)"
        if backend.name == "fonnte":
            outcome = (
                f"Accepted by Fonnte, message id {message_id}. Fonnte queues it: "
                "check that the phone receives it."
            )
        else:
            outcome = (
                f"Accepted by the {backend.name} backend, message id {message_id}. "
                "This backend sends no real WhatsApp message (WHATSAPP_BACKEND)."
            )
        self.stdout.write(self.style.SUCCESS(outcome))
