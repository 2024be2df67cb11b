"""The failure alert per guardian: the children none of whose guardians could be reached
come first, then the other failures; no phone number in it."""

import pytest

from broadcasts.services import broadcast_alert_failures
from notifications.models import Notification
from tests.broadcast_rows import guardian_row

IBU, AYAH = "6281234567890", "6281311112222"


@pytest.fixture
def mixed_failures(report, make_student, make_guardian):
    """Bima: both parents failed (unreached). Aisyah: her father failed, her mother's message
    was sent (reached). Citra: her mother unknown, her father still waiting (may be reached)."""

    def child(name, statuses):
        student = make_student(IBU, name=name, parent_name=f"Ibu {name}")
        ayah = make_guardian(student, "ayah", AYAH, name=f"Ayah {name}")
        for guardian, phone, status in zip(
            (student.guardians.get(relation="ibu"), ayah), (IBU, AYAH), statuses, strict=True
        ):
            guardian_row(
                monthly_report=report,
                student=student,
                guardian=guardian,
                phone_number=phone,
                status=status,
                error_message="" if status in ("sent", "pending") else f"target invalid {phone}",
            )
        return student

    return {
        "aisyah": child("Aisyah", ("sent", "failed")),
        "bima": child("Bima", ("failed", "unknown")),
        "citra": child("Citra", ("unknown", "pending")),
    }


def test_the_alert_names_the_unreached_children_first_then_the_others(
    report, admins, mixed_failures, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert broadcast_alert_failures(monthly_report_id=report.pk) == 4

    body = Notification.objects.filter(recipient=admins[0]).get().body
    lines = body.splitlines()
    bima = mixed_failures["bima"]
    first = lines.index("1 anak tidak terjangkau, tidak satu pun pesan ke wali muridnya terkirim:")
    others = lines.index("Pesan lain yang tidak terkirim:")
    assert first < others
    unreached = lines[first + 1 : others - 1]
    assert [line.split(",")[0] for line in unreached] == [f"- Bima ({bima.nis})"] * 2
    assert any(
        f"Ibu Bima ({bima.guardians.get(relation='ibu').get_relation_display()})" in line
        for line in unreached
    )
    rest = lines[others + 1 :]
    assert sorted(line.split(",")[0] for line in rest) == [
        f"- Aisyah ({mixed_failures['aisyah'].nis})",
        f"- Citra ({mixed_failures['citra'].nis})",
    ]
    # No number, not even masked in the guardian's place; the reason's number masked.
    assert IBU not in body and AYAH not in body
    assert all(line.count("****") <= 1 for line in lines)
    assert "target invalid 62812****7890" in body


def test_when_every_child_was_reached_the_alert_has_no_unreached_list(
    report, admins, make_student, make_guardian
):
    student = make_student(IBU, name="Dewi")
    ayah = make_guardian(student, "ayah", AYAH)
    guardian_row(
        monthly_report=report,
        student=student,
        guardian=student.guardians.get(relation="ibu"),
        phone_number=IBU,
        status="sent",
    )
    guardian_row(
        monthly_report=report, student=student, guardian=ayah, phone_number=AYAH, status="failed"
    )

    assert broadcast_alert_failures(monthly_report_id=report.pk) == 1

    body = Notification.objects.filter(recipient=admins[0]).get().body
    assert "tidak terjangkau" not in body
    assert "Pesan lain yang tidak terkirim:" in body and "Dewi" in body
