"""Who sees what: which classes a member of staff may see, and whether parents' numbers
are shown whole. Every admin page asks here."""

from django.db.models import QuerySet

from .models import Classroom


def sees_every_classroom(*, user) -> bool:
    """Superusers and the admin groups see every class; a teacher sees their own."""
    return user.has_perm("students.view_all_classrooms")


def classrooms_visible_to(*, user) -> QuerySet[Classroom]:
    """The classes ``user`` may see: every class, or those naming them as a teacher."""
    if sees_every_classroom(user=user):
        return Classroom.objects.all()
    return Classroom.objects.filter(teachers=user.pk)


def in_visible_classrooms(queryset: QuerySet, *, user, field: str = "classroom") -> QuerySet:
    """``queryset`` limited to the rows whose ``field`` is a class ``user`` may see.

    One subquery, no query of its own; unchanged for those who see every class.
    """
    if sees_every_classroom(user=user):
        return queryset
    return queryset.filter(**{f"{field}__in": classrooms_visible_to(user=user)})


def teaches_no_classroom(*, user) -> bool:
    """A teacher no class names yet: they see nothing, and the list pages say why."""
    return not sees_every_classroom(user=user) and not classrooms_visible_to(user=user).exists()


def sees_full_phone_numbers(*, user) -> bool:
    """Whoever may change students sees guardians' numbers whole; others see them masked."""
    return user.has_perm("students.change_student")
