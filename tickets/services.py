"""Every write of the ticket domain (SPEC §4).

Each function is keyword-only, takes the acting user, runs in one transaction, checks the
policy, validates, saves with a simple-history record (the actor as history user, the operation
as change reason) and publishes its event after commit. Views, API viewsets, the admin and
management commands all call these; nothing else writes tickets, comments or attachments.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from techticket.errors import NotFound, PermissionDenied, StaleVersion, ValidationError
from techticket.events import publish
from tickets import attachments as storage
from tickets import events, policies
from tickets.models import (
    COMMENT_MAX_LENGTH,
    REASON_MAX_LENGTH,
    Attachment,
    Category,
    Comment,
    Priority,
    Ticket,
)
from tickets.workflow import ACTIONS, Need

EDITABLE_FIELDS = ("title", "description", "category", "priority")
# Fields only the workflow and the services write, in the order the admin shows them.
WORKFLOW_OWNED = (
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
)
WORKFLOW_FIELDS = frozenset({*WORKFLOW_OWNED, "id"})

MSG_WORKFLOW_FIELD = _("This field changes only through workflow actions.")
MSG_UNKNOWN_FIELD = _("Unknown field.")
MSG_UNKNOWN_ACTION = _("Unknown action.")
MSG_REASON_REQUIRED = _("Please give a reason.")
MSG_TOO_LONG = _("Ensure this value has at most %(limit)d characters.")
MSG_ASSIGNEE_REQUIRED = _("Choose the technician to assign.")
MSG_ASSIGNEE_INVALID = _("The assignee must be an active technician.")
MSG_ALREADY_ASSIGNED = _("The ticket is already assigned to this technician.")
MSG_TEXT_REQUIRED = _("The comment cannot be empty.")
MSG_INTERNAL_FORBIDDEN = _("Only technicians, managers and administrators write internal notes.")
MSG_COMMENT_NOT_ON_TICKET = _("No such comment on this ticket.")
MSG_NO_FILES = _("Choose at least one file.")
MSG_TOO_MANY_FILES = _("At most %(limit)d files can be uploaded at once.")
MSG_INACTIVE = _("Your account is not active.")


# --- Helpers -------------------------------------------------------------------------------


def _save(instance: Model, *, actor: User, reason: str, update_fields=None) -> None:
    """Save with a simple-history record naming the actor and the operation."""
    instance._history_user = actor
    instance._change_reason = reason
    instance.save(update_fields=update_fields)


def _delete(instance: Model, *, actor: User, reason: str) -> None:
    instance._history_user = actor
    instance._change_reason = reason
    instance.delete()


def _validate(instance: Model, *, exclude: Sequence[str] = ()) -> None:
    # Check constraints are left to the database (Django would run a query for each one).
    try:
        instance.full_clean(exclude=list(exclude), validate_constraints=False)
    except DjangoValidationError as exc:
        raise ValidationError.from_django(exc) from None


def _require_active(actor: User) -> None:
    if not (actor and actor.is_authenticated and actor.is_active):
        raise PermissionDenied(MSG_INACTIVE)


def _clean_text(value: str | None, *, field: str, limit: int, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationError(
            MSG_TEXT_REQUIRED if field == "text" else MSG_REASON_REQUIRED, field=field
        )
    if len(text) > limit:
        raise ValidationError(MSG_TOO_LONG % {"limit": limit}, field=field)
    return text


def _locked_ticket(actor: User, ticket: Ticket | int) -> Ticket:
    """The ticket's current row, locked for this transaction (a row lock on PostgreSQL; on
    SQLite the IMMEDIATE transaction already holds the database's write lock). NotFound when
    it is gone or invisible to `actor`."""
    ticket_id = ticket.pk if isinstance(ticket, Ticket) else ticket
    current = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
    return policies.ensure_visible(actor, current)


def _check_version(ticket: Ticket, expected_version: int | None) -> None:
    if expected_version is None or int(expected_version) == ticket.version:
        return
    last = ticket.history.select_related("history_user").order_by("-history_date", "-pk").first()
    raise StaleVersion(
        current_version=ticket.version, changed_by=last.history_user if last else None
    )


# --- Tickets -------------------------------------------------------------------------------


@transaction.atomic
def ticket_create(
    *,
    actor: User,
    title: str,
    description: str,
    category: str = Category.INCIDENT,
    priority: str = Priority.NORMAL,
    files: Sequence = (),
) -> Ticket:
    """Any active user opens a ticket (status `new`, the actor as creator), optionally with
    files. History: `created`; events: ticket.created (+ attachment.added per file)."""
    _require_active(actor)
    now = timezone.now()
    ticket = Ticket(
        title=(title or "").strip(),
        description=(description or "").strip(),
        category=category,
        priority=priority,
        creator=actor,
        created_at=now,
        updated_at=now,
    )
    _validate(ticket)
    _save(ticket, actor=actor, reason="created")
    publish(events.TICKET_CREATED, actor_id=actor.pk, ticket_id=ticket.pk, priority=priority)
    if files:
        attachment_add(actor=actor, ticket=ticket, files=files)
    return ticket


@transaction.atomic
def ticket_update(
    *, actor: User, ticket: Ticket | int, expected_version: int | None = None, **changes
) -> Ticket:
    """The creator or a manager/admin edits title, description, category or priority of a
    ticket that is not closed or cancelled. Refuses workflow fields (400) and a stale
    `expected_version` (412). History: `updated` with old → new; event: ticket.updated."""
    for field in changes:
        if field in WORKFLOW_FIELDS:
            raise ValidationError(MSG_WORKFLOW_FIELD, field=field)
        if field not in EDITABLE_FIELDS:
            raise ValidationError(MSG_UNKNOWN_FIELD, field=field)
    current = _locked_ticket(actor, ticket)
    if not policies.can_edit_ticket(actor, current):
        raise PermissionDenied()
    _check_version(current, expected_version)

    for field in ("title", "description"):
        if field in changes:
            changes[field] = (changes[field] or "").strip()
    changed = [f for f, value in changes.items() if getattr(current, f) != value]
    if not changed:
        return current
    for field in changed:
        setattr(current, field, changes[field])
    _validate(current)
    current.version += 1
    current.updated_at = timezone.now()
    _save(current, actor=actor, reason="updated", update_fields=[*changed, "version", "updated_at"])
    publish(events.TICKET_UPDATED, actor_id=actor.pk, ticket_id=current.pk, fields=changed)
    return current


def _resolve_assignee(assignee: User | int | str | None) -> User:
    if assignee in (None, ""):
        raise ValidationError(MSG_ASSIGNEE_REQUIRED, field="assignee")
    if isinstance(assignee, User):
        user = assignee
    else:
        try:
            assignee_id = int(assignee)
        except (TypeError, ValueError):
            raise ValidationError(MSG_ASSIGNEE_INVALID, field="assignee") from None
        user = User.objects.filter(pk=assignee_id).first()
    if user is None or not user.is_active or user.role != Role.TECHNICIAN:
        raise ValidationError(MSG_ASSIGNEE_INVALID, field="assignee")
    return user


@transaction.atomic
def ticket_apply_action(
    *,
    actor: User,
    ticket: Ticket | int,
    action: str,
    expected_version: int | None = None,
    assignee: User | int | str | None = None,
    reason: str | None = None,
    resolution: str | None = None,
) -> Ticket:
    """Take one workflow action (workflow.ACTIONS) on the ticket's current, locked row.
    NotFound if invisible, StaleVersion on a stale `expected_version`, PermissionDenied if
    the actor may never take it here, InvalidTransition from a wrong status, ValidationError
    for missing input. History: the action's event as change reason; event: ticket.<event>.
    Two concurrent calls cannot both apply from the same state: the second one sees the
    first one's result."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise ValidationError(MSG_UNKNOWN_ACTION, field="action")
    current = _locked_ticket(actor, ticket)
    _check_version(current, expected_version)
    policies.check_action(actor, current, spec)

    reason_text = ""
    if spec.reason is not Need.NONE:
        reason_text = _clean_text(
            reason,
            field="reason",
            limit=REASON_MAX_LENGTH,
            required=spec.reason is Need.REQUIRED,
        )
    previous_status = current.status
    now = timezone.now()
    fields = {"status", "status_reason", "version", "updated_at"}
    if spec.needs_assignee:
        technician = _resolve_assignee(assignee)
        if technician.pk == current.assignee_id:
            raise ValidationError(MSG_ALREADY_ASSIGNED, field="assignee")
        current.assignee = technician
        fields.add("assignee")
    if spec.resolution is not Need.NONE:
        current.resolution = _clean_text(
            resolution, field="resolution", limit=20_000, required=spec.resolution is Need.REQUIRED
        )
        fields.add("resolution")
    for name in spec.set_timestamps:
        setattr(current, name, now)
        fields.add(name)
    for name in spec.clear_fields:
        setattr(current, name, None)
        fields.add(name)
    current.status = spec.target
    current.status_reason = reason_text
    current.version += 1
    current.updated_at = now
    _save(current, actor=actor, reason=spec.event, update_fields=sorted(fields))
    details = {"from": previous_status, "to": current.status}
    if spec.needs_assignee:
        details["assignee_id"] = current.assignee_id
    if reason_text:
        details["reason"] = reason_text
    publish(events.workflow_event(spec.event), actor_id=actor.pk, ticket_id=current.pk, **details)
    return current


