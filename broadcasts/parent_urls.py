"""The parent's personal link, under ``/laporan/``: the page and the file (parent_views)."""

from django.urls import path, re_path

from . import parent_views

app_name = "parent"

urlpatterns = [
    path("<str:token>/", parent_views.report_page, name="report"),
    path("<str:token>/berkas/", parent_views.report_file, name="file"),
    # Any other path under /laporan/ ending in "/" (a link cut or lengthened on the way):
    # the same friendly page as an unknown link. Not one without the "/": Django adds it
    # first (APPEND_SLASH), so "/laporan/<token>" still reaches the page.
    re_path(r"^(?:.*/)?$", parent_views.no_such_link, name="unknown"),
]
