from django.contrib import admin
from django.urls import include, path

from techticket import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("tickets/", include("tickets.urls")),
    path("favicon.ico", views.favicon),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("techticket.api.urls")),
]

handler400 = "techticket.views.error_400"

handler403 = "techticket.views.error_403"
handler404 = "techticket.views.error_404"
handler500 = "techticket.views.error_500"