@transaction.atomic
def ticket_delete(*, actor: User, ticket: Ticket | int) -> None:
    """An admin deletes a ticket with its comments and attachments; the files go after
    commit. History keeps a deletion record for each row; event: ticket.deleted."""
    current = _locked_ticket(actor, ticket)
    if not policies.can_delete_ticket(actor, current):
        raise PermissionDenied()
    paths = []
    for attachment in current.attachments.all():
        paths.append(attachment.path)
        _delete(attachment, actor=actor, reason="attachment_removed")
    for comment in current.comments.all():
        _delete(comment, actor=actor, reason="deleted")
    ticket_id = current.pk
    _delete(current, actor=actor, reason="deleted")
    for path in paths:
        transaction.on_commit(lambda path=path: storage.remove_stored(path))
    publish(events.TICKET_DELETED, actor_id=actor.pk, ticket_id=ticket_id)


# --- Comments and attachments ----------------------------------------------------------------


@transaction.atomic
def comment_add(
    *,
    actor: User,
    ticket: Ticket | int,
    text: str,
    internal: bool = False,
    files: Sequence = (),
) -> Comment:
    """Anyone who sees an open ticket comments (managers and admins always); internal notes
    only by staff. With `files`, they are attached to the comment in the same transaction
    (`attachment_add`): a refused file leaves no comment either. History: `commented`; event:
    comment.added."""
    current = _locked_ticket(actor, ticket)
    if not policies.can_comment(actor, current):
        raise PermissionDenied()
    if internal and not policies.can_write_internal(actor, current):
        raise PermissionDenied(MSG_INTERNAL_FORBIDDEN)
    comment = Comment(
        ticket=current,
        author=actor,
        text=_clean_text(text, field="text", limit=COMMENT_MAX_LENGTH, required=True),
        internal=bool(internal),
        created_at=timezone.now(),
    )
    _save(comment, actor=actor, reason="commented")
    publish(
        events.COMMENT_ADDED,
        actor_id=actor.pk,
        ticket_id=current.pk,
        comment_id=comment.pk,
        internal=comment.internal,
    )
    if files:
        attachment_add(actor=actor, ticket=current, files=files, comment=comment)
    return comment


