"""Shared fixtures: a school with one class and report, admins, and the two WhatsApp seams."""

import os
import socket
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import kombu.pools
import pytest
import responses
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, Permission
from django.core.files.base import ContentFile
from django.utils import timezone, translation
from kombu import Queue

from notifications.whatsapp import locmem
from reports.models import MonthlyReport
from reports.services.files import report_file_store
from students.models import Classroom, Guardian, Student
from tests.matrix import required
from tkassalam.celery import app as celery_app

FONNTE_TEST_URL = "https://fonnte.test/send"
FONNTE_TEST_TOKEN = "secret-token-123456"

#: The smallest PDF the report files' check takes (it goes by the first bytes).
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def store_report_file(report, student, data=PDF, name="r.pdf", *, user=None, original_name=None):
    """Store ``data`` as ``student``'s file for ``report``, as an upload named ``name`` would
    be (reports.services.files.report_file_store); the ReportFile."""
    return report_file_store(
        monthly_report=report,
        student=student,
        content=ContentFile(data, name=name),
        original_name=name if original_name is None else original_name,
        user=user,
    )


def skip_unless_required(name, reason):
    """Skip on a machine without ``name`` (a newcomer's); fail where TEST_REQUIRE names it (CI)."""
    if name in required():
        pytest.fail(f"{reason}; TEST_REQUIRE names {name!r}, so this fails", pytrace=False)
    pytest.skip(reason)


#: The groups the migrations create, each with its permissions as (app label, codename):
#: read once, right after the test database is migrated (django_db_setup below).
MIGRATED_ROLES: dict[str, list[tuple[str, str]]] = {}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's, then a note of the roles its migrations made (see restore_roles)."""
    with django_db_blocker.unblock():
        for group in Group.objects.prefetch_related("permissions__content_type"):
            MIGRATED_ROLES[group.name] = [
                (permission.content_type.app_label, permission.codename)
                for permission in group.permissions.all()
            ]


def restore_roles():
    """Make the migrations' groups again, with their permissions, where missing.

    They come from data migrations; the flush after a transactional test removes them
    (and Django's serialized rollback cannot bring them back: the flush renumbers the
    content types). Transactional tests that log in as school staff call this first.
    """
    for name, permissions in MIGRATED_ROLES.items():
        group, created = Group.objects.get_or_create(name=name)
        if created:
            wanted = set(permissions)
            group.permissions.set(
                permission
                for permission in Permission.objects.select_related("content_type")
                if (permission.content_type.app_label, permission.codename) in wanted
            )


@pytest.fixture(autouse=True)
def _school_language():
    """Each test starts in the school's language: a request in English (the test client
    keeps the last request's language active) must not change the next test's texts."""
    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture
def classroom(db):
    return Classroom.objects.create(name="TK A Melati")


@pytest.fixture
def report(classroom):
    return MonthlyReport.objects.create(classroom=classroom, month=11, year=2026)


@pytest.fixture
def make_student(classroom):
    counter = iter(range(1, 100_000))

    def make(
        phone="0812-3456-7890",
        *,
        name=None,
        classroom=classroom,
        parent_name="Ibu Siti",
        relation="ibu",
        whatsapp_registered=None,
    ):
        """A student with one guardian (``parent_name`` at ``phone``), as most tests need."""
        n = next(counter)
        student = Student.objects.create(
            nis=f"N{n:05d}", full_name=name or f"Siswa {n}", classroom=classroom
        )
        guardian = Guardian.objects.create(
            student=student, name=parent_name, relation=relation, phone=phone
        )
        if whatsapp_registered is not None:
            Guardian.objects.filter(pk=guardian.pk).update(whatsapp_registered=whatsapp_registered)
        return student

    return make


@pytest.fixture
def make_guardian(db):
    """Another guardian for a student: ``make_guardian(student, "ayah", "0813-…", name=…)``."""

    def make(student, relation="ayah", phone="0813-1111-2222", *, name=None, **fields):
        return Guardian.objects.create(
            student=student,
            relation=relation,
            phone=phone,
            name=name if name is not None else f"{relation.title()} {student.full_name}",
            **fields,
        )

    return make


