from django.apps import AppConfig


class TkassalamConfig(AppConfig):
    """The project itself, as an app: only for its system checks (no models)."""

    name = "tkassalam"
    verbose_name = "TK ABA Assalam"

    def ready(self):
        # Registers the project-wide settings checks (manage.py check [--deploy]).
        from . import checks  # noqa: F401
