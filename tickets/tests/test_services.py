"""The ticket services (SPEC §4.2–§4.4): what they write, the history and the events they
produce, and that a refusal changes nothing."""

import pytest
from django.utils import timezone

from accounts.tests.factories import TechnicianFactory
from techticket.errors import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationError,
)
from tickets.models import Comment, Status, Ticket
from tickets.services import (
    MSG_ALREADY_ASSIGNED,
    MSG_ASSIGNEE_INVALID,
    MSG_INTERNAL_FORBIDDEN,
    MSG_REASON_REQUIRED,
    MSG_WORKFLOW_FIELD,
    comment_add,
    ticket_apply_action,
    ticket_create,
    ticket_delete,
    ticket_update,
)
from tickets.tests.factories import CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db


def _new_ticket(creator, **overrides):
    data = {
        "title": "Не печатает принтер",
        "description": "Принтер в 305 кабинете зажёвывает бумагу.",
    }
    data.update(overrides)
    return ticket_create(actor=creator, **data)


# --- Create --------------------------------------------------------------------------------


def test_create_makes_a_new_ticket_owned_by_the_actor(
    requester, django_capture_on_commit_callbacks, events_log
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = _new_ticket(requester, priority="high", category="repair")
    assert ticket.status == Status.NEW
    assert ticket.creator == requester
    assert ticket.assignee is None
    assert (ticket.priority, ticket.category, ticket.version) == ("high", "repair", 1)
    record = ticket.history.get()
    assert (record.history_type, record.history_user, record.history_change_reason) == (
        "+",
        requester,
        "created",
    )
    (event,) = events_log()
    assert (event["event"], event["ticket_id"], event["actor_id"]) == (
        "ticket.created",
        ticket.pk,
        requester.pk,
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"description": ""}, "description"),
        ({"description": "x" * 20_001}, "description"),
        ({"priority": "urgent"}, "priority"),
        ({"category": "magic"}, "category"),
    ],
)
def test_create_refuses_bad_input_naming_the_field(requester, overrides, field):
    with pytest.raises(ValidationError) as caught:
        _new_ticket(requester, **overrides)
    assert field in caught.value.errors
    assert not Ticket.objects.exists()


def test_an_inactive_user_cannot_create(requester):
    requester.is_active = False
    with pytest.raises(PermissionDenied):
        _new_ticket(requester)
    assert not Ticket.objects.exists()


def test_create_strips_surrounding_whitespace(requester):
    ticket = _new_ticket(requester, title="  Течёт кран  ")
    assert ticket.title == "Течёт кран"


# --- Edit ----------------------------------------------------------------------------------


def test_creator_edits_and_history_records_old_and_new(
    requester, django_capture_on_commit_callbacks, events_log
):
    ticket = _new_ticket(requester)
    with django_capture_on_commit_callbacks(execute=True):
        updated = ticket_update(
            actor=requester, ticket=ticket, expected_version=1, priority="critical", title="Пожар"
        )
    assert (updated.priority, updated.title, updated.version) == ("critical", "Пожар", 2)
    latest = updated.history.latest()
    assert latest.history_change_reason == "updated"
    assert latest.history_user == requester
    assert latest.prev_record.priority == "normal"
    assert [e["event"] for e in events_log()] == ["ticket.updated"]
    assert events_log()[0]["details"] == {"fields": ["priority", "title"]}


def test_manager_edits_any_ticket(manager, requester):
    ticket = _new_ticket(requester)
    assert ticket_update(actor=manager, ticket=ticket, category="maintenance").category == (
        "maintenance"
    )


def test_edit_without_changes_keeps_the_version(requester):
    ticket = _new_ticket(requester)
    same = ticket_update(actor=requester, ticket=ticket, title=ticket.title)
    assert same.version == 1
    assert ticket.history.count() == 1


@pytest.mark.parametrize("field", ["status", "assignee", "creator", "version", "closed_at"])
def test_edit_refuses_workflow_fields(requester, technician, field):
    ticket = _new_ticket(requester)
    with pytest.raises(ValidationError) as caught:
        ticket_update(actor=requester, ticket=ticket, **{field: technician.pk})
    assert caught.value.field == field
    assert caught.value.message == MSG_WORKFLOW_FIELD
    assert Ticket.objects.get(pk=ticket.pk).version == 1


