"""Two concurrent actions on one ticket can never both apply from the same state (SPEC §4.3),
on SQLite and on PostgreSQL: real threads, real connections, real transactions."""

import threading
import time

import pytest
from django.db import connection

from techticket.errors import InvalidTransition, NotFound, StaleVersion
from tickets import policies
from tickets.models import Status, Ticket
from tickets.services import ticket_apply_action, ticket_update
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db(transaction=True)

# The loser sees the winner's result: a status its action does not start from, a newer
# version, or (after a decline took the ticket away from the technician) no ticket at all.
REFUSALS = (InvalidTransition, StaleVersion, NotFound)


def _race(monkeypatch, *calls):
    """Run the calls in parallel threads; each holds its transaction open a moment after the
    policy check, so that without locking both would pass the check from the same state."""
    real_check = policies.check_action

    def slow_check(*args, **kwargs):
        real_check(*args, **kwargs)
        time.sleep(0.3)

    monkeypatch.setattr(policies, "check_action", slow_check)
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            outcomes[index] = call()
        except Exception as exc:
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_accept_and_decline_at_once_only_one_applies(monkeypatch, requester, technician):
    ticket = TicketFactory(creator=requester, status=Status.ASSIGNED, assignee=technician)
    history_before = ticket.history.count()
    outcomes = _race(
        monkeypatch,
        lambda: ticket_apply_action(actor=technician, ticket=ticket.pk, action="accept"),
        lambda: ticket_apply_action(
            actor=technician, ticket=ticket.pk, action="decline", reason="занят"
        ),
    )
    winners = [o for o in outcomes if isinstance(o, Ticket)]
    losers = [o for o in outcomes if isinstance(o, REFUSALS)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1, outcomes
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.status == winners[0].status
    assert fresh.version == ticket.version + 1
    assert ticket.history.count() == history_before + 1


def test_hold_and_complete_at_once_only_one_applies(monkeypatch, requester, technician, manager):
    ticket = TicketFactory(creator=requester, status=Status.IN_PROGRESS, assignee=technician)
    outcomes = _race(
        monkeypatch,
        lambda: ticket_apply_action(actor=technician, ticket=ticket.pk, action="complete"),
        lambda: ticket_apply_action(
            actor=manager, ticket=ticket.pk, action="hold", reason="ждём запчасть"
        ),
    )
    assert sum(isinstance(o, Ticket) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, REFUSALS) for o in outcomes) == 1, outcomes
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version + 1


def test_two_edits_with_the_same_version_only_one_applies(monkeypatch, requester, manager):
    ticket = TicketFactory(creator=requester)
    real_can_edit = policies.can_edit_ticket

    def slow_can_edit(*args):
        result = real_can_edit(*args)
        time.sleep(0.3)
        return result

    monkeypatch.setattr(policies, "can_edit_ticket", slow_can_edit)
    outcomes = _race(
        monkeypatch,
        lambda: ticket_update(actor=requester, ticket=ticket.pk, expected_version=1, title="A"),
        lambda: ticket_update(actor=manager, ticket=ticket.pk, expected_version=1, title="B"),
    )
    assert sum(isinstance(o, Ticket) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, StaleVersion) for o in outcomes) == 1, outcomes
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.version == 2
    assert fresh.title in {"A", "B"}
