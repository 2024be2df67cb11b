"""Checking guardians' numbers on WhatsApp: the service and its lease, admin, form, import."""

import csv
import io
import json
import re
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
from students.models import Guardian, Student, WhatsAppCheckLease
from students.resources import StudentResource
from students.services import (
    WhatsAppCheckBusy,
    student_check_whatsapp,
    student_queue_whatsapp_check,
    whatsapp_check_batches,
    whatsapp_check_lease,
)
from tests.conftest import FONNTE_TEST_URL
from tests.students.student_pages import saved, student_data

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


def state(student):
    """The WhatsApp check state of a student's only guardian."""
    return Guardian.objects.get(student=student).whatsapp_registered


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
    states = dict(Guardian.objects.values_list("student_id", "whatsapp_registered"))
    assert states == {on.pk: True, off.pk: False, no_phone.pk: None, invalid.pk: None}
    assert Guardian.objects.get(student=on).whatsapp_checked_at is not None
    # Stored as entered (0812-…) or normalized: Fonnte is asked with 62… numbers, once.
    assert locmem_numbers.validate_calls == [("6281234567890", "6281311112222")]


def test_numbers_fonnte_does_not_name_stay_unchecked(fonnte, make_student):
    student = make_student("0812-3456-7890")
    fonnte.post(VALIDATE_URL, json=validate_answer())

    outcome = student_check_whatsapp(student_ids=[student.pk])

    assert outcome.unknown == 1
    assert state(student) is None


def test_a_number_changed_during_the_check_keeps_its_unchecked_state(fonnte, make_student):
    student = make_student("0812-3456-7890")

    def answer(request):
        # An admin corrects the number while Fonnte answers about the old one.
        Guardian.objects.filter(student=student).update(phone="6281399998888")
        return 200, {}, '{"registered": [], "not_registered": ["6281234567890"], "status": true}'

    fonnte.add_callback("POST", VALIDATE_URL, callback=answer)

    student_check_whatsapp(student_ids=[student.pk])

    assert state(student) is None


def test_a_failed_check_records_nothing_and_frees_the_lease(fonnte, make_student):
    student = make_student("0812-3456-7890")
    fonnte.post(VALIDATE_URL, json={"status": False, "reason": "token invalid"})

    with pytest.raises(SenderRejected):
        student_check_whatsapp(student_ids=[student.pk])

    assert state(student) is None
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


def test_batches_count_numbers_not_children(make_student, make_guardian, monkeypatch):
    monkeypatch.setattr("students.services.VALIDATE_CHUNK", 3)
    two = [make_student(f"0812-0000-000{n}") for n in range(2)]
    for n, student in enumerate(two):
        make_guardian(student, "ayah", f"0813-0000-000{n}")
    none = make_student("")
    one = make_student("0812-0000-0009")

    batches = whatsapp_check_batches(student_ids=[one.pk, none.pk, *(s.pk for s in two)])

    assert batches == [[two[0].pk], [two[1].pk, none.pk, one.pk]]


def test_each_queued_task_makes_one_validate_call(
    make_student, make_guardian, celery_eager, locmem_numbers, monkeypatch
):
    monkeypatch.setattr("students.services.VALIDATE_CHUNK", 4)
    students = [make_student(f"0812-0000-000{n}") for n in range(3)]
    for n, student in enumerate(students):
        make_guardian(student, "ayah", f"0813-0000-000{n}")

    with mock.patch("django.db.transaction.on_commit", lambda callback, robust: callback()):
        tasks = student_queue_whatsapp_check(student_ids=[s.pk for s in students])

    assert tasks == 2
    assert [len(numbers) for numbers in locmem_numbers.validate_calls] == [4, 2]
    assert not Guardian.objects.filter(whatsapp_registered__isnull=True).exists()


# --- A number that changes is checked again ------------------------------------------------


def test_changing_the_number_resets_the_check(make_student):
    student = make_student("0812-3456-7890")
    Guardian.objects.update(whatsapp_registered=False, whatsapp_checked_at=timezone.now())

    same = Guardian.objects.get(student=student)
    same.name = "Nama Baru"
    same.phone = "6281234567890"  # the same number, as stored after a form
    same.save()
    assert state(student) is False

    changed = Guardian.objects.get(student=student)
    changed.phone = "6281399998888"
    changed.save(update_fields=["phone"])
    fresh = Guardian.objects.get(student=student)
    assert fresh.whatsapp_registered is None and fresh.whatsapp_checked_at is None


