"""``manage.py check`` (and ``check --deploy``) for how broadcasts reach the workers."""

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from kombu.exceptions import KombuError

RUNNERS = ("celery", "cron")


@register()
def check_runner_settings(app_configs=None, **kwargs):
    """E001: a known WHATSAPP_RUNNER; E002: the stuck-send timeout outlives a task."""
    errors = []
    if settings.WHATSAPP_RUNNER not in RUNNERS:
        errors.append(
            Error(
                f"WHATSAPP_RUNNER={settings.WHATSAPP_RUNNER!r} is not one of {', '.join(RUNNERS)}.",
                hint="Use celery (workers, the default) or cron (manage.py process_broadcasts).",
                id="broadcasts.E001",
            )
        )
    if settings.WHATSAPP_SENDING_TIMEOUT <= settings.CELERY_TASK_TIME_LIMIT:
        errors.append(
            Error(
                f"WHATSAPP_SENDING_TIMEOUT ({settings.WHATSAPP_SENDING_TIMEOUT}s) must be longer "
                f"than a send task may run (CELERY_TASK_TIME_LIMIT, "
                f"{settings.CELERY_TASK_TIME_LIMIT}s).",
                hint="Otherwise a message still being sent could be marked unknown.",
                id="broadcasts.E002",
            )
        )
    longest_countdown = max(
        settings.WHATSAPP_RETRY_DELAY,
        settings.WHATSAPP_ALERT_DELAY,
        settings.WHATSAPP_ALERT_INTERVAL,
    )
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout")
    on_redis = settings.CELERY_BROKER_URL.startswith("redis")
    if on_redis and visibility is not None and visibility <= longest_countdown:
        errors.append(
            Warning(
                f"CELERY_VISIBILITY_TIMEOUT ({visibility}s) is not longer than the longest "
                f"countdown this project schedules ({longest_countdown}s).",
                hint="Redis would hand a waiting task to a second worker before it is due.",
                id="broadcasts.W002",
            )
        )
    return errors


@register(deploy=True)
def check_broker(app_configs=None, **kwargs):
    """E003: the broker answers; W001: the embedded broker serves one machine only."""
    if settings.WHATSAPP_RUNNER != "celery":
        return []
    from tkassalam.celery import app

    if app.conf.broker_url.startswith("filesystem://"):
        return [
            Warning(
                "CELERY_BROKER_URL is the embedded filesystem broker.",
                hint="It serves web and workers on one machine only and keeps no message "
                "a worker has taken if it dies. Use redis://… in production.",
                id="broadcasts.W001",
            )
        ]
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
    except (KombuError, OSError) as err:
        return [
            Error(
                f"The Celery broker (CELERY_BROKER_URL) cannot be reached: "
                f"{type(err).__name__}: {err}",
                hint="Start Redis or correct CELERY_BROKER_URL; no message is sent until then.",
                id="broadcasts.E003",
            )
        ]
    return []


#: Fonnte's webhooks carry no signature: the URL's secret is all that keeps strangers out.
WEBHOOK_SECRET_MIN_LENGTH = 32


@register(deploy=True)
def check_webhook_secret(app_configs=None, **kwargs):
    """W003: FONNTE_WEBHOOK_SECRET is set and long enough (its value is never shown)."""
    secret = settings.FONNTE_WEBHOOK_SECRET
    if secret and len(secret) >= WEBHOOK_SECRET_MIN_LENGTH:
        return []
    problem = (
        "FONNTE_WEBHOOK_SECRET is empty: Fonnte's webhooks answer 404, so delivery "
        "receipts and device disconnects are not recorded."
        if not secret
        else f"FONNTE_WEBHOOK_SECRET is shorter than {WEBHOOK_SECRET_MIN_LENGTH} characters: "
        "the webhook URLs could be guessed."
    )
    return [
        Warning(
            problem,
            hint='Set it to python3 -c "import secrets; print(secrets.token_urlsafe(32))" and '
            "give Fonnte the URLs /webhooks/fonnte/<secret>/status/ and …/connect/.",
            id="broadcasts.W003",
        )
    ]


@register()
def check_pacing_settings(app_configs=None, **kwargs):
    """E004: the pace settings make sense (services.pacing reads them at every send)."""
    from .services.pacing import current_pace  # the app registry is ready by now

    try:
        current_pace()
    except ImproperlyConfigured as err:
        return [
            Error(
                str(err),
                hint="See WHATSAPP_MESSAGES_PER_MINUTE and the settings after it in .env.example.",
                id="broadcasts.E004",
            )
        ]
    return []


@register()
def check_device_number(app_configs=None, **kwargs):
    """E005: FONNTE_DEVICE_NUMBER, when set, is an Indonesian mobile number."""
    from students.phones import is_valid_phone

    number = settings.FONNTE_DEVICE_NUMBER
    if not number or is_valid_phone(number):
        return []
    return [
        Error(
            f"FONNTE_DEVICE_NUMBER={number!r} is not an Indonesian mobile number.",
            hint="Write the school's WhatsApp number in Fonnte, e.g. 6281234567890, or leave it "
            "empty to use the number Fonnte's /device names.",
            id="broadcasts.E005",
        )
    ]
