"""The unified, chronological timeline of a ticket (SPEC §4.6), built from simple-history
records in a fixed number of queries and filtered for the viewer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from accounts.models import User
from tickets import policies
from tickets.models import Attachment, Comment, Ticket
from tickets.workflow import ACTIONS

TRACKED_FIELDS = (
    "title",
    "description",
    "category",
    "priority",
    "status",
    "assignee",
    "resolution",
)
WORKFLOW_EVENTS = frozenset(action.event for action in ACTIONS.values())
# Events whose reason is the one the actor typed; `completed` carries the resolution instead.
REASON_EVENTS = frozenset(a.event for a in ACTIONS.values() if a.inputs and "reason" in a.inputs)
EVENTS = (
    "created",
    "updated",
    *(action.event for action in ACTIONS.values()),
    "commented",
    "attachment_added",
    "attachment_removed",
)


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any


@dataclass
class Entry:
    at: datetime
    actor: User | None
    event: str
    changes: list[Change] = field(default_factory=list)
    reason: str = ""
    comment_id: int | None = None
    attachment_id: int | None = None
    # For the pages: what the entry is about, already filtered by visibility.
    internal: bool = False
    attachment_name: str = ""

    def as_dict(self) -> dict:
        return {
            "at": self.at,
            "actor": self.actor,
            "event": self.event,
            "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in self.changes],
            "reason": self.reason,
            "comment_id": self.comment_id,
            "attachment_id": self.attachment_id,
        }


@dataclass
class Timeline:
    entries: list[Entry]

    @cached_property
    def users(self) -> dict[int, User]:
        """Users named by `assignee` changes (raw ids in the entries), for display: one query,
        the first time a page asks (the API shows the ids)."""
        ids = {
            value
            for entry in self.entries
            for change in entry.changes
            if change.field == "assignee"
            for value in (change.old, change.new)
            if value is not None
        }
        return {u.pk: u for u in User.objects.filter(pk__in=ids)} if ids else {}


def _field_value(record, name: str) -> Any:
    return getattr(record, "assignee_id" if name == "assignee" else name)


def _ticket_entries(records: list) -> list[Entry]:
    entries = []
    previous = None
    for record in records:
        if record.history_type == "-":
            continue
        if previous is None or record.history_type == "+":
            entries.append(
                Entry(at=record.history_date, actor=record.history_user, event="created")
            )
        else:
            changes = [
                Change(name, _field_value(previous, name), _field_value(record, name))
                for name in TRACKED_FIELDS
                if _field_value(previous, name) != _field_value(record, name)
            ]
            reason_code = record.history_change_reason or ""
            event = reason_code if reason_code in WORKFLOW_EVENTS else "updated"
            reason = ""
            if event in REASON_EVENTS:
                reason = record.status_reason
            elif event == "completed":
                reason = record.resolution
            if changes or event != "updated":
                entries.append(
                    Entry(
                        at=record.history_date,
                        actor=record.history_user,
                        event=event,
                        changes=changes,
                        reason=reason,
                    )
                )
        previous = record
    return entries


def ticket_timeline(*, user: User, ticket: Ticket) -> Timeline:
    """Creation, edits (old → new), workflow actions with their reason or resolution,
    comments and attachments added or removed — oldest first. Internal notes, and files
    attached to them, are left out for viewers who may not see them. Three queries (a fourth
    when a page asks for the names in `users`)."""
    ticket_records = list(
        ticket.history.select_related("history_user").order_by("history_date", "history_id")
    )
    comment_history = list(
        Comment.history.filter(ticket_id=ticket.pk)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    comment_records = [r for r in comment_history if r.history_type == "+"]
    attachment_records = list(
        Attachment.history.filter(ticket_id=ticket.pk, history_type__in=["+", "-"])
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    sees_internal = policies.can_see_internal(user)
    # A comment counts as internal as it is now (or was when deleted): an admin may turn a
    # public comment into an internal note afterwards, and it must vanish from the requester's
    # history too, with its files.
    internal_now = {r.id: r.internal for r in comment_history}
    internal_comments = {pk for pk, internal in internal_now.items() if internal}

    timed: list[tuple[datetime, int, int, Entry]] = []
    for order, entry in enumerate(_ticket_entries(ticket_records)):
        timed.append((entry.at, 0, order, entry))
    for record in comment_records:
        internal = record.id in internal_comments
        if internal and not sees_internal:
            continue
        entry = Entry(
            at=record.history_date,
            actor=record.history_user,
            event="commented",
            comment_id=record.id,
            internal=internal,
        )
        timed.append((entry.at, 1, record.history_id, entry))
    for record in attachment_records:
        hidden = record.comment_id in internal_comments
        if hidden and not sees_internal:
            continue
        entry = Entry(
            at=record.history_date,
            actor=record.history_user,
            event="attachment_added" if record.history_type == "+" else "attachment_removed",
            attachment_id=record.id,
            comment_id=record.comment_id,
            internal=hidden,
            attachment_name=record.name,
        )
        timed.append((entry.at, 2, record.history_id, entry))
    timed.sort(key=lambda item: item[:3])
    return Timeline(entries=[item[3] for item in timed])
