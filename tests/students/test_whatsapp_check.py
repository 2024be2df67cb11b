"""Checking parents' numbers on WhatsApp: the service and its lease, the admin, form and import."""

import csv
import io
import json
import tempfile
import threading
from datetime import timedelta
from unittest import mock
from urllib.parse import parse_qs

import pytest
import requests
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connections
from django.utils import timezone
from import_export.formats.base_formats import CSV

from notifications.whatsapp import SenderRejected, locmem
from students.models import Student, WhatsAppCheckLease
from students.resources import StudentResource
from students.services import (
    WhatsAppCheckBusy,
    student_check_whatsapp,
    whatsapp_check_lease,
)
from tests.conftest import FONNTE_TEST_URL

VALIDATE_URL = FONNTE_TEST_URL.rsplit("/", 1)[0] + "/validate"
CHANGELIST = "/admin/students/student/"


@pytest.fixture(autouse=True)
def locmem_numbers():
    locmem.validate_calls.clear()
    locmem.not_on_whatsapp.clear()
    yield locmem
    locmem.validate_calls.clear()
    locmem.not_on_whatsapp.clear()


@pytest.fixture
def delay():
    with mock.patch("students.tasks.check_whatsapp_numbers.delay") as delay:
        yield delay


def validate_answer(registered=(), not_registered=()):
    return {"registered": list(registered), "not_registered": list(not_registered), "status": True}


# --- The service -----------------------------------------------------------------------------


def test_the_check_records_who_is_on_whatsapp(make_student, locmem_numbers):
    on = make_student("0812-3456-7890")
    off = make_student("0813-1111-2222")
    locmem_numbers.not_on_whatsapp.add("6281311112222")
    no_phone = make_student("")
    invalid = make_student("0812")

    outcome = student_check_whatsapp(student_ids=[on.pk, off.pk, no_phone.pk, invalid.pk])

    assert (outcome.registered, outcome.not_registered, outcome.invalid) == (1, 1, 1)
    states = dict(Student.objects.values_list("pk", "whatsapp_registered"))
    assert states == {on.pk: True, off.pk: False, no_phone.pk: None, invalid.pk: None}
    assert Student.objects.get(pk=on.pk).whatsapp_checked_at is not None
    # Stored as entered (0812-…) or normalized: Fonnte is asked with 62… numbers, once.
    assert locmem_numbers.validate_calls == [("6281234567890", "6281311112222")]


def test_numbers_fonnte_does_not_name_stay_unchecked(fonnte, make_student):
    student = make_student("0812-3456-7890")
    fonnte.post(VALIDATE_URL, json=validate_answer())

    outcome = student_check_whatsapp(student_ids=[student.pk])

    assert outcome.unknown == 1
    assert Student.objects.get(pk=student.pk).whatsapp_registered is None


def test_a_number_changed_during_the_check_keeps_its_unchecked_state(fonnte, make_student):
    student = make_student("0812-3456-7890")

    def answer(request):
        # An admin corrects the number while Fonnte answers about the old one.
        Student.objects.filter(pk=student.pk).update(parent_phone="6281399998888")
        return 200, {}, '{"registered": [], "not_registered": ["6281234567890"], "status": true}'

    fonnte.add_callback("POST", VALIDATE_URL, callback=answer)

    student_check_whatsapp(student_ids=[student.pk])

    assert Student.objects.get(pk=student.pk).whatsapp_registered is None


def test_a_failed_check_records_nothing_and_frees_the_lease(fonnte, make_student):
    student = make_student("0812-3456-7890")
    fonnte.post(VALIDATE_URL, json={"status": False, "reason": "token invalid"})

    with pytest.raises(SenderRejected):
        student_check_whatsapp(student_ids=[student.pk])

    assert Student.objects.get(pk=student.pk).whatsapp_registered is None
    assert WhatsAppCheckLease.objects.get().expires_at is None


def test_a_held_lease_keeps_a_second_check_away_from_fonnte(fonnte, make_student):
    student = make_student("0812-3456-7890")

    with whatsapp_check_lease(seconds=60), pytest.raises(WhatsAppCheckBusy):
        student_check_whatsapp(student_ids=[student.pk])

    assert not fonnte.calls


