import pytest
from django.db import transaction

from techticket.events import publish


@pytest.mark.django_db(transaction=True)
def test_event_is_written_after_commit(events_log):
    with transaction.atomic():
        publish("ticket.created", actor_id=7, ticket_id=42, title="Принтер")
        assert events_log() == []
    (event,) = events_log()
    assert event["event"] == "ticket.created"
    assert event["ticket_id"] == 42
    assert event["actor_id"] == 7
    assert event["details"] == {"title": "Принтер"}
    assert event["ts"]
    assert "request_id" in event


@pytest.mark.django_db(transaction=True)
def test_event_is_not_written_on_rollback(events_log):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        publish("ticket.created", actor_id=7, ticket_id=43)
        raise Boom
    assert events_log() == []


@pytest.mark.django_db(transaction=True)
def test_event_carries_the_request_id_of_the_request_that_caused_it(events_log):
    from techticket.request_context import request_id_var

    token = request_id_var.set("req-evt-1")
    try:
        publish("user.created", actor_id=1, user_id=1)
    finally:
        request_id_var.reset(token)
    (event,) = events_log()
    assert event["request_id"] == "req-evt-1"
