import math

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, ngettext_lazy

from broadcasts.admin import resend_notes
from broadcasts.exceptions import BroadcastArchived
from broadcasts.models import BroadcastStatus, MonthlyReportBroadcast
from broadcasts.selectors import (
    MessageCounts,
    Progress,
    ProgressState,
    broadcast_plan,
    broadcast_progress,
    broadcast_resend_plan,
    report_has_broadcasts,
    report_undelivered,
    reports_with_broadcasts,
)
from broadcasts.services import (
    broadcast_create_for_report,
    broadcast_resend,
    fonnte_device_learn,
)
from broadcasts.services.pacing import Waiting, pacing_state
from notifications.selectors import whatsapp_device_readiness
from students.models import Student
from students.selectors import sees_full_phone_numbers
from students.visibility import ClassroomFilter, ClassroomScopedMixin, masked, shown_reason
from tkassalam.language import school_language

from .models import MonthlyReport
from .views import monthly_report_progress
from .wording import created_text, planned_text, progress_summary


@admin.action(
    description=gettext_lazy("Send the WhatsApp notification to parents"),
    permissions=["send_whatsapp"],
)
def send_whatsapp_broadcast(modeladmin, request, queryset):
    """Show what would be sent; on confirmation (``post=yes``) create the rows and queue them."""
    reports = list(queryset.select_related("classroom"))
    if request.POST.get("post") == "yes":
        for report in reports:
            try:
                outcome = broadcast_create_for_report(
                    monthly_report=report, requested_by=request.user
                )
            except BroadcastArchived:
                modeladmin.message_user(request, _archived_message(report), messages.ERROR)
                continue
            # Who sent, and when: the report's history (Django's admin log) keeps it, in
            # the school's language whatever the sender's.
            with school_language():
                modeladmin.log_change(request, report, _creation_message(report, outcome))
            # A banner that announces failures or children left out is a warning.
            level = (
                messages.WARNING
                if outcome.invalid_phone
                or outcome.not_delivered
                or outcome.skipped_no_phone
                or outcome.skipped_not_on_whatsapp
                else messages.SUCCESS
            )
            modeladmin.message_user(request, _creation_message(report, outcome), level)
        return None
    plans = [broadcast_plan(monthly_report=report) for report in reports]
    full_numbers = sees_full_phone_numbers(user=request.user)
    for plan in plans:
        plan.headline = planned_text(plan.counts)
        for student in plan.invalid_phone:
            # The number to correct, shown once; masked for who may not change students.
            student.shown_phone = (
                student.parent_phone if full_numbers else masked(student.parent_phone)
            )
    # The quota and the pace concern the messages that reach Fonnte: invalid numbers do not.
    recipients = sum(plan.will_receive for plan in plans)
    # One short /device call: the quota is the device's, shared by all these reports.
    device = whatsapp_device_readiness(recipients=recipients)
    # Its number is the school's device: only that device's disconnect pauses sending.
    fonnte_device_learn(status=device.status)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Send the WhatsApp notification?"),
        "plans": plans,
        "device": device,
        "pacing_note": _pacing_note(recipients),
        "queryset": queryset,
        "student_links": _student_links(modeladmin, request),
        "opts": modeladmin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "action_name": "send_whatsapp_broadcast",
        "media": modeladmin.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(
        request, "admin/reports/monthlyreport/send_whatsapp_confirmation.html", context
    )


def _say_if_sending_is_held(request):
    """Waiting messages are held back (services.pacing): say why and until when, at the top."""
    if text := _held_text(pacing_state()):
        messages.warning(request, text)


def _held_text(state) -> str:
    """Why and until when pacing holds waiting messages back; empty when it does not."""
    if state.open_now:
        return ""
    until = (
        date_format(timezone.localtime(state.resumes_at), "SHORT_DATETIME_FORMAT")
        if state.resumes_at
        else ""
    )
    if state.waiting == Waiting.DISCONNECTED:
        return _(
            "Sending is paused: Fonnte reports the school's WhatsApp device disconnected. "
            "Waiting messages go out once it is connected again."
        )
    if state.waiting == Waiting.QUIET_HOURS:
        return _("Quiet hours: waiting messages go out from %(time)s.") % {"time": until}
    return _(
        "Today's limit of %(n)d WhatsApp messages is reached: waiting messages go out "
        "from %(time)s."
    ) % {"n": state.daily_limit, "time": until}