def test_an_expired_lease_is_taken_over(make_student):
    student = make_student("0812-3456-7890")
    WhatsAppCheckLease.objects.create(
        pk=1, holder="crashed-worker", expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert student_check_whatsapp(student_ids=[student.pk]).registered == 1


def test_the_lease_is_exclusive_and_released(db):
    with whatsapp_check_lease(seconds=60) as holder:
        assert WhatsAppCheckLease.objects.get().holder == holder
        with pytest.raises(WhatsAppCheckBusy), whatsapp_check_lease(seconds=60):
            pass
    with whatsapp_check_lease(seconds=60):
        pass  # free again


@pytest.mark.django_db(transaction=True)  # each thread commits on its own connection
def test_two_checks_racing_make_one_validate_call(fonnte, make_student):
    student = make_student("0812-3456-7890")
    start = threading.Barrier(2, timeout=10)  # both ask for the lease at the same moment
    # The first /validate call is still open until both checks have tried: a second
    # check that also got the lease would call Fonnte beside it.
    both_tried = threading.Barrier(2, timeout=10)
    outcomes = []

    def answer(request):
        both_tried.wait()
        return 200, {}, json.dumps(validate_answer(registered=["6281234567890"]))

    def check():
        try:
            start.wait()
            try:
                outcomes.append(student_check_whatsapp(student_ids=[student.pk]).registered)
            except WhatsAppCheckBusy:
                outcomes.append("busy")
                both_tried.wait()
        finally:
            connections.close_all()  # this thread's connection

    fonnte.add_callback("POST", VALIDATE_URL, callback=answer)
    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert len(fonnte.calls) == 1
    assert sorted(outcomes, key=str) == [1, "busy"]
    assert WhatsAppCheckLease.objects.get().expires_at is None  # and freed


def test_the_task_retries_while_another_check_runs(celery_eager, make_student):
    from students.tasks import check_whatsapp_numbers

    student = make_student("0812-3456-7890")
    with (
        whatsapp_check_lease(seconds=60),
        mock.patch.object(check_whatsapp_numbers, "retry", side_effect=RuntimeError) as retry,
    ):
        check_whatsapp_numbers.apply(kwargs={"student_ids": [student.pk]})
    assert isinstance(retry.call_args.kwargs["exc"], WhatsAppCheckBusy)


def test_the_task_does_not_retry_a_refused_token(celery_eager, fonnte, make_student):
    from students.tasks import check_whatsapp_numbers

    student = make_student("0812-3456-7890")
    fonnte.post(VALIDATE_URL, json={"status": False, "reason": "token invalid"})
    with mock.patch.object(check_whatsapp_numbers, "retry") as retry:
        result = check_whatsapp_numbers.apply(kwargs={"student_ids": [student.pk]})
    assert isinstance(result.result, SenderRejected)
    retry.assert_not_called()


# --- A number that changes is checked again ------------------------------------------------


def test_changing_the_number_resets_the_check(make_student):
    student = make_student("0812-3456-7890")
    Student.objects.filter(pk=student.pk).update(
        whatsapp_registered=False, whatsapp_checked_at=timezone.now()
    )

    same = Student.objects.get(pk=student.pk)
    same.full_name = "Nama Baru"
    same.save()
    assert Student.objects.get(pk=student.pk).whatsapp_registered is False

    changed = Student.objects.get(pk=student.pk)
    changed.parent_phone = "6281399998888"
    changed.save(update_fields=["parent_phone"])
    fresh = Student.objects.get(pk=student.pk)
    assert fresh.whatsapp_registered is None and fresh.whatsapp_checked_at is None


# --- Admin -------------------------------------------------------------------------------------


def test_the_admin_action_checks_in_the_background(
    admin_client, make_student, celery_eager, locmem_numbers, django_capture_on_commit_callbacks
):
    on = make_student("0812-3456-7890")
    off = make_student("0813-1111-2222")
    no_phone = make_student("")
    locmem_numbers.not_on_whatsapp.add("6281311112222")
    Student.objects.update(whatsapp_registered=None)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST,
            {"action": "check_whatsapp_numbers", "_selected_action": [on.pk, off.pk, no_phone.pk]},
        )

    assert response.status_code == 302
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "2 nomor akan diperiksa" in message
    assert Student.objects.get(pk=on.pk).whatsapp_registered is True
    assert Student.objects.get(pk=off.pk).whatsapp_registered is False


