"""Every role × every action × every status (SPEC §4.3): exactly the allowed cells succeed;
the rest raise the right error and change nothing.

The expected table below is SPEC §4.3 restated by hand, independently of tickets/workflow.py,
so that a wrong row in the workflow table fails here instead of being copied into the test."""

import pytest
from django.utils import timezone

from accounts.tests.factories import TechnicianFactory
from techticket.errors import InvalidTransition, NotFound, PermissionDenied
from tickets import policies
from tickets.models import Status, Ticket
from tickets.services import ticket_apply_action
from tickets.tests.factories import TicketFactory
from tickets.workflow import ACTIONS

pytestmark = pytest.mark.django_db

WORKING = {"new", "assigned", "in_progress", "on_hold"}
# action: (from statuses, to status, who) — "creator_while_new" as in the SPEC's cancel row.
SPEC_TABLE = {
    "assign": (WORKING, "assigned", {"manager", "admin"}),
    "accept": ({"assigned"}, "in_progress", {"assignee"}),
    "decline": ({"assigned"}, "new", {"assignee"}),
    "hold": ({"in_progress"}, "on_hold", {"assignee", "manager", "admin"}),
    "resume": ({"on_hold"}, "in_progress", {"assignee", "manager", "admin"}),
    "complete": ({"in_progress"}, "resolved", {"assignee"}),
    "close": ({"resolved"}, "closed", {"manager", "admin"}),
    "reopen": ({"resolved", "closed"}, "in_progress", {"manager", "admin"}),
    "cancel": (WORKING, "cancelled", {"manager", "admin", "creator_while_new"}),
}
PERSONAS = ("creator", "stranger", "assignee", "other_technician", "manager", "admin")
INPUTS = {"reason": "Нужна причина", "resolution": "Заменён картридж"}


def test_the_workflow_table_is_the_specs_table():
    assert set(ACTIONS) == set(SPEC_TABLE)
    for name, (sources, target, who) in SPEC_TABLE.items():
        action = ACTIONS[name]
        assert {s.value for s in action.sources} == sources, name
        assert action.target.value == target, name
        assert {a.value for a in action.actors} == who, name


def _ticket_in(status: str, creator, assignee) -> Ticket:
    has_assignee = status not in ("new",)
    now = timezone.now()
    return TicketFactory(
        creator=creator,
        status=status,
        assignee=assignee if has_assignee else None,
        assigned_at=now if has_assignee else None,
    )


def _expected(persona: str, action: str, status: str, has_assignee: bool):
    sources, _target, who = SPEC_TABLE[action]
    visible = persona in ("creator", "manager", "admin") or (persona == "assignee" and has_assignee)
    if not visible:
        return NotFound
    is_actor = (
        persona in who
        or (persona == "assignee" and "assignee" in who)
        or (persona == "creator" and "creator_while_new" in who and status == "new")
    )
    if not is_actor:
        return PermissionDenied
    if status not in sources:
        return InvalidTransition
    return None


@pytest.mark.parametrize("status", [s.value for s in Status])
@pytest.mark.parametrize("action", list(SPEC_TABLE))
@pytest.mark.parametrize("persona", PERSONAS)
def test_permission_matrix(
    persona,
    action,
    status,
    requester,
    other_requester,
    technician,
    other_technician,
    manager,
    admin_user,
):
    ticket = _ticket_in(status, requester, technician)
    actors = {
        "creator": requester,
        "stranger": other_requester,
        "assignee": technician,
        "other_technician": other_technician,
        "manager": manager,
        "admin": admin_user,
    }
    actor = actors[persona]
    spare = TechnicianFactory(username="spare_technician")
    expected = _expected(persona, action, status, has_assignee=ticket.assignee_id is not None)
    history_before = ticket.history.count()

    allowed = action in policies.allowed_actions(actor, ticket)
    assert allowed == (expected is None)

    kwargs = {"assignee": spare} if action == "assign" else {}
    if expected is None:
        result = ticket_apply_action(actor=actor, ticket=ticket, action=action, **kwargs, **INPUTS)
        assert result.status == SPEC_TABLE[action][1]
        assert result.version == ticket.version + 1
        assert ticket.history.count() == history_before + 1
        assert ticket.history.latest().history_change_reason == ACTIONS[action].event
    else:
        with pytest.raises(expected):
            ticket_apply_action(actor=actor, ticket=ticket, action=action, **kwargs, **INPUTS)
        fresh = Ticket.objects.get(pk=ticket.pk)
        assert (fresh.status, fresh.version, fresh.assignee_id) == (
            ticket.status,
            ticket.version,
            ticket.assignee_id,
        )
        assert ticket.history.count() == history_before
