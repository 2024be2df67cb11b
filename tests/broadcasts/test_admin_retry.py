"""The broadcast list's "resend the selected failed messages": a confirmation page first."""

import re
from unittest import mock

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages

from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast
from reports.models import MonthlyReport
from students.models import Guardian
from tests.broadcast_rows import guardian_row

CHANGELIST = "/admin/broadcasts/monthlyreportbroadcast/"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def dispatch():
    with mock.patch("broadcasts.tasks.dispatch_pending_broadcasts.delay") as delay:
        yield delay


@pytest.fixture
def rows(report, make_student):
    def make(status, name, error=""):
        return guardian_row(
            monthly_report=report,
            student=make_student(name=name),
            phone_number="6281234567890",
            status=status,
            error_message=error,
        )

    return {
        "failed": make("failed", "Aisyah Putri", "Nomor tidak terdaftar di WhatsApp"),
        "sent": make("sent", "Bima Saputra"),
        "unknown": make("unknown", "Citra Lestari"),
        "pending": make("pending", "Dewi Anggraini"),
    }


def post_action(client, selected, path=CHANGELIST, **extra):
    data = {
        "action": "retry_failed",
        "_selected_action": [row.pk for row in selected],
        **extra,
    }
    return client.post(path, data, **EN)


def status_of(row):
    return MonthlyReportBroadcast.objects.get(pk=row.pk).status


def test_the_action_shows_a_confirmation_first(admin_client, rows, dispatch):
    response = post_action(admin_client, rows.values(), index="0")

    assert response.status_code == 200
    assert response.templates[0].name.endswith("retry_failed_confirmation.html")
    page = response.content.decode()
    assert "1 failed message will be sent again" in page
    assert "Aisyah Putri" in page and "Nomor tidak terdaftar di WhatsApp" in page
    assert "1 message already sent: never sent twice." in page
    assert "1 message with an unknown outcome" in page
    assert "Resend the selected unknown messages" in page
    assert "1 message still waiting or being sent." in page
    for row in rows.values():
        assert f'name="_selected_action" value="{row.pk}"' in page
    assert 'name="post" value="yes"' in page
    assert status_of(rows["failed"]) == BroadcastStatus.FAILED
    dispatch.assert_not_called()


