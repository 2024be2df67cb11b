from django.core.management.base import BaseCommand, CommandError

from broadcasts.services import broadcast_prune


class Command(BaseCommand):
    help = (
        "Delete finished WhatsApp broadcast rows (sent, failed, unknown) not updated for more "
        "than --days days, in batches. Rows waiting or being sent are never deleted. The rows "
        "are the record of which parent was told: once a report's rows are gone, sending that "
        "report's broadcast again from the admin would message those parents again. "
        "Use --dry-run first to see what would go."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            required=True,
            metavar="N",
            help="Delete finished rows last updated more than N days ago (N is at least 1).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )

    def handle(self, *args, **options):
        days, dry_run = options["days"], options["dry_run"]
        if days < 1:
            raise CommandError(f"--days must be at least 1 (got {days}); nothing was deleted.")
        counts = broadcast_prune(older_than_days=days, dry_run=dry_run)
        total = sum(counts.values())
        by_status = ", ".join(f"{status} {n}" for status, n in counts.items())
        age = f"finished row(s) not updated for more than {days} day(s)"
        if dry_run:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Dry run: would delete {total} {age} ({by_status}). Nothing deleted."
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"Deleted {total} {age} ({by_status})."))
