"""The ticket timeline (SPEC §4.6): every operation, oldest first, filtered for the viewer, in a
fixed number of queries."""

from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tickets.history import EVENTS, ticket_timeline
from tickets.services import (
    attachment_add,
    attachment_delete,
    comment_add,
    ticket_apply_action,
    ticket_create,
    ticket_update,
)

pytestmark = pytest.mark.django_db


def _photo():
    buffer = BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    return SimpleUploadedFile("photo.png", buffer.getvalue())


@pytest.fixture
def story(requester, technician, manager):
    """A ticket that went through every kind of operation."""
    ticket = ticket_create(actor=requester, title="Не греет батарея", description="Кабинет 7")
    ticket_update(actor=requester, ticket=ticket, priority="high")
    ticket_apply_action(actor=manager, ticket=ticket, action="assign", assignee=technician)
    ticket_apply_action(actor=technician, ticket=ticket, action="accept")
    comment_add(actor=requester, ticket=ticket, text="Стало совсем холодно")
    note = comment_add(actor=technician, ticket=ticket, text="Нужен сварщик", internal=True)
    attachment_add(actor=technician, ticket=ticket, files=[_photo()], comment=note)
    (photo,) = attachment_add(actor=requester, ticket=ticket, files=[_photo()])
    attachment_delete(actor=requester, attachment=photo)
    ticket_apply_action(actor=technician, ticket=ticket, action="hold", reason="Ждём сварщика")
    ticket_apply_action(actor=technician, ticket=ticket, action="resume")
    ticket_apply_action(actor=technician, ticket=ticket, action="complete", resolution="Заварили")
    ticket_apply_action(actor=manager, ticket=ticket, action="reopen", reason="Опять течёт")
    ticket_apply_action(actor=technician, ticket=ticket, action="complete")
    ticket_apply_action(actor=manager, ticket=ticket, action="close")
    ticket.refresh_from_db()
    return ticket


def test_staff_see_every_operation_in_order(story, manager):
    timeline = ticket_timeline(user=manager, ticket=story)
    assert [e.event for e in timeline.entries] == [
        "created",
        "updated",
        "assigned",
        "accepted",
        "commented",
        "commented",
        "attachment_added",
        "attachment_added",
        "attachment_removed",
        "held",
        "resumed",
        "completed",
        "reopened",
        "completed",
        "closed",
    ]
    assert {e.event for e in timeline.entries} <= set(EVENTS)
    times = [e.at for e in timeline.entries]
    assert times == sorted(times)


def test_entries_name_the_actor_the_changes_and_the_reason(story, requester, technician, manager):
    entries = ticket_timeline(user=manager, ticket=story).entries
    by_event = {}
    for entry in entries:
        by_event.setdefault(entry.event, []).append(entry)
    (updated,) = by_event["updated"]
    assert updated.actor == requester
    assert [(c.field, c.old, c.new) for c in updated.changes] == [("priority", "normal", "high")]
    (assigned,) = by_event["assigned"]
    assert assigned.actor == manager
    assert ("assignee", None, technician.pk) in [(c.field, c.old, c.new) for c in assigned.changes]
    assert ("status", "new", "assigned") in [(c.field, c.old, c.new) for c in assigned.changes]
    (held,) = by_event["held"]
    assert (held.actor, held.reason) == (technician, "Ждём сварщика")
    (reopened,) = by_event["reopened"]
    assert reopened.reason == "Опять течёт"
    assert by_event["completed"][0].reason == "Заварили"
    assert by_event["resumed"][0].reason == ""


def test_timeline_lists_the_names_of_assignees(story, manager, technician):
    timeline = ticket_timeline(user=manager, ticket=story)
    assert timeline.users == {technician.pk: technician}


def test_requester_does_not_see_internal_notes_or_their_files(story, requester):
    entries = ticket_timeline(user=requester, ticket=story).entries
    commented = [e for e in entries if e.event == "commented"]
    assert len(commented) == 1
    assert commented[0].actor == requester
    assert not any(e.internal for e in entries)
    assert [e.event for e in entries].count("attachment_added") == 1


def test_as_dict_has_the_api_shape(story, manager):
    first = ticket_timeline(user=manager, ticket=story).entries[0].as_dict()
    assert set(first) == {
        "at",
        "actor",
        "event",
        "changes",
        "reason",
        "comment_id",
        "attachment_id",
    }


def test_timeline_costs_three_queries_however_long_it_is(story, manager, django_assert_num_queries):
    with django_assert_num_queries(3):
        long_one = ticket_timeline(user=manager, ticket=story)
    for index in range(20):
        comment_add(actor=manager, ticket=story, text=f"заметка {index}")
    with django_assert_num_queries(3):
        longer = ticket_timeline(user=manager, ticket=story)
    with django_assert_num_queries(1):  # the assignees' names, for the pages, once
        assert longer.users
        assert longer.users
    assert len(longer.entries) == len(long_one.entries) + 20


def test_an_admin_edit_without_a_reason_shows_as_updated(requester, admin_user):
    ticket = ticket_create(actor=requester, title="A", description="B")
    ticket.title = "C"
    ticket._history_user = admin_user
    ticket.save()
    entries = ticket_timeline(user=admin_user, ticket=ticket).entries
    assert [(e.event, e.actor) for e in entries] == [
        ("created", requester),
        ("updated", admin_user),
    ]
    assert [(c.field, c.old, c.new) for c in entries[1].changes] == [("title", "A", "C")]
