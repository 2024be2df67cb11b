from django.core.management.base import BaseCommand, CommandError

from broadcasts.services import broadcast_prune


class Command(BaseCommand):
    help = (
        "Archive and delete the WhatsApp broadcast rows of reports whose messages all "
        "finished (sent, failed or unknown) more than --days days ago, in batches. A report "
        "is pruned whole; its counts stay in an archive, which also stops it from being sent "
        "again (the rows were the record of who was told). Rows whose report was deleted go "
        "too. Nothing waiting or being sent is touched. Use --dry-run first."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            required=True,
            metavar="N",
            help="Prune reports whose rows last changed more than N days ago (N is at least 1).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )

    def handle(self, *args, **options):
        days, dry_run = options["days"], options["dry_run"]
        if days < 1:
            raise CommandError(f"--days must be at least 1 (got {days}); nothing was deleted.")
        result = broadcast_prune(older_than_days=days, dry_run=dry_run)
        by_status = ", ".join(f"{status} {n}" for status, n in result.rows.items())
        what = (
            f"{result.reports} report(s) finished more than {days} day(s) ago: "
            f"{result.total} row(s) ({by_status})"
        )
        if dry_run:
            self.stdout.write(
                self.style.SUCCESS(f"Dry run: would archive {what}. Nothing deleted.")
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"Archived {what}, deleted."))
