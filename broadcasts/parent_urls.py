"""The parent's personal link, under ``/laporan/``: the page and the file (parent_views)."""

from django.urls import path

from . import parent_views

app_name = "parent"

urlpatterns = [
    path("<str:token>/", parent_views.report_page, name="report"),
    path("<str:token>/berkas/", parent_views.report_file, name="file"),
]
