"""Resending per guardian: the guardian's number now, guardians removed or opted out, and
never twice to one number about one child when a guardian's number changed to another's."""

import io
import re
from unittest import mock

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command

from broadcasts.models import MonthlyReportBroadcast, MonthlyReportBroadcastQuerySet
from broadcasts.selectors import (
    NUMBER_TAKEN,
    NotResendable,
    broadcast_resend_plan,
    broadcast_retry_preview,
    broadcasts_resend_problems,
)
from broadcasts.services import broadcast_resend
from students.models import Guardian
from tests.broadcast_rows import guardian_row

BROADCASTS = "/admin/broadcasts/monthlyreportbroadcast/"
REPORTS = "/admin/reports/monthlyreport/"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
IBU = "6281234567890"
AYAH = "6281311112222"


@pytest.fixture
def dispatch():
    with mock.patch("broadcasts.tasks.dispatch_pending_broadcasts.delay") as delay:
        yield delay


@pytest.fixture(params=["update-returning", "mysql-path"])
def update_path(request, monkeypatch):
    """Both ways the resend updates: UPDATE … RETURNING, and MariaDB's lock, update, read."""
    if request.param == "mysql-path":
        monkeypatch.setattr(
            MonthlyReportBroadcastQuerySet, "update_returning", lambda *a, **k: None
        )
    return request.param


@pytest.fixture
def family(report, make_student, make_guardian):
    """Aisyah: her mother's message sent, her father's failed (his number was wrong)."""
    child = make_student(IBU, name="Aisyah Putri", parent_name="Siti")
    ibu = child.guardians.get()
    ayah = make_guardian(child, "ayah", "0899-0000-0000", name="Budi")
    sent = guardian_row(
        monthly_report=report, student=child, guardian=ibu, phone_number=IBU, status="sent"
    )
    failed = guardian_row(
        monthly_report=report,
        student=child,
        guardian=ayah,
        phone_number="0899",
        status="failed",
        error_message="Nomor telepon tidak valid",
    )
    return {"child": child, "ibu": ibu, "ayah": ayah, "sent": sent, "failed": failed}


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


# --- A number another message about the child went to -----------------------------------------


def test_a_resent_row_never_takes_a_number_the_child_s_other_row_has(
    family, admin_user, dispatch, update_path, django_capture_on_commit_callbacks
):
    # The father's number was "corrected" to the mother's: she already has the message.
    Guardian.objects.filter(pk=family["ayah"].pk).update(phone="0812-3456-7890")

    with django_capture_on_commit_callbacks(execute=True):
        outcome = broadcast_resend(broadcast_ids=[family["failed"].pk], requested_by=admin_user)

    assert outcome.resent == ()
    assert outcome.number_taken == (family["failed"].pk,)
    assert outcome.not_resent == (family["failed"].pk,)
    row = MonthlyReportBroadcast.objects.get(pk=family["failed"].pk)
    assert (row.status, row.phone_number, row.error_message) == (
        "failed",
        "0899",
        "Nomor telepon tidak valid",
    )
    assert MonthlyReportBroadcast.objects.filter(phone_number=IBU).count() == 1
    (entry,) = LogEntry.objects.all()
    assert entry.get_change_message() == (
        "Tidak dikirim ulang: nomor ini sudah menerima pesan tentang anak ini."
    )
    dispatch.assert_not_called()


def test_two_rows_moving_to_one_new_number_the_first_takes_it(
    report, make_student, make_guardian, dispatch, update_path
):
    child = make_student("0899", name="Bima Saputra")
    ibu = child.guardians.get()
    ayah = make_guardian(child, "ayah", "0898")
    first, second = (
        guardian_row(
            monthly_report=report, student=child, guardian=g, phone_number=p, status="failed"
        )
        for g, p in ((ibu, "0899"), (ayah, "0898"))
    )
    # Both parents now share one number: one message between them.
    Guardian.objects.filter(student=child).update(phone=AYAH)

    outcome = broadcast_resend(broadcast_ids=[second.pk, first.pk])

    assert outcome.resent == (first.pk,)
    assert outcome.number_taken == (second.pk,)
    assert list(
        MonthlyReportBroadcast.objects.order_by("pk").values_list("status", "phone_number")
    ) == [("pending", AYAH), ("failed", "0898")]


