"""Revoking every personal link of a report ("Cabut tautan"), after a confirmation page."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from broadcasts.selectors import report_live_links
from broadcasts.services import links_revoke


def revoke_report_links(request, object_id, *, model_admin):
    """GET: how many links would stop working; POST (``post=yes``): revoke them all."""
    if not model_admin.has_manage_report_files_permission(request):
        raise PermissionDenied
    report = model_admin.get_object(request, object_id)
    if report is None:  # unknown, or a class the user may not see: the same answer
        raise Http404
    change_url = reverse(
        "admin:reports_monthlyreport_change",
        args=[report.pk],
        current_app=model_admin.admin_site.name,
    )
    if request.method == "POST" and request.POST.get("post") == "yes":
        count = links_revoke(monthly_report=report, user=request.user)
        if count:
            text = ngettext(
                "%(report)s: %(n)d link revoked: it no longer opens the report.",
                "%(report)s: %(n)d links revoked: they no longer open the report.",
                count,
            ) % {"report": report, "n": count}
        else:
            text = _("%(report)s: no active link to revoke.") % {"report": report}
        model_admin.message_user(request, text, messages.SUCCESS)
        return HttpResponseRedirect(change_url)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Revoke the links to the report?"),
        "original": report,
        "live_links": report_live_links(monthly_report=report),
        "change_url": change_url,
        "opts": model_admin.model._meta,
        "media": model_admin.media,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(
        request, "admin/reports/monthlyreport/revoke_links_confirmation.html", context
    )
