"""Project settings, read once from the environment and an optional ``.env`` file.

Every variable is documented in ``.env.example`` and the README. App code reads
``django.conf.settings`` only; nothing outside this package touches ``os.environ``.
"""

import re
from datetime import timedelta
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    # Values already in the process environment win over the file.
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------
# No default: an empty SECRET_KEY stops `manage.py check` and migrate (tkassalam.E001).
# `make run` writes a random one into .env for local use.
SECRET_KEY = env.str("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Served over HTTPS (behind a proxy that sets X-Forwarded-Proto): secure cookies,
# redirect to https, and HSTS for SECURE_HSTS_SECONDS.
HTTPS = env.bool("HTTPS", default=False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "tkassalam.apps.TkassalamConfig",  # the project's own system checks
    "students",
    "reports",
    "broadcasts",
    "notifications",
    "import_export",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a refused login into tkassalam.security's page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tkassalam.urls"
WSGI_APPLICATION = "tkassalam.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "tkassalam" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# sqlite:///… (default), postgres://user:pass@host:5432/name, mysql://user:pass@host/name
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        # Web server and worker write at the same time: take the write lock up
        # front (no "database is locked" mid-transaction) and wait for it.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif _db["ENGINE"] == "django.db.backends.mysql":
    # Shared hosting rarely has a compiler for mysqlclient; PyMySQL is pure Python.
    import pymysql

    pymysql.install_as_MySQLdb()
    _db.setdefault("OPTIONS", {}).setdefault("charset", "utf8mb4")
_db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
_db["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Login and sessions -----------------------------------------------------
# django-axes: after LOGIN_FAILURE_LIMIT wrong passwords for one user from one address, that
# user is refused from that address (the right password too) for LOGIN_LOCKOUT_MINUTES, and
# each try meanwhile starts the wait again; other users and addresses log in as before.
# `manage.py axes_reset` (or axes_reset_username NAME) lifts the locks at once.
AUTHENTICATION_BACKENDS = [
    # First: a locked pair is refused before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Behind deploy/'s nginx, the address nginx saw, not one a client wrote in X-Forwarded-For.
AXES_CLIENT_IP_CALLABLE = "tkassalam.security.client_ip_address"
AXES_USERNAME_CALLABLE = "tkassalam.security.login_username"
# The admin login page again, with the reason in Indonesian (HTTP 429).
AXES_LOCKOUT_CALLABLE = "tkassalam.security.lockout_response"
# School computers are shared: a login ends when the browser closes, and after
# SESSION_COOKIE_AGE seconds (a working day) even if the browser stays open.
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=True)
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=10 * 60 * 60)

# --- Language and time ------------------------------------------------------
LANGUAGE_CODE = "id"
LANGUAGES = [("id", _("Indonesian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "tkassalam" / "locale"]
TIME_ZONE = "Asia/Jakarta"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Student import/export (django-import-export). A cell like =HYPERLINK(…) is exported as
# text with an apostrophe before it (students.resources.escape_cell), in CSV and XLSX; the
# library's IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT only drops one leading "=" and is off.
# A control character XLSX cannot hold (an old name's ESC) becomes U+FFFD instead of
# failing the whole export.
IMPORT_EXPORT_ESCAPE_ILLEGAL_CHARS_ON_EXPORT = True
# A student import file larger than this (bytes) or with more rows than this is refused
# before it is read (students.imports); both fit a school with room to spare.
STUDENT_IMPORT_MAX_BYTES = env.int("STUDENT_IMPORT_MAX_BYTES", default=5 * 1024 * 1024)
STUDENT_IMPORT_MAX_ROWS = env.int("STUDENT_IMPORT_MAX_ROWS", default=5000)
# The upload is kept here between the preview and its confirmation (it holds parents'
# numbers): deleted on confirm, and once older than STUDENT_IMPORT_PREVIEW_MAX_AGE seconds
# by the next upload and by beat's purge (students.tasks.purge_import_uploads).
IMPORT_EXPORT_TMP_STORAGE_CLASS = "students.imports.ImportUploadStorage"
STUDENT_IMPORT_DIR = Path(env.str("STUDENT_IMPORT_DIR", default=str(BASE_DIR / "var" / "imports")))
STUDENT_IMPORT_PREVIEW_MAX_AGE = env.int("STUDENT_IMPORT_PREVIEW_MAX_AGE", default=3600)

# --- Report files and parents' personal links ---------------------------------
# Each child's report file (reports.ReportFile) is kept in the "report_files" storage: a
# private folder that nothing serves as static or media. Parents fetch a file only through
# their personal link (broadcasts.parent_views), which checks the link first. Another
# backend (django-storages) by settings alone: REPORT_FILES_STORAGE its dotted path and
# REPORT_FILES_STORAGE_OPTIONS its options as JSON.
REPORT_FILES_DIR = Path(env.str("REPORT_FILES_DIR", default=str(BASE_DIR / "var" / "report-files")))
REPORT_FILES_STORAGE = env.str(
    "REPORT_FILES_STORAGE", default="django.core.files.storage.FileSystemStorage"
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "report_files": {
        "BACKEND": REPORT_FILES_STORAGE,
        "OPTIONS": env.json("REPORT_FILES_STORAGE_OPTIONS", default={})
        or (
            {
                "location": str(REPORT_FILES_DIR),
                "directory_permissions_mode": 0o750,
                "file_permissions_mode": 0o640,
            }
            if REPORT_FILES_STORAGE.endswith("FileSystemStorage")
            else {}
        ),
    },
}
# The largest report file accepted (bytes), one file or inside a ZIP.
REPORT_FILE_MAX_BYTES = env.int("REPORT_FILE_MAX_BYTES", default=10 * 1024 * 1024)
# The ZIP bulk upload of a class's report files (reports.services.zip_import): the largest
# ZIP accepted (bytes; deploy/nginx lets a little more through to its upload page, so that
# Django refuses a larger one in Indonesian), the most files in it, their total unpacked
# size, and how many times its packed size a file over 1 MB may unpack to (a ZIP bomb).
REPORT_ZIP_MAX_BYTES = env.int("REPORT_ZIP_MAX_BYTES", default=200 * 1024 * 1024)
REPORT_ZIP_MAX_ENTRIES = env.int("REPORT_ZIP_MAX_ENTRIES", default=2000)
REPORT_ZIP_MAX_UNPACKED_BYTES = env.int("REPORT_ZIP_MAX_UNPACKED_BYTES", default=1024**3)
REPORT_ZIP_MAX_RATIO = env.int("REPORT_ZIP_MAX_RATIO", default=100)
# The uploaded ZIP waits here between its preview and the confirmation: deleted on
# confirm, and once older than REPORT_ZIP_PREVIEW_MAX_AGE seconds by the next upload and
# by beat's purge (reports.tasks.purge_report_zip_uploads).
REPORT_ZIP_DIR = Path(env.str("REPORT_ZIP_DIR", default=str(BASE_DIR / "var" / "report-zips")))
REPORT_ZIP_PREVIEW_MAX_AGE = env.int("REPORT_ZIP_PREVIEW_MAX_AGE", default=3600)
# Days a parent's personal link works after it was made (a resend makes a new one).
REPORT_LINK_DAYS = env.int("REPORT_LINK_DAYS", default=120)
# Days a report's files are kept after the end of its month (reports.services.retention):
# then `manage.py report_files_prune` (beat runs it daily) removes them, and a parent's
# link to one no longer opens it. 0 keeps them forever.
REPORT_FILES_KEEP_DAYS = env.int("REPORT_FILES_KEEP_DAYS", default=365)
# Days after a message with a link was sent before the report's page lists its child as
# "not opened after N days", for a teacher to follow up with the parent.
REPORT_FOLLOW_UP_DAYS = env.int("REPORT_FOLLOW_UP_DAYS", default=3)
# Production behind deploy/nginx: the URL prefix of nginx's `internal` location that
# aliases REPORT_FILES_DIR. Set, Django answers a file request with X-Accel-Redirect and
# nginx sends the bytes; empty (default), Django streams the file itself.
REPORT_FILES_ACCEL_REDIRECT = env.str("REPORT_FILES_ACCEL_REDIRECT", default="")

# --- Email (admin alerts) ---------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="webmaster@localhost")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# Always told about failed broadcasts, besides the admin users' own addresses.
ADMIN_EMAIL = env.str("ADMIN_EMAIL", default="")

# --- School -----------------------------------------------------------------
SCHOOL_NAME = env.str("SCHOOL_NAME", default="TK ABA Assalam")
SCHOOL_WEBSITE = env.str("SCHOOL_WEBSITE", default="")
# How parents reach the school (a phone number, an address), on the parent's page when their
# link no longer opens: optional, one line of text.
SCHOOL_CONTACT = env.str("SCHOOL_CONTACT", default="")
# Where admins open this site; links in alert emails start with it.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- WhatsApp (Fonnte) ------------------------------------------------------
FONNTE_API_TOKEN = env.str("FONNTE_API_TOKEN", default="")
FONNTE_URL = env.str("FONNTE_URL", default="https://api.fonnte.com/send")
FONNTE_CONNECT_TIMEOUT = env.float("FONNTE_CONNECT_TIMEOUT", default=5.0)
FONNTE_READ_TIMEOUT = env.float("FONNTE_READ_TIMEOUT", default=30.0)
# The secret part of the webhook URLs given to Fonnte (/webhooks/fonnte/<secret>/status/ and
# …/connect/); Fonnte signs nothing. Empty: the webhooks answer 404 and record nothing.
FONNTE_WEBHOOK_SECRET = env.str("FONNTE_WEBHOOK_SECRET", default="")
# The school's WhatsApp number in Fonnte. Only its disconnect pauses sending; the connect
# webhook's events for any other device are logged and change nothing. Empty (default): the
# number Fonnte's /device names (checked from the admin's device page) is the school's.
# Written as digits with 62 (0812… and +62 812… are rewritten); broadcasts.E005 checks it.
FONNTE_DEVICE_NUMBER = re.sub(r"\D", "", env.str("FONNTE_DEVICE_NUMBER", default=""))
if FONNTE_DEVICE_NUMBER.startswith("0"):
    FONNTE_DEVICE_NUMBER = "62" + FONNTE_DEVICE_NUMBER[1:]
elif FONNTE_DEVICE_NUMBER.startswith("8"):
    FONNTE_DEVICE_NUMBER = "62" + FONNTE_DEVICE_NUMBER
# "fonnte", "console", "locmem" or a dotted path; console (prints, sends
# nothing) until a token is configured, like Django's console email backend.
WHATSAPP_BACKEND = env.str("WHATSAPP_BACKEND", default="fonnte" if FONNTE_API_TOKEN else "console")
# "celery": workers send (the default). "cron": no worker; `manage.py process_broadcasts`
# run from cron every minute sends what is due (shared hosting).
WHATSAPP_RUNNER = env.str("WHATSAPP_RUNNER", default="celery")
WHATSAPP_MAX_ATTEMPTS = env.int("WHATSAPP_MAX_ATTEMPTS", default=3)
WHATSAPP_RETRY_DELAY = env.int("WHATSAPP_RETRY_DELAY", default=60)
# Final failures of one report are gathered into one alert: the first goes out
# WHATSAPP_ALERT_DELAY seconds after the first failure, later ones at most
# every WHATSAPP_ALERT_INTERVAL seconds.
WHATSAPP_ALERT_DELAY = env.int("WHATSAPP_ALERT_DELAY", default=30)
WHATSAPP_ALERT_INTERVAL = env.int("WHATSAPP_ALERT_INTERVAL", default=600)
# A row "sending" for longer than this lost its worker: it becomes "unknown" (never
# resent blindly). Must exceed CELERY_TASK_TIME_LIMIT.
WHATSAPP_SENDING_TIMEOUT = env.int("WHATSAPP_SENDING_TIMEOUT", default=300)
# How often (seconds) beat runs the recovery sweep (broadcasts.services.recovery).
WHATSAPP_RECOVERY_INTERVAL = env.int("WHATSAPP_RECOVERY_INTERVAL", default=60)
# A waiting row whose task message is this many seconds overdue is published again.
WHATSAPP_REQUEUE_AFTER = env.int("WHATSAPP_REQUEUE_AFTER", default=900)
# The seed's "many failures" alarm: this many failed messages within the window
# (seconds), across all reports, send the admins one extra alert per window.
WHATSAPP_FAILURE_ALERT_THRESHOLD = env.int("WHATSAPP_FAILURE_ALERT_THRESHOLD", default=10)
WHATSAPP_FAILURE_ALERT_WINDOW = env.int("WHATSAPP_FAILURE_ALERT_WINDOW", default=3600)
# Pacing (broadcasts.services.pacing): one pace for the school's WhatsApp number, shared
# by every worker on every machine. At most this many messages a minute (30: the seed's
# 2 seconds apart); 0 turns pacing off (tests, benchmarks).
WHATSAPP_MESSAGES_PER_MINUTE = env.float("WHATSAPP_MESSAGES_PER_MINUTE", default=30.0)
# Up to this many more seconds between two messages, at random: a less machine-like rhythm.
WHATSAPP_PACE_JITTER = env.float("WHATSAPP_PACE_JITTER", default=0.5)
# At most this many messages a day (TIME_ZONE's day); the rest wait for tomorrow. 0: no cap.
WHATSAPP_DAILY_LIMIT = env.int("WHATSAPP_DAILY_LIMIT", default=0)
# No message goes out in these hours (TIME_ZONE), e.g. "20:00-06:00"; those due then wait
# until the window ends. Empty: off.
WHATSAPP_QUIET_HOURS = env.str("WHATSAPP_QUIET_HOURS", default="")

# --- Celery -----------------------------------------------------------------
# Default: kombu's filesystem transport, a broker that needs no server
# (one machine only). Production: redis://127.0.0.1:6379/0.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
BROKER_DIR = Path(env.str("BROKER_DIR", default=str(BASE_DIR / "var" / "broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport with atomic writes (see tkassalam/embedded_broker.py).
    CELERY_BROKER_TRANSPORT = "tkassalam.embedded_broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        # Exchange bindings (worker pings, broadcasts); kombu's default is relative to cwd.
        "control_folder": str(BROKER_DIR / "control"),
        # Seconds between looks at the folder (kombu's default 1 s delays every step).
        "polling_interval": 0.2,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Redis redelivers an unacked message after this long; it must exceed
        # the longest countdown we schedule, or a waiting retry runs twice.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    }
# The queue workers consume and tasks go to; two deployments may share one Redis
# database if each has its own.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
# We keep the outcome in MonthlyReportBroadcast rows, not in a result backend.
CELERY_TASK_IGNORE_RESULT = True
# Acknowledge after the task ran: a task on a killed worker is redelivered;
# the row claim (see broadcasts.services) makes a redelivery send nothing twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One task at a time per process: a slow Fonnte call does not hold others back.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Workers keep their database connection between tasks (Celery's Django fixup otherwise
# closes it around every task: one new connection per message); CONN_MAX_AGE and the
# health check still drop an old or broken one before each task (tkassalam/celery.py).
CELERY_DB_REUSE_MAX = 1000
# A send is one HTTP call with its own timeouts; these only stop a hung process.
CELERY_TASK_SOFT_TIME_LIMIT = env.int(
    "CELERY_TASK_SOFT_TIME_LIMIT", default=int(FONNTE_CONNECT_TIMEOUT + FONNTE_READ_TIMEOUT) + 30
)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=CELERY_TASK_SOFT_TIME_LIMIT + 30)
# A worker started before Redis (after a reboot) keeps trying to connect instead of exiting.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Broker connection lost: let a running send finish (its redelivered message finds the row
# claimed and sends nothing); cancelling it mid-call, Celery 6's default, leaves it unknown.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = False
# celery beat (one process per deployment) runs the recovery sweep every
# WHATSAPP_RECOVERY_INTERVAL seconds.
CELERY_BEAT_SCHEDULE = {
    "recover-broadcasts": {
        "task": "broadcasts.tasks.recover_broadcasts",
        "schedule": float(WHATSAPP_RECOVERY_INTERVAL),
        # Sweeps queued while the workers were down are useless once the next one is due.
        "options": {"expires": float(WHATSAPP_RECOVERY_INTERVAL)},
    },
    # Abandoned import previews' uploads (parents' numbers), every 15 minutes.
    "purge-student-import-uploads": {
        "task": "students.tasks.purge_import_uploads",
        "schedule": 900.0,
        "options": {"expires": 900.0},
    },
    # Abandoned ZIP uploads of report files (up to REPORT_ZIP_MAX_BYTES each), every 15 minutes.
    "purge-report-zip-uploads": {
        "task": "reports.tasks.purge_report_zip_uploads",
        "schedule": 900.0,
        "options": {"expires": 900.0},
    },
    # Report files past REPORT_FILES_KEEP_DAYS, once a day (nothing when it is 0).
    "prune-report-files": {
        "task": "reports.tasks.prune_report_files",
        "schedule": 86400.0,
        "options": {"expires": 86400.0},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(BASE_DIR / "var" / "celerybeat-schedule")

# --- Logging ----------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# Local time (TIME_ZONE) with its UTC offset, like gunicorn's lines: 2026-12-07 09:30:01 +0700.
# Celery's own lines use it too (tkassalam/celery.py).
LOG_DATEFMT = "%Y-%m-%d %H:%M:%S %z"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
            "datefmt": LOG_DATEFMT,
        },
    },
    # The webhook secret (in the webhook URL) and the Fonnte token are masked in every line
    # the handlers write, whichever logger wrote it (tkassalam/log_filters.py).
    "filters": {"secrets": {"()": "tkassalam.log_filters.MaskSecrets"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["secrets"]},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        name: {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}
        for name in ("students", "reports", "broadcasts", "notifications")
    }
    | {
        # These name request paths: they go to the root's (masked) handlers only, not to the
        # handlers Django or gunicorn give them (runserver's, the debug console, mail_admins,
        # gunicorn's stderr), which have no mask. gunicorn.*: in gunicorn's workers, once
        # Django is set up; its master loads no Django and logs no request path.
        name: {"handlers": [], "level": "INFO", "propagate": True}
        for name in ("django", "django.server", "gunicorn.error", "gunicorn.access")
    },
}
