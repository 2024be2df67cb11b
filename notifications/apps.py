from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self):
        # Registers the WhatsApp and alert email checks (manage.py check [--deploy]).
        from . import checks as email_checks  # noqa: F401
        from .whatsapp import checks  # noqa: F401
