"""The Fonnte devices as their connect webhook last reported them, and the pause they hold.

Nobody edits a device by hand. The admins (``resume_sending``: the admin groups and
superusers) see whether sending is paused and end the pause with one click, which checks
the device with Fonnte first (services.devices) and is written in the device's history.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from students.phones import mask_phone
from tkassalam.language import school_language

from .models import FonnteDevice
from .services import fonnte_device_check
from .services.devices import CheckOutcome

RESUME_PERMISSION = "broadcasts.resume_sending"


@admin.register(FonnteDevice)
class FonnteDeviceAdmin(admin.ModelAdmin):
    """Written by Fonnte's connect webhook (services.receipts) and the device check."""

    list_display = ["device", "status", "reason", "changed_at", "checked_at", "is_school"]
    list_filter = ["status"]
    fields = list_display
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        school = FonnteDevice.objects.school().filter(pk=OuterRef("pk"))
        return super().get_queryset(request).annotate(school_device=Exists(school))

    @admin.display(description=gettext_lazy("school's device"), boolean=True)
    def is_school(self, obj):
        return obj.school_device

    def get_urls(self):
        check = path(
            "check/",
            self.admin_site.admin_view(self.check_view),
            name="broadcasts_fonntedevice_check",
        )
        return [check, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        paused = list(FonnteDevice.objects.holding_messages())
        if paused and request.method == "GET":
            messages.warning(request, _paused_text(paused))
        context = {
            **(extra_context or {}),
            "can_resume_sending": request.user.has_perm(RESUME_PERMISSION),
            "sending_paused": bool(paused),
        }
        return super().changelist_view(request, extra_context=context)

    def check_view(self, request):
        """POST: check the device with Fonnte; end the pause only if it is connected."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(RESUME_PERMISSION):
            raise PermissionDenied
        check = fonnte_device_check()
        text, level = _check_text(check)
        if check.device is not None:
            # The device's history (Django's admin log) says who checked, when, and what
            # came of it, in the school's language whatever the admin's.
            with school_language():
                self.log_change(request, check.device, _check_text(check)[0])
        self.message_user(request, text, level)
        return HttpResponseRedirect(reverse("admin:broadcasts_fonntedevice_changelist"))


def _paused_text(paused) -> str:
    devices = ", ".join(mask_phone(device.device) for device in paused)
    return _(
        "Sending is paused: Fonnte reported the WhatsApp device %(device)s disconnected. "
        "Waiting messages go out once it is connected again: connect the school's phone in "
        "the Fonnte dashboard, then click “Check the device and resume sending”."
    ) % {"device": devices}


def _check_text(check) -> tuple[str, int]:
    """What the admin is told after a check (and what the device's history keeps)."""
    device = mask_phone(check.device.device) if check.device is not None else ""
    if check.outcome == CheckOutcome.RESUMED:
        text = _("Fonnte reports the WhatsApp device %(device)s connected: sending resumes.")
        return text % {"device": device}, messages.SUCCESS
    if check.outcome == CheckOutcome.CONNECTED:
        text = _("Fonnte reports the WhatsApp device %(device)s connected.")
        return text % {"device": device}, messages.SUCCESS
    if check.outcome == CheckOutcome.DISCONNECTED:
        text = _(
            "Fonnte reports the WhatsApp device %(device)s disconnected: sending stays paused. "
            "Connect the school's phone in the Fonnte dashboard (scan the QR code), then "
            "check again."
        )
        return text % {"device": device}, messages.ERROR
    if check.outcome == CheckOutcome.STATE_UNKNOWN:
        text = _(
            "Fonnte did not say whether the WhatsApp device %(device)s is connected: "
            "sending is unchanged."
        )
        return text % {"device": device}, messages.WARNING
    if check.outcome == CheckOutcome.MISMATCH:
        text = _(
            "Fonnte's token sends from %(device)s, not from the number set in "
            "FONNTE_DEVICE_NUMBER: nothing was changed. Ask the operator to correct it."
        )
        return text % {"device": mask_phone(check.reported)}, messages.ERROR
    if check.outcome == CheckOutcome.NO_NUMBER:
        text = _("Fonnte did not say which WhatsApp number it sends from: sending is unchanged.")
        return text, messages.WARNING
    if check.error:
        text = _("The device could not be checked with Fonnte (%(reason)s): sending is unchanged.")
        return text % {"reason": check.error}, messages.ERROR
    text = _(
        "The device could not be checked with Fonnte: sending is unchanged. The operator "
        "finds the details in the server log."
    )
    return text, messages.ERROR
