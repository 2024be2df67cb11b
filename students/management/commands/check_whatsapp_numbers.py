from django.core.management.base import BaseCommand, CommandError

from notifications.whatsapp import WhatsAppError
from students.services import (
    CHECK_TASK_SIZE,
    WhatsAppCheckBusy,
    student_check_whatsapp,
    students_needing_whatsapp_check,
)


class Command(BaseCommand):
    help = (
        "Ask Fonnte (/validate) which parents' numbers have WhatsApp and record it on the "
        "students: those not checked yet, or every number with --all. 500 numbers per "
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
        for start in range(0, len(ids), CHECK_TASK_SIZE):
            try:
                outcome = student_check_whatsapp(student_ids=ids[start : start + CHECK_TASK_SIZE])
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
                "Checked {checked} students: {registered} on WhatsApp, {not_registered} not, "
                "{unknown} not answered, {invalid} invalid numbers skipped.".format(
                    checked=len(ids), **totals
                )
            )
        )
