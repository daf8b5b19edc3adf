"""Site-wide pages: the home redirect and the friendly error pages (SPEC §6, §7)."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.csrf import requires_csrf_token


def favicon(request):
    return redirect(static("img/favicon.svg"), permanent=True)


def home(request):
    return render(request, "home.html")


@requires_csrf_token
def error_403(request, exception=None):
    return render(request, "errors/403.html", status=403)


def error_404(request, exception=None):
    return render(request, "errors/404.html", status=404)


def error_500(request):
    # No template context processors that touch the database: the error may be the database.
    return render(
        request,
        "errors/500.html",
        {"request_id": getattr(request, "request_id", "")},
        status=500,
    )


def csrf_failure(request, reason=""):
    return render(request, "errors/403_csrf.html", status=403)
