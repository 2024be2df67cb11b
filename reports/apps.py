from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Monthly reports")

    def ready(self):
        from django.db.models.signals import post_delete

        from .models import ReportFile
        from .services.files import report_file_deleted

        # A row deleted any way (removed, pruned, its report or student deleted) takes its
        # stored file with it, once the deletion commits.
        post_delete.connect(
            report_file_deleted, sender=ReportFile, dispatch_uid="reports.report_file_deleted"
        )