def test_confirming_resends_the_failed_rows_only(
    admin_client, rows, dispatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(admin_client, rows.values(), post="yes")

    assert response.status_code == 302
    assert {name: status_of(row) for name, row in rows.items()} == {
        "failed": "pending",
        "sent": "sent",
        "unknown": "unknown",
        "pending": "pending",
    }
    dispatch.assert_called_once_with()
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "1 failed message will be sent again." in message


def test_nothing_to_resend_offers_no_confirm_button(admin_client, rows, dispatch):
    page = post_action(admin_client, [rows["sent"], rows["unknown"]]).content.decode()

    assert "None of the selected messages can be resent by this action." in page
    assert "will be sent again" not in page
    assert 'value="Yes, resend"' not in page


def test_select_all_across_pages_is_carried_to_the_confirmation(
    admin_client, rows, make_student, dispatch, django_capture_on_commit_callbacks
):
    # "Select all N" on a filtered list: only the rows on the page come as checkboxes.
    other_failed = guardian_row(
        monthly_report=rows["sent"].monthly_report,
        student=make_student(name="Eko Prasetyo"),
        phone_number="6281234567890",
        status="failed",
    )
    filtered = f"{CHANGELIST}?status__exact=failed"

    page = post_action(admin_client, [rows["failed"]], filtered, select_across="1")
    confirm = {
        name: value
        for name, value in re.findall(
            r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.content.decode()
        )
    }
    with django_capture_on_commit_callbacks(execute=True):
        post_action(admin_client, [rows["failed"]], filtered, **confirm)

    assert "2 failed messages will be sent again" in page.content.decode()
    assert confirm["select_across"] == "1"
    assert status_of(rows["failed"]) == "pending"
    assert status_of(other_failed) == "pending"
    assert status_of(rows["sent"]) == "sent"


def test_a_teacher_cannot_resend(client, django_user_model, rows, dispatch):
    teacher = django_user_model.objects.create_user("guru", password="pw", is_staff=True)
    teacher.groups.add(Group.objects.get(name="guru"))
    rows["failed"].monthly_report.classroom.teachers.add(teacher)  # their own class's rows
    client.force_login(teacher)

    response = post_action(client, rows.values())
    post_action(client, rows.values(), post="yes")

    assert not [t for t in response.templates if t.name.endswith("retry_failed_confirmation.html")]
    assert status_of(rows["failed"]) == "failed"
    dispatch.assert_not_called()


def test_resending_rows_records_who_did_it_on_each_row(
    admin_client, admin_user, report, make_student
):
    from unittest import mock

    from django.contrib.admin.models import LogEntry

    failed = guardian_row(
        monthly_report=report,
        student=make_student(),
        phone_number="6281234567890",
        status="failed",
    )
    sent = guardian_row(
        monthly_report=report,
        student=make_student(),
        phone_number="6281234567891",
        status="sent",
    )
    with mock.patch("broadcasts.tasks.dispatch_pending_broadcasts.delay"):
        admin_client.post(
            "/admin/broadcasts/monthlyreportbroadcast/",
            {"action": "retry_failed", "_selected_action": [failed.pk, sent.pk], "post": "yes"},
        )
    assert list(LogEntry.objects.values_list("object_id", "user")) == [
        (str(failed.pk), admin_user.pk)
    ]


# --- The student's current number -------------------------------------------------------------


def test_a_resend_goes_to_the_number_corrected_in_the_student_data(
    admin_client, report, make_student, outbox, celery_eager, django_capture_on_commit_callbacks
):
    student = make_student("0812", name="Dewi Anggraini")
    row = guardian_row(
        monthly_report=report,
        student=student,
        phone_number="0812",
        message="Laporan bulan ini telah tersedia.",
        status="failed",
        error_message="Nomor telepon tidak valid",
    )
    # As the student page's guardian form saves it (that page is the students' own tests').
    guardian = student.guardians.get()
    guardian.phone = "0813-1111-2222"
    guardian.save()

    page = post_action(admin_client, [row]).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        post_action(admin_client, [row], post="yes")

    assert "guardian's number in the student data now" in page
    assert [(m.phone, m.message) for m in outbox] == [
        ("6281311112222", "Laporan bulan ini telah tersedia.")
    ]
    row.refresh_from_db()
    assert (row.status, row.phone_number) == ("sent", "6281311112222")


@pytest.mark.parametrize("action", ["retry_failed", "resend_unknown"])
def test_a_student_without_a_number_now_stays_as_it_was_and_the_admin_is_told(
    admin_client, report, make_student, dispatch, django_capture_on_commit_callbacks, action
):
    from django.contrib.admin.models import LogEntry

    student = make_student("", name="Eko Prasetyo")
    status = "failed" if action == "retry_failed" else "unknown"
    row = guardian_row(
        monthly_report=report,
        student=student,
        phone_number="0812",
        status=status,
        error_message="Fonnte tidak menjawab dalam 30 detik.",
    )

    page = post_action(admin_client, [row], action=action).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(admin_client, [row], action=action, post="yes")

    # Nothing to confirm: said once, the child named, with no "confirming …" sentence.
    assert "Nothing can be resent now: correct the guardians' numbers of the children below" in page
    assert "No phone number: 1." in page
    assert "Eko Prasetyo (N00001), Ibu Siti (mother): add the guardian's number" in section(
        page, "wa-no-phone-list"
    )
    assert 'value="Yes, resend' not in page
    row.refresh_from_db()
    assert (row.status, row.phone_number) == (status, "0812")
    # Its reason is kept (here: Fonnte never answered); the message and history say the rest.
    assert row.error_message == "Fonnte tidak menjawab dalam 30 detik."
    dispatch.assert_not_called()
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown[0].startswith("0 ")
    assert "Not resent, the guardian has no phone number: 1. Add the guardian's number" in shown[1]
    (entry,) = LogEntry.objects.all()
    assert entry.object_id == str(row.pk)
    # The row's record is in the school's language, whoever asked.
    assert "wali murid tidak punya nomor WhatsApp" in entry.get_change_message()


# --- Who resent what: exactly the rows changed ------------------------------------------------


def test_the_history_names_only_the_rows_this_resend_changed(
    admin_client, admin_user, rows, dispatch, django_capture_on_commit_callbacks
):
    from django.contrib.admin.models import LogEntry

    # "pending" was already waiting: selected, now pending, but not changed by this resend.
    with django_capture_on_commit_callbacks(execute=True):
        post_action(admin_client, rows.values(), post="yes")

    assert list(LogEntry.objects.values_list("object_id", "user", "change_message")) == [
        (str(rows["failed"].pk), admin_user.pk, "Dikirim ulang dengan percobaan baru.")
    ]


def test_the_service_returns_exactly_the_rows_it_changed(report, rows, make_student, dispatch):
    from broadcasts.services import broadcast_resend

    no_phone = guardian_row(
        monthly_report=report, student=make_student(""), phone_number="0812", status="failed"
    )

    outcome = broadcast_resend(broadcast_ids=[row.pk for row in rows.values()] + [no_phone.pk])
    again = broadcast_resend(broadcast_ids=[rows["failed"].pk])

    assert outcome.resent == (rows["failed"].pk,)
    assert outcome.no_phone == (no_phone.pk,)
    assert again.resent == ()  # pending now: a second click changes nothing


def test_without_update_returning_the_locked_rows_are_the_ones_reported(
    report, rows, make_student, dispatch
):
    """MySQL/MariaDB's path (no UPDATE … RETURNING), on any database."""
    from broadcasts.models import MonthlyReportBroadcastQuerySet
    from broadcasts.services import broadcast_resend

    Guardian.objects.filter(student_id=rows["failed"].student_id).update(phone="0813 1111 2222")
    with mock.patch.object(MonthlyReportBroadcastQuerySet, "update_returning", return_value=None):
        outcome = broadcast_resend(broadcast_ids=[row.pk for row in rows.values()])

    assert outcome.resent == (rows["failed"].pk,)
    failed = MonthlyReportBroadcast.objects.get(pk=rows["failed"].pk)
    assert (failed.status, failed.phone_number) == ("pending", "6281311112222")


@pytest.mark.parametrize("returning", [True, False], ids=["update-returning", "mysql-path"])
def test_a_resend_of_more_rows_than_a_batch_changes_and_logs_every_row(
    report, make_student, admin_user, dispatch, monkeypatch, returning
):
    """Every pk__in list the service builds holds at most RETRY_BATCH ids (here 2)."""
    from django.contrib.admin.models import LogEntry
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from broadcasts.models import MonthlyReportBroadcastQuerySet
    from broadcasts.services import broadcast_resend, repair

    monkeypatch.setattr(repair, "RETRY_BATCH", 2)
    failed = [
        guardian_row(
            monthly_report=report, student=make_student(), phone_number="x", status="failed"
        )
        for _ in range(5)
    ]
    kept = [
        guardian_row(
            monthly_report=report, student=make_student(""), phone_number="x", status="failed"
        )
        for _ in range(3)
    ]
    if not returning:
        monkeypatch.setattr(
            MonthlyReportBroadcastQuerySet, "update_returning", lambda *a, **k: None
        )
    with CaptureQueriesContext(connection) as queries:
        # As the broadcast list's action passes them: the selection as a query.
        outcome = broadcast_resend(
            broadcast_ids=MonthlyReportBroadcast.objects.values_list("pk", flat=True),
            requested_by=admin_user,
        )

    assert sorted(outcome.resent) == [row.pk for row in failed]
    assert sorted(outcome.no_phone) == [row.pk for row in kept]
    assert set(MonthlyReportBroadcast.objects.values_list("pk", "status")) == {
        *((row.pk, "pending") for row in failed),
        *((row.pk, "failed") for row in kept),
    }
    assert sorted(LogEntry.objects.values_list("object_id", "change_message")) == sorted(
        [(str(row.pk), "Dikirim ulang dengan percobaan baru.") for row in failed]
        + [
            (str(row.pk), "Tidak dikirim ulang: wali murid tidak punya nomor WhatsApp.")
            for row in kept
        ]
    )
    id_lists = [
        ids.split(",")
        for query in queries.captured_queries
        for ids in re.findall(r"IN \((\d+(?:,\s*\d+)*)\)", query["sql"])
    ]
    assert id_lists and max(len(ids) for ids in id_lists) == 2


def section(page, css_class):
    """The text of the ``<ul class="css_class">`` list on a confirmation page, tags removed."""
    return re.sub(r"<[^>]+>", "", page.split(f'class="{css_class}"')[1].split("</ul>")[0])


@pytest.mark.parametrize(
    ("action", "status", "count_text"),
    [
        ("retry_failed", "failed", "1 failed message will be sent again"),
        (
            "resend_unknown",
            "unknown",
            "Messages with an unknown outcome that will be sent again, with fresh attempts: 1.",
        ),
    ],
)
def test_a_number_still_invalid_is_not_counted_as_resent_but_named_to_fix_first(
    admin_client, report, make_student, dispatch, action, status, count_text
):
    def row(student, monthly_report=report):
        return guardian_row(
            monthly_report=monthly_report,
            student=student,
            phone_number="0812",
            status=status,
            error_message="Nomor tidak valid",
        )

    eko = make_student("0812", name="Eko Prasetyo")
    december = MonthlyReport.objects.create(classroom=report.classroom, month=12, year=2026)
    # Eko's number is still invalid: both his rows (two months) would fail again at once.
    selected = [row(eko), row(eko, december), row(make_student(name="Fitri"))]

    page = admin_client.post(
        CHANGELIST, {"action": action, "_selected_action": [r.pk for r in selected]}, **EN
    ).content.decode()

    assert count_text in page
    assert "Will fail again, the number is not a valid Indonesian mobile number: 2." in page
    invalid_list = section(page, "wa-invalid")
    assert invalid_list.count("Eko Prasetyo (N00001), Ibu Siti (mother): fix the number first") == 1
    listed = page.split("wa-current-number")[0]  # the list of those sent again
    assert "Fitri" in listed and "Eko Prasetyo" not in listed
    assert [status_of(r) for r in selected] == [status] * 3  # a confirmation changes nothing


def test_only_invalid_numbers_offer_no_confirm_button(admin_client, report, make_student):
    row = guardian_row(
        monthly_report=report,
        student=make_student("12345", name="Eko Prasetyo"),
        phone_number="12345",
        status="failed",
    )

    page = post_action(admin_client, [row]).content.decode()

    assert "Nothing can be resent now: correct the guardians' numbers of the children below" in page
    assert "will be sent again" not in page and "Confirming" not in page
    assert "Eko Prasetyo" in section(page, "wa-invalid")
    assert 'value="Yes, resend"' not in page


# --- Resending unknown rows: a confirmation that says the parent may have it -----------------


def post_unknown(client, selected, **extra):
    data = {"action": "resend_unknown", "_selected_action": [row.pk for row in selected], **extra}
    return client.post(CHANGELIST, data, **EN)


def test_resending_unknown_rows_first_warns_and_changes_nothing(admin_client, rows, dispatch):
    response = post_unknown(admin_client, rows.values())

    assert response.status_code == 200
    assert response.templates[0].name.endswith("resend_unknown_confirmation.html")
    page = response.content.decode()
    assert "The parent may already have this message." in page
    assert "gets it twice" in page
    assert (
        "Messages with an unknown outcome that will be sent again, with fresh attempts: 1." in page
    )
    assert "Citra Lestari" in page
    assert "Failed messages: 1." in page  # not resent by this action
    assert 'name="post" value="yes"' in page
    assert 'name="action" value="resend_unknown"' in page
    assert {name: status_of(row) for name, row in rows.items()} == {
        "failed": "failed",
        "sent": "sent",
        "unknown": "unknown",
        "pending": "pending",
    }
    dispatch.assert_not_called()


def test_confirming_resends_the_unknown_rows_only(
    admin_client, admin_user, rows, dispatch, django_capture_on_commit_callbacks
):
    from django.contrib.admin.models import LogEntry

    with django_capture_on_commit_callbacks(execute=True):
        response = post_unknown(admin_client, rows.values(), post="yes")

    assert response.status_code == 302
    assert {name: status_of(row) for name, row in rows.items()} == {
        "failed": "failed",
        "sent": "sent",
        "unknown": "pending",
        "pending": "pending",
    }
    dispatch.assert_called_once_with()
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "1 message with an unknown outcome will be sent again." in message
    assert list(LogEntry.objects.values_list("object_id", "user")) == [
        (str(rows["unknown"].pk), admin_user.pk)
    ]


def test_a_teacher_cannot_resend_unknown_rows(client, django_user_model, rows, dispatch):
    teacher = django_user_model.objects.create_user("guru", password="pw", is_staff=True)
    teacher.groups.add(Group.objects.get(name="guru"))
    rows["failed"].monthly_report.classroom.teachers.add(teacher)  # their own class's rows
    client.force_login(teacher)

    post_unknown(client, rows.values())
    post_unknown(client, rows.values(), post="yes")

    assert status_of(rows["unknown"]) == "unknown"
    dispatch.assert_not_called()


# --- The list filtered by report ---------------------------------------------------------------


def test_the_list_filters_by_report_and_offers_only_reports_with_rows(
    admin_client, rows, report, classroom, make_student
):
    from reports.models import MonthlyReport

    other = MonthlyReport.objects.create(classroom=classroom, month=12, year=2026)
    MonthlyReport.objects.create(classroom=classroom, month=1, year=2027)  # no rows
    theirs = guardian_row(
        monthly_report=other, student=make_student(), phone_number="62812", status="failed"
    )
    orphan = guardian_row(
        monthly_report=None, student=make_student(), phone_number="62812", status="failed"
    )

    page = admin_client.get(CHANGELIST).content.decode()
    mine = admin_client.get(CHANGELIST, {"monthly_report__id__exact": report.pk})
    deleted = admin_client.get(CHANGELIST, {"monthly_report__id__exact": "deleted"})

    assert f"?monthly_report__id__exact={report.pk}" in page
    assert f"?monthly_report__id__exact={other.pk}" in page
    assert "Januari 2027" not in page
    assert set(mine.context["cl"].result_list) == set(rows.values())
    assert theirs not in mine.context["cl"].result_list
    assert list(deleted.context["cl"].result_list) == [orphan]


# --- Rows a resend leaves as they are: not on WhatsApp, report deleted ---------------------


@pytest.mark.parametrize(
    ("action", "status", "count_text", "done_text"),
    [
        (
            "retry_failed",
            "failed",
            "1 failed message will be sent again",
            "1 failed message will be sent again.",
        ),
        (
            "resend_unknown",
            "unknown",
            "Messages with an unknown outcome that will be sent again, with fresh attempts: 1.",
            "1 message with an unknown outcome will be sent again.",
        ),
    ],
)
def test_a_number_not_on_whatsapp_is_not_resent_and_named(
    admin_client,
    report,
    make_student,
    dispatch,
    django_capture_on_commit_callbacks,
    action,
    status,
    count_text,
    done_text,
):

    eko = make_student(name="Eko Prasetyo")
    Guardian.objects.filter(student=eko).update(whatsapp_registered=False)
    flagged, other = (
        guardian_row(
            monthly_report=report,
            student=student,
            phone_number="6281234567890",
            status=status,
            retry_count=3,
            error_message="Fonnte tidak menjawab.",
        )
        for student in (eko, make_student(name="Fitri"))
    )

    page = post_action(admin_client, [flagged, other], action=action).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(admin_client, [flagged, other], action=action, post="yes")

    assert count_text in page
    assert "Not resent, the number is not on WhatsApp: 1." in page
    assert "Eko Prasetyo (N00001), Ibu Siti (mother): correct the number first" in section(
        page, "wa-not-on-whatsapp"
    )
    listed = page.split("wa-current-number")[0]  # the list of those sent again
    assert "Fitri" in listed and "Eko Prasetyo" not in listed
    flagged.refresh_from_db()
    # Creation never messages such a number (README: it "gets no message"); nor does a resend.
    assert (flagged.status, flagged.retry_count, flagged.error_message) == (
        status,
        3,
        "Fonnte tidak menjawab.",
    )
    assert status_of(other) == "pending"
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown[0] == done_text
    assert shown[1].startswith(
        "Not resent, the number is not on WhatsApp: 1. Correct the guardian's number"
    )


def test_rows_of_a_deleted_report_are_not_resent_and_named(
    admin_client, admin_user, report, make_student, dispatch, django_capture_on_commit_callbacks
):
    from django.contrib.admin.models import LogEntry

    orphan, other = (
        guardian_row(
            monthly_report=monthly_report,
            student=make_student(),
            phone_number="6281234567890",
            status="failed",
            retry_count=1,
            error_message="Laporan bulanan tidak ditemukan.",
        )
        for monthly_report in (None, report)
    )

    page = post_action(admin_client, [orphan, other]).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(admin_client, [orphan, other], post="yes")

    # Put back, it would only fail again at once, spend an attempt and alert the admins.
    assert "1 failed message will be sent again" in page
    assert "Not resent, the report was deleted: 1." in page
    assert "report deleted" not in section(page, "wa-failed")
    orphan.refresh_from_db()
    assert (orphan.status, orphan.retry_count, orphan.error_message) == (
        "failed",
        1,
        "Laporan bulanan tidak ditemukan.",
    )
    assert status_of(other) == "pending"
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown[0] == "1 failed message will be sent again."
    assert shown[1].startswith("Not resent, the report was deleted: 1.")
    notes = dict(LogEntry.objects.values_list("object_id", "change_message"))
    assert notes[str(orphan.pk)] == "Tidak dikirim ulang: laporannya sudah dihapus."


def test_the_success_message_does_not_count_invalid_numbers_as_sent_again(
    admin_client, report, make_student, dispatch, django_capture_on_commit_callbacks
):
    invalid, valid = (
        guardian_row(monthly_report=report, student=student, phone_number="0812", status="failed")
        for student in (make_student("0812"), make_student())
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(admin_client, [invalid, valid], post="yes")

    # Both put back (the invalid one fails at once, the admins are told), one goes to Fonnte:
    # as the report list's resend says it.
    assert [status_of(invalid), status_of(valid)] == ["pending", "pending"]
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "1 failed message will be sent again.",
        "Will fail again, the number is not a valid Indonesian mobile number: 1. Fix the "
        "guardian's number in the student data first, then resend.",
    ]


def test_without_update_returning_the_update_is_still_guarded(report, rows, dispatch):
    """MySQL/MariaDB's path: a row whose status changed after it was read is not touched."""
    from broadcasts.models import MonthlyReportBroadcastQuerySet
    from broadcasts.services import broadcast_resend

    real_select_for_update = MonthlyReportBroadcastQuerySet.select_for_update

    class SentMeanwhile:
        """The locked read, then the row sent by a worker before the update runs."""

        def __init__(self, queryset):
            self.queryset = queryset

        def values_list(self, *fields, **kwargs):
            ids = list(real_select_for_update(self.queryset).values_list(*fields, **kwargs))
            MonthlyReportBroadcast.objects.filter(pk=rows["failed"].pk).update(status="sent")
            return ids

    with (
        mock.patch.object(MonthlyReportBroadcastQuerySet, "update_returning", return_value=None),
        mock.patch.object(
            MonthlyReportBroadcastQuerySet,
            "select_for_update",
            lambda queryset, **options: SentMeanwhile(queryset),
        ),
    ):
        outcome = broadcast_resend(broadcast_ids=[rows["failed"].pk])

    assert outcome.resent == ()
    assert status_of(rows["failed"]) == "sent"
    dispatch.assert_not_called()


def test_rows_not_sent_yet_are_counted_in_the_progress_words(admin_client, rows, dispatch):
    """The report's progress says "menunggu" and "dalam proses": the resend page too."""
    data = {"action": "retry_failed", "_selected_action": [row.pk for row in rows.values()]}

    page = admin_client.post(CHANGELIST, data, HTTP_ACCEPT_LANGUAGE="id").content.decode()

    assert "1 pesan masih menunggu atau dalam proses." in page


@pytest.mark.parametrize("odd", ["²", "٣", "99999999999999999999999"])
def test_an_odd_report_in_the_filter_is_no_server_error(admin_client, rows, odd):
    # A digit that is no ASCII digit ("²", Arabic-Indic "٣") passes str.isdigit() and int()
    # refused it or read it; a number past the ids' range overflowed SQLite: both were a 500.
    response = admin_client.get(CHANGELIST, {"monthly_report__id__exact": odd})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
