"""OpenAPI pieces shared by the API modules: the error responses that drf-standardized-errors
does not add by itself (409, 412, 413, 507), in its shape."""

from __future__ import annotations

from django.db import models
from drf_spectacular.utils import OpenApiResponse
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ServerErrorEnum
from rest_framework import serializers


class ErrorCode409Enum(models.TextChoices):
    INVALID_TRANSITION = "invalid_transition"


class ErrorCode412Enum(models.TextChoices):
    STALE_VERSION = "stale_version"


class ErrorCode413Enum(models.TextChoices):
    FILE_TOO_LARGE = "file_too_large"
    REQUEST_TOO_LARGE = "request_too_large"


class ErrorCode507Enum(models.TextChoices):
    STORAGE_FAILED = "storage_failed"


def _error_response(status: int, codes: type[models.TextChoices], description: str):
    error = type(
        f"Error{status}Serializer",
        (serializers.Serializer,),
        {
            "code": serializers.ChoiceField(choices=codes.choices),
            "detail": serializers.CharField(),
            "attr": serializers.CharField(allow_null=True),
        },
    )
    kind = ServerErrorEnum if status >= 500 else ClientErrorEnum
    response = type(
        f"ErrorResponse{status}Serializer",
        (serializers.Serializer,),
        {"type": serializers.ChoiceField(choices=kind.choices), "errors": error(many=True)},
    )
    return OpenApiResponse(response=response, description=description)


CONFLICT = _error_response(
    409, ErrorCode409Enum, "The action is not possible from the ticket's current status."
)
PRECONDITION_FAILED = _error_response(
    412, ErrorCode412Enum, "`If-Match` names an older version: someone changed the ticket."
)
PAYLOAD_TOO_LARGE = _error_response(
    413,
    ErrorCode413Enum,
    "A file is larger than ATTACHMENT_MAX_BYTES, or the request body is too large.",
)
INSUFFICIENT_STORAGE = _error_response(
    507, ErrorCode507Enum, "The server could not store the file (for example, a full disk)."
)
