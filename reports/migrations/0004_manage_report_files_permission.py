"""Who may change a report's files: the admin groups (and superusers), not teachers.

Uploading, replacing and removing the children's report files, and revoking the parents'
personal links to them, is its own permission (reports.manage_report_files): a teacher
(guru) sees the files of their classes and changes nothing.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ADMIN_GROUPS = ("super_admin", "admin")
GRANTED = ("manage_report_files",)


def _granted(apps):
    # Permissions are normally created after all migrations; this one needs them now.
    app_config = apps.get_app_config("reports")
    app_config.models_module = True  # the migration state's stub lacks it
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    return apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="reports", codename__in=GRANTED
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
        ("reports", "0003_report_files"),
        ("notifications", "0004_export_permission"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="monthlyreport",
            options={
                "ordering": ["-year", "-month", "classroom__name"],
                "permissions": [
                    ("send_whatsapp_broadcast", "Can send the WhatsApp broadcast of a report"),
                    (
                        "manage_report_files",
                        "Can upload, replace and remove report files and revoke parents' links",
                    ),
                ],
                "verbose_name": "monthly report",
                "verbose_name_plural": "monthly reports",
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
