"""THE permission policy for tickets (SPEC §4.1, §4.2, §4.4, §4.5).

Pure functions of (user, object). The services enforce them, the API and the pages adapt them
(404 outside visibility, 403 inside), the templates read `allowed_actions`. No rule about who
may see or do what is written anywhere else.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import Role, User
from techticket.errors import InvalidTransition, NotFound, PermissionDenied
from tickets.models import Attachment, Comment, Status, Ticket
from tickets.workflow import ACTIONS, Action, Actor

MSG_TICKET_NOT_FOUND = "Ticket not found."


def _active(user: User | None) -> bool:
    return user is not None and user.is_authenticated and user.is_active


# --- Visibility ----------------------------------------------------------------------------


def ticket_visibility_filter(user: User) -> Q | None:
    """The condition on tickets a user may see; None means every ticket."""
    if user.role in (Role.MANAGER, Role.ADMIN):
        return None
    if user.role == Role.TECHNICIAN:
        return Q(assignee=user) | Q(creator=user)
    return Q(creator=user)


def visible_tickets(user: User) -> QuerySet[Ticket]:
    """Every ticket `user` may see: their own (requester), also those assigned to them
    (technician), all (manager, admin); none for an inactive or anonymous user."""
    if not _active(user):
        return Ticket.objects.none()
    condition = ticket_visibility_filter(user)
    tickets = Ticket.objects.all()
    return tickets if condition is None else tickets.filter(condition)


def can_view_ticket(user: User, ticket: Ticket) -> bool:
    if not _active(user):
        return False
    if user.role in (Role.MANAGER, Role.ADMIN):
        return True
    if ticket.creator_id == user.pk:
        return True
    return user.role == Role.TECHNICIAN and ticket.assignee_id == user.pk


def ensure_visible(user: User, ticket: Ticket | None) -> Ticket:
    """The ticket, or NotFound — also when it exists but `user` may not see it."""
    if ticket is None or not can_view_ticket(user, ticket):
        raise NotFound(MSG_TICKET_NOT_FOUND)
    return ticket


def can_see_internal(user: User) -> bool:
    """Internal notes exist only for technicians, managers and admins."""
    return _active(user) and user.is_staff_member


def comment_visibility_filter(user: User, prefix: str = "") -> Q:
    """Condition on comments (or, with a prefix such as `comment__`, on related rows)."""
    if can_see_internal(user):
        return Q()
    return Q(**{f"{prefix}internal": False})


def visible_comments(user: User, ticket: Ticket) -> QuerySet[Comment]:
    return ticket.comments.filter(comment_visibility_filter(user))


def attachment_visibility_filter(user: User) -> Q:
    """Attachments of an internal note are as hidden as the note."""
    if can_see_internal(user):
        return Q()
    return Q(comment__isnull=True) | Q(comment__internal=False)


def visible_attachments(user: User, ticket: Ticket) -> QuerySet[Attachment]:
    return ticket.attachments.filter(attachment_visibility_filter(user))


def can_view_comment(user: User, comment: Comment) -> bool:
    return can_view_ticket(user, comment.ticket) and (
        not comment.internal or can_see_internal(user)
    )


def can_view_attachment(user: User, attachment: Attachment) -> bool:
    if not can_view_ticket(user, attachment.ticket):
        return False
    comment = attachment.comment
    return comment is None or not comment.internal or can_see_internal(user)


# --- Edits, deletion, comments, attachments ---------------------------------------------------


def can_edit_ticket(user: User, ticket: Ticket) -> bool:
    """The creator or a manager/admin, while the ticket is not closed or cancelled."""
    if not can_view_ticket(user, ticket) or ticket.is_finished:
        return False
    return ticket.creator_id == user.pk or user.is_dispatcher


def can_delete_ticket(user: User, ticket: Ticket) -> bool:
    return can_view_ticket(user, ticket) and user.role == Role.ADMIN


def can_comment(user: User, ticket: Ticket) -> bool:
    """Anyone who sees the ticket while it is open; managers and admins always."""
    if not can_view_ticket(user, ticket):
        return False
    return user.is_dispatcher or not ticket.is_finished


def can_write_internal(user: User, ticket: Ticket) -> bool:
    return can_comment(user, ticket) and can_see_internal(user)


def can_upload(user: User, ticket: Ticket) -> bool:
    return can_comment(user, ticket)


def can_delete_attachment(user: User, attachment: Attachment) -> bool:
    """The uploader while the ticket is open, or a manager/admin."""
    if not can_view_attachment(user, attachment):
        return False
    if user.is_dispatcher:
        return True
    return attachment.uploaded_by_id == user.pk and not attachment.ticket.is_finished


# --- Workflow ------------------------------------------------------------------------------


def _is_actor(user: User, ticket: Ticket, action: Action) -> bool:
    for actor in action.actors:
        if actor in (Actor.MANAGER, Actor.ADMIN) and user.role == actor.value:
            return True
        if (
            actor is Actor.ASSIGNEE
            and user.role == Role.TECHNICIAN
            and ticket.assignee_id == user.pk
        ):
            return True
        if (
            actor is Actor.CREATOR_WHILE_NEW
            and ticket.creator_id == user.pk
            and ticket.status == Status.NEW
        ):
            return True
    return False


def can_take_action(user: User, ticket: Ticket, action: Action) -> bool:
    return (
        can_view_ticket(user, ticket)
        and ticket.status in action.sources
        and _is_actor(user, ticket, action)
    )


def allowed_actions(user: User, ticket: Ticket) -> list[str]:
    """Exactly the actions `user` may take on `ticket` now, in workflow-table order."""
    if not can_view_ticket(user, ticket):
        return []
    return [
        name
        for name, action in ACTIONS.items()
        if ticket.status in action.sources and _is_actor(user, ticket, action)
    ]


def check_action(user: User, ticket: Ticket, action: Action) -> None:
    """Raise NotFound (invisible), PermissionDenied (never this user's action here) or
    InvalidTransition (right user, wrong status)."""
    ensure_visible(user, ticket)
    if not _is_actor(user, ticket, action):
        # "The creator while new" is the one rule that depends on the status: outside `new`
        # the creator is simply not among who may act.
        raise PermissionDenied()
    if ticket.status not in action.sources:
        raise InvalidTransition()
