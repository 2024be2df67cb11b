from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BroadcastsConfig(AppConfig):
    name = "broadcasts"
    verbose_name = _("WhatsApp broadcasts")

    def ready(self):
        # Registers the runner and broker checks (manage.py check [--deploy]).
        from . import checks  # noqa: F401
