"""The message template is one row with a fixed primary key (MessageTemplate.SCHOOL_PK).

A school that wrote its own text keeps it: the row in use (the lowest key, which the old
code read) moves to that key, and rows never used go. No row is made here: the code makes
it with its own default text when first needed (message_template_get_or_create), so a
later change of the default reaches new installations without a migration.
"""

from django.db import migrations

SCHOOL_PK = 1


def keep_the_text_in_use(apps, schema_editor):
    template = apps.get_model("broadcasts", "MessageTemplate")
    in_use = template.objects.order_by("pk").first()
    if in_use is None:
        return
    template.objects.exclude(pk=in_use.pk).delete()
    if in_use.pk != SCHOOL_PK:
        # Nothing refers to a template row: its key can change.
        template.objects.filter(pk=in_use.pk).update(id=SCHOOL_PK)


class Migration(migrations.Migration):
    dependencies = [("broadcasts", "0008_device_number")]

    operations = [migrations.RunPython(keep_the_text_in_use, migrations.RunPython.noop)]
