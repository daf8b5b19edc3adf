"""Authentication and users over the API (SPEC §5). Thin: parse, call a service, serialize."""

from __future__ import annotations

import django_filters
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_standardized_errors.openapi_serializers import ErrorResponse429Serializer
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import services
from accounts.api.serializers import (
    LoginSerializer,
    RefreshInputSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserCreateSerializer,
    UserSerializer,
    UserUpdateSerializer,
)
from accounts.models import Role, User
from techticket.api import schema
from techticket.errors import NotFound, PermissionDenied

MSG_LOCKED_OUT = _("Too many failed logins for this username from your address. Try again later.")
MSG_BAD_REFRESH = _("The refresh token is invalid, expired or already used.")
MSG_USERS_FORBIDDEN = _("Only managers and administrators can list users.")


class RegisterView(APIView):
    """Anyone creates an account; it always gets role `user`."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "register"

    @extend_schema(
        tags=["auth"],
        request=RegisterSerializer,
        responses={201: UserSerializer},
        summary="Register (role `user`)",
        description="`role`, `is_staff`, `is_superuser` and any other unknown field are "
        "refused with 400. Django's password validators apply.",
    )
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenObtainView(TokenObtainPairView):
    """Username and password → access and refresh tokens. Five failures for one username
    from one address lock that pair out (429) for the configured time."""

    serializer_class = LoginSerializer

    @extend_schema(
        tags=["auth"],
        responses={
            200: TokenPairSerializer,
            401: schema.UNAUTHORIZED,
            429: OpenApiResponse(
                ErrorResponse429Serializer,
                description="Too many failed logins for this username from this address.",
            ),
        },
        summary="Obtain a token pair",
    )
    def post(self, request, *args, **kwargs):
        # Asked before authenticate(), which would swallow axes' refusal (a PermissionDenied)
        # and let simplejwt answer 401 "no active account". The attempt that reaches the limit
        # is still a wrong password (401); the ones after it are refused (429).
        data = request.data if isinstance(request.data, dict) else {}
        username = data.get("username")
        if isinstance(username, str):
            username = username.strip()  # as the serializer's CharField will, before logging in
        if not AxesProxyHandler.is_allowed(request, {"username": username}):
            raise exceptions.Throttled(
                wait=int(get_cool_off(request).total_seconds()), detail=str(MSG_LOCKED_OUT)
            )
        return super().post(request, *args, **kwargs)


class TokenRotateView(TokenRefreshView):
    serializer_class = RefreshSerializer

    @extend_schema(
        tags=["auth"],
        responses={
            200: TokenPairSerializer,
            401: OpenApiResponse(
                schema.ErrorResponse401Serializer,
                description="The refresh token is invalid, expired or already used.",
            ),
        },
        summary="Refresh: a new token pair; the old refresh token is blacklisted",
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class LogoutView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        tags=["auth"],
        request=RefreshInputSerializer,
        responses={204: OpenApiResponse(description="The refresh token is blacklisted.")},
        summary="Log out: blacklist a refresh token",
    )
    def post(self, request):
        serializer = RefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            token = RefreshToken(serializer.validated_data["refresh"])
            if str(token.get("user_id")) != str(request.user.pk):
                raise TokenError("not this user's token")
            token.blacklist()
        except TokenError:
            raise exceptions.ValidationError({"refresh": [MSG_BAD_REFRESH]}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class StrictBooleanField(forms.NullBooleanField):
    """`true` or `false` (`1`, `0`); anything else is refused, not read as "no filter"."""

    widget = forms.TextInput  # NullBooleanSelect would read any unknown value as "unknown"
    default_error_messages = {"invalid": _("Enter true or false.")}

    def to_python(self, value):
        if value in (None, ""):
            return None
        result = super().to_python(value)
        if result is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return result


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class UserFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)
    is_active = StrictBooleanFilter()
    search = django_filters.CharFilter(method="filter_search", max_length=150)

    class Meta:
        model = User
        fields = ("role", "is_active", "search")

    def filter_search(self, queryset, name, value):
        return queryset.filter(
            Q(username__icontains=value)
            | Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(email__icontains=value)
        )


@extend_schema(tags=["users"])
class UserViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Admins manage every user; managers see the active technicians they assign tickets to."""

    serializer_class = UserSerializer
    filter_backends = (DjangoFilterBackend,)
    filterset_class = UserFilter
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation, no user
            return User.objects.none()
        user = self.request.user
        if user.role == Role.ADMIN:
            return User.objects.order_by("username")
        if user.role == Role.MANAGER:
            return User.objects.filter(role=Role.TECHNICIAN, is_active=True).order_by(
                "last_name", "first_name", "username"
            )
        raise PermissionDenied(MSG_USERS_FORBIDDEN)

    @extend_schema(
        summary="List users (admin: all; manager: active technicians)",
        responses={200: UserSerializer(many=True), 403: schema.FORBIDDEN},
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="One user (admin; manager: an active technician)",
        responses={200: UserSerializer, 403: schema.FORBIDDEN},
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=UserCreateSerializer,
        responses={201: UserSerializer},
        summary="Create a user (admin)",
    )
    def create(self, request):
        serializer = UserCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_create(actor=request.user, **serializer.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=UserUpdateSerializer,
        responses={200: UserSerializer},
        summary="Change a user's role, department, activity or profile (admin)",
    )
    def partial_update(self, request, pk=None):
        if request.user.role != Role.ADMIN:
            raise PermissionDenied()
        target = User.objects.filter(pk=pk).first()
        if target is None:
            raise NotFound()
        serializer = UserUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_update(actor=request.user, user=target, **serializer.validated_data)
        return Response(UserSerializer(user).data)

    @extend_schema(summary="The current user")
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def me(self, request):
        return Response(UserSerializer(request.user).data)
