"""Every read of the ticket domain. Visibility first (policies), then the FilterSet, then the
related rows and counts a page of results needs, so no template or serializer runs a query per
row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce

from accounts.models import Role, User
from techticket.errors import NotFound, ValidationError
from tickets import policies
from tickets.filters import TicketFilter
from tickets.models import Attachment, Comment, Ticket


def _count(model, user: User, *, visibility) -> Coalesce:
    rows = (
        model.objects.filter(visibility, ticket=OuterRef("pk"))
        .order_by()
        .values("ticket")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def with_counts(tickets: QuerySet[Ticket], user: User) -> QuerySet[Ticket]:
    """Annotate `comments_count` and `attachments_count` as this user may see them. Evaluated
    per returned row only (a correlated subquery), so a page costs no extra query."""
    return tickets.annotate(
        comments_count=_count(Comment, user, visibility=policies.comment_visibility_filter(user)),
        attachments_count=_count(
            Attachment, user, visibility=policies.attachment_visibility_filter(user)
        ),
    )


def ticket_list(*, user: User, filters: Mapping | None = None) -> QuerySet[Ticket]:
    """The tickets `user` may see, filtered, searched and ordered as `filters` (query
    parameters) ask. Raises ValidationError naming the field for a malformed filter.

    Only the ids are loaded: sorting and skipping a million rows must not drag their text and
    counts along. Pass the page you slice from it to `ticket_rows` for the full rows."""
    filterset = TicketFilter(data=filters or {}, queryset=policies.visible_tickets(user), user=user)
    if not filterset.is_valid():
        errors = {field: list(messages) for field, messages in filterset.errors.items()}
        raise ValidationError(errors=errors)
    return filterset.qs.only("pk")


def ticket_rows(*, user: User, tickets: Iterable[Ticket | int]) -> list[Ticket]:
    """The full rows of a page of `ticket_list` — people and the counts `user` may see — in
    the page's order, in one query."""
    ids = [t.pk if isinstance(t, Ticket) else t for t in tickets]
    if not ids:
        return []
    rows = with_counts(Ticket.objects.filter(pk__in=ids), user).select_related(
        "creator", "assignee"
    )
    by_id = {row.pk: row for row in rows}
    return [by_id[pk] for pk in ids if pk in by_id]


def ticket_get(*, user: User, ticket_id: int | str) -> Ticket:
    """One visible ticket with its people and counts, or NotFound."""
    try:
        pk = int(ticket_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    ticket = (
        with_counts(policies.visible_tickets(user), user)
        .select_related("creator", "assignee")
        .filter(pk=pk)
        .first()
    )
    if ticket is None:
        raise NotFound()
    return ticket


def ticket_for_response(*, user: User, ticket_id: int) -> Ticket:
    """The ticket as it is after `user` changed it, for the answer to that change. Not scoped
    by visibility: a technician who declines a ticket no longer sees it, yet their request
    succeeded and its answer shows the result. Only call it after a successful service call."""
    return (
        with_counts(Ticket.objects.all(), user)
        .select_related("creator", "assignee")
        .get(pk=ticket_id)
    )


def ticket_comments(*, user: User, ticket: Ticket, with_files: bool = True) -> QuerySet[Comment]:
    """The comments of a visible ticket that `user` may see, oldest first, with their
    authors and (unless the caller has them already) their attachments."""
    comments = policies.visible_comments(user, ticket).select_related("author")
    if with_files:
        comments = comments.prefetch_related(
            Prefetch(
                "attachments",
                queryset=Attachment.objects.select_related("uploaded_by").order_by(
                    "created_at", "id"
                ),
            )
        )
    return comments.order_by("created_at", "id")


def ticket_attachments(*, user: User, ticket: Ticket) -> QuerySet[Attachment]:
    return (
        policies.visible_attachments(user, ticket)
        .select_related("uploaded_by", "comment")
        .order_by("created_at", "id")
    )


def ticket_discussion(*, user: User, ticket: Ticket) -> tuple[list[Comment], list[Attachment]]:
    """What the ticket card shows below the ticket: the comments `user` may see (oldest first,
    with authors, each with its files in `comment.files`) and every file `user` may see.
    Two queries: the comments' files are among the ticket's."""
    attachments = list(ticket_attachments(user=user, ticket=ticket))
    files_of: dict[int | None, list[Attachment]] = {}
    for attachment in attachments:
        attachment.ticket = ticket  # already loaded; the policy reads it
        files_of.setdefault(attachment.comment_id, []).append(attachment)
    comments = list(ticket_comments(user=user, ticket=ticket, with_files=False))
    for comment in comments:
        comment.files = files_of.get(comment.pk, [])
    return comments, attachments


def attachment_get(*, user: User, attachment_id: int | str) -> Attachment:
    """An attachment `user` may see (its ticket visible, not on a hidden note), or NotFound."""
    try:
        pk = int(attachment_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    attachment = (
        Attachment.objects.select_related("ticket", "comment", "uploaded_by").filter(pk=pk).first()
    )
    if attachment is None or not policies.can_view_attachment(user, attachment):
        raise NotFound()
    return attachment


def active_technicians() -> QuerySet[User]:
    """Who a ticket can be assigned to."""
    return User.objects.filter(role=Role.TECHNICIAN, is_active=True).order_by(
        "last_name", "first_name", "username"
    )
