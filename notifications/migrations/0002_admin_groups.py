"""Create the groups that run the school's broadcasts and hear about failures.

super_admin and admin: send broadcasts, resend failed messages, manage students
and reports, read alerts. (Issue 4 adds a read-only teachers' group.)
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ADMIN_GROUPS = ("super_admin", "admin")
APPS = ("students", "reports", "broadcasts", "notifications")


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; this one needs them now.
    for app_label in APPS:
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True  # the migration state's stub lacks it
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    # Broadcast rows and alerts are a record: created and changed by the system only.
    permissions = Permission.objects.filter(content_type__app_label__in=APPS).exclude(
        codename__in=[
            "add_monthlyreportbroadcast",
            "change_monthlyreportbroadcast",
            "delete_monthlyreportbroadcast",
            "add_notification",
            "change_notification",
        ]
    )
    for name in ADMIN_GROUPS:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*permissions)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ADMIN_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("notifications", "0001_initial"),
        ("students", "0001_initial"),
        ("reports", "0001_initial"),
        ("broadcasts", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
