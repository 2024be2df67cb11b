import django.db.models.deletion
from django.db import migrations, models

import students.validators


class Migration(migrations.Migration):
    dependencies = [
        ("students", "0004_name_validators"),
    ]

    operations = [
        migrations.CreateModel(
            name="Guardian",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "name",
                    models.CharField(
                        blank=True,
                        max_length=150,
                        validators=[students.validators.validate_name],
                        verbose_name="name",
                    ),
                ),
                (
                    "relation",
                    models.CharField(
                        choices=[("ayah", "father"), ("ibu", "mother"), ("wali", "guardian")],
                        default="wali",
                        max_length=4,
                        verbose_name="relation",
                    ),
                ),
                (
                    "phone",
                    models.CharField(
                        blank=True,
                        help_text=(
                            "Indonesian mobile number, e.g. 0812-3456-7890. Leave empty if "
                            "there is none."
                        ),
                        max_length=20,
                        verbose_name="WhatsApp number",
                    ),
                ),
                (
                    "receives_messages",
                    models.BooleanField(
                        default=True,
                        help_text=(
                            "Untick for a guardian who asked not to get the school's messages."
                        ),
                        verbose_name="receives WhatsApp messages",
                    ),
                ),
                (
                    "whatsapp_registered",
                    models.BooleanField(
                        blank=True,
                        default=None,
                        editable=False,
                        help_text=(
                            "Empty: not checked yet. No: the number has no WhatsApp and gets "
                            "no message."
                        ),
                        null=True,
                        verbose_name="on WhatsApp",
                    ),
                ),
                (
                    "whatsapp_checked_at",
                    models.DateTimeField(
                        blank=True, editable=False, null=True, verbose_name="WhatsApp checked at"
                    ),
                ),
                (
                    "student",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="guardians",
                        to="students.student",
                        verbose_name="student",
                    ),
                ),
            ],
            options={
                "verbose_name": "guardian",
                "verbose_name_plural": "guardians",
                "ordering": ["student", "pk"],
                "indexes": [models.Index(fields=["phone"], name="guardian_phone")],
            },
        ),
    ]
