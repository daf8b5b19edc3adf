"""Tickets, their workflow actions, comments, attachments and history over the API (SPEC §5).

Each handler parses input, checks the ticket is visible (404 first, whatever the input), calls
one service or selector and serializes. Rules live in the services and the policy; domain
errors become HTTP errors in techticket.api.errors."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from techticket.api import schema
from techticket.api.concurrency import IF_MATCH_PATTERN, etag_for, expected_version
from tickets import attachments as storage
from tickets import history, selectors, services
from tickets.api.serializers import (
    AttachmentSerializer,
    AttachmentUploadSerializer,
    CommentCreateSerializer,
    CommentSerializer,
    HistoryEntrySerializer,
    TicketCreateSerializer,
    TicketDetailSerializer,
    TicketListSerializer,
    TicketUpdateSerializer,
    action_input_serializer,
)
from tickets.downloads import attachment_response
from tickets.filters import TicketFilter
from tickets.models import Ticket
from tickets.workflow import ACTIONS, Action

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ticket\'s ETag (its `version`, e.g. "3"). If it is not the current '
    "version, nothing changes and the answer is 412.",
    pattern=IF_MATCH_PATTERN,
)
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The ticket's version, to send back as If-Match.",
    response=[200, 201],
)

# What the FilterSet accepts where its fields' types alone would document less (or wrongly).
LIST_PARAMETERS = [
    OpenApiParameter("search", OpenApiTypes.STR, description="Full-text search, any text."),
    OpenApiParameter("assignee", OpenApiTypes.STR, description="A user id, `me` or `none`."),
    OpenApiParameter("creator", OpenApiTypes.STR, description="A user id or `me`."),
    *(
        OpenApiParameter(
            name,
            OpenApiTypes.STR,
            description="A date (YYYY-MM-DD: the whole day counts) or an ISO 8601 date-time.",
        )
        for name in ("created_after", "created_before", "updated_after", "updated_before")
    ),
]


def _ticket_response(request, ticket_id: int, *, status_code: int = 200) -> Response:
    ticket = selectors.ticket_for_response(user=request.user, ticket_id=ticket_id)
    data = TicketDetailSerializer(ticket, context={"request": request}).data
    response = Response(data, status=status_code)
    response["ETag"] = etag_for(ticket.version)
    return response


@extend_schema(tags=["tickets"])
class TicketViewSet(viewsets.GenericViewSet):
    queryset = Ticket.objects.none()
    serializer_class = TicketListSerializer
    filterset_class = TicketFilter
    filter_backends = ()
    lookup_value_regex = r"[0-9]+"
    http_method_names = ("get", "post", "patch", "delete", "head", "options")

    def _visible(self, pk) -> Ticket:
        return selectors.ticket_get(user=self.request.user, ticket_id=pk)

    @extend_schema(
        summary="List tickets: visibility, filters, search, ordering, pagination",
        parameters=LIST_PARAMETERS,
    )
    def list(self, request):
        tickets = selectors.ticket_list(user=request.user, filters=request.query_params)
        page = selectors.ticket_rows(user=request.user, tickets=self.paginate_queryset(tickets))
        serializer = TicketListSerializer(page, many=True, context={"request": request})
        return self.get_paginated_response(serializer.data)

    @extend_schema(
        summary="Open a ticket",
        request=TicketCreateSerializer,
        responses={201: TicketDetailSerializer},
        parameters=[ETAG],
        examples=[
            OpenApiExample(
                "A broken printer",
                value={
                    "title": "Не печатает принтер в 305",
                    "description": "HP LaserJet зажёвывает бумагу.",
                    "category": "repair",
                    "priority": "high",
                },
                request_only=True,
            )
        ],
    )
    def create(self, request):
        serializer = TicketCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ticket = services.ticket_create(actor=request.user, **serializer.validated_data)
        return _ticket_response(request, ticket.pk, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="One ticket, with the actions the current user may take",
        responses={200: TicketDetailSerializer},
        parameters=[ETAG],
    )
    def retrieve(self, request, pk=None):
        ticket = self._visible(pk)
        response = Response(TicketDetailSerializer(ticket, context={"request": request}).data)
        response["ETag"] = etag_for(ticket.version)
        return response

    @extend_schema(
        summary="Edit title, description, category or priority (creator, manager, admin)",
        request=TicketUpdateSerializer,
        parameters=[IF_MATCH, ETAG],
        responses={200: TicketDetailSerializer, 412: schema.PRECONDITION_FAILED},
    )
    def partial_update(self, request, pk=None):
        ticket = self._visible(pk)
        serializer = TicketUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.ticket_update(
            actor=request.user,
            ticket=ticket.pk,
            expected_version=expected_version(request),
            **serializer.validated_data,
        )
        return _ticket_response(request, ticket.pk)

    @extend_schema(
        summary="Delete a ticket with its comments and files (admin)", responses={204: None}
    )
    def destroy(self, request, pk=None):
        ticket = self._visible(pk)
        services.ticket_delete(actor=request.user, ticket=ticket.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["GET"],
        summary="Comments of a ticket, oldest first",
        responses={200: CommentSerializer(many=True)},
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a comment (internal: staff only)",
        request=CommentCreateSerializer,
        responses={201: CommentSerializer},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def comments(self, request, pk=None):
        ticket = self._visible(pk)
        if request.method == "GET":
            comments = selectors.ticket_comments(user=request.user, ticket=ticket)
            return Response(
                CommentSerializer(comments, many=True, context={"request": request}).data
            )
        serializer = CommentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = services.comment_add(
            actor=request.user, ticket=ticket.pk, **serializer.validated_data
        )
        return Response(
            CommentSerializer(comment, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        methods=["GET"],
        summary="Attachments of a ticket",
        responses={200: AttachmentSerializer(many=True)},
    )
    @extend_schema(
        methods=["POST"],
        summary="Upload 1–10 files (multipart, repeat the `file` part)",
        request=AttachmentUploadSerializer,
        responses={
            201: AttachmentSerializer(many=True),
            413: schema.PAYLOAD_TOO_LARGE,
            507: schema.INSUFFICIENT_STORAGE,
        },
    )
    @action(
        detail=True,
        methods=["get", "post"],
        parser_classes=(MultiPartParser,),
        pagination_class=None,
    )
    def attachments(self, request, pk=None):
        ticket = self._visible(pk)
        if request.method == "GET":
            files = selectors.ticket_attachments(user=request.user, ticket=ticket)
            return Response(
                AttachmentSerializer(files, many=True, context={"request": request}).data
            )
        uploads = request.FILES.getlist("file")
        if getattr(request._request, "oversized_uploads", None):
            raise storage.too_large()
        created = services.attachment_add(
            actor=request.user, ticket=ticket.pk, files=uploads, comment=request.data.get("comment")
        )
        return Response(
            AttachmentSerializer(created, many=True, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="The ticket's history, oldest first",
        responses={200: HistoryEntrySerializer(many=True)},
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def history(self, request, pk=None):
        ticket = self._visible(pk)
        timeline = history.ticket_timeline(user=request.user, ticket=ticket)
        return Response(
            HistoryEntrySerializer([e.as_dict() for e in timeline.entries], many=True).data
        )


def _workflow_handler(spec: Action):
    body = action_input_serializer(spec)

    def handler(self, request, pk=None):
        ticket = self._visible(pk)
        serializer = body(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.ticket_apply_action(
            actor=request.user,
            ticket=ticket.pk,
            action=spec.name,
            expected_version=expected_version(request),
            **serializer.validated_data,
        )
        return _ticket_response(request, ticket.pk)

    # DRF routes an @action by its function's name, so the name is set before decorating.
    handler.__name__ = handler.__qualname__ = spec.name
    routed = action(detail=True, methods=["post"], url_path=spec.name, url_name=spec.name)(handler)
    # extend_schema after @action: @action replaces the function's `kwargs`, where
    # extend_schema keeps the schema.
    return extend_schema(
        tags=["workflow"],
        summary=f"{spec.name}: {', '.join(sorted(spec.sources))} → {spec.target}",
        description=(
            f"Who: {', '.join(sorted(a.value for a in spec.actors))}. "
            "Answers 409 from another status, 403 for a user who may not take it."
        ),
        request=body,
        parameters=[IF_MATCH, ETAG],
        responses={
            200: TicketDetailSerializer,
            409: schema.CONFLICT,
            412: schema.PRECONDITION_FAILED,
        },
    )(routed)


# One endpoint per row of the workflow table: POST /tickets/{id}/<action>/.
for _name, _spec in ACTIONS.items():
    setattr(TicketViewSet, _name, _workflow_handler(_spec))

# Errors the services report beyond the serializers' own (see techticket.api.errors).
TicketViewSet = extend_validation_errors(
    ["invalid"], field_name="If-Match", actions=["partial_update", *ACTIONS]
)(TicketViewSet)
TicketViewSet = extend_validation_errors(
    ["invalid", "unsupported_file_type"], field_name="file", actions=["attachments"]
)(TicketViewSet)
TicketViewSet = extend_validation_errors(
    ["invalid"], field_name="comment", actions=["attachments"]
)(TicketViewSet)


@extend_schema(tags=["attachments"])
class AttachmentViewSet(viewsets.GenericViewSet):
    queryset = Ticket.objects.none()
    lookup_value_regex = r"[0-9]+"
    http_method_names = ("get", "delete", "head", "options")

    @extend_schema(
        summary="Remove an attachment (uploader while open, manager, admin)", responses={204: None}
    )
    def destroy(self, request, pk=None):
        services.attachment_delete(
            actor=request.user,
            attachment=selectors.attachment_get(user=request.user, attachment_id=pk),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Download the file",
        responses={
            # The stored type of the file, one of the allowed ones (tickets.attachments).
            (200, content_type): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The file with its content type; images inline, the rest as an "
                "attachment; served in a sandbox.",
            )
            for content_type in dict.fromkeys(storage.ALLOWED_EXTENSIONS.values())
        },
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        return attachment_response(selectors.attachment_get(user=request.user, attachment_id=pk))