def _pacing_note(recipients) -> str:
    """For the confirmation page: how long the messages take at the pace, and any hold."""
    state = pacing_state()
    parts = []
    if state.per_minute and recipients:
        minutes = math.ceil(recipients / state.per_minute)
        parts.append(
            ngettext(
                "Messages go out one by one, at most %(rate)s a minute, to protect the "
                "school's number: these take about %(n)d minute.",
                "Messages go out one by one, at most %(rate)s a minute, to protect the "
                "school's number: these take about %(n)d minutes.",
                minutes,
            )
            % {"rate": f"{state.per_minute:g}", "n": minutes}
        )
    if held := _held_text(state):
        parts.append(held)
    return " ".join(parts)


def _archived_message(report):
    return _(
        "%(report)s: its messages were archived, so it cannot be sent again "
        "(parents who were told would be told twice)."
    ) % {"report": report}


#: What the admin is told about rows that existed before the click, when there are any.
_EARLIER_ROWS = [
    (
        "already_sent",
        ngettext_lazy(
            "%(n)d parent already received it and was not messaged again.",
            "%(n)d parents already received it and were not messaged again.",
            "n",
        ),
    ),
    (
        "under_way",
        ngettext_lazy(
            "%(n)d message was already under way.",
            "%(n)d messages were already under way.",
            "n",
        ),
    ),
    (
        "not_delivered",
        ngettext_lazy(
            "%(n)d earlier message failed or is unknown: resend it from the broadcast list.",
            "%(n)d earlier messages failed or are unknown: resend them from the broadcast list.",
            "n",
        ),
    ),
    (
        "skipped_no_phone",
        ngettext_lazy(
            "%(n)d student skipped: no phone number.",
            "%(n)d students skipped: no phone number.",
            "n",
        ),
    ),
    (
        "skipped_not_on_whatsapp",
        ngettext_lazy(
            "%(n)d student skipped: the number is not on WhatsApp.",
            "%(n)d students skipped: the number is not on WhatsApp.",
            "n",
        ),
    ),
]


def _student_links(modeladmin, request) -> bool:
    """Whether the user may open a student's page: its name is then a link to fix the number."""
    student_admin = modeladmin.admin_site.get_model_admin(Student)
    return student_admin.has_view_or_change_permission(request)


def _creation_message(report, outcome):
    counts = MessageCounts(total=outcome.created, invalid=outcome.invalid_phone)
    parts = [f"{report}: {created_text(counts)}"]
    for field, text in _EARLIER_ROWS:
        if count := getattr(outcome, field):
            parts.append(text % {"n": count})
    return " ".join(parts)


@admin.action(
    description=gettext_lazy("Resend failed messages"),
    permissions=["send_whatsapp"],
)
def resend_failed_broadcasts(modeladmin, request, queryset):
    """Show the failed rows that would be resent; on confirmation (``post=yes``) resend them."""
    reports = list(queryset.select_related("classroom"))
    plans = broadcast_resend_plan(monthly_reports=reports)
    if request.POST.get("post") == "yes":
        for plan in plans:
            # The service re-checks each row's status: a row sent meanwhile stays untouched.
            outcome = broadcast_resend(
                broadcast_ids=[row.pk for row in plan.failed], requested_by=request.user
            )
            if outcome.resent or outcome.not_resent:
                with school_language():
                    modeladmin.log_change(
                        request, plan.monthly_report, _resend_message(plan, outcome)
                    )
            # Anything not sent, or sent to fail again, makes the banner a warning.
            clean = outcome.to_fonnte and not (resend_notes(outcome) or plan.unknown)
            modeladmin.message_user(
                request,
                _resend_message(plan, outcome),
                messages.SUCCESS if clean else messages.WARNING,
            )
        return None
    for plan in plans:
        for row in plan.failed:
            row.shown_reason = shown_reason(row.error_message, user=request.user)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Resend the failed WhatsApp messages?"),
        "plans": plans,
        "failed_total": sum(plan.will_resend for plan in plans),
        # Children whose number must be fixed before anything of theirs can be resent.
        "to_fix_total": sum(
            len(plan.invalid_phone) + len(plan.not_on_whatsapp) + len(plan.no_phone)
            for plan in plans
        ),
        "student_links": _student_links(modeladmin, request),
        "broadcast_changelist_url": reverse(
            "admin:broadcasts_monthlyreportbroadcast_changelist",
            current_app=modeladmin.admin_site.name,
        ),
        "opts": modeladmin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "action_name": "resend_failed_broadcasts",
        "media": modeladmin.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(
        request, "admin/reports/monthlyreport/resend_failed_confirmation.html", context
    )


