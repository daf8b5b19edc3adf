"""Request-id middleware: `X-Request-ID` in and out, and the id in every log line."""

from __future__ import annotations

import re
import uuid

from techticket.request_context import request_id_var, user_id_var

HEADER = "X-Request-ID"
# A client-supplied id is echoed only if it is short and harmless; anything else (newlines,
# markup, megabytes) is replaced so that it can never forge a log line or a header.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _request_id_from(request) -> str:
    supplied = request.headers.get(HEADER, "")
    if _SAFE_ID.fullmatch(supplied):
        return supplied
    return uuid.uuid4().hex


class RequestIDMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = _request_id_from(request)
        request.request_id = request_id
        id_token = request_id_var.set(request_id)
        user_token = user_id_var.set(None)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(id_token)
            user_id_var.reset(user_token)
        response[HEADER] = request_id
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        # Authentication ran by now for session users; JWT users are set by the API layer.
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            user_id_var.set(user.pk)