def test_stale_version_is_refused_and_names_who_changed_it(requester, manager):
    ticket = _new_ticket(requester)
    ticket_update(actor=manager, ticket=ticket, expected_version=1, priority="high")
    with pytest.raises(StaleVersion) as caught:
        ticket_update(actor=requester, ticket=ticket, expected_version=1, title="Моя правка")
    assert caught.value.current_version == 2
    assert caught.value.changed_by == manager
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.title, fresh.version) == ("Не печатает принтер", 2)


def test_assignee_who_is_not_the_creator_cannot_edit(requester, technician, manager):
    ticket = _new_ticket(requester)
    ticket_apply_action(actor=manager, ticket=ticket, action="assign", assignee=technician)
    with pytest.raises(PermissionDenied):
        ticket_update(actor=technician, ticket=ticket, title="Другое")


def test_strangers_get_not_found_on_edit(requester, other_requester, other_technician):
    ticket = _new_ticket(requester)
    for stranger in (other_requester, other_technician):
        with pytest.raises(NotFound):
            ticket_update(actor=stranger, ticket=ticket, title="Чужое")


@pytest.mark.parametrize("status", [Status.CLOSED, Status.CANCELLED])
def test_finished_tickets_cannot_be_edited_even_by_managers(requester, manager, technician, status):
    ticket = TicketFactory(creator=requester, status=status, assignee=technician)
    for actor in (requester, manager):
        with pytest.raises(PermissionDenied):
            ticket_update(actor=actor, ticket=ticket, title="Поздно")


# --- Workflow ------------------------------------------------------------------------------


