"""The report list's live delivery progress: the JSON that reports/progress.js polls."""

from django.core.exceptions import PermissionDenied
from django.http import JsonResponse

from broadcasts.selectors import Progress, broadcast_progress
from students.selectors import sees_every_classroom

from .wording import children_summary, opened_summary, progress_summary

#: Most reports one request may ask about (a changelist page shows at most a few hundred).
MAX_IDS = 500

#: The largest id a report can have (a BigAutoField's, settings.DEFAULT_AUTO_FIELD).
LARGEST_ID = 2**63 - 1


def progress_as_json(progress: Progress) -> dict:
    return {
        "sent": progress.sent,
        "failed": progress.failed,
        "unknown": progress.unknown,
        "in_progress": progress.in_progress,
        "waiting": progress.waiting,
        "total": progress.total,
        "finished": progress.finished,
        "percent": progress.percent,
        "state": progress.state.value,
        "state_label": str(progress.state.label),
        "summary": progress_summary(progress),
        "archived": progress.archived,
        "opened": progress.opened,
        "with_link": progress.with_link,
        "awaiting_open": progress.awaiting_open,
        "opened_summary": opened_summary(progress),
        "children": progress.children,
        "children_reached": progress.children_reached,
        "children_summary": children_summary(progress),
    }


def monthly_report_progress(request, *, model_admin):
    """``GET …/progress/?ids=1,2,3`` → ``{"reports": {"1": {counts, state…}, …}}``.

    Served through ``admin_site.admin_view`` (staff only); needs the view permission too.
    Reports that do not exist, or that the user may not see, are left out of the answer.
    """
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    try:
        ids = {int(part) for part in request.GET.get("ids", "").split(",") if part.strip()}
    except ValueError:
        return JsonResponse({"error": "ids must be comma-separated integers"}, status=400)
    if len(ids) > MAX_IDS:
        return JsonResponse({"error": f"at most {MAX_IDS} ids per request"}, status=400)
    # An id past a BigAutoField's range names no report, as a missing one; asked of the
    # database it overflowed SQLite's integer (a server error).
    ids = {pk for pk in ids if 0 < pk <= LARGEST_ID}
    if not sees_every_classroom(user=request.user):
        # Another class's report is "not found" here too (students.selectors).
        ids = set(model_admin.get_queryset(request).filter(pk__in=ids).values_list("pk", flat=True))
    progress = broadcast_progress(monthly_report_ids=ids)
    return JsonResponse(
        {"reports": {str(pk): progress_as_json(item) for pk, item in sorted(progress.items())}}
    )
