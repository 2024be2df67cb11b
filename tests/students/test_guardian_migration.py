"""The guardians' migrations (students 0005-0007, broadcasts 0012) on a database holding
today's data: students with a parent, their report's rows, attempts, receipts and links.

Runs on each database of the matrix (tests/matrix.py runs the whole suite on SQLite,
PostgreSQL and MariaDB). Only the two apps' own migrations are unapplied and reapplied,
so the test takes seconds, not the whole project's history.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("students", "0004_name_validators"), ("broadcasts", "0011_default_template_with_link")]
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def migrate(targets):
    """Migrate to ``targets`` and return the apps (historical models) of that state."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def latest():
    graph = MigrationExecutor(connection).loader.graph
    return [
        key for app in ("students", "broadcasts") for key in graph.leaf_nodes() if key[0] == app
    ]


@pytest.fixture
def old_apps():
    """The apps at students 0004 + broadcasts 0011; the latest schema is back afterwards."""
    forward = latest()
    try:
        yield migrate(BEFORE)
    finally:
        migrate(forward)


def todays_data(apps):
    """Students with a parent (one with none, one with a name only), a report and its rows."""
    Classroom = apps.get_model("students", "Classroom")
    Student = apps.get_model("students", "Student")
    MonthlyReport = apps.get_model("reports", "MonthlyReport")
    Broadcast = apps.get_model("broadcasts", "MonthlyReportBroadcast")
    Attempt = apps.get_model("broadcasts", "BroadcastAttempt")

    room = Classroom.objects.create(name="TK A")
    parents = {
        "siti": ("Ibu Siti", "0812-1111-0001", True, T0),
        "ahmad": ("Bapak Ahmad", "081211110002", False, T0 + timedelta(hours=1)),
        "plain": ("Rahmat Hidayat", "0812-1111-0003", None, None),
        "no_name": ("", "0812-1111-0004", None, None),
        "blank": ("", "", None, None),
        "cleared": ("", "", None, None),  # a number the school removed after the send
    }
    students = {}
    for n, (key, (name, phone, registered, checked_at)) in enumerate(parents.items(), 1):
        students[key] = Student.objects.create(
            nis=f"M{n:04d}",
            full_name=f"Anak {key}",
            classroom=room,
            parent_name=name,
            parent_phone=phone,
            whatsapp_registered=registered,
            whatsapp_checked_at=checked_at,
        )
    report = MonthlyReport.objects.create(classroom=room, month=11, year=2026)
    older = MonthlyReport.objects.create(classroom=room, month=10, year=2026)
    rows = {
        "siti": Broadcast.objects.create(
            monthly_report=report,
            student=students["siti"],
            phone_number="6281211110001",
            message="Laporan Anak siti",
            status="sent",
            retry_count=2,
            fonnte_message_id="m-1",
            delivery_state="read",
            delivered_at=T0,
            read_at=T0 + timedelta(minutes=5),
            sent_at=T0,
            link_token="a" * 43,
            link_created_at=T0,
            opened_at=T0 + timedelta(minutes=6),
            open_count=2,
        ),
        # Sent to the number the parent had then; the student's number changed since.
        "siti_older": Broadcast.objects.create(
            monthly_report=older,
            student=students["siti"],
            phone_number="6281299990001",
            message="Laporan Oktober",
            status="sent",
            retry_count=1,
        ),
        "ahmad": Broadcast.objects.create(
            monthly_report=report,
            student=students["ahmad"],
            phone_number="6281211110002",
            message="Laporan Anak ahmad",
            status="failed",
            retry_count=1,
            error_message="not on WhatsApp",
        ),
        "no_name": Broadcast.objects.create(
            monthly_report=report,
            student=students["no_name"],
            phone_number="6281211110004",
            message="Laporan Anak no_name",
            status="pending",
        ),
        "cleared": Broadcast.objects.create(
            monthly_report=report,
            student=students["cleared"],
            phone_number="6281211110006",
            message="Laporan Anak cleared",
            status="sent",
            retry_count=1,
        ),
    }
    for number, outcome in ((1, "retry"), (2, "sent")):
        Attempt.objects.create(
            broadcast=rows["siti"],
            number=number,
            started_at=T0,
            finished_at=T0,
            outcome=outcome,
        )
    Attempt.objects.create(
        broadcast=rows["ahmad"], number=1, started_at=T0, finished_at=T0, outcome="failed"
    )
    return parents, {k: s.pk for k, s in students.items()}, {k: r.pk for k, r in rows.items()}