# --- Admin -------------------------------------------------------------------------------------


def test_the_admin_action_checks_in_the_background(
    admin_client,
    make_student,
    make_guardian,
    celery_eager,
    locmem_numbers,
    django_capture_on_commit_callbacks,
):
    on = make_student("0812-3456-7890")
    ayah = make_guardian(on, "ayah", "0857-1111-2222")
    off = make_student("0813-1111-2222")
    no_phone = make_student("")
    locmem_numbers.not_on_whatsapp.add("6281311112222")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST,
            {"action": "check_whatsapp_numbers", "_selected_action": [on.pk, off.pk, no_phone.pk]},
        )

    assert response.status_code == 302
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "3 nomor akan diperiksa" in message  # numbers, not children
    assert Guardian.objects.get(pk=ayah.pk).whatsapp_registered is True
    assert Guardian.objects.get(student=on, relation="ibu").whatsapp_registered is True
    assert state(off) is False


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
    assert state(student) is False


@pytest.fixture
def guardians_states(make_student, make_guardian):
    """One child per state of its guardians' numbers."""
    on = make_student("0812-3456-7890", name="Aisyah Putri", whatsapp_registered=True)
    one_off = make_student("0813-1111-2222", name="Bima Saputra", whatsapp_registered=True)
    ayah = make_guardian(one_off, "ayah", "0813-5555-6666")
    Guardian.objects.filter(pk=ayah.pk).update(whatsapp_registered=False)
    unchecked = make_student("0813-3333-4444", name="Citra Lestari")
    no_phone = make_student("", name="Dewi Anggraini")
    # Not on WhatsApp, but asked for no messages: it keeps nobody from a message.
    opted_out = make_student("0813-7777-8888", name="Eko Prasetyo", whatsapp_registered=False)
    Guardian.objects.filter(student=opted_out).update(receives_messages=False)
    nobody = Student.objects.create(nis="N999", full_name="Fajar Nugroho", classroom=on.classroom)
    return {
        "on": on,
        "one_off": one_off,
        "unchecked": unchecked,
        "no_phone": no_phone,
        "opted_out": opted_out,
        "nobody": nobody,
    }


def whatsapp_cells(page):
    """The "On WhatsApp" column's text per child's name, its lines joined by " / "."""
    table = page.split('id="result_list"')[1].split("</table>")[0]
    cells = {}
    for row in table.split("<tr")[2:]:
        name = re.search(r'field-full_name"><a [^>]*>([^<]*)</a>', row).group(1)
        cell = re.search(r'field-whatsapp_state">(.*?)</td>', row).group(1)
        cells[name] = " / ".join(re.findall(r">([^<]+)<", f">{cell}<"))
    return cells


def test_the_list_sums_up_each_childs_guardians(admin_client, guardians_states):
    page = admin_client.get(CHANGELIST).content.decode()

    assert whatsapp_cells(page) == {
        "Aisyah Putri": "ya",
        "Bima Saputra": "1 dari 2 TIDAK ada di WhatsApp",
        "Citra Lestari": "belum diperiksa",
        "Dewi Anggraini": "tanpa nomor",
        "Eko Prasetyo": "tidak ada wali penerima pesan",
        "Fajar Nugroho": "tidak ada wali penerima pesan",
    }
    # Who gets no message is flagged (strong, red in list.css); the rest is plain.
    assert '<strong class="wa-not-registered">1 dari 2 TIDAK ada di WhatsApp</strong>' in page
    assert '<strong class="wa-nobody">' in page
    assert '<span class="wa-unchecked">belum diperiksa</span>' in page


@pytest.mark.parametrize(
    ("value", "children"),
    [
        ("not_registered", ["one_off"]),
        ("unchecked", ["unchecked"]),
        ("no_phone", ["no_phone"]),
        ("nobody", ["opted_out", "nobody"]),
    ],
)
def test_the_filter_by_the_guardians_numbers(admin_client, guardians_states, value, children):
    shown = admin_client.get(CHANGELIST, {"wa": value}).context["cl"].result_list

    assert sorted(s.pk for s in shown) == sorted(guardians_states[c].pk for c in children)


