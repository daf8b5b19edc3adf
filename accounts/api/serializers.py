"""Input and output shapes of users in the API (SPEC §5)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.models import Role, User

MSG_UNKNOWN_FIELD = _("This field is not accepted here.")
UNKNOWN_FIELD_CODE = "unknown_field"
MSG_PASSWORD_CHANGED = _("The password has changed since this token was issued; log in again.")


class StrictInputMixin:
    """Refuse fields the endpoint does not take (e.g. `role` at registration, `status` in an
    edit) with 400 naming them, instead of silently dropping them."""

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {key: [MSG_UNKNOWN_FIELD] for key in unknown}, code=UNKNOWN_FIELD_CODE
                )
        return super().to_internal_value(data)


class UserBriefSerializer(serializers.ModelSerializer):
    """A user inside a ticket, comment or history entry."""

    full_name = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = ("id", "username", "full_name")
        read_only_fields = fields


class UserSerializer(serializers.ModelSerializer):
    full_name = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = (
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "full_name",
            "role",
            "department",
            "is_active",
        )
        read_only_fields = fields


class RegisterSerializer(StrictInputMixin, serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(
        write_only=True, max_length=128, style={"input_type": "password"}
    )
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    department = serializers.CharField(max_length=150, required=False, allow_blank=True)


class UserCreateSerializer(RegisterSerializer):
    role = serializers.ChoiceField(choices=Role.choices, default=Role.USER)
    is_active = serializers.BooleanField(default=True)


class UserUpdateSerializer(StrictInputMixin, serializers.Serializer):
    email = serializers.EmailField(max_length=254, required=False)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    department = serializers.CharField(max_length=150, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)


class LoginSerializer(TokenObtainPairSerializer):
    """Username and password → a token pair, as simplejwt does, and a `user_logged_in` signal,
    which simplejwt does not send: django-axes resets the user's failure count on it
    (AXES_RESET_ON_SUCCESS), as it does for a login on the pages."""

    def validate(self, attrs):
        data = super().validate(attrs)
        user_logged_in.send(sender=type(self.user), request=self.context["request"], user=self.user)
        return data


class RefreshSerializer(TokenRefreshSerializer):
    """simplejwt's rotation, refusing a refresh token issued before the user's password last
    changed — as the access tokens are (SIMPLE_JWT["CHECK_REVOKE_TOKEN"]), and as a password
    change ends the user's other browser sessions."""

    def validate(self, attrs):
        token = self.token_class(attrs["refresh"])
        user = User.objects.filter(
            **{api_settings.USER_ID_FIELD: token.get(api_settings.USER_ID_CLAIM)}
        ).first()
        if user is not None and token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(
            user.password
        ):
            raise AuthenticationFailed(MSG_PASSWORD_CHANGED, code="password_changed")
        return super().validate(attrs)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshInputSerializer(StrictInputMixin, serializers.Serializer):
    refresh = serializers.CharField()
