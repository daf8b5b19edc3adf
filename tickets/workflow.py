"""The ticket workflow of SPEC §4.3 as data.

One table of actions drives everything else: the service applies it, the policy reads who may
act, `allowed_actions` and the buttons on the page are computed from it, and the tests iterate
over it. Changing the workflow means changing this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.utils.translation import gettext_lazy as _

from tickets.models import Status


class Actor(StrEnum):
    """Who may take an action. Roles are matched on the user; the others on the ticket."""

    MANAGER = "manager"
    ADMIN = "admin"
    ASSIGNEE = "assignee"  # the technician the ticket is assigned to
    CREATOR_WHILE_NEW = "creator_while_new"  # the ticket's creator, while it is `new`


class Need(StrEnum):
    """How an action treats an input."""

    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


@dataclass(frozen=True)
class Action:
    name: str
    sources: frozenset[Status]
    target: Status
    actors: frozenset[Actor]
    event: str  # the history event and, as `ticket.<event>`, the published event
    label: str
    reason: Need = Need.NONE
    resolution: Need = Need.NONE
    needs_assignee: bool = False
    set_timestamps: tuple[str, ...] = ()
    clear_fields: tuple[str, ...] = ()
    style: str = "secondary"  # Bootstrap colour of its button

    @property
    def inputs(self) -> tuple[str, ...]:
        names = []
        if self.needs_assignee:
            names.append("assignee")
        if self.reason is not Need.NONE:
            names.append("reason")
        if self.resolution is not Need.NONE:
            names.append("resolution")
        return tuple(names)


DISPATCHERS = frozenset({Actor.MANAGER, Actor.ADMIN})
WORKING = frozenset({Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD})

ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action(
            name="assign",
            sources=WORKING,
            target=Status.ASSIGNED,
            actors=DISPATCHERS,
            event="assigned",
            label=_("Assign"),
            needs_assignee=True,
            set_timestamps=("assigned_at",),
            clear_fields=("accepted_at",),
            style="primary",
        ),
        Action(
            name="accept",
            sources=frozenset({Status.ASSIGNED}),
            target=Status.IN_PROGRESS,
            actors=frozenset({Actor.ASSIGNEE}),
            event="accepted",
            label=_("Accept"),
            set_timestamps=("accepted_at",),
            style="primary",
        ),
        Action(
            name="decline",
            sources=frozenset({Status.ASSIGNED}),
            target=Status.NEW,
            actors=frozenset({Actor.ASSIGNEE}),
            event="declined",
            label=_("Decline"),
            reason=Need.REQUIRED,
            clear_fields=("assignee", "assigned_at", "accepted_at"),
            style="outline-danger",
        ),
        Action(
            name="hold",
            sources=frozenset({Status.IN_PROGRESS}),
            target=Status.ON_HOLD,
            actors=frozenset({Actor.ASSIGNEE, *DISPATCHERS}),
            event="held",
            label=_("Put on hold"),
            reason=Need.REQUIRED,
            style="outline-warning",
        ),
        Action(
            name="resume",
            sources=frozenset({Status.ON_HOLD}),
            target=Status.IN_PROGRESS,
            actors=frozenset({Actor.ASSIGNEE, *DISPATCHERS}),
            event="resumed",
            label=_("Resume"),
            style="primary",
        ),
        Action(
            name="complete",
            sources=frozenset({Status.IN_PROGRESS}),
            target=Status.RESOLVED,
            actors=frozenset({Actor.ASSIGNEE}),
            event="completed",
            label=_("Complete"),
            resolution=Need.OPTIONAL,
            set_timestamps=("resolved_at",),
            style="success",
        ),
        Action(
            name="close",
            sources=frozenset({Status.RESOLVED}),
            target=Status.CLOSED,
            actors=DISPATCHERS,
            event="closed",
            label=_("Verify and close"),
            set_timestamps=("closed_at",),
            style="success",
        ),
        Action(
            name="reopen",
            sources=frozenset({Status.RESOLVED, Status.CLOSED}),
            target=Status.IN_PROGRESS,
            actors=DISPATCHERS,
            event="reopened",
            label=_("Return to work"),
            reason=Need.REQUIRED,
            clear_fields=("resolved_at", "closed_at"),
            style="outline-warning",
        ),
        Action(
            name="cancel",
            sources=WORKING,
            target=Status.CANCELLED,
            actors=frozenset({*DISPATCHERS, Actor.CREATOR_WHILE_NEW}),
            event="cancelled",
            label=_("Cancel ticket"),
            reason=Need.OPTIONAL,
            style="outline-danger",
        ),
    )
}

ACTION_NAMES: tuple[str, ...] = tuple(ACTIONS)
