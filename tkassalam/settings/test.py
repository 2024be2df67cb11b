"""Settings for the test suite: ``DATABASE_URL`` picks the database, nothing reaches out."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES

SECRET_KEY = "django-insecure-tests-only"  # noqa: S105
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# django-axes needs the request at every authenticate(), which the test client's login()
# does not pass; tests/test_login_security.py turns it on to test the lockout itself.
AXES_ENABLED = False
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ADMIN_EMAIL = "kepala.sekolah@example.com"
SCHOOL_NAME = "TK ABA Assalam"
SCHOOL_WEBSITE = "https://tkassalam.example.sch.id"

# Tests choose a backend explicitly; nothing ever reaches the real Fonnte.
WHATSAPP_BACKEND = "locmem"
FONNTE_API_TOKEN = "test-token-never-real"  # noqa: S105
FONNTE_URL = "http://127.0.0.1:9/send"
WHATSAPP_RETRY_DELAY = 0
# No pace unless a test asks for one (tests/broadcasts/test_pacing.py).
WHATSAPP_MESSAGES_PER_MINUTE = 0
WHATSAPP_PACE_JITTER = 0
WHATSAPP_ALERT_DELAY = 0

# Report files of this test run in a folder of their own, never the project's var/: set in
# the environment, so the worker processes of end-to-end tests read the same folder.
if "REPORT_FILES_DIR" not in os.environ:
    os.environ["REPORT_FILES_DIR"] = tempfile.mkdtemp(prefix="tkassalam-report-files-")
REPORT_FILES_DIR = Path(os.environ["REPORT_FILES_DIR"])
STORAGES["report_files"]["OPTIONS"]["location"] = str(REPORT_FILES_DIR)  # noqa: F405

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so that worker processes in end-to-end tests share it.
    _test_sqlite = os.environ.get("TEST_SQLITE_PATH", str(BASE_DIR / "var" / "test.sqlite3"))
    os.makedirs(os.path.dirname(_test_sqlite), exist_ok=True)
    DATABASES["default"]["TEST"] = {"NAME": _test_sqlite}
