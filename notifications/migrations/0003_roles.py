"""Roles for school staff.

super_admin and admin: send and repair broadcasts, edit the message template, manage
students and reports, read their alerts (their permissions now cover the models added
since 0002). guru (teacher): sees students, reports and delivery status; sends nothing.
Broadcast rows, attempts and archives are a record: nobody edits them by hand.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

APPS = ("students", "reports", "broadcasts", "notifications")
ADMIN_GROUPS = ("super_admin", "admin")
TEACHER_GROUP = "guru"
RECORDS = ("monthlyreportbroadcast", "broadcastattempt", "broadcastarchive", "notification")


def _permissions(apps):
    for app_label in APPS:
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True  # the migration state's stub lacks it
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    return apps.get_model("auth", "Permission").objects.filter(content_type__app_label__in=APPS)


def set_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    permissions = _permissions(apps)
    admin_permissions = permissions.exclude(
        codename__in=[f"{verb}_{model}" for verb in ("add", "change") for model in RECORDS]
    ).exclude(codename__in=["delete_monthlyreportbroadcast", "delete_broadcastattempt"])
    for name in ADMIN_GROUPS:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(admin_permissions)
    teacher, _ = Group.objects.get_or_create(name=TEACHER_GROUP)
    teacher.permissions.set(
        permissions.filter(
            codename__in=[
                "view_student",
                "view_classroom",
                "view_monthlyreport",
                "view_monthlyreportbroadcast",
                "view_broadcastattempt",
                "view_broadcastarchive",
            ]
        )
    )


def remove_teacher_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=TEACHER_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_admin_groups"),
        ("broadcasts", "0003_attempts_and_template"),
    ]

    operations = [migrations.RunPython(set_roles, remove_teacher_group)]
