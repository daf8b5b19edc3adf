"""OpenAPI pieces shared by the API modules: the error responses that drf-standardized-errors
does not add by itself (401 codes of simplejwt, 409, 412, 413, 507), in its shape, and the
AutoSchema that documents what this API does beyond DRF's defaults."""

from __future__ import annotations

from django.db import models
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer
from drf_standardized_errors.openapi import AutoSchema as StandardizedErrorsAutoSchema
from drf_standardized_errors.openapi_serializers import (
    ClientErrorEnum,
    ErrorResponse403Serializer,
    ServerErrorEnum,
    ValidationErrorEnum,
)
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS

from accounts.api.serializers import UNKNOWN_FIELD_CODE, StrictInputMixin


class ErrorCode401Enum(models.TextChoices):
    AUTHENTICATION_FAILED = "authentication_failed"
    NOT_AUTHENTICATED = "not_authenticated"
    # simplejwt's: a bad, expired or wrong-type token, a malformed header, a token whose user
    # is gone or inactive, wrong credentials at auth/token/.
    TOKEN_NOT_VALID = "token_not_valid"  # noqa: S105 (an error code, not a secret)  # nosec B105
    BAD_AUTHORIZATION_HEADER = "bad_authorization_header"
    USER_NOT_FOUND = "user_not_found"
    USER_INACTIVE = "user_inactive"
    NO_ACTIVE_ACCOUNT = "no_active_account"


class ErrorCode409Enum(models.TextChoices):
    INVALID_TRANSITION = "invalid_transition"


class ErrorCode412Enum(models.TextChoices):
    STALE_VERSION = "stale_version"


class ErrorCode413Enum(models.TextChoices):
    FILE_TOO_LARGE = "file_too_large"
    REQUEST_TOO_LARGE = "request_too_large"


class ErrorCode507Enum(models.TextChoices):
    STORAGE_FAILED = "storage_failed"


def _error_serializer(status: int, codes: type[models.TextChoices]):
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
    return type(
        f"ErrorResponse{status}Serializer",
        (serializers.Serializer,),
        {"type": serializers.ChoiceField(choices=kind.choices), "errors": error(many=True)},
    )


def _error_response(status: int, codes: type[models.TextChoices], description: str):
    return OpenApiResponse(response=_error_serializer(status, codes), description=description)


# Used for every 401 through DRF_STANDARDIZED_ERRORS["ERROR_SCHEMAS"].
ErrorResponse401Serializer = _error_serializer(401, ErrorCode401Enum)

UNAUTHORIZED = OpenApiResponse(
    response=ErrorResponse401Serializer, description="Wrong username or password."
)
FORBIDDEN = OpenApiResponse(
    response=ErrorResponse403Serializer,
    description="Signed in, but this user's role may not do this.",
)
CONFLICT = _error_response(
    409, ErrorCode409Enum, "The action is not possible from the ticket's current status."
)
PRECONDITION_FAILED = _error_response(
    412, ErrorCode412Enum, "`If-Match` names an older version: someone changed the ticket."
)
ErrorResponse413Serializer = _error_serializer(413, ErrorCode413Enum)
PAYLOAD_TOO_LARGE = OpenApiResponse(
    response=ErrorResponse413Serializer,
    description="A file is larger than ATTACHMENT_MAX_BYTES, or the request body is too large.",
)
INSUFFICIENT_STORAGE = _error_response(
    507, ErrorCode507Enum, "The server could not store the file (for example, a full disk)."
)


class UnknownFieldErrorSerializer(serializers.Serializer):
    attr = serializers.CharField(help_text="The field that is not accepted.")
    code = serializers.ChoiceField(choices=[(UNKNOWN_FIELD_CODE, UNKNOWN_FIELD_CODE)])
    detail = serializers.CharField()

    class Meta:
        ref_name = "UnknownFieldError"


class AutoSchema(StandardizedErrorsAutoSchema):
    """drf-standardized-errors' schema, plus what this API does that it cannot see: empty query
    values, 403 on writes, 413 for a body too large, the selector's filters, a refused
    `page_size`, refused unknown fields."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        # The FilterSets and the paginator read an empty value (`status=`) as an absent one.
        for parameter in (operation or {}).get("parameters", []):
            if parameter["in"] == "query":
                parameter["allowEmptyValue"] = True
        return operation

    def _get_allowed_error_status_codes(self) -> list[str]:
        # 413: a body over DATA_UPLOAD_MAX_MEMORY_SIZE, answered by techticket.api.errors.
        return [*super()._get_allowed_error_status_codes(), "413"]

    def _should_add_error_response(self, responses: dict, status_code: str) -> bool:
        if status_code == "413":
            return status_code not in responses and self.method in ("POST", "PUT", "PATCH")
        return super()._should_add_error_response(responses, status_code)

    def _get_error_response_serializer(self, status_code: str):
        if status_code == "413":
            return ErrorResponse413Serializer
        return super()._get_error_response_serializer(status_code)

    def _should_add_http403_error_response(self) -> bool:
        # Every write is checked against the policy (visible but not allowed → 403), and a
        # session user's write without the CSRF token is refused with 403.
        writes = self.method not in SAFE_METHODS and self._should_add_http401_error_response()
        return writes or super()._should_add_http403_error_response()

    def _filtered_by_selector(self) -> bool:
        # TicketViewSet.list hands the query to a selector, which applies `filterset_class`
        # itself (no filter backend) and reports a malformed filter with the code `invalid`.
        return (
            getattr(self.view, "action", None) == "list"
            and getattr(self.view, "filterset_class", None) is not None
            and not getattr(self.view, "filter_backends", None)
        )

    def get_filter_backends(self):
        if self._filtered_by_selector():
            return [DjangoFilterBackend]
        return super().get_filter_backends()

    def _get_extra_validation_errors(self):
        extra = super()._get_extra_validation_errors()
        paginator = self._get_paginator()
        if paginator is not None and self._is_list_view():
            name = paginator.page_size_query_param
            extra[name] = {*extra.get(name, ()), "invalid"}
        if self._filtered_by_selector():
            for name in self.view.filterset_class.base_filters:
                extra[name] = {*extra.get(name, ()), "invalid"}
        return extra

    def _get_serializer_for_validation_error_response(self):
        base = super()._get_serializer_for_validation_error_response()
        request = self.get_request_serializer() if self.method in ("POST", "PATCH") else None
        refuses_unknown = isinstance(request, StrictInputMixin) or (
            isinstance(request, type) and issubclass(request, StrictInputMixin)
        )
        if not refuses_unknown:
            return base
        # StrictInputMixin names any unknown field in `attr`, so `attr` cannot be a
        # discriminator here: the error items are told apart by their schemas alone.
        known = base._declared_fields["errors"].child

        class ValidationErrorSerializer(serializers.Serializer):
            type = serializers.ChoiceField(choices=ValidationErrorEnum.choices)
            errors = PolymorphicProxySerializer(
                component_name=known.component_name,
                serializers=[*known.serializers.values(), UnknownFieldErrorSerializer],
                resource_type_field_name=None,
                many=True,
            )

            class Meta:
                ref_name = base.Meta.ref_name

        return ValidationErrorSerializer