def test_without_workers_the_action_checks_at_once_and_says_why_it_failed(
    admin_client, settings, fonnte, make_student
):
    settings.WHATSAPP_RUNNER = "cron"
    student = make_student("0812-3456-7890")
    fonnte.post(VALIDATE_URL, json={"status": False, "reason": "token invalid"})

    response = admin_client.post(
        CHANGELIST, {"action": "check_whatsapp_numbers", "_selected_action": [student.pk]}
    )

    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert 'Fonnte menolak pemeriksaan (Fonnte menjawab: "token invalid")' in message


def test_without_workers_the_action_reports_what_it_found(
    admin_client, settings, fonnte, make_student
):
    settings.WHATSAPP_RUNNER = "cron"
    student = make_student("0812-3456-7890")
    fonnte.post(VALIDATE_URL, json=validate_answer(not_registered=["6281234567890"]))

    response = admin_client.post(
        CHANGELIST, {"action": "check_whatsapp_numbers", "_selected_action": [student.pk]}
    )

    (message,) = get_messages(response.wsgi_request)
    assert "0 ada di WhatsApp, 1 tidak ada di WhatsApp" in str(message)
    assert message.level_tag == "warning"  # a parent will get no message: not a success
    assert parse_qs(fonnte.calls[0].request.body)["target"] == ["6281234567890"]
    assert Student.objects.get(pk=student.pk).whatsapp_registered is False


def test_the_list_flags_numbers_not_on_whatsapp_and_filters_them(admin_client, make_student):
    on = make_student("0812-3456-7890", name="Aisyah Putri")
    off = make_student("0813-1111-2222", name="Bima Saputra")
    make_student("0813-3333-4444", name="Citra Lestari")
    Student.objects.filter(pk=on.pk).update(whatsapp_registered=True)
    Student.objects.filter(pk=off.pk).update(whatsapp_registered=False)

    page = admin_client.get(CHANGELIST).content.decode()
    assert 'class="wa-not-registered"' in page and "TIDAK ada di WhatsApp" in page
    assert "belum diperiksa" in page

    flagged = admin_client.get(CHANGELIST, {"whatsapp_registered__exact": "0"})
    assert [s.pk for s in flagged.context["cl"].result_list] == [off.pk]


def test_the_filter_names_unchecked_numbers_as_the_column_does(admin_client, make_student):
    checked = make_student("0812-3456-7890", name="Aisyah Putri")
    unchecked = make_student("0813-1111-2222", name="Bima Saputra")
    Student.objects.filter(pk=checked.pk).update(whatsapp_registered=True)

    page = admin_client.get(CHANGELIST)
    choices = [
        choice["display"]
        for spec in page.context["cl"].filter_specs
        if spec.field_path == "whatsapp_registered"
        for choice in spec.choices(page.context["cl"])
    ]
    only_unchecked = admin_client.get(CHANGELIST, {"whatsapp_registered__isnull": "True"})

    assert choices == ["Semua", "Ya", "Tidak", "Belum diperiksa"]
    assert "Tidak pasti" not in page.content.decode()
    assert [s.pk for s in only_unchecked.context["cl"].result_list] == [unchecked.pk]


def test_saving_a_student_with_a_new_number_queues_its_check(
    admin_client, classroom, delay, django_capture_on_commit_callbacks
):
    data = {
        "nis": "1234567890",
        "full_name": "Aisyah Putri",
        "classroom": classroom.pk,
        "parent_name": "Ibu Siti",
        "parent_phone": "0812-3456-7890",
    }
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post("/admin/students/student/add/", data)
    assert response.status_code == 302
    delay.assert_not_called()  # only after the commit

    for callback in callbacks:
        callback()
    student = Student.objects.get()
    delay.assert_called_once_with(student_ids=[student.pk])

    # Saved again with the same number, already checked: nothing to check.
    Student.objects.update(whatsapp_registered=True)
    delay.reset_mock()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/admin/students/student/{student.pk}/change/", data)
    delay.assert_not_called()