def test_the_filter_names_its_choices_in_indonesian(admin_client, guardians_states):
    page = admin_client.get(CHANGELIST)
    (spec,) = [spec for spec in page.context["cl"].filter_specs if spec.parameter_name == "wa"]

    assert [c["display"] for c in spec.choices(page.context["cl"])] == [
        "Semua",
        "ada nomor tanpa WhatsApp",
        "belum diperiksa",
        "ada wali tanpa nomor",
        "tidak ada wali penerima pesan",
    ]


def test_a_child_with_two_unchecked_numbers_is_listed_once(
    admin_client, make_student, make_guardian
):
    student = make_student("0812-3456-7890")
    make_guardian(student, "ayah", "0813-1111-2222")

    shown = admin_client.get(CHANGELIST, {"wa": "unchecked"}).context["cl"]

    assert list(shown.result_list) == [student] and shown.result_count == 1


def test_saving_a_student_with_a_new_number_queues_its_check(
    admin_client, classroom, delay, django_capture_on_commit_callbacks
):
    data = student_data(classroom, {"name": "Ibu Siti", "phone": "0812-3456-7890"})
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(f"{CHANGELIST}add/", data)
    assert response.status_code == 302
    delay.assert_not_called()  # only after the commit

    for callback in callbacks:
        callback()
    student = Student.objects.get()
    delay.assert_called_once_with(student_ids=[student.pk])

    # Saved again with the same number (typed as before), already checked: nothing to check.
    Guardian.objects.update(whatsapp_registered=True)
    (ibu,) = student.guardians.all()
    delay.reset_mock()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            f"{CHANGELIST}{student.pk}/change/",
            student_data(classroom, saved(ibu, phone="0812-3456-7890", name="Ibu Siti Aminah")),
        )
    delay.assert_not_called()
    assert state(student) is True


def test_a_changed_number_is_unchecked_and_checked_again(
    admin_client, make_student, make_guardian, delay, django_capture_on_commit_callbacks
):
    student = make_student("0812-3456-7890", whatsapp_registered=True)
    ayah = make_guardian(student, "ayah", "0813-1111-2222")
    Guardian.objects.update(whatsapp_registered=False, whatsapp_checked_at=timezone.now())
    ibu = Guardian.objects.get(student=student, relation="ibu")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"{CHANGELIST}{student.pk}/change/",
            student_data(
                student.classroom,
                saved(ibu),
                saved(ayah, phone="0813-9999-8888"),
                nis=student.nis,
                full_name=student.full_name,
            ),
        )

    assert response.status_code == 302
    ayah.refresh_from_db()
    ibu.refresh_from_db()
    assert (ayah.phone, ayah.whatsapp_registered, ayah.whatsapp_checked_at) == (
        "6281399998888",
        None,
        None,
    )
    assert ibu.whatsapp_registered is False  # untouched: still known
    delay.assert_called_once_with(student_ids=[student.pk])


def test_a_guardian_added_without_a_number_queues_nothing(
    admin_client, make_student, delay, django_capture_on_commit_callbacks
):
    student = make_student("0812-3456-7890", whatsapp_registered=True)
    (ibu,) = student.guardians.all()

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            f"{CHANGELIST}{student.pk}/change/",
            student_data(
                student.classroom,
                saved(ibu),
                {"relation": "ayah", "name": "Bapak Budi"},
                nis=student.nis,
                full_name=student.full_name,
            ),
        )

    assert student.guardians.count() == 2
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
    Guardian.objects.update(whatsapp_registered=True)
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
    assert state(unchanged) is True


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
    make_student("0812-3456-7890", whatsapp_registered=True)
    unchecked = make_student("0813-1111-2222")
    out = io.StringIO()

    call_command("check_whatsapp_numbers", stdout=out)

    assert locmem_numbers.validate_calls == [("6281311112222",)]
    assert state(unchecked) is True
    assert "1 on WhatsApp" in out.getvalue()


def test_the_command_fails_loudly_when_fonnte_fails(fonnte, make_student):
    make_student("0812-3456-7890")
    fonnte.post(VALIDATE_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(CommandError, match="TemporaryFailure"):
        call_command("check_whatsapp_numbers")