def _resend_message(plan, outcome):
    count = len(outcome.to_fonnte)
    if count:
        text = ngettext(
            "%(report)s: %(n)d failed message will be sent again.",
            "%(report)s: %(n)d failed messages will be sent again.",
            count,
        ) % {"report": plan.monthly_report, "n": count}
    elif outcome.resent or outcome.not_resent:
        text = _("%(report)s: no message will be sent again.") % {"report": plan.monthly_report}
    else:
        text = _("%(report)s: no failed messages to resend.") % {"report": plan.monthly_report}
    # What was not sent, and why, in the words of the broadcast list's resend.
    text = " ".join([text, *resend_notes(outcome)])
    if plan.unknown:
        text += " " + ngettext(
            "%(n)d message with an unknown outcome was not resent: check it, then resend it "
            "from the broadcast list.",
            "%(n)d messages with an unknown outcome were not resent: check them, then resend "
            "them from the broadcast list.",
            len(plan.unknown),
        ) % {"n": len(plan.unknown)}
    return text


#: The statuses behind each count of a report's progress, for its link to the broadcast list.
COUNT_STATUSES = {
    "sent": BroadcastStatus.SENT,
    "failed": BroadcastStatus.FAILED,
    "unknown": BroadcastStatus.UNKNOWN,
    "in_progress": [BroadcastStatus.SENDING, BroadcastStatus.RETRYING],
    "waiting": BroadcastStatus.PENDING,
    "not_delivered": [BroadcastStatus.FAILED, BroadcastStatus.UNKNOWN],
}