def _comment_on(actor: User, ticket: Ticket, comment: Comment | int | None) -> Comment | None:
    if comment in (None, ""):
        return None
    comment_id = comment.pk if isinstance(comment, Comment) else comment
    try:
        found = ticket.comments.filter(pk=int(comment_id)).first()
    except (TypeError, ValueError):
        found = None
    if found is None or not policies.can_view_comment(actor, found):
        raise ValidationError(MSG_COMMENT_NOT_ON_TICKET, field="comment")
    return found


def attachment_add(
    *,
    actor: User,
    ticket: Ticket | int,
    files: Sequence,
    comment: Comment | int | None = None,
) -> list[Attachment]:
    """Anyone who may comment attaches 1–10 files (optionally to one of the ticket's
    comments). Files are checked and stored first; if anything then fails, the stored files
    are removed, so no file is left without its row. History: `attachment_added` per file;
    events: attachment.added per file."""
    stored: list[storage.StoredFile] = []
    try:
        with transaction.atomic():
            current = _locked_ticket(actor, ticket)
            if not policies.can_upload(actor, current):
                raise PermissionDenied()
            parent = _comment_on(actor, current, comment)
            files = list(files)
            if not files:
                raise ValidationError(MSG_NO_FILES, field="file")
            if len(files) > storage.MAX_FILES_PER_UPLOAD:
                raise ValidationError(
                    MSG_TOO_MANY_FILES % {"limit": storage.MAX_FILES_PER_UPLOAD}, field="file"
                )
            for upload in files:
                stored.append(storage.store_upload(upload))
            created = []
            now = timezone.now()
            for item in stored:
                attachment = Attachment(
                    ticket=current,
                    comment=parent,
                    path=item.path,
                    name=item.name,
                    size=item.size,
                    content_type=item.content_type,
                    sha256=item.sha256,
                    uploaded_by=actor,
                    created_at=now,
                )
                _save(attachment, actor=actor, reason="attachment_added")
                created.append(attachment)
                publish(
                    events.ATTACHMENT_ADDED,
                    actor_id=actor.pk,
                    ticket_id=current.pk,
                    attachment_id=attachment.pk,
                    name=attachment.name,
                    size=attachment.size,
                )
            return created
    except BaseException:
        for item in stored:
            storage.remove_stored(item.path)
        raise


