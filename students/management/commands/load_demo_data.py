import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from reports.models import MonthlyReport
from students.models import Classroom, Student

DEMO_ADMIN = "admin"

# Two classes of a kindergarten. A few parents have no number or a wrong one,
# as in real data, so the confirmation page and the failure alerts have something to show.
CLASSES = {
    "TK A Melati": [
        ("A001", "Aisyah Putri", "Ibu Siti", "0812-1000-0001"),
        ("A002", "Muhammad Rizki", "Bapak Ahmad", "+62 812 1000 0002"),
        ("A003", "Nadia Zahra", "Ibu Rina", "812 1000 0003"),
        ("A004", "Fajar Ramadhan", "Bapak Dedi", "6281210000004"),
        ("A005", "Salsabila", "Ibu Wati", ""),
        ("A006", "Rafi Pratama", "Bapak Joko", "0812"),
        ("A007", "Keisha Anindya", "Ibu Dewi", "0812-1000-0007"),
        ("A008", "Bima Saputra", "Bapak Hadi", "0812-1000-0008"),
    ],
    "TK B Mawar": [
        ("B001", "Alya Ramadhani", "Ibu Nur", "0813-2000-0001"),
        ("B002", "Daffa Alfarizi", "Bapak Yusuf", "0813-2000-0002"),
        ("B003", "Kirana Larasati", "Ibu Sri", "021 555 1234"),
        ("B004", "Hafiz Maulana", "Bapak Rudi", ""),
        ("B005", "Zahra Aulia", "Ibu Lina", "0813-2000-0005"),
        ("B006", "Arkan Wijaya", "Bapak Tono", "0813-2000-0006"),
    ],
}


class Command(BaseCommand):
    help = (
        "Load demo classrooms, students (some without or with wrong numbers) and this "
        "month's reports, and create or reset the demo admin account, printing its login. "
        "For local use only: refuses to run unless DEBUG is on."
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
            for nis, full_name, parent_name, phone in students:
                Student.objects.update_or_create(
                    nis=nis,
                    defaults={
                        "full_name": full_name,
                        "classroom": classroom,
                        "parent_name": parent_name,
                        "parent_phone": phone,
                    },
                )

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
