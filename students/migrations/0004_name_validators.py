import students.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("students", "0003_classroom_teachers_export_permission"),
    ]

    operations = [
        migrations.AlterField(
            model_name="classroom",
            name="name",
            field=models.CharField(
                max_length=100,
                unique=True,
                validators=[students.validators.validate_name],
                verbose_name="name",
            ),
        ),
        migrations.AlterField(
            model_name="student",
            name="full_name",
            field=models.CharField(
                max_length=150,
                validators=[students.validators.validate_name],
                verbose_name="full name",
            ),
        ),
        migrations.AlterField(
            model_name="student",
            name="parent_name",
            field=models.CharField(
                blank=True,
                max_length=150,
                validators=[students.validators.validate_name],
                verbose_name="parent's name",
            ),
        ),
    ]
