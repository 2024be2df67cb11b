import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from reports.models import MonthlyReport
from students.models import Classroom, Guardian, Student
from students.phones import InvalidPhoneNumber, normalize_phone

DEMO_ADMIN = "admin"

# Two classes of a kindergarten, each child with its guardians: (relation, name, number,
# receives messages). As in real data, some have two (ayah and ibu), one pair shares a
# number, one mother asked for no messages, a few have no number or a wrong one, and twins
# share their parents' numbers: the confirmation page and the alerts have something to show.
CLASSES = {
    "TK A Melati": [
        (
            "A001",
            "Aisyah Putri",
            [("ibu", "Ibu Siti", "0812-1000-0001"), ("ayah", "Bapak Fauzi", "0812-1000-0101")],
        ),
        ("A002", "Muhammad Rizki", [("ayah", "Bapak Ahmad", "+62 812 1000 0002")]),
        (
            "A003",
            "Nadia Zahra",
            # One phone for both parents: one message between them.
            [("ibu", "Ibu Rina", "812 1000 0003"), ("ayah", "Bapak Hendra", "0812-1000-0003")],
        ),
        (
            "A004",
            "Fajar Ramadhan",
            [
                ("ayah", "Bapak Dedi", "6281210000004"),
                ("ibu", "Ibu Ratna", "0812-1000-0104", False),  # asked for no messages
            ],
        ),
        ("A005", "Salsabila", [("ibu", "Ibu Wati", "")]),
        ("A006", "Rafi Pratama", [("ayah", "Bapak Joko", "0812")]),
        # Twins: the same two numbers, one message per child.
        (
            "A007",
            "Keisha Anindya",
            [("ibu", "Ibu Dewi", "0812-1000-0007"), ("ayah", "Bapak Hadi", "0812-1000-0008")],
        ),
        (
            "A008",
            "Kayla Anindya",
            [("ibu", "Ibu Dewi", "0812-1000-0007"), ("ayah", "Bapak Hadi", "0812-1000-0008")],
        ),
    ],
    "TK B Mawar": [
        ("B001", "Alya Ramadhani", [("ibu", "Ibu Nur", "0813-2000-0001")]),
        (
            "B002",
            "Daffa Alfarizi",
            [("ayah", "Bapak Yusuf", "0813-2000-0002"), ("ibu", "Ibu Maya", "0813-2000-0102")],
        ),
        ("B003", "Kirana Larasati", [("ibu", "Ibu Sri", "021 555 1234")]),
        ("B004", "Hafiz Maulana", [("ayah", "Bapak Rudi", "")]),
        ("B005", "Zahra Aulia", [("ibu", "Ibu Lina", "0813-2000-0005")]),
        ("B006", "Arkan Wijaya", [("wali", "Bapak Tono", "0813-2000-0006")]),
    ],
}


class Command(BaseCommand):
    help = (
        "Load demo classrooms, students with their guardians (some without or with wrong "
        "numbers) and this month's reports, and create or reset the demo admin account, "
        "printing its login. For local use only: refuses to run unless DEBUG is on."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("load_demo_data is for local use: set DEBUG=true to run it.")
        with transaction.atomic():
            self._load_school()
            password = self._reset_admin()
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            self.style.SUCCESS(
                f"Admin login: http://127.0.0.1:8000/admin/  user: {DEMO_ADMIN}  "
                f"password: {password}"
            )
        )

    def _load_school(self):
        # The demo numbers could belong to real people: never give them to a real sender.
        with_students = settings.WHATSAPP_BACKEND == "console"
        if not with_students:
            self.stdout.write(
                self.style.WARNING(
                    "WHATSAPP_BACKEND is not 'console': classrooms and reports loaded, demo "
                    "students not, so no real number gets a demo message. Add a student with "
                    "your own number to try a real send."
                )
            )
        today = timezone.localdate()
        for classroom_name, students in CLASSES.items():
            classroom, _ = Classroom.objects.get_or_create(name=classroom_name)
            MonthlyReport.objects.get_or_create(
                classroom=classroom, month=today.month, year=today.year
            )
            if not with_students:
                continue
            for nis, full_name, guardians in students:
                student, _ = Student.objects.update_or_create(
                    nis=nis, defaults={"full_name": full_name, "classroom": classroom}
                )
                for relation, name, phone, *receives in guardians:
                    # Matched by child and relation, as the import does (the first of it: the
                    # admin may have added another): a rerun adds no one.
                    guardian = student.guardians.filter(relation=relation).order_by("pk").first()
                    guardian = guardian or Guardian(student=student, relation=relation)
                    guardian.name = name
                    guardian.phone = _stored(phone)
                    guardian.receives_messages = receives[0] if receives else True
                    guardian.save()

    def _reset_admin(self):
        User = get_user_model()
        password = secrets.token_urlsafe(9)
        user, _ = User.objects.get_or_create(
            username=DEMO_ADMIN, defaults={"email": "admin@example.com"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get(name="super_admin"))
        return password


def _stored(phone):
    """A valid number as the admin form stores it (62…); a wrong one as typed."""
    try:
        return normalize_phone(phone) if phone else ""
    except InvalidPhoneNumber:
        return phone
