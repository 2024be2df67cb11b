"""Who may do what: admins send and repair, teachers only look, non-staff reach nothing."""

import html
import re
from unittest import mock

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.utils import timezone

from broadcasts.messages import DEFAULT_TEMPLATE, message_template_get_or_create
from broadcasts.models import (
    BroadcastAttempt,
    BroadcastStatus,
    MessageTemplate,
    MonthlyReportBroadcast,
)


@pytest.fixture
def member(django_user_model, client):
    def login(group, *, is_staff=True):
        user = django_user_model.objects.create_user(group, password="pw", is_staff=is_staff)
        user.groups.add(Group.objects.get(name=group))
        client.force_login(user)
        return user

    return login


def test_admin_groups_can_send_resend_and_edit_the_template(db):
    for name in ("super_admin", "admin"):
        codenames = set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))
        assert {"send_whatsapp_broadcast", "add_messagetemplate", "change_student"} <= codenames
        assert "change_monthlyreportbroadcast" not in codenames  # rows are a record


def test_a_teacher_sees_reports_and_delivery(member, client, report):
    member("guru")
    assert client.get("/admin/reports/monthlyreport/").status_code == 200
    assert client.get("/admin/broadcasts/monthlyreportbroadcast/").status_code == 200
    assert client.get("/admin/students/student/add/").status_code == 403


@pytest.fixture
def delivery(report, make_student):
    """A report with a failed row, an unknown row and a student not messaged yet."""
    rows = [
        MonthlyReportBroadcast.objects.create(
            monthly_report=report,
            student=make_student(),
            phone_number="6281234567890",
            status=status,
        )
        for status in (BroadcastStatus.FAILED, BroadcastStatus.UNKNOWN)
    ]
    make_student()
    return rows


REPORTS = "/admin/reports/monthlyreport/"
BROADCASTS = "/admin/broadcasts/monthlyreportbroadcast/"


