from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Notification
from .services import notification_mark_read


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Each admin sees their own alerts; opening one marks it read."""

    list_display = ["title", "level", "created_at", "is_read"]
    list_filter = ["level", ("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "body"]
    readonly_fields = ["recipient", "level", "title", "body", "rows", "created_at", "read_at"]
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(recipient=request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("read"), boolean=True)
    def is_read(self, obj):
        return obj.read_at is not None

    @admin.display(description=_("rows concerned"))
    def rows(self, obj):
        if not obj.link:
            return "-"
        return format_html('<a href="{}">{}</a>', obj.link, _("Open the messages concerned"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        notification = self.get_object(request, object_id)
        if notification is not None:
            notification_mark_read(notification=notification)
        return super().change_view(request, object_id, form_url, extra_context)
