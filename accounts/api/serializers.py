"""Input and output shapes of users in the API (SPEC §5)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.models import Role, User

MSG_UNKNOWN_FIELD = _("This field is not accepted here.")


class StrictInputMixin:
    """Refuse fields the endpoint does not take (e.g. `role` at registration, `status` in an
    edit) with 400 naming them, instead of silently dropping them."""

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: [MSG_UNKNOWN_FIELD] for key in unknown})
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


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshInputSerializer(StrictInputMixin, serializers.Serializer):
    refresh = serializers.CharField()
