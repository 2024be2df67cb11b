from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat
from django.utils import translation

from reports.services.retention import report_files_prune


class Command(BaseCommand):
    help = (
        "Remove the children's report files (rows and stored files) of reports whose month "
        "ended more than REPORT_FILES_KEEP_DAYS days ago (or --days N); 0 keeps them "
        "forever. The reports and their WhatsApp rows stay; a parent's link to a removed "
        "file no longer opens it. Safe to run again. celery beat runs it daily; "
        "run it from cron where no beat runs (WHATSAPP_RUNNER=cron). Use --dry-run first."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            metavar="N",
            help="Keep the files of N days after the report's month (default: "
            "REPORT_FILES_KEEP_DAYS; 0 keeps every file).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be removed; remove nothing."
        )

    def handle(self, *args, **options):
        days, dry_run = options["days"], options["dry_run"]
        if days is not None and days < 0:
            raise CommandError(f"--days must be 0 or more (got {days}); nothing was removed.")
        result = report_files_prune(keep_days=days, dry_run=dry_run)
        if result.keep_days == 0:
            source = "--days 0" if days is not None else "REPORT_FILES_KEEP_DAYS=0"
            self.stdout.write(
                self.style.SUCCESS(f"Files are kept forever ({source}): none removed.")
            )
            return
        verb = "Would remove" if dry_run else "Removed"
        for item in result.reports:
            self.stdout.write(
                f"{verb} {item.files} file(s), {_size(item.bytes)}: {item.report} "
                f"(report {item.report.pk})"
            )
        what = (
            f"{result.files} file(s), {_size(result.bytes)}, of {len(result.reports)} "
            f"report(s) whose month ended more than {result.keep_days} day(s) ago"
        )
        if dry_run:
            self.stdout.write(self.style.SUCCESS(f"Dry run: would remove {what}. Nothing removed."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Removed {what}."))


def _size(size: int) -> str:
    """``1.2 MB``, in English like the rest of the output."""
    with translation.override("en"):
        return filesizeformat(size)