ROW_FIELDS = (
    "monthly_report_id",
    "student_id",
    "phone_number",
    "status",
    "retry_count",
    "delivery_state",
    "read_at",
    "link_token",
    "opened_at",
    "open_count",
)


def test_forward_each_parent_becomes_the_childs_guardian_and_rows_follow(old_apps):
    parents, students, rows = todays_data(old_apps)
    OldBroadcast = old_apps.get_model("broadcasts", "MonthlyReportBroadcast")
    before = {k: OldBroadcast.objects.values(*ROW_FIELDS).get(pk=pk) for k, pk in rows.items()}

    apps = migrate(latest())

    Guardian = apps.get_model("students", "Guardian")
    Broadcast = apps.get_model("broadcasts", "MonthlyReportBroadcast")
    Attempt = apps.get_model("broadcasts", "BroadcastAttempt")
    relations = {"siti": "ibu", "ahmad": "ayah", "plain": "wali", "no_name": "wali"}
    for key, relation in relations.items():
        name, phone, registered, checked_at = parents[key]
        (guardian,) = Guardian.objects.filter(student_id=students[key])
        assert (guardian.name, guardian.phone, guardian.relation) == (name, phone, relation)
        assert guardian.whatsapp_registered is registered
        assert guardian.whatsapp_checked_at == checked_at
        assert guardian.receives_messages is True
    assert not Guardian.objects.filter(student_id__in=[students["blank"], students["cleared"]])

    for key, pk in rows.items():
        row = Broadcast.objects.get(pk=pk)
        assert Broadcast.objects.values(*ROW_FIELDS).get(pk=pk) == before[key], key
        child = key.removesuffix("_older")
        expected = Guardian.objects.filter(student_id=students[child]).first()
        assert row.guardian_id == (expected.pk if expected else None), key
    assert list(
        Attempt.objects.filter(broadcast_id=rows["siti"]).values_list("number", "outcome")
    ) == [(1, "retry"), (2, "sent")]
    assert Attempt.objects.filter(broadcast_id=rows["ahmad"]).count() == 1


def test_backward_the_first_guardian_goes_back_into_the_parent_fields(old_apps):
    _, students, rows = todays_data(old_apps)
    apps = migrate(latest())
    Guardian = apps.get_model("students", "Guardian")
    # Edited under the new model: the first guardian's number, and a second guardian.
    first = Guardian.objects.get(student_id=students["siti"])
    first.phone, first.name = "0812-7777-0001", "Ibu Siti Aminah"
    first.save()
    Guardian.objects.create(
        student_id=students["siti"], name="Pak Budi", relation="ayah", phone="0813-7777-0002"
    )
    Guardian.objects.create(
        student_id=students["blank"], name="Bu Rina", relation="ibu", phone="0813-7777-0003"
    )

    apps = migrate(BEFORE)

    Student = apps.get_model("students", "Student")
    Broadcast = apps.get_model("broadcasts", "MonthlyReportBroadcast")
    restored = {
        s.pk: (s.parent_name, s.parent_phone, s.whatsapp_registered, s.whatsapp_checked_at)
        for s in Student.objects.all()
    }
    assert restored[students["siti"]] == ("Ibu Siti Aminah", "0812-7777-0001", True, T0)
    assert restored[students["ahmad"]] == (
        "Bapak Ahmad",
        "081211110002",
        False,
        T0 + timedelta(hours=1),
    )
    assert restored[students["plain"]] == ("Rahmat Hidayat", "0812-1111-0003", None, None)
    assert restored[students["blank"]] == ("Bu Rina", "0813-7777-0003", None, None)
    assert restored[students["cleared"]] == ("", "", None, None)
    assert Broadcast.objects.count() == len(rows)
    assert Broadcast.objects.get(pk=rows["siti"]).link_token == "a" * 43


def test_backward_is_refused_while_a_child_has_two_rows_for_one_report(old_apps):
    _, students, rows = todays_data(old_apps)
    apps = migrate(latest())
    Guardian = apps.get_model("students", "Guardian")
    Broadcast = apps.get_model("broadcasts", "MonthlyReportBroadcast")
    father = Guardian.objects.create(
        student_id=students["siti"], name="Pak Budi", relation="ayah", phone="0813-7777-0002"
    )
    siti = Broadcast.objects.get(pk=rows["siti"])
    Broadcast.objects.create(
        monthly_report_id=siti.monthly_report_id,
        student_id=students["siti"],
        guardian=father,
        phone_number="6281377770002",
        message="Laporan untuk ayah",
    )

    with pytest.raises(IrreversibleError, match="more than one guardian"):
        migrate(BEFORE)

    assert Broadcast.objects.filter(student_id=students["siti"]).count() == 3
