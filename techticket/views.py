"""Site-wide pages: the home redirect and the friendly error pages (SPEC §6, §7)."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views.decorators.csrf import requires_csrf_token

from techticket.api.errors import (
    MSG_BODY_TOO_LARGE,
    MSG_NOT_FOUND,
    MSG_SERVER_ERROR,
    is_api_request,
    json_error_response,
)


def favicon(request):
    return redirect(static("img/favicon.svg"), permanent=True)


def home(request):
    if request.user.is_authenticated:
        from accounts.views import landing_url

        return redirect(landing_url(request.user))
    return render(request, "home.html")


# Outside DRF (an unknown route, a body Django refused before a view ran, a crash in a
# middleware), requests under /api/ still get the API's JSON error shape.


def error_400(request, exception=None):
    if is_api_request(request):
        if isinstance(exception, RequestDataTooBig):
            return json_error_response(413, "request_too_large", MSG_BODY_TOO_LARGE)
        return json_error_response(400, "bad_request", _("Bad request."))
    return render(request, "errors/400.html", status=400)


@requires_csrf_token
def error_403(request, exception=None):
    if is_api_request(request):
        return json_error_response(
            403, "permission_denied", _("You do not have permission to perform this action.")
        )
    return render(request, "errors/403.html", status=403)


def error_404(request, exception=None):
    if is_api_request(request):
        return json_error_response(404, "not_found", MSG_NOT_FOUND)
    return render(request, "errors/404.html", status=404)


def error_500(request):
    request_id = getattr(request, "request_id", "")
    if is_api_request(request):
        return json_error_response(500, "error", MSG_SERVER_ERROR % {"id": request_id or "-"})
    # No template context processors that touch the database: the error may be the database.
    return render(
        request,
        "errors/500.html",
        {"request_id": getattr(request, "request_id", "")},
        status=500,
    )


def csrf_failure(request, reason=""):
    if is_api_request(request):
        return json_error_response(403, "csrf_failed", _("CSRF check failed."))
    return render(request, "errors/403_csrf.html", status=403)