def test_the_whole_workflow_sets_timestamps_and_records_every_step(
    requester, technician, manager, django_capture_on_commit_callbacks, events_log
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = _new_ticket(requester)
        ticket = ticket_apply_action(
            actor=manager, ticket=ticket, action="assign", assignee=technician.pk
        )
        assert (ticket.status, ticket.assignee, ticket.assigned_at is not None) == (
            "assigned",
            technician,
            True,
        )
        ticket = ticket_apply_action(actor=technician, ticket=ticket, action="accept")
        assert ticket.accepted_at is not None
        ticket = ticket_apply_action(
            actor=technician, ticket=ticket, action="hold", reason="Ждём запчасть"
        )
        assert (ticket.status, ticket.status_reason) == ("on_hold", "Ждём запчасть")
        ticket = ticket_apply_action(actor=technician, ticket=ticket, action="resume")
        assert ticket.status_reason == ""
        ticket = ticket_apply_action(
            actor=technician, ticket=ticket, action="complete", resolution="Заменил ролик"
        )
        assert (ticket.status, ticket.resolution, ticket.resolved_at is not None) == (
            "resolved",
            "Заменил ролик",
            True,
        )
        ticket = ticket_apply_action(
            actor=manager, ticket=ticket, action="reopen", reason="Снова мнёт"
        )
        assert (ticket.status, ticket.resolved_at) == ("in_progress", None)
        ticket = ticket_apply_action(actor=technician, ticket=ticket, action="complete")
        ticket = ticket_apply_action(actor=manager, ticket=ticket, action="close")
    assert ticket.status == Status.CLOSED
    assert ticket.closed_at is not None
    assert ticket.version == 9
    reasons = list(
        ticket.history.order_by("history_date", "history_id").values_list(
            "history_change_reason", flat=True
        )
    )
    assert reasons == [
        "created",
        "assigned",
        "accepted",
        "held",
        "resumed",
        "completed",
        "reopened",
        "completed",
        "closed",
    ]
    assert [e["event"] for e in events_log()] == [
        "ticket.created",
        "ticket.assigned",
        "ticket.accepted",
        "ticket.held",
        "ticket.resumed",
        "ticket.completed",
        "ticket.reopened",
        "ticket.completed",
        "ticket.closed",
    ]


def test_decline_returns_the_ticket_to_new_without_assignee(requester, technician, manager):
    ticket = _new_ticket(requester)
    ticket_apply_action(actor=manager, ticket=ticket, action="assign", assignee=technician)
    declined = ticket_apply_action(
        actor=technician, ticket=ticket, action="decline", reason="Не мой профиль"
    )
    assert (declined.status, declined.assignee, declined.assigned_at) == ("new", None, None)
    assert declined.status_reason == "Не мой профиль"


def test_reassigning_resets_acceptance(requester, technician, other_technician, manager):
    ticket = _new_ticket(requester)
    ticket_apply_action(actor=manager, ticket=ticket, action="assign", assignee=technician)
    ticket_apply_action(actor=technician, ticket=ticket, action="accept")
    moved = ticket_apply_action(
        actor=manager, ticket=ticket, action="assign", assignee=other_technician
    )
    assert (moved.status, moved.assignee, moved.accepted_at) == ("assigned", other_technician, None)
    with pytest.raises(NotFound):
        ticket_apply_action(actor=technician, ticket=ticket, action="hold", reason="уже не моя")


@pytest.mark.parametrize("action", ["decline", "hold", "reopen"])
def test_actions_that_need_a_reason_refuse_a_blank_one(requester, technician, manager, action):
    status = {"decline": "assigned", "hold": "in_progress", "reopen": "resolved"}[action]
    ticket = TicketFactory(creator=requester, status=status, assignee=technician)
    actor = manager if action == "reopen" else technician
    with pytest.raises(ValidationError) as caught:
        ticket_apply_action(actor=actor, ticket=ticket, action=action, reason="   ")
    assert (caught.value.field, caught.value.message) == ("reason", MSG_REASON_REQUIRED)
    assert Ticket.objects.get(pk=ticket.pk).status == status


def test_cancel_takes_an_optional_reason(requester, manager):
    ticket = _new_ticket(requester)
    cancelled = ticket_apply_action(actor=requester, ticket=ticket, action="cancel")
    assert (cancelled.status, cancelled.status_reason) == ("cancelled", "")


@pytest.mark.parametrize("kind", ["manager", "inactive", "unknown", "garbage", "none"])
def test_assign_needs_an_active_technician(requester, manager, kind):
    ticket = _new_ticket(requester)
    assignee = {
        "manager": manager,
        "inactive": TechnicianFactory(is_active=False),
        "unknown": 999_999,
        "garbage": "abc",
        "none": None,
    }[kind]
    with pytest.raises(ValidationError) as caught:
        ticket_apply_action(actor=manager, ticket=ticket, action="assign", assignee=assignee)
    assert caught.value.field == "assignee"
    if kind != "none":
        assert caught.value.message == MSG_ASSIGNEE_INVALID
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW


def test_assigning_the_same_technician_again_is_refused(requester, technician, manager):
    ticket = _new_ticket(requester)
    ticket_apply_action(actor=manager, ticket=ticket, action="assign", assignee=technician)
    with pytest.raises(ValidationError) as caught:
        ticket_apply_action(actor=manager, ticket=ticket, action="assign", assignee=technician)
    assert caught.value.message == MSG_ALREADY_ASSIGNED


def test_stale_version_on_an_action_is_refused(requester, technician, manager):
    ticket = _new_ticket(requester)
    ticket_apply_action(actor=manager, ticket=ticket, action="assign", assignee=technician)
    with pytest.raises(StaleVersion):
        ticket_apply_action(actor=manager, ticket=ticket, action="cancel", expected_version=1)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.ASSIGNED


def test_an_action_on_a_stale_object_uses_the_current_row(requester, technician, manager):
    ticket = _new_ticket(requester)
    stale_copy = Ticket.objects.get(pk=ticket.pk)
    ticket_apply_action(actor=manager, ticket=ticket, action="cancel")
    with pytest.raises(InvalidTransition):
        ticket_apply_action(actor=manager, ticket=stale_copy, action="assign", assignee=technician)


def test_unknown_action_is_a_validation_error(requester, manager):
    ticket = _new_ticket(requester)
    with pytest.raises(ValidationError) as caught:
        ticket_apply_action(actor=manager, ticket=ticket, action="teleport")
    assert caught.value.field == "action"


def test_deactivated_assignee_loses_the_ticket_at_once(requester, technician, manager):
    ticket = _new_ticket(requester)
    ticket_apply_action(actor=manager, ticket=ticket, action="assign", assignee=technician)
    technician.is_active = False
    technician.save(update_fields=["is_active"])
    with pytest.raises(NotFound):
        ticket_apply_action(actor=technician, ticket=ticket, action="accept")


# --- Comments ------------------------------------------------------------------------------


def test_requester_comments_on_own_open_ticket(
    requester, django_capture_on_commit_callbacks, events_log
):
    ticket = _new_ticket(requester)
    with django_capture_on_commit_callbacks(execute=True):
        comment = comment_add(actor=requester, ticket=ticket, text="  Очень срочно  ")
    assert (comment.text, comment.internal, comment.author) == ("Очень срочно", False, requester)
    record = comment.history.get()
    assert (record.history_user, record.history_change_reason) == (requester, "commented")
    assert events_log()[-1]["event"] == "comment.added"
    assert Ticket.objects.get(pk=ticket.pk).version == 1, "a comment is not an edit"


def test_requester_cannot_write_internal_notes(requester):
    ticket = _new_ticket(requester)
    with pytest.raises(PermissionDenied) as caught:
        comment_add(actor=requester, ticket=ticket, text="секрет", internal=True)
    assert caught.value.message == MSG_INTERNAL_FORBIDDEN
    assert not Comment.objects.exists()


def test_staff_write_internal_notes(requester, technician, manager):
    ticket = _new_ticket(requester)
    ticket_apply_action(actor=manager, ticket=ticket, action="assign", assignee=technician)
    note = comment_add(actor=technician, ticket=ticket, text="Нужен новый фьюзер", internal=True)
    assert note.internal


@pytest.mark.parametrize("text", ["", "   ", "x" * 10_001])
def test_comment_text_must_be_1_to_10000_characters(requester, text):
    ticket = _new_ticket(requester)
    with pytest.raises(ValidationError) as caught:
        comment_add(actor=requester, ticket=ticket, text=text)
    assert caught.value.field == "text"
    assert not Comment.objects.exists()


@pytest.mark.parametrize("status", [Status.CLOSED, Status.CANCELLED])
def test_finished_tickets_take_comments_only_from_managers_and_admins(
    requester, technician, manager, admin_user, status
):
    ticket = TicketFactory(creator=requester, status=status, assignee=technician)
    for actor in (requester, technician):
        with pytest.raises(PermissionDenied):
            comment_add(actor=actor, ticket=ticket, text="ещё вопрос")
    for actor in (manager, admin_user):
        assert comment_add(actor=actor, ticket=ticket, text="пояснение").pk


def test_strangers_cannot_comment(requester, other_requester):
    ticket = _new_ticket(requester)
    with pytest.raises(NotFound):
        comment_add(actor=other_requester, ticket=ticket, text="привет")


# --- Delete --------------------------------------------------------------------------------


def test_only_admins_delete_and_history_keeps_the_deletion(
    requester, manager, admin_user, django_capture_on_commit_callbacks, events_log
):
    ticket = _new_ticket(requester)
    CommentFactory(ticket=ticket, author=requester)
    for actor in (requester, manager):
        with pytest.raises(PermissionDenied):
            ticket_delete(actor=actor, ticket=ticket)
    assert Ticket.objects.filter(pk=ticket.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_delete(actor=admin_user, ticket=ticket)
    assert not Ticket.objects.filter(pk=ticket.pk).exists()
    assert not Comment.objects.filter(ticket_id=ticket.pk).exists()
    deletion = Ticket.history.filter(id=ticket.pk, history_type="-").get()
    assert (deletion.history_user, deletion.history_change_reason) == (admin_user, "deleted")
    assert Comment.history.filter(ticket_id=ticket.pk, history_type="-").count() == 1
    assert events_log()[-1]["event"] == "ticket.deleted"


def test_version_never_changes_for_a_refused_action(requester, other_requester):
    ticket = _new_ticket(requester)
    before = timezone.now()
    with pytest.raises(NotFound):
        ticket_apply_action(actor=other_requester, ticket=ticket, action="cancel")
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.version == 1
    assert fresh.updated_at <= before