def test_a_guardian_of_two_children_at_one_number_is_resent_for_each(
    report, make_student, dispatch, update_path
):
    """The number is taken per child: the same number about another child is no collision."""
    rows = [
        guardian_row(
            monthly_report=report,
            student=make_student(AYAH, name=name),
            phone_number="0898",
            status="failed",
        )
        for name in ("Citra", "Dewi")
    ]

    outcome = broadcast_resend(broadcast_ids=[row.pk for row in rows])

    assert sorted(outcome.resent) == [row.pk for row in rows]
    assert outcome.number_taken == ()
    assert set(MonthlyReportBroadcast.objects.values_list("phone_number", flat=True)) == {AYAH}


def test_the_previews_and_the_dry_run_count_the_number_taken_as_the_resend_decides(
    family, report, admin_client, dispatch
):
    Guardian.objects.filter(pk=family["ayah"].pk).update(phone=IBU)
    failed = family["failed"]

    assert broadcasts_resend_problems(broadcast_ids=[failed.pk]) == {failed.pk: NUMBER_TAKEN}
    (plan,) = broadcast_resend_plan(monthly_reports=[report])
    assert [row.pk for row in plan.number_taken] == [failed.pk]
    assert plan.will_resend == 0
    preview = broadcast_retry_preview(broadcasts=MonthlyReportBroadcast.objects.all())
    assert (preview.number_taken, preview.will_resend, preview.shown) == (1, 0, [])
    assert [(e.student.full_name, e.guardian.pk) for e in preview.number_taken_guardians] == [
        ("Aisyah Putri", family["ayah"].pk)
    ]

    row_page = admin_client.post(
        BROADCASTS, {"action": "retry_failed", "_selected_action": [failed.pk]}, **EN
    ).content.decode()
    report_page = admin_client.post(
        REPORTS, {"action": "resend_failed_broadcasts", "_selected_action": [report.pk]}, **EN
    ).content.decode()
    assert "None of the failed messages can be resent: see why below." in report_page
    for page in (row_page, report_page):
        assert (
            "Not resent, the guardian's number already has a message about this child: 1." in page
        )
        listed = re.sub(r"<[^>]+>", "", page.split('class="wa-number-taken-list"')[1])
        assert "Aisyah Putri" in listed.split("</ul>")[0] and "Budi (father)" in listed
        assert IBU not in page and "0812" not in page

    dry = run("broadcast_retry", str(failed.pk), "--dry-run")
    real = run("broadcast_retry", str(failed.pk))
    for out, verb in ((dry, "Would keep"), (real, "Kept")):
        assert (
            f"{verb} 1 row(s) as they were: the guardian's number now is one another message "
            f"about the same child's report already went to (never twice to one number about "
            f"one child): #{failed.pk}."
        ) in out
    assert MonthlyReportBroadcast.objects.get(pk=failed.pk).status == "failed"
    dispatch.assert_not_called()


def test_a_number_corrected_to_a_free_one_is_resent(family, dispatch, update_path):
    Guardian.objects.filter(pk=family["ayah"].pk).update(phone="0813-1111-2222")

    outcome = broadcast_resend(broadcast_ids=[family["failed"].pk])

    assert outcome.resent == (family["failed"].pk,)
    assert MonthlyReportBroadcast.objects.get(pk=family["failed"].pk).phone_number == AYAH


# --- Guardians removed or opted out -----------------------------------------------------------


