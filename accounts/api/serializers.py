"""Input and output shapes of users in the API (SPEC §5)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from accounts.models import Role, User

MSG_UNKNOWN_FIELD = _("This field is not accepted here.")
UNKNOWN_FIELD_CODE = "unknown_field"


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


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshInputSerializer(StrictInputMixin, serializers.Serializer):
    refresh = serializers.CharField()