@admin.register(MonthlyReport)
class MonthlyReportAdmin(ClassroomScopedMixin, admin.ModelAdmin):
    # The name says class and period; the room goes to the progress, which must fit.
    list_display = ["__str__", "delivery"]
    list_filter = ["year", "month", ("classroom", ClassroomFilter)]
    list_select_related = ["classroom"]
    show_facets = admin.ShowFacets.NEVER  # a COUNT per year, month and class: 17 queries, not 11
    actions = [send_whatsapp_broadcast, resend_failed_broadcasts]
    change_form_template = "admin/reports/monthlyreport/change_form.html"

    class Media:
        css = {"all": ["reports/progress.css"]}
        js = ["reports/progress.js"]

    def get_urls(self):
        # Before the default URLs: "<path:object_id>/" would otherwise swallow "progress/".
        return [
            path(
                "progress/",
                self.admin_site.admin_view(self.progress_view),
                name="reports_monthlyreport_progress",
            ),
            *super().get_urls(),
        ]

    def progress_view(self, request):
        return monthly_report_progress(request, model_admin=self)

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            _say_if_sending_is_held(request)
        response = super().changelist_view(request, extra_context)
        # The page's progress in one aggregate query, whatever the number of reports or
        # rows; attached before the (lazy) template renders the delivery column.
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:
            reports = list(changelist.result_list)  # evaluated once; the template reuses it
            progress = broadcast_progress(monthly_report_ids=[report.pk for report in reports])
            rows_links = self._rows_links(request)
            for report in reports:
                report.delivery_progress = progress.get(report.pk, Progress())
                report.delivery_rows_links = rows_links
        return response

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if change and obj is not None:
            if request.method == "GET":
                _say_if_sending_is_held(request)
            progress = broadcast_progress(monthly_report_ids=[obj.pk]).get(obj.pk, Progress())
            rows_links = self._rows_links(request)
            context["delivery_progress"] = self._progress_widget(
                obj, progress, rows_links=rows_links
            )
            context.update(self._undelivered(request, obj, progress, rows_links=rows_links))
            context["can_send"] = (
                progress.state == ProgressState.NOT_SENT
                and self.has_send_whatsapp_permission(request)
            )
            context["can_resend_failed"] = bool(
                progress.failed
                and not progress.archived
                and self.has_send_whatsapp_permission(request)
            )
            if (
                progress.unknown
                and not progress.archived
                and self.has_send_whatsapp_permission(request)
            ):
                # Only for those who may resend them: the link says to check, then resend.
                context["unknown_broadcasts_url"] = self._broadcasts_url(obj, status="unknown")
            if not context["adminform"].form.fields:
                # Nothing editable here (read-only for this user, or for this report once
                # sent): no Save button that saves nothing.
                context.update(
                    show_save=False, show_save_and_continue=False, show_save_and_add_another=False
                )
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description=gettext_lazy("WhatsApp delivery"))
    def delivery(self, obj):
        progress = getattr(obj, "delivery_progress", None)
        if progress is None:  # outside changelist_view: one query for this report
            progress = broadcast_progress(monthly_report_ids=[obj.pk]).get(obj.pk, Progress())
        return self._progress_widget(
            obj, progress, rows_links=getattr(obj, "delivery_rows_links", False)
        )

    def _progress_widget(self, obj, progress, *, rows_links=False):
        # Each count opens the broadcast list filtered to this report and that status; an
        # archived report's rows are gone, and who may not open the list gets no links.
        links = {}
        if rows_links and not progress.archived:
            links = {
                name: self._broadcasts_url(obj, status=statuses)
                for name, statuses in COUNT_STATUSES.items()
            }
        return render_to_string(
            "admin/reports/monthlyreport/progress.html",
            {
                "report_id": obj.pk,
                "progress": progress,
                "summary": progress_summary(progress),
                "links": links,
                "progress_url": reverse(
                    "admin:reports_monthlyreport_progress", current_app=self.admin_site.name
                ),
            },
        )

    def _rows_links(self, request) -> bool:
        """Whether the user may open the broadcast list, to which the counts link."""
        rows_admin = self.admin_site.get_model_admin(MonthlyReportBroadcast)
        return rows_admin.has_view_or_change_permission(request)

    def _undelivered(self, request, obj, progress, *, rows_links):
        """The report page's list of failed and unknown messages: who, why, and where to fix."""
        not_delivered = progress.failed + progress.unknown
        if not not_delivered or progress.archived:
            return {}
        student_links = _student_links(self, request)
        full_numbers = sees_full_phone_numbers(user=request.user)
        rows = []
        for row in report_undelivered(monthly_report=obj):
            rows.append(
                {
                    "student": row.student,
                    "status": row.get_status_display(),
                    "failed": row.status == BroadcastStatus.FAILED,
                    "reason": shown_reason(row.error_message, user=request.user),
                    "row_url": reverse(
                        "admin:broadcasts_monthlyreportbroadcast_change",
                        args=[row.pk],
                        current_app=self.admin_site.name,
                    )
                    if rows_links
                    else "",
                    "student_url": reverse(
                        "admin:students_student_change",
                        args=[row.student.pk],
                        current_app=self.admin_site.name,
                    )
                    if student_links
                    else "",
                }
            )
        return {
            "undelivered": rows,
            "undelivered_more": not_delivered - len(rows),
            "undelivered_url": self._broadcasts_url(obj, status=COUNT_STATUSES["not_delivered"])
            if rows_links
            else "",
            "fix_numbers": full_numbers,
        }

    def _broadcasts_url(self, obj, *, status):
        """The broadcast list of this report, filtered to ``status`` (one, or a list)."""
        url = reverse(
            "admin:broadcasts_monthlyreportbroadcast_changelist", current_app=self.admin_site.name
        )
        if isinstance(status, str):
            query = {"monthly_report__id__exact": obj.pk, "status__exact": status}
        else:
            query = {"monthly_report__id__exact": obj.pk, "status__in": ",".join(status)}
        return f"{url}?{urlencode(query)}"

    def get_readonly_fields(self, request, obj=None):
        # Once messages about a report went out, its class and period are what parents
        # were told: changing them would make the record say something else.
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and report_has_broadcasts(monthly_report=obj):
            fields += [name for name in ("classroom", "month", "year") if name not in fields]
        return fields

    def get_deleted_objects(self, objs, request):
        # Deleting a report whose messages went out would drop the record of who was told
        # (the rows lose their report, the archive goes with it) and let the same class
        # and month be added and sent again: every parent told twice. Django's own
        # "cannot delete" page lists these, on the report page and for "delete selected".
        objs = list(objs)
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        sent = reports_with_broadcasts(monthly_reports=objs)
        protected = [
            *protected,
            *(
                _(
                    "%(report)s: WhatsApp messages to parents were made for this report. The "
                    "record of who was told must stay, so it cannot be deleted."
                )
                % {"report": report}
                for report in objs
                if report.pk in sent
            ),
        ]
        return deleted, model_count, perms_needed, protected

    def has_send_whatsapp_permission(self, request):
        return request.user.has_perm("reports.send_whatsapp_broadcast")
