"""The one JSON error shape of the API (SPEC §5), produced by drf-standardized-errors:
`{"type", "errors": [{"code", "detail", "attr"}]}` for 400…500 alike.

Domain errors from the services are mapped to HTTP here, once. Errors that happen outside DRF
under /api/ (an unknown route, a body Django refuses, a crash in middleware) get the same shape
from `json_error_response`, used by the site-wide error handlers."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _
from drf_standardized_errors.handler import ExceptionHandler as BaseExceptionHandler
from rest_framework import exceptions, status
from rest_framework_simplejwt.exceptions import DetailDictMixin

from techticket import errors
from techticket.request_context import current_request_id

logger = logging.getLogger("techticket.api")

API_PREFIX = "/api/"
MSG_SERVER_ERROR = _("Internal server error. Quote this request id to the administrator: %(id)s")
MSG_BODY_TOO_LARGE = _("The request body is too large.")
MSG_NOT_FOUND = _("Not found.")


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "invalid_transition"
    default_detail = errors.InvalidTransition.default_message


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "stale_version"
    default_detail = errors.StaleVersion.default_message


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "file_too_large"
    default_detail = errors.AttachmentTooLarge.default_message


class InsufficientStorage(exceptions.APIException):
    status_code = 507
    default_code = "storage_failed"
    default_detail = _("The file could not be saved. Please try again later.")


def to_api_exception(exc: Exception) -> Exception:
    """A domain error as the DRF exception of its HTTP status; anything else unchanged."""
    if isinstance(exc, errors.AttachmentTooLarge):
        return PayloadTooLarge(detail=exc.message, code=exc.code)
    if isinstance(exc, errors.ValidationError):
        detail = {
            (field or "non_field_errors"): [str(m) for m in messages]
            for field, messages in exc.errors.items()
        }
        return exceptions.ValidationError(detail=detail, code=exc.code)
    if isinstance(exc, errors.NotFound):
        return exceptions.NotFound(detail=exc.message)
    if isinstance(exc, errors.PermissionDenied):
        return exceptions.PermissionDenied(detail=exc.message)
    if isinstance(exc, errors.InvalidTransition):
        return Conflict(detail=exc.message)
    if isinstance(exc, errors.StaleVersion):
        return PreconditionFailed(detail=exc.message)
    if isinstance(exc, errors.ApplicationError) and exc.status_code == 507:
        return InsufficientStorage(detail=exc.message, code=exc.code)
    if isinstance(exc, errors.ApplicationError):
        return exceptions.APIException(detail=exc.message, code=exc.code)
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge(detail=MSG_BODY_TOO_LARGE, code="request_too_large")
    if isinstance(exc, SuspiciousOperation):
        return exceptions.ParseError(detail=str(exc))
    if isinstance(exc, DetailDictMixin):
        # simplejwt puts {"detail", "code", "messages"} in one error's detail; the error shape
        # would spread it over three errors whose `attr` is "detail", "code"...
        flat = exceptions.AuthenticationFailed(
            detail=str(exc.detail["detail"]), code=str(exc.detail["code"])
        )
        flat.auth_header = getattr(exc, "auth_header", None)
        return flat
    return exc


class ExceptionHandler(BaseExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        return super().convert_known_exceptions(to_api_exception(exc))

    def should_not_handle(self, exc: Exception) -> bool:
        # Always answer with the JSON shape, in debug mode too.
        return False

    def convert_unhandled_exceptions(self, exc: Exception) -> exceptions.APIException:
        if not isinstance(exc, exceptions.APIException):
            logger.error("Unhandled API error", exc_info=(type(exc), exc, exc.__traceback__))
            return exceptions.APIException(
                detail=MSG_SERVER_ERROR % {"id": current_request_id() or "-"}, code="error"
            )
        return exc

    def report_exception(self, exc, response) -> None:
        # Logged above with the traceback (and the request id, by the log filter); the base
        # class would log the same failure a second time without it.
        return None


def json_error_response(status_code: int, code: str, detail: str) -> JsonResponse:
    error_type = "server_error" if status_code >= 500 else "client_error"
    return JsonResponse(
        {"type": error_type, "errors": [{"code": code, "detail": str(detail), "attr": None}]},
        status=status_code,
    )


def is_api_request(request) -> bool:
    return request.path.startswith(API_PREFIX)
