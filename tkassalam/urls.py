from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

# Lazy: rendered in each request's language ("Admin TK ABA Assalam" in Bahasa Indonesia).
admin.site.site_header = admin.site.site_title = format_lazy(
    _("{school} Admin"), school=settings.SCHOOL_NAME
)
# "View site" leads to the school's website; there is no public site here.
admin.site.site_url = settings.SCHOOL_WEBSITE or None

urlpatterns = [
    path("admin/", admin.site.urls),
    # set_language: the admin header's language switcher posts here.
    path("i18n/", include("django.conf.urls.i18n")),
    path("webhooks/", include("broadcasts.urls")),
    # The parent's personal link to their child's report (broadcasts.parent_views).
    path("laporan/", include("broadcasts.parent_urls")),
]
