from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("students", "0006_guardians_from_parents"),
        # The rows' guardians are filled in from the guardians 0006 made.
        ("broadcasts", "0012_row_guardian"),
    ]

    operations = [
        migrations.RemoveField(model_name="student", name="parent_name"),
        migrations.RemoveField(model_name="student", name="parent_phone"),
        migrations.RemoveField(model_name="student", name="whatsapp_registered"),
        migrations.RemoveField(model_name="student", name="whatsapp_checked_at"),
    ]
