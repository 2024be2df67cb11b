from django.conf import settings
from django.core.management.base import BaseCommand

from reports.zip_uploads import kept_uploads_purge


class Command(BaseCommand):
    help = (
        "Delete the ZIP uploads of report files whose preview was never confirmed, older "
        "than REPORT_ZIP_PREVIEW_MAX_AGE seconds (they hold children's reports), from "
        "REPORT_ZIP_DIR. celery beat does this every 15 minutes; run it from cron on the "
        "web server when no beat runs there (WHATSAPP_RUNNER=cron)."
    )

    def handle(self, *args, **options):
        purged = kept_uploads_purge()
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {purged} expired ZIP upload(s) from {settings.REPORT_ZIP_DIR}."
            )
        )