@pytest.fixture
def admins(django_user_model):
    """A superuser, a member of each admin group, and two users who must not be alerted."""
    superuser = django_user_model.objects.create_superuser(
        "kepala", "kepala@example.com", "pw", is_staff=True
    )
    group_admin = django_user_model.objects.create_user(
        "tatausaha", "tu@example.com", "pw", is_staff=True
    )
    group_admin.groups.add(Group.objects.get(name="admin"))
    group_super = django_user_model.objects.create_user(
        "yayasan", "yayasan@example.com", "pw", is_staff=True
    )
    group_super.groups.add(Group.objects.get(name="super_admin"))
    django_user_model.objects.create_user("guru", "guru@example.com", "pw", is_staff=True)
    inactive = django_user_model.objects.create_superuser("lama", "lama@example.com", "pw")
    inactive.is_active = False
    inactive.save()
    return [superuser, group_admin, group_super]


@pytest.fixture
def outbox():
    """Messages the locmem WhatsApp backend 'sent' (the test settings' default backend)."""
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


@pytest.fixture
def fonnte(settings):
    """The real Fonnte backend, with HTTP mocked at the one seam by ``responses``."""
    settings.WHATSAPP_BACKEND = "fonnte"
    settings.FONNTE_URL = FONNTE_TEST_URL
    settings.FONNTE_API_TOKEN = FONNTE_TEST_TOKEN
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def fonnte_ok(message_id="80367170", target="6281234567890"):
    return {
        "detail": "success! message in queue",
        "id": [message_id],
        "process": "pending",
        "requestid": 2937124,
        "status": True,
        "target": [target],
    }


def quiet_hours_around_now() -> str:
    """WHATSAPP_QUIET_HOURS from an hour ago to two hours ahead (TIME_ZONE): quiet for the
    whole test at any time of day. ``00:00-23:59`` is not: its last minute is not quiet."""
    local = timezone.localtime()
    return f"{local - timedelta(hours=1):%H:%M}-{local + timedelta(hours=2):%H:%M}"


@pytest.fixture
def celery_eager():
    """Run tasks in-process, retries and on-failure handler included."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = False
    yield celery_app
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


def confirm_send(client, user, report):
    """As ``user``, confirm the admin action "send the WhatsApp notification" for ``report``."""
    client.force_login(user)
    response = client.post(
        "/admin/reports/monthlyreport/",
        {
            "action": "send_whatsapp_broadcast",
            "_selected_action": [report.pk],
            "index": 0,
            "post": "yes",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    return response


#: The machine's Redis, or TEST_REDIS_URL (as in tests/matrix.py).
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def point_app_at(url: str, transport_options: dict | None = None) -> None:
    """Make ``celery_app`` publish to ``url`` from now on.

    Setting ``app.conf`` is not enough once the app has published: its connection and
    producer pools were built from the old URL, and kombu keeps them in a process-wide
    registry. Forgetting all of them (``kombu.pools.reset()``) and the app's references
    (as Celery does after a fork) makes the next publish use the new configuration.
    """
    celery_app.conf.broker_url = url
    # The settings name the project's own transport for filesystem:// (it would win
    # over any other URL's scheme); every other broker takes its transport from the URL.
    celery_app.conf.broker_transport = (
        "tkassalam.embedded_broker:Transport" if url.startswith("filesystem://") else None
    )
    if transport_options is not None:
        celery_app.conf.broker_transport_options = transport_options
    kombu.pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker_url():
    """Point the Celery app at another broker for one test: ``broker_url("redis://…")``."""
    previous = celery_app.conf.broker_url, dict(celery_app.conf.broker_transport_options or {})
    yield point_app_at
    point_app_at(*previous)


@pytest.fixture
def private_queue():
    """A default queue name of our own: a shared broker's other keys are never touched."""
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = f"tkassalam-test-{uuid.uuid4().hex}"
    yield celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = previous


@pytest.fixture
def redis_broker(broker_url, private_queue):
    """The machine's Redis (REDIS_TEST_URL) as broker, with a private queue deleted afterwards."""
    address = urlsplit(REDIS_TEST_URL)
    host, port = address.hostname or "127.0.0.1", address.port or 6379
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        skip_unless_required("redis", f"needs Redis on {host}:{port} (not running here)")
    broker_url(REDIS_TEST_URL)
    yield private_queue
    with celery_app.connection_for_write() as connection:
        connection.default_channel.client.delete(private_queue)


@pytest.fixture
def publish_messages(private_queue):
    """Put ``n`` plain messages in the private queue."""

    def publish(n):
        with celery_app.producer_or_acquire() as producer:
            for i in range(n):
                producer.publish(
                    {"n": i}, routing_key=private_queue, declare=[Queue(private_queue)]
                )

    return publish
