"""Each student's parent (name and number) becomes the student's first guardian; reversible.

Forward: a student with a parent's name or number gets one guardian holding both, with the
number's WhatsApp check state. The relation is read off the name's own honorific where it
has one ("Ibu Siti": ibu, "Bapak Ahmad": ayah), else ``wali``. A student with neither gets
no guardian (there is nothing to keep).

Backward: each student's first guardian (the oldest) goes back into the student's parent
fields. Only that one: a child's second guardian has nowhere to go in the old model.
"""

import re

from django.db import migrations

BATCH = 1000

# Frozen here (a migration must not follow later code): how a school writes a parent's
# honorific before the name, as students.relations spells them.
_MOTHER = re.compile(r"\s*(ibu|bu|bunda|ibunda|mama|nyonya|ny)\b\.?(\s|$)", re.I)
_FATHER = re.compile(r"\s*(bapak|bpk|bp|pak|ayah|ayahanda|papa|abah|tuan|tn)\b\.?(\s|$)", re.I)


def relation_of(name: str) -> str:
    if _MOTHER.match(name):
        return "ibu"
    if _FATHER.match(name):
        return "ayah"
    return "wali"


def parents_to_guardians(apps, schema_editor):
    Student = apps.get_model("students", "Student")
    Guardian = apps.get_model("students", "Guardian")
    db = schema_editor.connection.alias
    students = (
        Student.objects.using(db)
        .exclude(parent_name="", parent_phone="")
        .order_by("pk")
        .values_list("pk", "parent_name", "parent_phone", "whatsapp_registered", "whatsapp_checked_at")
    )
    batch = []
    for pk, name, phone, registered, checked_at in students.iterator(chunk_size=BATCH):
        batch.append(
            Guardian(
                student_id=pk,
                name=name,
                relation=relation_of(name),
                phone=phone,
                receives_messages=True,
                whatsapp_registered=registered,
                whatsapp_checked_at=checked_at,
            )
        )
        if len(batch) >= BATCH:
            Guardian.objects.using(db).bulk_create(batch)
            batch = []
    Guardian.objects.using(db).bulk_create(batch)


def guardians_to_parents(apps, schema_editor):
    Student = apps.get_model("students", "Student")
    Guardian = apps.get_model("students", "Guardian")
    db = schema_editor.connection.alias
    first = {}
    for guardian in Guardian.objects.using(db).order_by("student_id", "pk").iterator(BATCH):
        first.setdefault(guardian.student_id, guardian)
    students = []
    for student_id, guardian in first.items():
        students.append(
            Student(
                pk=student_id,
                parent_name=guardian.name,
                parent_phone=guardian.phone,
                whatsapp_registered=guardian.whatsapp_registered,
                whatsapp_checked_at=guardian.whatsapp_checked_at,
            )
        )
    Student.objects.using(db).bulk_update(
        students,
        ["parent_name", "parent_phone", "whatsapp_registered", "whatsapp_checked_at"],
        batch_size=BATCH,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("students", "0005_guardian"),
    ]

    operations = [
        migrations.RunPython(parents_to_guardians, guardians_to_parents, elidable=False),
    ]
