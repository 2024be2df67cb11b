"""Each row belongs to a guardian; never twice becomes one row per (report, child, number).

The rows made before guardians existed were each for the student's one parent, who became
the student's first guardian (students 0006): each row gets that guardian. Its number stays
the one the message went to.

Backward: refused while a child has several rows for one report (more than one guardian was
messaged): the old model holds one row per child and report.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.migrations.exceptions import IrreversibleError
from django.db.models import Count, OuterRef, Subquery


def rows_to_first_guardian(apps, schema_editor):
    Broadcast = apps.get_model("broadcasts", "MonthlyReportBroadcast")
    Guardian = apps.get_model("students", "Guardian")
    db = schema_editor.connection.alias
    first = Guardian.objects.using(db).filter(student_id=OuterRef("student_id")).order_by("pk")
    Broadcast.objects.using(db).update(guardian_id=Subquery(first.values("pk")[:1]))


def refuse_several_per_child(apps, schema_editor):
    Broadcast = apps.get_model("broadcasts", "MonthlyReportBroadcast")
    db = schema_editor.connection.alias
    several = (
        Broadcast.objects.using(db)
        .filter(monthly_report__isnull=False)
        .values("monthly_report_id", "student_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .order_by()
    )
    if several.exists():
        raise IrreversibleError(
            "Some children were messaged at more than one guardian's number for one report; "
            "the model before guardians holds one message per child and report. Delete those "
            "extra rows first if you really mean to go back."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("broadcasts", "0011_default_template_with_link"),
        ("students", "0006_guardians_from_parents"),
    ]

    operations = [
        migrations.AddField(
            model_name="monthlyreportbroadcast",
            name="guardian",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="broadcasts",
                to="students.guardian",
                verbose_name="guardian",
            ),
        ),
        migrations.RunPython(rows_to_first_guardian, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="monthlyreportbroadcast",
            constraint=models.UniqueConstraint(
                fields=("monthly_report", "student", "phone_number"),
                name="one_broadcast_per_report_child_number",
            ),
        ),
        # After the new one: on MariaDB the report's foreign key needs an index that starts
        # with it, which the new constraint gives before the old one goes.
        migrations.RemoveConstraint(
            model_name="monthlyreportbroadcast", name="one_broadcast_per_report_student"
        ),
        migrations.AddConstraint(
            model_name="monthlyreportbroadcast",
            constraint=models.UniqueConstraint(
                fields=("monthly_report", "guardian"), name="one_broadcast_per_report_guardian"
            ),
        ),
        migrations.RunPython(migrations.RunPython.noop, refuse_several_per_child, elidable=False),
    ]
