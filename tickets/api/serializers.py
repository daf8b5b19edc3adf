"""Input and output shapes of tickets, comments, attachments and history (SPEC §5). Input
serializers only validate shapes; the rules are the services' and the policy's."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.serializers import UNKNOWN_FIELD_CODE, StrictInputMixin, UserBriefSerializer
from tickets import policies
from tickets.history import EVENTS
from tickets.models import (
    COMMENT_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    REASON_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Attachment,
    Category,
    Comment,
    Priority,
    Ticket,
)
from tickets.services import MSG_WORKFLOW_FIELD, WORKFLOW_FIELDS
from tickets.workflow import ACTION_NAMES, Action, Need

TICKET_FIELDS = (
    "id",
    "title",
    "category",
    "priority",
    "status",
    "creator",
    "assignee",
    "created_at",
    "updated_at",
    "assigned_at",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "resolution",
    "status_reason",
    "version",
    "comments_count",
    "attachments_count",
)


class TicketListSerializer(serializers.ModelSerializer):
    creator = UserBriefSerializer(read_only=True)
    assignee = UserBriefSerializer(read_only=True, allow_null=True)
    comments_count = serializers.IntegerField(read_only=True)
    attachments_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Ticket
        fields = TICKET_FIELDS
        read_only_fields = fields


class TicketDetailSerializer(TicketListSerializer):
    allowed_actions = serializers.SerializerMethodField()

    class Meta(TicketListSerializer.Meta):
        fields = (*TICKET_FIELDS[:2], "description", *TICKET_FIELDS[2:], "allowed_actions")
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(ACTION_NAMES)))
    def get_allowed_actions(self, ticket: Ticket) -> list[str]:
        return policies.allowed_actions(self.context["request"].user, ticket)


class TicketCreateSerializer(StrictInputMixin, serializers.Serializer):
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH)
    description = serializers.CharField(max_length=DESCRIPTION_MAX_LENGTH)
    category = serializers.ChoiceField(choices=Category.choices, default=Category.INCIDENT)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)


class TicketUpdateSerializer(StrictInputMixin, serializers.Serializer):
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH, required=False)
    description = serializers.CharField(max_length=DESCRIPTION_MAX_LENGTH, required=False)
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            refused = sorted(set(data.keys()) & WORKFLOW_FIELDS)
            if refused:
                raise serializers.ValidationError(
                    {key: [MSG_WORKFLOW_FIELD] for key in refused}, code=UNKNOWN_FIELD_CODE
                )
        return super().to_internal_value(data)


def action_input_serializer(action: Action) -> type[serializers.Serializer]:
    """The body an action takes, built from its row in the workflow table."""
    fields: dict[str, serializers.Field] = {}
    if action.needs_assignee:
        fields["assignee"] = serializers.IntegerField(
            min_value=1, help_text="Id of an active technician (see GET /api/v1/users/)."
        )
    if action.reason is not Need.NONE:
        required = action.reason is Need.REQUIRED
        fields["reason"] = serializers.CharField(
            max_length=REASON_MAX_LENGTH,
            required=required,
            allow_blank=not required,
            help_text="Why (shown in the ticket's history).",
        )
    if action.resolution is not Need.NONE:
        fields["resolution"] = serializers.CharField(
            max_length=DESCRIPTION_MAX_LENGTH,
            required=False,
            allow_blank=True,
            help_text="What was done.",
        )
    name = "".join(part.capitalize() for part in action.name.split("_")) + "ActionSerializer"
    return type(name, (StrictInputMixin, serializers.Serializer), fields)


class AttachmentSerializer(serializers.ModelSerializer):
    uploaded_by = UserBriefSerializer(read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = (
            "id",
            "name",
            "size",
            "content_type",
            "uploaded_by",
            "created_at",
            "comment",
            "download_url",
        )
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, attachment: Attachment) -> str:
        path = reverse("api:attachment-download", args=[attachment.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class AttachmentUploadSerializer(serializers.Serializer):
    """Documents the multipart body of an upload (the view reads the parts itself)."""

    file = serializers.ListField(
        child=serializers.FileField(),
        min_length=1,
        max_length=10,
        help_text="One to ten files (repeat the `file` part).",
    )
    comment = serializers.IntegerField(
        required=False, help_text="Attach the files to this comment of the ticket."
    )


class CommentSerializer(serializers.ModelSerializer):
    author = UserBriefSerializer(read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Comment
        fields = ("id", "author", "text", "internal", "created_at", "attachments")
        read_only_fields = fields


class CommentCreateSerializer(StrictInputMixin, serializers.Serializer):
    text = serializers.CharField(max_length=COMMENT_MAX_LENGTH)
    internal = serializers.BooleanField(
        default=False, help_text="A staff-only note (technicians, managers, admins)."
    )


class HistoryChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class HistoryEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    actor = UserBriefSerializer(allow_null=True)
    event = serializers.ChoiceField(choices=[(e, e) for e in EVENTS])
    changes = HistoryChangeSerializer(many=True)
    reason = serializers.CharField(allow_blank=True)
    comment_id = serializers.IntegerField(allow_null=True)
    attachment_id = serializers.IntegerField(allow_null=True)