# --- Import ------------------------------------------------------------------------------------


def dataset(rows):
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["nis", "full_name", "classroom", "parent_name", "parent_phone"])
    writer.writerows(rows)
    return CSV().create_dataset(text.getvalue())


def test_an_import_queues_the_check_of_new_and_changed_numbers_after_commit(
    classroom, make_student, delay, django_capture_on_commit_callbacks
):
    unchanged = make_student("0812-3456-7890")
    changed = make_student("0813-1111-2222")
    Student.objects.update(whatsapp_registered=True)
    rows = [
        [unchanged.nis, unchanged.full_name, classroom.name, "Ibu Siti", "6281234567890"],
        [changed.nis, changed.full_name, classroom.name, "Ibu Siti", "0813-9999-8888"],
        ["N900", "Murid Baru", classroom.name, "Ibu Ani", "0812-7777-6666"],
        ["N901", "Tanpa Nomor", classroom.name, "", ""],
    ]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = StudentResource().import_data(dataset(rows), dry_run=False, use_transactions=True)
    assert not result.has_errors() and not result.has_validation_errors()
    delay.assert_not_called()  # never during the import

    for callback in callbacks:
        callback()
    new = Student.objects.get(nis="N900")
    delay.assert_called_once_with(student_ids=sorted([changed.pk, new.pk]))
    assert Student.objects.get(pk=unchanged.pk).whatsapp_registered is True


def test_the_import_preview_queues_nothing(classroom, delay, django_capture_on_commit_callbacks):
    rows = [["N900", "Murid Baru", classroom.name, "Ibu Ani", "0812-7777-6666"]]
    with django_capture_on_commit_callbacks(execute=True):
        StudentResource().import_data(dataset(rows), dry_run=True, use_transactions=True)
    delay.assert_not_called()


@pytest.fixture
def upload_dir(tmp_path, monkeypatch):
    """Where the library keeps an upload between preview and confirm."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


@pytest.mark.usefixtures("upload_dir")
def test_an_import_through_the_admin_never_calls_fonnte(
    admin_client, classroom, fonnte, delay, django_capture_on_commit_callbacks
):
    text = "nis,full_name,classroom,parent_name,parent_phone\n"
    text += f"N900,Murid Baru,{classroom.name},Ibu Ani,0812-7777-6666\n"
    upload = SimpleUploadedFile("students.csv", text.encode(), "text/csv")
    page = admin_client.get("/admin/students/student/import/")
    choices = dict(page.context["form"].fields["format"].choices)
    csv_choice = next(value for value, title in choices.items() if title == "csv")
    preview = admin_client.post(
        "/admin/students/student/import/",
        {"resource": "0", "format": csv_choice, "import_file": upload},
    )
    form = preview.context["confirm_form"]
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/students/student/process_import/",
            {name: form[name].value() for name in form.fields},
        )

    assert Student.objects.filter(nis="N900").exists()
    assert not fonnte.calls
    delay.assert_called_once()


# --- Command -----------------------------------------------------------------------------------


def test_the_command_checks_unchecked_numbers(make_student, locmem_numbers):
    checked = make_student("0812-3456-7890")
    Student.objects.filter(pk=checked.pk).update(whatsapp_registered=True)
    unchecked = make_student("0813-1111-2222")
    out = io.StringIO()

    call_command("check_whatsapp_numbers", stdout=out)

    assert locmem_numbers.validate_calls == [("6281311112222",)]
    assert Student.objects.get(pk=unchecked.pk).whatsapp_registered is True
    assert "1 on WhatsApp" in out.getvalue()


def test_the_command_fails_loudly_when_fonnte_fails(fonnte, make_student):
    make_student("0812-3456-7890")
    fonnte.post(VALIDATE_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(CommandError, match="TemporaryFailure"):
        call_command("check_whatsapp_numbers")
