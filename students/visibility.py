"""What the admin shows a member of staff: the rows of their own classes, and guardians'
numbers masked (``62812****7890``) unless they may change students. The rules are
students.selectors'; these mixins apply them to every admin page that lists or shows
students, reports and messages."""

from django.contrib import admin, messages
from django.utils.translation import gettext

from .models import Student
from .phones import mask_phone, mask_phones_in
from .selectors import (
    classrooms_visible_to,
    in_visible_classrooms,
    sees_full_phone_numbers,
    teaches_no_classroom,
)


class ClassroomFilter(admin.RelatedFieldListFilter):
    """The class filter, listing only the classes the user may see."""

    def field_choices(self, field, request, model_admin):
        return [
            (classroom.pk, str(classroom)) for classroom in classrooms_visible_to(user=request.user)
        ]


class ClassroomScopedMixin:
    """The rows of the classes the user may see (through ``classroom_field``), everywhere the
    admin reads them: lists, filters' counts, search, pages, history, actions, autocomplete.
    Another class's row is "not found"."""

    classroom_field: str = "classroom"

    def get_queryset(self, request):
        return in_visible_classrooms(
            super().get_queryset(request), user=request.user, field=self.classroom_field
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "classroom":
            kwargs["queryset"] = classrooms_visible_to(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET" and teaches_no_classroom(user=request.user):
            messages.warning(request, no_classroom_message())
        return super().changelist_view(request, extra_context)


def no_classroom_message() -> str:
    return gettext(
        "You are not named as the teacher of any class yet; ask the school's admin to add "
        "you on the Classes page."
    )


class MaskedPhoneMixin:
    """Fields that hold or may hold a guardian's number, shown masked to staff who may not
    change students: ``masked_fields`` maps each field to the display method that masks it,
    swapped in the list's columns and the page's fields (lists, pages and inlines alike)."""

    masked_fields: dict[str, str] = {}

    def _masked(self, request, names):
        if sees_full_phone_numbers(user=request.user):
            return names
        swapped = []
        for name in names:
            name = self.masked_fields.get(name, name)
            if name not in swapped:
                swapped.append(name)
        return swapped

    def get_list_display(self, request):
        return self._masked(request, super().get_list_display(request))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if sees_full_phone_numbers(user=request.user):
            return fieldsets
        return [
            (name, {**options, "fields": self._masked(request, options["fields"])})
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if sees_full_phone_numbers(user=request.user):
            return fields
        return self._masked(request, [*fields, *self.masked_fields.values()])


def masked(value: str) -> str:
    """A stored number, masked; "-" for none."""
    return mask_phone(value) or "-"


def masked_text(value: str) -> str:
    """Free text with any number in it masked; "-" for none."""
    return mask_phones_in(value) or "-"


def shown_reason(reason: str, *, user) -> str:
    """A failure's reason as ``user`` may read it: Fonnte's may name the number, masked for
    staff who may not change students; empty stays empty."""
    if not reason or sees_full_phone_numbers(user=user):
        return reason
    return mask_phones_in(reason)


def student_links(modeladmin, request) -> bool:
    """Whether the user may open a student's page: a child's name is then a link to fix the
    number (the report's pages and the broadcast list's resend pages alike)."""
    student_admin = modeladmin.admin_site.get_model_admin(Student)
    return student_admin.has_view_or_change_permission(request)
