"""The Fonnte devices as their connect webhook last reported them: read-only."""

from django.contrib import admin

from .models import FonnteDevice


@admin.register(FonnteDevice)
class FonnteDeviceAdmin(admin.ModelAdmin):
    """Written only by Fonnte's connect webhook (services.receipts.fonnte_device_record)."""

    list_display = ["device", "status", "reason", "changed_at"]
    list_filter = ["status"]
    fields = list_display
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
