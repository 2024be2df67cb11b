"""The admin login: wrong passwords lock one user at one address for a while; sessions are short."""

from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import RequestFactory
from django.utils import timezone

from tkassalam.security import client_ip_address

LOGIN = "/admin/login/"
NGINX = "127.0.0.1"  # gunicorn listens on loopback; deploy/'s nginx is the only caller
SCHOOL = "203.0.113.7"  # the school's computer, as nginx saw it
HOME = "198.51.100.20"
PASSWORD = "benar-sekali-123"
LOCKED = "Terlalu banyak percobaan masuk yang gagal"


@pytest.fixture(autouse=True)
def _axes_on(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("bu.sari", password=PASSWORD, is_staff=True)


def attempt(client, password, *, username="bu.sari", forwarded=SCHOOL):
    """One login as deploy/'s nginx passes it on: X-Forwarded-For ends with the client's address."""
    return client.post(
        LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=NGINX,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def logged_in(client):
    return "_auth_user_id" in client.session


def test_thirty_wrong_passwords_lock_the_login_even_for_the_right_password(client, staff):
    answers = [attempt(client, f"salah-{n}").status_code for n in range(30)]
    # The first four are told the password is wrong; from the fifth on, the login is refused.
    assert answers == [200] * 4 + [429] * 26

    response = attempt(client, PASSWORD)
    assert response.status_code == 429
    assert not logged_in(client)
    page = response.content.decode()
    assert LOCKED in page
    assert "30 menit" in page
    assert 'id="login-form"' in page  # the admin login page, not a bare error


def test_a_forged_forwarded_for_does_not_escape_the_lock(client, staff):
    """A client may write X-Forwarded-For itself; nginx appends the address it saw."""
    answers = [
        attempt(client, "salah", forwarded=f"192.0.2.{n}, {SCHOOL}").status_code for n in range(6)
    ]
    assert answers[4:] == [429, 429]
    assert attempt(client, PASSWORD, forwarded=f"10.9.9.9, {SCHOOL}").status_code == 429
    assert not logged_in(client)


def test_the_lock_holds_one_user_at_one_address_only(client, staff, django_user_model):
    django_user_model.objects.create_user("pak.budi", password=PASSWORD, is_staff=True)
    for _ in range(5):
        attempt(client, "salah")

    assert attempt(client, PASSWORD, username="pak.budi").status_code == 302
    assert logged_in(client)
    client.logout()
    assert attempt(client, PASSWORD, forwarded=HOME).status_code == 302
    assert logged_in(client)


def test_another_spelling_of_the_name_counts_against_the_same_lock(client, staff):
    for name in ("bu.sari", "Bu.Sari", "BU.SARI", " bu.sari", "bu.SARI"):
        attempt(client, "salah", username=name)
    assert attempt(client, PASSWORD).status_code == 429


def test_axes_reset_lifts_the_lock(client, staff):
    for _ in range(5):
        attempt(client, "salah")
    assert attempt(client, PASSWORD).status_code == 429

    call_command("axes_reset", verbosity=0)
    assert attempt(client, PASSWORD).status_code == 302
    assert logged_in(client)


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        (NGINX, SCHOOL, SCHOOL),  # nginx set the header
        (NGINX, f"192.0.2.1, {SCHOOL}", SCHOOL),  # nginx appended to a forged one
        ("::1", f"192.0.2.1,{SCHOOL}", SCHOOL),
        (NGINX, "", NGINX),  # no proxy: runserver on this machine
        (NGINX, "192.0.2.1, not-an-address", NGINX),
        (HOME, "192.0.2.1", HOME),  # reached gunicorn directly: its header proves nothing
    ],
)
def test_the_client_address_is_the_one_nginx_saw(remote, forwarded, expected):
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip_address(request) == expected


def test_the_session_ends_with_the_browser_and_after_a_working_day(client, staff, settings):
    assert settings.SESSION_COOKIE_AGE == 10 * 60 * 60
    assert attempt(client, PASSWORD).status_code == 302
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    # No max-age or expires: the browser forgets the login when it closes.
    assert cookie["max-age"] == ""
    assert cookie["expires"] == ""

    session = Session.objects.get(session_key=cookie.value)
    login_time = timezone.now()
    assert abs(session.expire_date - (login_time + timedelta(hours=10))) < timedelta(minutes=1)
    assert client.get("/admin/").status_code == 200

    later = login_time + timedelta(hours=10, minutes=1)
    with mock.patch("django.contrib.sessions.backends.db.timezone.now", return_value=later):
        response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
