"""The admin groups may export students and see every class.

Exporting writes every parent's number to a file: its own permission, held by the admin
groups (and superusers) only. A teacher (guru) sees the classes that name them as
teacher (students.selectors); the admin groups see every class.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ADMIN_GROUPS = ("super_admin", "admin")
GRANTED = ("export_student", "view_all_classrooms")


def _granted(apps):
    # Permissions are normally created after all migrations; this one needs them now.
    app_config = apps.get_app_config("students")
    app_config.models_module = True  # the migration state's stub lacks it
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    return apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="students", codename__in=GRANTED
    )


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    permissions = list(_granted(apps))
    for name in ADMIN_GROUPS:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    permissions = list(_granted(apps))
    for group in Group.objects.filter(name__in=ADMIN_GROUPS):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0003_roles"),
        ("students", "0003_classroom_teachers_export_permission"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
