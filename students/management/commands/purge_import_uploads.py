from django.conf import settings
from django.core.management.base import BaseCommand

from students.imports import import_uploads_purge


class Command(BaseCommand):
    help = (
        "Delete the uploads of student import previews never confirmed, older than "
        "STUDENT_IMPORT_PREVIEW_MAX_AGE seconds (they hold guardians' numbers), from "
        "STUDENT_IMPORT_DIR. celery beat does this every 15 minutes; run it from cron on "
        "the web server when no beat runs there (WHATSAPP_RUNNER=cron)."
    )

    def handle(self, *args, **options):
        purged = import_uploads_purge()
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {purged} expired import upload(s) from {settings.STUDENT_IMPORT_DIR}."
            )
        )
