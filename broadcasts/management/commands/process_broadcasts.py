from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from broadcasts.services import broadcast_process_due


class Command(BaseCommand):
    help = (
        "Send the WhatsApp messages that are due, at most --max-jobs of them, then exit: "
        "the worker's job for hosts without long-running processes (WHATSAPP_RUNNER=cron). "
        "Run it from cron every minute. Also settles rows stuck in flight and sends the "
        "admins' failure alerts that are due. Safe to run beside workers or itself: a "
        "message is never sent twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-jobs",
            type=int,
            default=5,
            help="Messages to send at most in this run (default 5, as the seed's cron line).",
        )

    def handle(self, *args, max_jobs, **options):
        if max_jobs < 1:
            raise CommandError("--max-jobs must be at least 1.")
        if settings.WHATSAPP_RUNNER != "cron":
            self.stderr.write(
                self.style.WARNING(
                    "WHATSAPP_RUNNER is not 'cron': Celery workers also send these messages."
                )
            )
        result = broadcast_process_due(max_jobs=max_jobs)
        self.stdout.write(
            self.style.SUCCESS(
                f"Processed {result.processed}: {result.sent} sent, {result.retrying} to retry, "
                f"{result.failed} failed or unknown, {result.waiting} left waiting; "
                f"{result.alerts} admin alert(s) sent."
            )
        )
