from django.core.management.base import BaseCommand, CommandError

from notifications.whatsapp import WhatsAppError
from students.services import (
    WhatsAppCheckBusy,
    student_check_whatsapp,
    students_needing_whatsapp_check,
    whatsapp_check_batches,
)


class Command(BaseCommand):
    help = (
        "Ask Fonnte (/validate) which guardians' numbers have WhatsApp and record it on the "
        "guardians: those not checked yet, or every number with --all. 500 numbers per "
        "call, one call at a time, never beside another check (a database lease). Run it "
        "from cron when WHATSAPP_RUNNER=cron, where no worker checks new numbers."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--all",
            action="store_true",
            dest="recheck",
            help="Check every number again, not only those never checked.",
        )

    def handle(self, *args, recheck, **options):
        ids = list(students_needing_whatsapp_check(recheck=recheck))
        if not ids:
            self.stdout.write("No number to check.")
            return
        totals = {"registered": 0, "not_registered": 0, "unknown": 0, "invalid": 0}
        for batch in whatsapp_check_batches(student_ids=ids):
            try:
                outcome = student_check_whatsapp(student_ids=batch)
            except WhatsAppCheckBusy as err:
                raise CommandError(f"{err} Try again later.") from err
            except WhatsAppError as err:
                raise CommandError(
                    f"Fonnte could not check the numbers ({type(err).__name__}): {err.reason}"
                ) from err
            for key in totals:
                totals[key] += getattr(outcome, key)
        self.stdout.write(
            self.style.SUCCESS(
                "Checked the guardians of {checked} students: {registered} on WhatsApp, "
                "{not_registered} not, {unknown} not answered, {invalid} invalid numbers "
                "skipped.".format(checked=len(ids), **totals)
            )
        )
