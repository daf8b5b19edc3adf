"""SPEC §4.1 and §4.3 restated by hand for the permission-matrix tests of the API and the
pages: who sees a ticket and who may take which action from which status. Deliberately
independent of tickets/policies.py and tickets/workflow.py, so that a wrong rule there fails
the matrices instead of being copied into them."""

from __future__ import annotations

from dataclasses import dataclass

ANONYMOUS = "anonymous"
CREATOR = "creator"  # the requester who opened the ticket
STRANGER = "stranger"  # another requester
ASSIGNEE = "assignee"  # the technician the ticket is assigned to (outside `new`)
OTHER_TECHNICIAN = "other_technician"
MANAGER = "manager"
ADMIN = "admin"
PERSONAS = (ANONYMOUS, CREATOR, STRANGER, ASSIGNEE, OTHER_TECHNICIAN, MANAGER, ADMIN)
SIGNED_IN = PERSONAS[1:]
DISPATCHERS = frozenset({MANAGER, ADMIN})
STAFF = frozenset({ASSIGNEE, OTHER_TECHNICIAN, MANAGER, ADMIN})

STATUSES = ("new", "assigned", "in_progress", "on_hold", "resolved", "closed", "cancelled")
FINISHED = frozenset({"closed", "cancelled"})
WORKING = frozenset({"new", "assigned", "in_progress", "on_hold"})
CREATOR_WHILE_NEW = "creator while new"


@dataclass(frozen=True)
class Row:
    sources: frozenset[str]
    target: str
    who: frozenset[str]


# SPEC §4.3, row by row, in the table's order (the order of `allowed_actions` and the buttons).
WORKFLOW: dict[str, Row] = {
    "assign": Row(WORKING, "assigned", DISPATCHERS),
    "accept": Row(frozenset({"assigned"}), "in_progress", frozenset({ASSIGNEE})),
    "decline": Row(frozenset({"assigned"}), "new", frozenset({ASSIGNEE})),
    "hold": Row(frozenset({"in_progress"}), "on_hold", frozenset({ASSIGNEE, *DISPATCHERS})),
    "resume": Row(frozenset({"on_hold"}), "in_progress", frozenset({ASSIGNEE, *DISPATCHERS})),
    "complete": Row(frozenset({"in_progress"}), "resolved", frozenset({ASSIGNEE})),
    "close": Row(frozenset({"resolved"}), "closed", DISPATCHERS),
    "reopen": Row(frozenset({"resolved", "closed"}), "in_progress", DISPATCHERS),
    "cancel": Row(WORKING, "cancelled", frozenset({*DISPATCHERS, CREATOR_WHILE_NEW})),
}


def sees(persona: str, status: str) -> bool:
    """§4.1 for a ticket opened by CREATOR and, outside `new`, assigned to ASSIGNEE."""
    if persona in (CREATOR, MANAGER, ADMIN):
        return True
    return persona == ASSIGNEE and status != "new"


def may_act(persona: str, status: str, action: str) -> bool:
    who = WORKFLOW[action].who
    return persona in who or (CREATOR_WHILE_NEW in who and persona == CREATOR and status == "new")
