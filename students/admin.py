from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .forms import StudentForm
from .models import Classroom, Student
from .phones import is_valid_phone


@admin.register(Classroom)
class ClassroomAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Student)
class StudentAdmin(admin.ModelAdmin):
    form = StudentForm
    list_display = ["nis", "full_name", "classroom", "parent_name", "parent_phone", "phone_ok"]
    list_filter = ["classroom"]
    search_fields = ["nis", "full_name", "parent_name", "parent_phone"]
    list_select_related = ["classroom"]
    list_per_page = 50

    @admin.display(description=_("WhatsApp number OK"), boolean=True)
    def phone_ok(self, obj):
        return is_valid_phone(obj.parent_phone) if obj.parent_phone else None
