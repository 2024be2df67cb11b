"""The student's admin page as a browser posts it: the student and its guardians' forms."""

STUDENTS = "/admin/students/student/"


def student_data(classroom, *guardians, nis="1234567890", full_name="Aisyah Putri", **fields):
    """The POST of the student's page with ``guardians`` in its inline, in order.

    Each guardian is a dict of the inline's fields (``relation``, ``name``, ``phone``,
    ``receives_messages``), with ``id`` and ``student`` for one already saved and
    ``DELETE`` to remove it; saved ones must come first, as on the page.
    """
    data = {
        "nis": nis,
        "full_name": full_name,
        "classroom": classroom.pk,
        "guardians-TOTAL_FORMS": str(len(guardians)),
        "guardians-INITIAL_FORMS": str(sum("id" in guardian for guardian in guardians)),
        "guardians-MIN_NUM_FORMS": "0",
        "guardians-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for index, guardian in enumerate(guardians):
        guardian = {
            "relation": "ibu",
            "name": "",
            "phone": "",
            "receives_messages": True,
            **guardian,
        }
        for key, value in guardian.items():
            if value is False or value is None:
                continue  # an unticked box is not sent
            data[f"guardians-{index}-{key}"] = "on" if value is True else value
    return data


def saved(guardian, **changes):
    """An inline form for a saved guardian, as the page shows it, with ``changes``."""
    return {
        "id": guardian.pk,
        "student": guardian.student_id,
        "relation": guardian.relation,
        "name": guardian.name,
        "phone": guardian.phone,
        "receives_messages": guardian.receives_messages,
        **changes,
    }
