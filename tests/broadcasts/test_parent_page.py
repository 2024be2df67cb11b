"""The parent's page and file under /laporan/<token>/: what opens, what counts, what is logged."""

import functools
import logging
import sys
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from broadcasts.links import new_link_token, report_link_url
from broadcasts.models import MonthlyReportBroadcast
from broadcasts.services import broadcast_create_for_report, broadcast_resend
from reports.services.files import report_file_remove
from tests.conftest import PDF, store_report_file

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Mobile Safari/537.36"
)
PRIVATE = {
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("tu", "tu@example.com", "pw")


@pytest.fixture
def parent():
    return Client(HTTP_USER_AGENT=PHONE_UA)


@pytest.fixture
def store(report, staff):
    return functools.partial(store_report_file, report, user=staff)


@pytest.fixture
def sent(report, make_student, store):
    """Two children with a file, their rows made: ``(student, row, path)`` each."""
    students = [make_student(name="Ahmad Fauzi"), make_student(name="Siti Aminah")]
    store(students[0], PDF)
    store(students[1], PNG, "foto.png")
    broadcast_create_for_report(monthly_report=report)
    rows = [MonthlyReportBroadcast.objects.get(student=student) for student in students]
    return [(s, r, f"/laporan/{r.link_token}/") for s, r in zip(students, rows, strict=True)]


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_unavailable(response):
    assert response.status_code == 404
    assert "Tautan tidak dapat dibuka" in response.content.decode()
    for header, value in PRIVATE.items():
        assert response[header] == value


# --- The page ---------------------------------------------------------------------------------


def test_the_page_shows_the_school_child_month_and_the_buttons(sent, parent):
    _student, row, path = sent[0]
    response = parent.get(path)
    text = response.content.decode()

    assert response.status_code == 200
    assert "TK ABA Assalam" in text and "Ahmad Fauzi" in text and "November 2026" in text
    assert 'href="berkas/"' in text and "Buka laporan" in text
    assert 'href="berkas/?unduh=1"' in text and "Unduh laporan" in text
    # Nothing to run and nothing fetched from elsewhere: no script, no outside file.
    assert "<script" not in text and "<link" not in text and "src=" not in text
    for header, value in PRIVATE.items():
        assert response[header] == value
    assert "default-src 'none'" in response["Content-Security-Policy"]
    # The page alone never counts: link previews fetch it.
    row.refresh_from_db()
    assert (row.opened_at, row.open_count) == (None, 0)


def test_the_preview_tags_and_title_never_name_the_child(sent, parent):
    _student, _row, path = sent[0]
    text = parent.get(path).content.decode()
    head = text.split("<body>")[0]
    assert 'property="og:title" content="Laporan bulanan November 2026 · TK ABA Assalam"' in head
    assert 'property="og:description"' in head
    assert "Ahmad" not in head and "Fauzi" not in head
    assert "Ahmad Fauzi" in text.split("<body>")[1]


def test_each_link_opens_its_own_childs_file(sent, parent):
    (_a, _ra, path_a), (_b, _rb, path_b) = sent
    pdf = parent.get(path_a + "berkas/")
    png = parent.get(path_b + "berkas/")
    assert (pdf.status_code, pdf["Content-Type"], body(pdf)) == (200, "application/pdf", PDF)
    assert (png.status_code, png["Content-Type"], body(png)) == (200, "image/png", PNG)
    assert pdf["Content-Disposition"].startswith("inline")
    assert "Ahmad" not in pdf["Content-Disposition"]
    for header, value in PRIVATE.items():
        assert pdf[header] == value


def test_the_download_is_an_attachment_named_by_nis_and_month(sent, parent):
    student, _row, path = sent[0]
    response = parent.get(path + "berkas/?unduh=1")
    assert response["Content-Disposition"] == (
        f'attachment; filename="Laporan-{student.nis}-November-2026.pdf"'
    )
    assert body(response) == PDF


def test_only_get_and_head(sent):
    _student, _row, path = sent[0]
    # As a real browser meets it: CSRF checked (the test client skips it by default), so
    # a POST is refused by the view (405, private), not by the CSRF middleware (403).
    parent = Client(HTTP_USER_AGENT=PHONE_UA, enforce_csrf_checks=True)
    assert parent.post(path).status_code == 405
    assert parent.post(path + "berkas/").status_code == 405
    assert parent.head(path).status_code == 200
    assert parent.post(path)["Cache-Control"] == "private, no-store"


# --- Links that do not open --------------------------------------------------------------------


def test_unknown_expired_revoked_deleted_and_fileless_links_get_the_same_answer(
    sent, parent, settings, report, staff
):
    settings.SCHOOL_CONTACT = "Telp. 0274-123456"
    (_a, row_a, path_a), (_b, row_b, path_b) = sent
    unknown = f"/laporan/{new_link_token()}/"
    answers = [parent.get(unknown), parent.get("/laporan/short/"), parent.get(unknown + "berkas/")]
    # The token is exact: another case is another token (MariaDB would match it).
    answers.append(parent.get(path_a.swapcase().replace("/LAPORAN/", "/laporan/")))

    MonthlyReportBroadcast.objects.filter(pk=row_a.pk).update(
        link_created_at=timezone.now() - timedelta(days=settings.REPORT_LINK_DAYS, seconds=1)
    )
    answers += [parent.get(path_a), parent.get(path_a + "berkas/")]
    MonthlyReportBroadcast.objects.filter(pk=row_b.pk).update(link_revoked_at=timezone.now())
    answers += [parent.get(path_b), parent.get(path_b + "berkas/")]

    expected = answers[0].content
    assert b"Telp. 0274-123456" in expected and b"https://tkassalam.example.sch.id" in expected
    for response in answers:
        assert_unavailable(response)
        assert response.content == expected
        assert "Content-Disposition" not in response


def test_other_paths_under_laporan_get_the_same_page_and_a_missing_slash_is_added(sent, parent):
    _s, _row, path = sent[0]
    for other in (
        "/laporan/",
        path + "berkas/lain/",
        path + "x/",
        f"/laporan/{new_link_token()}/y/",
    ):
        assert_unavailable(parent.get(other))
    # A link whose last "/" was lost still reaches the page, as Django adds it.
    redirect = parent.get(path.rstrip("/"))
    assert redirect.status_code == 301 and redirect["Location"] == path
    assert parent.get(path.rstrip("/"), follow=True).status_code == 200
    assert parent.get(path + "berkas").status_code == 301


def test_a_link_whose_file_was_removed_or_report_deleted_does_not_open(sent, parent, report, staff):
    (a, _row_a, path_a), (_b, _row_b, path_b) = sent
    assert parent.get(path_a).status_code == 200
    report_file_remove(report_file=a.report_files.get(), user=staff)
    assert_unavailable(parent.get(path_a))
    assert_unavailable(parent.get(path_a + "berkas/"))
    report.delete()
    assert_unavailable(parent.get(path_b))


def test_the_link_made_just_now_is_live_and_the_expiry_is_on_the_page(sent, parent, settings):
    _s, row, path = sent[0]
    expires = timezone.localdate(row.link_created_at + timedelta(days=settings.REPORT_LINK_DAYS))
    assert str(expires.year) in parent.get(path).content.decode()


# --- Replacing the file ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_expiry_follows_the_setting(sent, parent, settings):
    _s, row, path = sent[0]
    MonthlyReportBroadcast.objects.filter(pk=row.pk).update(
        link_created_at=timezone.now() - timedelta(days=8)
    )
    settings.REPORT_LINK_DAYS = 7
    assert_unavailable(parent.get(path))
    assert_unavailable(parent.get(path + "berkas/"))
    settings.REPORT_LINK_DAYS = 9
    assert parent.get(path).status_code == 200
    assert parent.get(path + "berkas/").status_code == 200


def test_a_student_who_moved_class_keeps_their_link_to_their_file(sent, parent):
    from students.models import Classroom

    (student, _row, path), (_other, _row_b, _path_b) = sent
    student.classroom = Classroom.objects.create(name="TK B Mawar")
    student.save()
    assert "Ahmad Fauzi" in parent.get(path).content.decode()
    assert body(parent.get(path + "berkas/")) == PDF


def test_a_replaced_file_is_served_through_the_same_link(report, make_student, store, parent):
    student = make_student()
    store(student, PDF)
    broadcast_create_for_report(monthly_report=report)
    path = f"/laporan/{MonthlyReportBroadcast.objects.get().link_token}/berkas/"
    assert body(parent.get(path)) == PDF

    store(student, PNG, "foto.png")

    response = parent.get(path)
    assert (response["Content-Type"], body(response)) == ("image/png", PNG)


# --- Opened -------------------------------------------------------------------------------------


def test_a_persons_file_fetch_counts_the_first_time_sets_opened_at_once(sent, parent):
    _s, row, path = sent[0]
    parent.get(path + "berkas/")
    row.refresh_from_db()
    first = row.opened_at
    assert first is not None and row.open_count == 1

    parent.get(path + "berkas/?unduh=1")
    parent.get(path + "berkas/", HTTP_RANGE="bytes=0-1023")
    row.refresh_from_db()
    assert row.opened_at == first and row.open_count == 3
    # The other child's row is untouched.
    other = sent[1][1]
    other.refresh_from_db()
    assert (other.opened_at, other.open_count) == (None, 0)


@pytest.mark.parametrize(
    "agent",
    [
        "WhatsApp/2.23.20.0 A",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0",
        "TelegramBot (like TwitterBot)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0)",
        "AdsBot-Google (+http://www.google.com/adsbot.html)",
        "",
    ],
)
def test_a_link_preview_or_crawler_never_counts(sent, agent):
    _s, row, path = sent[0]
    crawler = Client(HTTP_USER_AGENT=agent)
    assert crawler.get(path).status_code == 200
    assert crawler.get(path + "berkas/").status_code == 200
    row.refresh_from_db()
    assert (row.opened_at, row.open_count) == (None, 0)


@pytest.mark.parametrize(
    "agent",
    [
        # A phone whose model name ends in "bot" is a person, not a crawler.
        "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 11; CUBOT P40 Build/RP1A.200720.011) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/119.0 Mobile Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    ],
)
def test_a_phones_browser_counts_whatever_its_model_is_called(sent, agent):
    _s, row, path = sent[0]
    assert Client(HTTP_USER_AGENT=agent).get(path + "berkas/").status_code == 200
    row.refresh_from_db()
    assert row.open_count == 1 and row.opened_at is not None


def test_head_and_a_range_after_the_start_do_not_count(sent, parent):
    _s, row, path = sent[0]
    assert parent.head(path + "berkas/").status_code == 200
    parent.get(path + "berkas/", HTTP_RANGE="bytes=1024-2047")
    row.refresh_from_db()
    assert (row.opened_at, row.open_count) == (None, 0)


def test_staff_checking_a_link_does_not_count(sent, staff):
    _s, row, path = sent[0]
    client = Client(HTTP_USER_AGENT=PHONE_UA)
    client.force_login(staff)
    assert client.get(path + "berkas/").status_code == 200
    row.refresh_from_db()
    assert (row.opened_at, row.open_count) == (None, 0)


# --- Production: nginx sends the bytes ------------------------------------------------------------


def test_production_answers_with_x_accel_redirect_and_no_body(sent, parent, settings):
    settings.REPORT_FILES_ACCEL_REDIRECT = "/_report-files/"
    _s, row, path = sent[1]
    stored = row.student.report_files.get().file.name

    response = parent.get(path + "berkas/?unduh=1")

    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/_report-files/{stored}"
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response.content == b""
    assert response["Cache-Control"] == "private, no-store"
    row.refresh_from_db()
    assert row.open_count == 1


@pytest.mark.parametrize("accel", ["/_report-files/", ""])
def test_a_file_gone_from_storage_gets_the_same_page_and_does_not_count(
    sent, parent, settings, accel
):
    settings.REPORT_FILES_ACCEL_REDIRECT = accel
    _s, row, path = sent[0]
    report_file = row.student.report_files.get()
    report_file.file.storage.delete(report_file.file.name)  # lost outside the app

    response = parent.get(path + "berkas/")

    assert_unavailable(response)
    assert "X-Accel-Redirect" not in response
    row.refresh_from_db()
    assert row.open_count == 0


def test_development_streams_the_file_itself(sent, parent, settings):
    settings.REPORT_FILES_ACCEL_REDIRECT = ""
    response = parent.get(sent[0][2] + "berkas/")
    assert response.streaming and "X-Accel-Redirect" not in response
    assert body(response) == PDF


# --- Resend -------------------------------------------------------------------------------------


def test_a_resend_kills_the_old_link_and_the_new_one_opens(sent, parent):
    _s, row, path = sent[0]
    MonthlyReportBroadcast.objects.filter(pk=row.pk).update(status="failed")

    broadcast_resend(broadcast_ids=[row.pk])

    row.refresh_from_db()
    assert_unavailable(parent.get(path))
    new = f"/laporan/{row.link_token}/"
    assert report_link_url(row.link_token) in row.message
    assert parent.get(new).status_code == 200
    assert body(parent.get(new + "berkas/")) == PDF


# --- Logs and the rate limit ----------------------------------------------------------------------


@pytest.fixture
def all_logs(caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("django.request", "django.server", "broadcasts"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_no_token_reaches_a_log_line(sent, parent, all_logs, capsys):
    _s, row, path = sent[0]
    unknown = new_link_token()
    parent.get(f"/laporan/{unknown}/")
    parent.get(f"/laporan/{unknown}/berkas/")
    parent.post(path)
    parent.get(path + "berkas/")
    # What runserver and gunicorn write for each request.
    logging.getLogger("django.server").info('"GET %s HTTP/1.1" 200 1234', path + "berkas/")
    logging.getLogger("gunicorn.error").error("Error handling request %s", path)

    text = "\n".join(record.getMessage() for record in all_logs.records)
    text += "\n".join(str(record.__dict__) for record in all_logs.records)
    text += capsys.readouterr().err
    assert "A personal link did not open" in text
    assert '"GET /laporan/********/berkas/ HTTP/1.1" 200' in text
    assert unknown not in text and row.link_token not in text


def test_misses_from_one_address_are_refused_with_429_and_live_links_still_open(sent, settings):
    from broadcasts import parent_views

    guesser = Client(HTTP_USER_AGENT=PHONE_UA, REMOTE_ADDR="198.51.100.7")
    answers = [
        guesser.get(f"/laporan/{new_link_token()}/").status_code
        for _ in range(parent_views.MISS_LIMIT + 2)
    ]
    assert answers[: parent_views.MISS_LIMIT] == [404] * parent_views.MISS_LIMIT
    assert answers[-1] == 429
    refused = guesser.get(f"/laporan/{new_link_token()}/")
    assert "Terlalu banyak percobaan" in refused.content.decode()
    assert refused["Cache-Control"] == "private, no-store"
    # Another address is not limited by this one's misses; a live link opens for both.
    other = Client(HTTP_USER_AGENT=PHONE_UA, REMOTE_ADDR="203.0.113.9")
    assert other.get(f"/laporan/{new_link_token()}/").status_code == 404
    assert guesser.get(sent[0][2]).status_code == 200


def test_the_log_filter_masks_link_tokens_even_without_any_secret_set(settings):
    from tkassalam.log_filters import MaskSecrets

    settings.FONNTE_API_TOKEN = settings.FONNTE_WEBHOOK_SECRET = ""
    token = new_link_token()
    try:
        raise ValueError(f"bad /laporan/{token}/berkas/")
    except ValueError:
        record = logging.LogRecord(
            "gunicorn.error",
            logging.ERROR,
            __file__,
            1,
            "Error handling request %s",
            (f"/laporan/{token}/",),
            exc_info=sys.exc_info(),
        )
    assert MaskSecrets().filter(record) is True
    assert record.getMessage() == "Error handling request /laporan/********/"
    assert token not in record.exc_text and "/laporan/********/berkas/" in record.exc_text


def test_runservers_request_lines_carry_no_token(caplog):
    """runserver's handler logs each request line as BaseHTTPRequestHandler hands it over."""
    from django.core.servers.basehttp import WSGIRequestHandler

    caplog.set_level(logging.DEBUG, logger="django.server")
    handler = WSGIRequestHandler.__new__(WSGIRequestHandler)
    handler.request = None
    tokens = [new_link_token(), new_link_token()]
    handler.log_message('"%s" %s %s', f"GET /laporan/{tokens[0]}/berkas/ HTTP/1.1", "200", "40")
    handler.log_message('"%s" %s %s', f"GET /laporan/{tokens[1]}/ HTTP/1.1", "404", "900")

    lines = [r.getMessage() for r in caplog.records if r.name == "django.server"]
    assert lines == [
        '"GET /laporan/********/berkas/ HTTP/1.1" 200 40',
        '"GET /laporan/********/ HTTP/1.1" 404 900',
    ]


# --- Queries ----------------------------------------------------------------------------------


def test_the_page_and_file_take_the_same_queries_whatever_the_number_of_rows(
    report, make_student, store, parent, settings
):
    """One query to open a link; the file adds the two guarded updates of a counted opening."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.REPORT_FILES_ACCEL_REDIRECT = "/_report-files/"

    def queries(how_many):
        MonthlyReportBroadcast.objects.all().delete()
        while len(students) < how_many:
            student = make_student()
            store(student)
            students.append(student)
        broadcast_create_for_report(monthly_report=report)
        path = f"/laporan/{MonthlyReportBroadcast.objects.first().link_token}/"
        counted = []
        for url in (path, path + "berkas/", f"/laporan/{new_link_token()}/"):
            with CaptureQueriesContext(connection) as captured:
                assert parent.get(url).status_code in (200, 404)
            counted.append(len(captured))
        return counted

    students = []
    assert queries(2) == [1, 3, 1]
    assert queries(40) == [1, 3, 1]
