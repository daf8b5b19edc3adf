"""How the pages adapt the domain's errors (the API's twin is techticket/api/errors.py):
invisible → 404, forbidden → 403, everything else → a message or a form error."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.forms import Form
from django.http import Http404
from django.shortcuts import render

from techticket import errors

INSUFFICIENT_STORAGE = 507


class DomainErrorsMixin:
    """NotFound becomes 404 and PermissionDenied 403 for every page view using it; a file the
    server could not store (a full disk) a 507 page. Views show the other errors on their
    forms."""

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except errors.NotFound:
            raise Http404 from None
        except errors.PermissionDenied as exc:
            raise DjangoPermissionDenied(str(exc.message)) from None
        except errors.ApplicationError as exc:
            if exc.status_code != INSUFFICIENT_STORAGE:
                raise
            return storage_failure_page(request, exc)


def storage_failure_page(request, exc: errors.ApplicationError):
    """507: the server could not store a file (a full disk); nothing was changed."""
    return render(request, "errors/507.html", {"message": exc.message}, status=507)


def add_form_errors(form: Form, exc: errors.ValidationError) -> None:
    """Show a service's ValidationError on the form, each message on its field when the form
    has that field, otherwise at the top."""
    for field, messages_ in exc.errors.items():
        target = field if field in form.fields else None
        for message in messages_:
            form.add_error(target, str(message))


def flash_error(request, exc: errors.ApplicationError) -> None:
    for field_messages in getattr(exc, "errors", {None: [exc.message]}).values():
        for message in field_messages:
            messages.error(request, str(message))