@pytest.mark.parametrize(
    ("changelist", "action"),
    [
        (REPORTS, "send_whatsapp_broadcast"),
        (REPORTS, "resend_failed_broadcasts"),
        (BROADCASTS, "retry_failed"),
        (BROADCASTS, "resend_unknown"),
    ],
)
def test_a_teacher_cannot_run_any_action_that_changes_delivery(
    member, client, report, delivery, changelist, action, django_capture_on_commit_callbacks
):
    member("guru")
    selected = [report.pk] if changelist == REPORTS else [row.pk for row in delivery]
    before = list(MonthlyReportBroadcast.objects.order_by("pk").values_list("pk", "status"))

    with (
        mock.patch("broadcasts.tasks.dispatch_pending_broadcasts.delay") as dispatch,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        response = client.post(
            changelist, {"action": action, "_selected_action": selected, "post": "yes"}
        )

    # The action is not offered to a teacher, so Django runs nothing and shows the list
    # again (a teacher has no action at all there): no confirmation, no message.
    assert response.status_code == 200
    assert response.templates[0].name.endswith("/change_list.html")
    assert response.context["action_form"] is None
    assert not list(get_messages(response.wsgi_request))
    assert list(MonthlyReportBroadcast.objects.order_by("pk").values_list("pk", "status")) == (
        before
    )
    assert not LogEntry.objects.exists()
    assert callbacks == []
    dispatch.assert_not_called()


TEMPLATE_PAGE = f"/admin/broadcasts/messagetemplate/{MessageTemplate.SCHOOL_PK}/change/"


def test_a_teacher_cannot_edit_the_message_template(member, client):
    """The one row's page: an admin changes the text there, a teacher neither opens nor posts."""
    member("guru")
    posted = client.post(TEMPLATE_PAGE, {"text": "Dari guru: {nama_siswa}"})
    assert client.get(TEMPLATE_PAGE).status_code == 403
    assert posted.status_code == 403
    assert message_template_get_or_create().text == DEFAULT_TEMPLATE

    admin_user = member("admin")
    posted = client.post(TEMPLATE_PAGE, {"text": "Dari sekolah: {nama_siswa}"})
    assert posted.status_code == 302
    template = MessageTemplate.objects.get(pk=MessageTemplate.SCHOOL_PK)
    assert (template.text, template.updated_by) == ("Dari sekolah: {nama_siswa}", admin_user)


def test_without_staff_status_nothing_is_reachable(member, client):
    member("admin", is_staff=False)
    for url in (
        "/admin/",
        "/admin/reports/monthlyreport/",
        "/admin/broadcasts/monthlyreportbroadcast/",
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


# --- Teachers: their own classes, numbers masked, no export (issue 11) ----------------------

OWN_PHONE, OWN_MASKED = "6281234567890", "62812****7890"
OTHER_PHONE, OTHER_MASKED = "6285711112222", "62857****2222"
EXPORT = "/admin/students/student/export/"
STUDENTS = "/admin/students/student/"
CLASSES = "/admin/students/classroom/"


@pytest.fixture
def school(report, make_student):
    """Two classes, each with a report and a failed message whose texts name the number."""
    from reports.models import MonthlyReport
    from students.models import Classroom

    other_class = Classroom.objects.create(name="TK B Mawar")
    other_report = MonthlyReport.objects.create(classroom=other_class, month=11, year=2026)
    own = make_student(OWN_PHONE, name="Aisyah Putri")
    other = make_student(OTHER_PHONE, name="Budi Santoso", classroom=other_class)
    rows = {}
    for student, rep, phone in ((own, report, OWN_PHONE), (other, other_report, OTHER_PHONE)):
        row = MonthlyReportBroadcast.objects.create(
            monthly_report=rep,
            student=student,
            guardian=student.guardians.get(),
            phone_number=phone,
            message="m",
            status=BroadcastStatus.FAILED,
            error_message=f"target invalid: {phone}",
            response=f'{{"status": false, "reason": "target invalid", "target": ["{phone}"]}}',
        )
        BroadcastAttempt.objects.create(
            broadcast=row,
            number=1,
            started_at=timezone.now(),
            finished_at=timezone.now(),
            outcome=BroadcastAttempt.Outcome.FAILED,
            detail=f"Fonnte refused {phone}",
        )
        rows[student.classroom.name] = row
    return {
        "own": {"student": own, "report": report, "row": rows[report.classroom.name]},
        "other": {"student": other, "report": other_report, "row": rows["TK B Mawar"]},
        "other_class": other_class,
    }


@pytest.fixture
def teacher(member, school):
    """A guru named as the teacher of the first class (TK A Melati) only, logged in."""
    user = member("guru")
    school["own"]["report"].classroom.teachers.add(user)
    return user


def teacher_pages(school):
    """Every admin page a teacher can open about their class, as (name, url)."""
    own = school["own"]
    student, report, row = own["student"], own["report"], own["row"]
    return [
        ("index", "/admin/"),
        ("students app", "/admin/students/"),
        ("reports app", "/admin/reports/"),
        ("broadcasts app", "/admin/broadcasts/"),
        ("students", STUDENTS),
        ("students picker (raw id popup)", f"{STUDENTS}?_popup=1&_to_field=id"),
        ("students searched by number", f"{STUDENTS}?q=0812-3456-7890"),
        ("students by class", f"{STUDENTS}?classroom__id__exact={report.classroom_id}"),
        ("student page", f"{STUDENTS}{student.pk}/change/"),
        ("student history", f"{STUDENTS}{student.pk}/history/"),
        ("classes", CLASSES),
        ("class page", f"{CLASSES}{report.classroom_id}/change/"),
        ("reports", REPORTS),
        ("report page", f"{REPORTS}{report.pk}/change/"),
        ("report history", f"{REPORTS}{report.pk}/history/"),
        ("report progress", f"{REPORTS}progress/?ids={report.pk}"),
        ("messages", BROADCASTS),
        ("messages searched by number", f"{BROADCASTS}?q=%2B62%20812%203456%207890"),
        ("messages by report", f"{BROADCASTS}?monthly_report__id__exact={report.pk}"),
        ("message page with its attempts", f"{BROADCASTS}{row.pk}/change/"),
        ("message history", f"{BROADCASTS}{row.pk}/history/"),
        # The school's own number, as Fonnte reports it: no parent's.
        ("WhatsApp devices", "/admin/broadcasts/fonntedevice/"),
    ]


def test_every_page_a_teacher_opens_masks_the_parents_numbers(client, school, teacher):
    shown = {}
    for name, url in teacher_pages(school):
        response = client.get(url)
        assert response.status_code == 200, name
        html = response.content.decode()
        # The stored number, or its hidden digits in any form ("0812-3456-7890" typed in
        # the search box is echoed there: the teacher's own input).
        for digits in (OWN_PHONE, OTHER_PHONE, "34567890", "11112222"):
            assert digits not in html, (name, digits)
        assert "Budi Santoso" not in html, name  # the other class's child
        shown[name] = OWN_MASKED in html

    # Where the number is shown, it is shown masked: lists, search results, pages, attempts.
    assert {name for name, masked in shown.items() if masked} >= {
        "students",
        "students searched by number",
        "student page",
        "messages",
        "messages searched by number",
        "message page with its attempts",
    }


@pytest.mark.parametrize(
    "url",
    [
        "/admin/notifications/notification/",
        "/admin/broadcasts/messagetemplate/",
        EXPORT,
    ],
)
def test_the_other_pages_are_closed_to_a_teacher(client, teacher, url):
    assert client.get(url).status_code == 403


def test_the_message_page_masks_fonnte_answer_reason_and_attempts(client, school, teacher):
    row = school["own"]["row"]

    html = client.get(f"{BROADCASTS}{row.pk}/change/").content.decode()

    assert f"target invalid: {OWN_MASKED}" in html  # the reason
    assert f"&quot;{OWN_MASKED}&quot;" in html  # Fonnte's answer
    assert f"Fonnte refused {OWN_MASKED}" in html  # the attempt


def test_admins_see_the_whole_numbers(member, client, school):
    member("admin")
    row = school["own"]["row"]

    students = client.get(STUDENTS).content.decode()
    page = client.get(f"{BROADCASTS}{row.pk}/change/").content.decode()
    resend_pages = [
        client.post(url, {"action": action, "_selected_action": [pk]}).content.decode()
        for url, action, pk in (
            (REPORTS, "resend_failed_broadcasts", school["own"]["report"].pk),
            (BROADCASTS, "retry_failed", row.pk),
        )
    ]

    assert OWN_PHONE in students and OTHER_PHONE in students
    assert f"target invalid: {OWN_PHONE}" in page
    assert f"Fonnte refused {OWN_PHONE}" in page
    for resend_page in resend_pages:
        assert f"target invalid: {OWN_PHONE}" in resend_page
    assert OWN_MASKED not in "".join([students, page, *resend_pages])


def shown_rows(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_a_typed_number_finds_the_row_for_a_teacher_but_a_part_of_it_does_not(
    client, school, teacher
):
    own = school["own"]
    for typed in ("0812-3456-7890", "+62 812 3456 7890", OWN_PHONE):
        assert shown_rows(client, STUDENTS, q=typed) == [own["student"]]
        assert shown_rows(client, BROADCASTS, q=typed) == [own["row"]]
    # A part of a number would reveal the masked digits one search at a time.
    assert shown_rows(client, STUDENTS, q="628123") == []
    assert shown_rows(client, BROADCASTS, q="628123") == []


def test_a_teacher_sees_only_their_own_class(client, school, teacher):
    own, other = school["own"], school["other"]

    assert shown_rows(client, STUDENTS) == [own["student"]]
    assert shown_rows(client, REPORTS) == [own["report"]]
    assert shown_rows(client, BROADCASTS) == [own["row"]]
    assert [c.name for c in shown_rows(client, CLASSES)] == ["TK A Melati"]
    # Nor another class's name in the filters.
    for url in (STUDENTS, REPORTS, BROADCASTS, CLASSES):
        assert "TK B Mawar" not in client.get(url).content.decode(), url
    # Nor by filtering, nor by a direct address: "not found", back to the index.
    assert other["student"] not in shown_rows(
        client, STUDENTS, classroom__id__exact=school["other_class"].pk
    )
    assert shown_rows(client, BROADCASTS, monthly_report__id__exact=other["report"].pk) == []
    for url in (
        f"{STUDENTS}{other['student'].pk}/change/",
        f"{STUDENTS}{other['student'].pk}/history/",
        f"{REPORTS}{other['report'].pk}/change/",
        f"{BROADCASTS}{other['row'].pk}/change/",
        f"{CLASSES}{school['other_class'].pk}/change/",
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == "/admin/"


def test_autocomplete_names_only_the_teachers_classes_and_students(client, school, teacher):
    def names(model_name, field_name):
        response = client.get(
            "/admin/autocomplete/",
            {"app_label": model_name[0], "model_name": model_name[1], "field_name": field_name},
        )
        assert response.status_code == 200
        return [result["text"] for result in response.json()["results"]]

    assert names(("reports", "monthlyreport"), "classroom") == ["TK A Melati"]
    student = school["own"]["student"]
    assert names(("broadcasts", "monthlyreportbroadcast"), "student") == [str(student)]


def test_admins_see_every_class(member, client, school):
    member("admin")

    assert len(shown_rows(client, STUDENTS)) == 2
    assert len(shown_rows(client, REPORTS)) == 2
    assert len(shown_rows(client, BROADCASTS)) == 2
    assert "TK B Mawar" in client.get(STUDENTS).content.decode()


def test_a_teacher_of_no_class_sees_nothing_and_is_told_why(member, client, school):
    member("guru")
    told = "Anda belum ditetapkan sebagai guru kelas mana pun"

    for url in (STUDENTS, REPORTS, BROADCASTS, CLASSES):
        response = client.get(url)
        assert list(response.context["cl"].result_list) == [], url
        assert told in response.content.decode(), url
    member("admin")
    assert told not in client.get(STUDENTS).content.decode()


def test_only_the_admin_groups_may_export_students(db):
    holders = set(
        Group.objects.filter(permissions__codename="export_student").values_list("name", flat=True)
    )
    assert holders == {"super_admin", "admin"}


def test_a_teacher_cannot_export_students(client, school, teacher):
    listing = client.get(STUDENTS).content.decode()
    page = client.get(EXPORT)
    posted = client.post(EXPORT, {"format": "0", "resource": "0"})

    assert "export_link" not in listing and EXPORT not in listing
    assert page.status_code == 403
    assert posted.status_code == 403
    assert "Content-Disposition" not in posted
    assert OWN_PHONE not in posted.content.decode()


@pytest.mark.parametrize("group", ["admin", "super_admin"])
def test_the_admin_groups_export_students(member, client, school, group):
    member(group)

    assert EXPORT in client.get(STUDENTS).content.decode()
    assert client.get(EXPORT).status_code == 200


def test_a_teacher_opens_no_alert_and_alerts_mask_numbers(client, school, teacher):
    from broadcasts.services.alerts import broadcast_alert_failures
    from notifications.models import Notification

    User = teacher.__class__
    admin_user = User.objects.create_superuser("kepala", "k@example.com", "pw")
    broadcast_alert_failures(monthly_report_id=school["own"]["report"].pk)
    alert = Notification.objects.get(recipient=admin_user)

    # The reason too: Fonnte's reason may name the number (the alert is also emailed).
    assert f"target invalid: {OWN_MASKED}" in alert.body
    assert OWN_PHONE not in alert.title + alert.body
    assert client.get("/admin/notifications/notification/").status_code == 403
    assert 'id="notifications-link"' not in client.get("/admin/").content.decode()


def test_the_class_page_names_its_teachers(member, client, school, django_user_model):
    member("admin")
    teacher = django_user_model.objects.create_user("bu_ani", password="pw", is_staff=True)
    classroom = school["other_class"]

    page = client.get(f"{CLASSES}{classroom.pk}/change/").content.decode()
    response = client.post(
        f"{CLASSES}{classroom.pk}/change/", {"name": classroom.name, "teachers": [teacher.pk]}
    )

    assert "Guru" in page and "Staf yang mengajar kelas ini" in page
    assert response.status_code == 302
    assert list(classroom.teachers.all()) == [teacher]


def test_the_roles_made_again_after_a_flush_hold_the_new_permissions(db):
    from tests.conftest import restore_roles

    Group.objects.all().delete()  # as a transactional test's flush leaves them

    restore_roles()

    for name in ("admin", "super_admin"):
        codenames = set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))
        assert {"export_student", "view_all_classrooms"} <= codenames
    teacher = set(Group.objects.get(name="guru").permissions.values_list("codename", flat=True))
    assert not {"export_student", "view_all_classrooms", "change_student"} & teacher


# --- The pages issue 12 changed, as a teacher opens them -------------------------------------

#: Stored as typed (a wrong number is kept so), masked as the logs mask it.
UNKNOWN_PHONE, UNKNOWN_MASKED = "6281311112233", "62813****2233"
WRONG_PHONE, WRONG_MASKED = "0812-3456-7899-1234", "08123****1234"  # too long to be valid
NEW_WRONG_PHONE, NEW_WRONG_MASKED = "0813-9999-8888-7777", "08139****7777"
OTHER_UNKNOWN_PHONE = "6285733334444"
FULL_NUMBERS = (OWN_PHONE, OTHER_PHONE, UNKNOWN_PHONE, WRONG_PHONE, NEW_WRONG_PHONE)
OTHER_CHILDREN = ("Budi Santoso", "Gita Permata")


def whole_numbers_in(page: str) -> list[str]:
    """The parents' numbers ``page`` shows whole, as typed or as digits, in text or attribute."""
    found = []
    for number in (*FULL_NUMBERS, OTHER_UNKNOWN_PHONE):
        digits = "".join(ch for ch in number if ch.isdigit())
        # digits[5:]: the masked digits with the last four, whatever came before them.
        if number in page or digits in page or digits[5:] in page:
            found.append(number)
    return found


@pytest.fixture
def mixed_delivery(school, make_student):
    """Beside ``school``'s failed rows: in the teacher's class an unknown row whose reason
    names the number, a failed row to a wrong number, a sent row and a child with a wrong
    number not messaged yet; in the other class an unknown row."""
    own_report, other_report = school["own"]["report"], school["other"]["report"]

    def row(student, report, status, **fields):
        return MonthlyReportBroadcast.objects.create(
            monthly_report=report,
            student=student,
            guardian=student.guardians.get(),
            phone_number=student.guardians.get().phone,
            message="m",
            status=status,
            **fields,
        )

    row(
        make_student(UNKNOWN_PHONE, name="Dewi Anggraini"),
        own_report,
        BroadcastStatus.UNKNOWN,
        error_message=f"No answer from Fonnte for {UNKNOWN_PHONE}",
    )
    wrong = row(
        make_student(WRONG_PHONE, name="Citra Lestari"),
        own_report,
        BroadcastStatus.FAILED,
        error_message="The phone number is too short, too long or does not exist.",
    )
    row(
        make_student("6281398765432", name="Eko Prasetyo"),
        own_report,
        BroadcastStatus.SENT,
        sent_at=timezone.now(),
        delivery_state="read",
    )
    make_student(NEW_WRONG_PHONE, name="Fajar Nugroho")
    row(
        make_student(OTHER_UNKNOWN_PHONE, name="Gita Permata", classroom=school["other_class"]),
        other_report,
        BroadcastStatus.UNKNOWN,
        error_message=f"No answer from Fonnte for {OTHER_UNKNOWN_PHONE}",
    )
    return {"wrong": wrong}


def assert_masked_and_own_class_only(page: str, name: str, *masked_numbers: str):
    assert whole_numbers_in(page) == [], name
    for number in masked_numbers:
        assert number in page, (name, number)
    for child in OTHER_CHILDREN:
        assert child not in page, (name, child)
    assert "TK B Mawar" not in page, name


def test_the_lists_and_the_report_page_mask_numbers_and_name_only_the_teachers_class(
    client, school, teacher, mixed_delivery
):
    report = school["own"]["report"]

    students = client.get(STUDENTS).content.decode()
    broadcasts = client.get(BROADCASTS).content.decode()
    reports = client.get(REPORTS).content.decode()
    report_page = client.get(f"{REPORTS}{report.pk}/change/").content.decode()

    # The student list's parent column (name over number) and its "wrong number" flag.
    assert_masked_and_own_class_only(students, "students", OWN_MASKED, WRONG_MASKED)
    assert "nomor salah" in students
    # The broadcast list: the number under the name; status with its reason, whole in title.
    assert_masked_and_own_class_only(broadcasts, "messages", OWN_MASKED, UNKNOWN_MASKED)
    assert f'title="target invalid: {OWN_MASKED}"' in broadcasts
    assert f'title="No answer from Fonnte for {UNKNOWN_MASKED}"' in broadcasts
    assert_masked_and_own_class_only(reports, "reports")
    # The report page names who failed, with the reason, masked; links to the row and student.
    assert_masked_and_own_class_only(report_page, "report page", OWN_MASKED, UNKNOWN_MASKED)
    undelivered = report_page.split('<table class="wa-undelivered">')[1].split("</table>")[0]
    assert f"target invalid: {OWN_MASKED}" in undelivered
    assert f'href="{STUDENTS}{mixed_delivery["wrong"].student_id}/change/"' in undelivered
    assert f'href="{BROADCASTS}{mixed_delivery["wrong"].pk}/change/"' in undelivered
    # Each count links to the broadcast list of this report and status: their rows only.
    links = set(re.findall(rf'href="({re.escape(BROADCASTS)}\?[^"]+)"', reports + report_page))
    assert len(links) >= 5
    for link in links:
        response = client.get(html.unescape(link))
        assert response.status_code == 200, link
        assert_masked_and_own_class_only(response.content.decode(), link)
        assert {row.monthly_report_id for row in response.context["cl"].result_list} <= {report.pk}


def test_a_teacher_can_neither_import_nor_open_the_template(client, school, teacher):
    listing = client.get(STUDENTS).content.decode()

    assert f"{STUDENTS}import/" not in listing
    assert client.get(f"{STUDENTS}import/").status_code == 403
    assert client.post(f"{STUDENTS}import/", {"format": "0"}).status_code == 403
    assert client.get(TEMPLATE_PAGE).status_code == 403


@pytest.fixture
def sending_teacher(teacher):
    """The class's teacher, allowed by the school to send and resend its reports' messages,
    still without the right to change students: numbers stay masked on those pages too."""
    teacher.user_permissions.add(Permission.objects.get(codename="send_whatsapp_broadcast"))
    return teacher


def test_the_send_and_resend_pages_mask_numbers_for_who_may_not_change_students(
    client, school, sending_teacher, mixed_delivery
):
    report, own_row = school["own"]["report"], school["own"]["row"]
    wrong = mixed_delivery["wrong"]
    other_unknown = MonthlyReportBroadcast.objects.filter(
        status=BroadcastStatus.UNKNOWN, monthly_report=school["other"]["report"]
    ).values_list("pk", flat=True)
    unknown = MonthlyReportBroadcast.objects.get(
        status=BroadcastStatus.UNKNOWN, student__full_name="Dewi Anggraini"
    )

    def action(url, name, selected):
        response = client.post(url, {"action": name, "_selected_action": selected})
        assert response.status_code == 200
        assert not response.templates[0].name.endswith("/change_list.html"), name
        return response.content.decode()

    # Another class's report and rows, selected by a forged form: left out, as if not found.
    other_report, other_row = school["other"]["report"], school["other"]["row"]
    send = action(REPORTS, "send_whatsapp_broadcast", [report.pk, other_report.pk])
    resend = action(REPORTS, "resend_failed_broadcasts", [report.pk, other_report.pk])
    retry = action(BROADCASTS, "retry_failed", [own_row.pk, wrong.pk, other_row.pk])
    unknown_page = action(BROADCASTS, "resend_unknown", [unknown.pk, *other_unknown])

    # The confirmation's wrong number, shown once, masked.
    assert_masked_and_own_class_only(send, "send confirmation", NEW_WRONG_MASKED)
    assert send.count(NEW_WRONG_MASKED) == 1
    # The failed messages' reasons, masked; the child to fix a link to their page.
    for name, page in (("report resend", resend), ("broadcast resend", retry)):
        assert_masked_and_own_class_only(page, name, f"target invalid: {OWN_MASKED}")
        assert f'href="{STUDENTS}{wrong.student_id}/change/"' in page, name
    assert_masked_and_own_class_only(
        unknown_page, "unknown resend", f"No answer from Fonnte for {UNKNOWN_MASKED}"
    )
