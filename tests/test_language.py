"""Bahasa Indonesia by default, English on request, through the admin header's switcher."""

import datetime

import pytest
from django.utils import timezone, translation

from notifications.models import Notification


@pytest.fixture
def admin_client(client, admins):
    client.force_login(admins[0])
    return client


def switch_language(client, code, next_url="/admin/"):
    return client.post("/i18n/setlang/", {"language": code, "next": next_url})


def test_the_admin_is_in_indonesian_without_accept_language(admin_client):
    html = admin_client.get("/admin/").content.decode()

    assert "<title>Administrasi situs |" in html  # Django's "Site administration"
    assert ">Keluar</button>" in html  # Django's "Log out"
    assert "Site administration" not in html
    changelist = admin_client.get("/admin/students/student/").content.decode()
    assert ">Beranda</a>" in changelist  # Django's "Home" in the breadcrumbs


def test_the_login_page_is_in_indonesian_and_offers_english(client):
    html = client.get("/admin/login/").content.decode()

    assert '<html lang="id"' in html
    assert 'action="/i18n/setlang/"' in html
    assert 'value="en"' in html


def test_the_switcher_returns_to_the_same_page(admin_client):
    page = "/admin/students/student/?q=Siti"
    html = admin_client.get(page).content.decode()
    assert '<input type="hidden" name="next" value="/admin/students/student/?q=Siti">' in html

    response = switch_language(admin_client, "en", next_url=page)

    assert response.status_code == 302
    assert response["Location"] == page


def test_set_language_switches_the_admin_to_english_and_back(admin_client):
    switch_language(admin_client, "en")
    english = admin_client.get("/admin/").content.decode()
    switch_language(admin_client, "id")
    indonesian = admin_client.get("/admin/").content.decode()

    assert '<html lang="en"' in english
    assert "<title>Site administration |" in english
    assert ">Log out</button>" in english
    assert '<html lang="id"' in indonesian
    assert "<title>Administrasi situs |" in indonesian
    assert ">Keluar</button>" in indonesian


def test_the_current_language_is_marked_in_the_switcher(admin_client):
    html = admin_client.get("/admin/").content.decode()

    assert 'value="id" lang="id" aria-current="true" disabled>Bahasa Indonesia<' in html
    assert 'value="en" lang="en">English<' in html


def test_admin_dates_have_indonesian_month_names(admin_client, admins):
    notification = Notification.objects.create(recipient=admins[0], title="Pesan gagal")
    created = datetime.datetime(2025, 5, 17, 10, 0, tzinfo=timezone.get_current_timezone())
    Notification.objects.filter(pk=notification.pk).update(created_at=created)
    page = "/admin/notifications/notification/"

    indonesian = admin_client.get(page).content.decode()
    english = admin_client.get(page, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "17 Mei 2025, 10.00" in indonesian
    assert "May 17, 2025, 10 a.m." in english


def month_filter(response, field_path):
    """The choices' labels of the changelist filter on ``field_path``, as the page showed them."""
    changelist = response.context["cl"]
    specs = changelist.filter_specs
    (spec,) = [spec for spec in specs if getattr(spec, "field_path", None) == field_path]
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        return [str(choice["display"]) for choice in spec.choices(changelist)]


@pytest.mark.parametrize(
    ("page", "field_path"),
    [
        ("/admin/reports/monthlyreport/", "month"),
        ("/admin/broadcasts/monthlyreportbroadcast/", "monthly_report__month"),
    ],
)
def test_the_month_filters_name_the_months(admin_client, report, page, field_path):
    indonesian = month_filter(admin_client.get(page), field_path)
    english = month_filter(admin_client.get(page, HTTP_ACCEPT_LANGUAGE="en"), field_path)

    assert indonesian[:3] == ["Semua", "Januari", "Februari"]
    assert indonesian[8:] == ["Agustus", "September", "Oktober", "November", "Desember"]
    assert english[:3] == ["All", "January", "February"]
    assert "11" not in indonesian + english
