from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import Notification
from .services import notification_mark_read, notification_mark_read_many


class ReadListFilter(admin.SimpleListFilter):
    """Unread / read, on ``read_at``; the header's count links to ``?read=no``."""

    title = _("read")
    parameter_name = "read"

    def lookups(self, request, model_admin):
        return [("no", _("Unread")), ("yes", _("Read"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.unread()
        if self.value() == "yes":
            return queryset.filter(read_at__isnull=False)
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Each admin sees their own alerts, newest first; opening one marks it read."""

    list_display = ["title_display", "level", "created_at", "is_read", "rows"]
    list_display_links = ["title_display"]
    list_filter = [ReadListFilter, "level"]
    search_fields = ["title", "body"]
    ordering = ["-created_at", "-id"]
    actions = ["mark_read"]
    readonly_fields = ["recipient", "level", "title", "body", "rows", "created_at", "read_at"]
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(recipient=request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("title"), ordering="title")
    def title_display(self, obj):
        if obj.read_at is None:
            return format_html("<strong>{}</strong>", obj.title)
        return obj.title

    @admin.display(description=_("read"), boolean=True, ordering="read_at")
    def is_read(self, obj):
        return obj.read_at is not None

    @admin.display(description=_("rows concerned"))
    def rows(self, obj):
        if not obj.link:
            return "-"
        return format_html('<a href="{}">{}</a>', obj.link, _("Open the messages concerned"))

    @admin.action(description=_("Mark the selected notifications as read"))
    def mark_read(self, request, queryset):
        # The queryset is this admin's own notifications (get_queryset), so nobody
        # marks another admin's alerts; those already read keep their first time.
        count = notification_mark_read_many(
            recipient=request.user, ids=queryset.values_list("pk", flat=True)
        )
        self.message_user(
            request, gettext("Notifications marked as read: %(count)d.") % {"count": count}
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        notification = self.get_object(request, object_id)
        if notification is not None:
            notification_mark_read(notification=notification)
        return super().change_view(request, object_id, form_url, extra_context)