@transaction.atomic
def attachment_delete(*, actor: User, attachment: Attachment | int) -> None:
    """The uploader while the ticket is open, or a manager/admin, removes an attachment; the
    file goes after commit. History: `attachment_removed`; event: attachment.removed."""
    attachment_id = attachment.pk if isinstance(attachment, Attachment) else attachment
    current = (
        Attachment.objects.select_related("ticket", "comment").filter(pk=attachment_id).first()
    )
    if current is None or not policies.can_view_attachment(actor, current):
        raise NotFound()
    if not policies.can_delete_attachment(actor, current):
        raise PermissionDenied()
    path, ticket_id = current.path, current.ticket_id
    _delete(current, actor=actor, reason="attachment_removed")
    transaction.on_commit(lambda: storage.remove_stored(path))
    publish(
        events.ATTACHMENT_REMOVED,
        actor_id=actor.pk,
        ticket_id=ticket_id,
        attachment_id=attachment_id,
    )


# --- Administrators' corrections (Django admin only) -----------------------------------------


@transaction.atomic
def comment_admin_edit(*, actor: User, comment: Comment, text: str, internal: bool) -> Comment:
    """An admin corrects a comment in the Django admin; the old text stays in history."""
    if not (actor.is_active and actor.role == Role.ADMIN):
        raise PermissionDenied()
    current = Comment.objects.select_for_update().get(pk=comment.pk)
    current.text = _clean_text(text, field="text", limit=COMMENT_MAX_LENGTH, required=True)
    current.internal = bool(internal)
    _save(current, actor=actor, reason="comment_edited", update_fields=["text", "internal"])
    publish(
        events.COMMENT_EDITED, actor_id=actor.pk, ticket_id=current.ticket_id, comment_id=current.pk
    )
    return current


@transaction.atomic
def comment_admin_delete(*, actor: User, comment: Comment) -> None:
    """An admin removes a comment in the Django admin; history keeps it."""
    if not (actor.is_active and actor.role == Role.ADMIN):
        raise PermissionDenied()
    paths = [a.path for a in comment.attachments.all()]
    for attachment in comment.attachments.all():
        _delete(attachment, actor=actor, reason="attachment_removed")
    ticket_id, comment_id = comment.ticket_id, comment.pk
    _delete(comment, actor=actor, reason="comment_deleted")
    for path in paths:
        transaction.on_commit(lambda path=path: storage.remove_stored(path))
    publish(events.COMMENT_DELETED, actor_id=actor.pk, ticket_id=ticket_id, comment_id=comment_id)