@pytest.fixture
def kept_family(report, make_student, make_guardian):
    """Eko's two guardians' messages failed; his mother then opted out, his father stayed."""
    child = make_student(IBU, name="Eko Prasetyo", parent_name="Rina")
    ibu = child.guardians.get()
    ayah = make_guardian(child, "ayah", AYAH, name="Joko")
    rows = {
        g.relation: guardian_row(
            monthly_report=report, student=child, guardian=g, phone_number=p, status="failed"
        )
        for g, p in ((ibu, IBU), (ayah, AYAH))
    }
    Guardian.objects.filter(pk=ibu.pk).update(receives_messages=False)
    gone = make_student("0813-9999-0000", name="Fajar Nugroho")
    rows["removed"] = guardian_row(
        monthly_report=report, student=gone, phone_number="6281399990000", status="failed"
    )
    gone.guardians.all().delete()
    return rows


def test_the_retry_preview_counts_and_names_guardians_opted_out_or_removed(
    kept_family, admin_client, dispatch
):
    preview = broadcast_retry_preview(broadcasts=MonthlyReportBroadcast.objects.all())

    assert (preview.opted_out, preview.guardian_removed, preview.will_resend) == (1, 1, 1)
    assert [e.guardian.name for e in preview.opted_out_guardians] == ["Rina"]
    assert [e.student.full_name for e in preview.guardian_removed_guardians] == ["Fajar Nugroho"]
    # Excluded by guardian, not by child: the father of the same child is resent.
    assert [row.pk for row in preview.shown] == [kept_family["ayah"].pk]

    page = admin_client.post(
        BROADCASTS,
        {
            "action": "retry_failed",
            "_selected_action": [row.pk for row in kept_family.values()],
        },
        **EN,
    ).content.decode()
    assert "1 failed message will be sent again" in page
    assert "Not resent, the guardian does not receive messages: 1." in page
    assert "Not resent, the guardian was removed from the student data: 1." in page
    assert "Eko Prasetyo (N00001), Joko (father)" in re.sub(r"<[^>]+>", "", page)


def test_the_resend_keeps_guardians_opted_out_or_removed_and_says_so_in_indonesian(
    kept_family, report, admin_client, dispatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            REPORTS,
            {"action": "resend_failed_broadcasts", "_selected_action": [report.pk], "post": "yes"},
            HTTP_ACCEPT_LANGUAGE="id",
        )

    assert response.status_code == 302
    statuses = dict(
        (pk, status) for pk, status in MonthlyReportBroadcast.objects.values_list("pk", "status")
    )
    assert statuses == {
        kept_family["ibu"].pk: "failed",
        kept_family["ayah"].pk: "pending",
        kept_family["removed"].pk: "failed",
    }
    (banner,) = [str(m) for m in response.wsgi_request._messages]
    assert "wali murid tidak menerima pesan: 1" in banner
    assert "wali murid sudah dihapus dari data siswa: 1" in banner
    notes = dict(
        LogEntry.objects.filter(content_type__model="monthlyreportbroadcast").values_list(
            "object_id", "change_message"
        )
    )
    assert notes[str(kept_family["ibu"].pk)] == (
        "Tidak dikirim ulang: wali murid tidak menerima pesan."
    )
    assert notes[str(kept_family["removed"].pk)] == (
        "Tidak dikirim ulang: wali murid sudah dihapus dari data siswa."
    )


def test_broadcast_retry_lists_guardians_opted_out_or_removed(kept_family, dispatch):
    out = run("broadcast_retry", "--all")

    ibu, removed = kept_family["ibu"].pk, kept_family["removed"].pk
    assert (
        "Kept 1 row(s) as they were: the guardian does not receive messages (opted out in the "
        f"student data): #{ibu}."
    ) in out
    assert (
        "Kept 1 row(s) as they were: the guardian was removed from the student data; they "
        f"cannot be resent: #{removed}."
    ) in out
    assert broadcasts_resend_problems(broadcast_ids=[ibu, removed]) == {
        ibu: NotResendable.OPTED_OUT,
        removed: NotResendable.GUARDIAN_REMOVED,
    }
