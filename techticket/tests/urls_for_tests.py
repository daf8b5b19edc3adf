"""A URLconf with views that exist only to exercise logging and error handling in tests."""

import logging

from django.http import HttpResponse
from django.urls import path

from techticket.urls import urlpatterns as site_urlpatterns

LOGGER_NAME = "techticket.tests"


def log_warning(request):
    logging.getLogger(LOGGER_NAME).warning("user input: %s", "forged\nline")
    return HttpResponse("logged")


def explode(request):
    raise RuntimeError("boom: secret internals")


urlpatterns = [
    path("log-warning/", log_warning),
    path("explode/", explode),
    *site_urlpatterns,
]

handler400 = "techticket.views.error_400"
handler403 = "techticket.views.error_403"
handler404 = "techticket.views.error_404"
handler500 = "techticket.views.error_500"
