"""The broadcast list's personal links: opened state, the link's state, and "Cabut tautan".

Staff never see a live link or its token: the message is shown with the token masked
(broadcasts.links.mask_link_tokens); a link opened from the admin would count as the
parent opening the report.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..links import link_expires_at, link_is_live, mask_link_tokens
from ..services import links_revoke


def short_datetime(value) -> str:
    return date_format(localtime(value), "SHORT_DATETIME_FORMAT") if value else "-"


def link_state(obj) -> str:
    """The row's link in the school's words: live, expired, revoked, or no link."""
    if not obj.link_token:
        return str(_("no link (message without the report's file)"))
    if obj.link_revoked_at is not None:
        return str(_("revoked"))
    if link_is_live(
        link_token=obj.link_token,
        link_created_at=obj.link_created_at,
        link_revoked_at=obj.link_revoked_at,
    ):
        return str(_("active"))
    return str(_("expired"))


def revoked_message(count: int) -> str:
    if not count:
        return str(_("No link was revoked: the selected messages have no active link."))
    return ngettext(
        "%(n)d link revoked: it no longer opens the report.",
        "%(n)d links revoked: they no longer open the report.",
        count,
    ) % {"n": count}


class BroadcastLinksMixin:
    """The row's link and opened state, and revoking links from the list and a row's page."""

    def has_manage_report_files_permission(self, request):
        return request.user.has_perm("reports.manage_report_files")

    @admin.display(description=_("file opened"), ordering="opened_at")
    def opened(self, obj):
        """When the parent first opened the file, and how many times; or that it was not."""
        if obj.opened_at:
            # Day and time only, so the column stays narrow; the full date in the title.
            opened_at = localtime(obj.opened_at)
            return format_html(
                '<span class="wa-opened-at" title="{}">{} {}</span>'
                '<span class="wa-quiet">{}</span>',
                short_datetime(obj.opened_at),
                date_format(opened_at, "j M"),
                date_format(opened_at, "TIME_FORMAT"),
                ngettext("%(n)d time", "%(n)d times", obj.open_count) % {"n": obj.open_count},
            )
        if obj.link_token:
            return format_html('<span class="wa-not-opened">{}</span>', _("not opened yet"))
        return "-"

    @admin.display(description=_("message"))
    def message_shown(self, obj):
        return format_html(
            '<div style="white-space: pre-wrap">{}</div>', mask_link_tokens(obj.message or "")
        )

    @admin.display(description=_("link"))
    def link_state_shown(self, obj):
        return link_state(obj)

    @admin.display(description=_("link expires at"))
    def link_expires_shown(self, obj):
        # As the row's other times show (the fields' own DATETIME_FORMAT).
        if not obj.link_created_at:
            return "-"
        return date_format(localtime(link_expires_at(obj.link_created_at)), "DATETIME_FORMAT")

    @admin.action(
        description=_("Revoke the links of the selected messages"),
        permissions=["manage_report_files"],
    )
    def revoke_links(self, request, queryset):
        count = links_revoke(queryset=queryset, user=request.user)
        self.message_user(request, revoked_message(count), messages.SUCCESS)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/revoke-link/",
                self.admin_site.admin_view(self.revoke_link_view),
                name="{}_{}_revoke_link".format(*info),
            ),
            *super().get_urls(),
        ]

    @staticmethod
    def _live(obj) -> bool:
        return link_is_live(
            link_token=obj.link_token,
            link_created_at=obj.link_created_at,
            link_revoked_at=obj.link_revoked_at,
        )

    def revoke_link_view(self, request, object_id):
        """The row page's "Revoke the link" button (POST only): revoke, back to the row."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_manage_report_files_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, object_id)
        if obj is None:
            # Unknown, or a class the user may not see: the same answer.
            raise Http404
        count = links_revoke(queryset=self.model.objects.filter(pk=obj.pk), user=request.user)
        self.message_user(request, revoked_message(count), messages.SUCCESS)
        return HttpResponseRedirect(
            reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                args=[obj.pk],
                current_app=self.admin_site.name,
            )
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_revoke_link"] = bool(
            obj is not None and self._live(obj) and self.has_manage_report_files_permission(request)
        )
        return super().render_change_form(request, context, add, change, form_url, obj)
