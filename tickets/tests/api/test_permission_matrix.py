"""The HTTP permission matrix of the API (SPEC §4.1–§4.5, §5): every persona × every ticket
endpoint and workflow action, with the exact status code, and proof that a refused request
changes nothing.

The expectations come from the tables below, written by hand from the SPEC — never from
tickets.policies or tickets.workflow, so that a wrong rule in the code shows up here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import TechnicianFactory
from tickets import services
from tickets.models import Attachment, Comment, Ticket
from tickets.tests.factories import AttachmentFactory, CommentFactory, TicketFactory
from tickets.tests.spec_table import (
    ADMIN,
    ANONYMOUS,
    ASSIGNEE,
    CREATOR,
    DISPATCHERS,
    FINISHED,
    MANAGER,
    OTHER_TECHNICIAN,
    PERSONAS,
    SIGNED_IN,
    STAFF,
    STATUSES,
    STRANGER,
    WORKFLOW,
    may_act,
    sees,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"

# --- The expectations, from SPEC §4 ----------------------------------------------------------


def expected_for_action(persona: str, status: str, action: str) -> int:
    if persona == ANONYMOUS:
        return 401
    if not sees(persona, status):
        return 404
    if not may_act(persona, status, action):
        return 403
    if status not in WORKFLOW[action].sources:
        return 409
    return 200


def expected_allowed_actions(persona: str, status: str) -> list[str]:
    return [
        name
        for name, row in WORKFLOW.items()
        if status in row.sources and may_act(persona, status, name)
    ]


def may_comment(persona: str, status: str) -> bool:
    """§4.4: whoever sees the ticket while it is not closed/cancelled; dispatchers always."""
    return persona in DISPATCHERS or status not in FINISHED


Expectation = Callable[[str, str], int]  # (persona, status) → HTTP status


def _visible_then(allowed: Expectation) -> Expectation:
    """401 for anonymous, 404 outside visibility, then `allowed(persona, status)` → code."""

    def expected(persona: str, status: str) -> int:
        if persona == ANONYMOUS:
            return 401
        if not sees(persona, status):
            return 404
        return allowed(persona, status)

    return expected


def _ok(code: int) -> Expectation:
    return lambda persona, status: code


def _edit(persona, status):  # §4.2
    return 200 if persona in (CREATOR, *DISPATCHERS) and status not in FINISHED else 403


def _delete_ticket(persona, status):  # §4.2
    return 204 if persona == ADMIN else 403


def _comment(persona, status):  # §4.4
    return 201 if may_comment(persona, status) else 403


def _internal_note(persona, status):  # §4.4
    return 201 if may_comment(persona, status) and persona in STAFF else 403


def _delete_attachment(persona, status):  # §4.5; the file was uploaded by CREATOR
    # "While the ticket is open" read as for comments: not closed or cancelled.
    if persona in DISPATCHERS:
        return 204
    return 204 if persona == CREATOR and status not in FINISHED else 403


# --- The world every matrix case starts from -------------------------------------------------


@dataclass
class World:
    users: dict
    spare_technician: object
    ticket: Ticket
    public_comment: Comment
    internal_note: Comment
    attachment: Attachment


def _stored_text_file(content: bytes = b"hello\n") -> str:
    relative = f"attachments/2026/01/{uuid.uuid4().hex}.txt"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return relative


def _ticket_in(status: str, *, creator, assignee, **fields) -> Ticket:
    """A ticket in `status`; every status but `new` has `assignee` (as the model demands)."""
    if status == "new":
        return TicketFactory(creator=creator, status=status, assignee=None, **fields)
    return TicketFactory(creator=creator, status=status, assignee=assignee, **fields)


@pytest.fixture
def people(requester, other_requester, technician, other_technician, manager, admin_user):
    return {
        ANONYMOUS: None,
        CREATOR: requester,
        STRANGER: other_requester,
        ASSIGNEE: technician,
        OTHER_TECHNICIAN: other_technician,
        MANAGER: manager,
        ADMIN: admin_user,
    }


@pytest.fixture
def make_world(people):
    spare = TechnicianFactory(username="spare_technician")

    def make(status: str) -> World:
        ticket = _ticket_in(status, creator=people[CREATOR], assignee=people[ASSIGNEE])
        public = CommentFactory(ticket=ticket, author=people[CREATOR], text="Публичный")
        internal = CommentFactory(
            ticket=ticket, author=people[MANAGER], text="Служебная заметка", internal=True
        )
        attachment = AttachmentFactory(
            ticket=ticket, uploaded_by=people[CREATOR], path=_stored_text_file(), size=6
        )
        return World(people, spare, ticket, public, internal, attachment)

    return make


def snapshot(ticket_id: int) -> dict:
    """Everything a refused request must leave as it was."""
    media = Path(settings.MEDIA_ROOT)
    return {
        "ticket": Ticket.objects.filter(pk=ticket_id)
        .values(
            "version",
            "status",
            "assignee_id",
            "title",
            "priority",
            "resolution",
            "status_reason",
            "updated_at",
        )
        .first(),
        "comments": Comment.objects.filter(ticket_id=ticket_id).count(),
        "attachments": Attachment.objects.filter(ticket_id=ticket_id).count(),
        "history": (
            Ticket.history.filter(id=ticket_id).count(),
            Comment.history.filter(ticket_id=ticket_id).count(),
            Attachment.history.filter(ticket_id=ticket_id).count(),
        ),
        "files": sorted(str(p) for p in media.rglob("*") if p.is_file()) if media.exists() else [],
    }


def assert_error_shape(response, code: int) -> dict:
    assert response.status_code == code, (code, response.content[:500])
    assert response["X-Request-ID"]
    body = response.json()
    assert set(body) == {"type", "errors"}
    assert body["type"] in ("client_error", "validation_error")
    assert body["errors"] and set(body["errors"][0]) == {"code", "detail", "attr"}
    return body


# --- Workflow actions ------------------------------------------------------------------------


def action_body(action: str, world: World) -> dict:
    if action == "assign":
        return {"assignee": world.spare_technician.pk}
    if action in ("decline", "hold", "reopen", "cancel"):
        return {"reason": f"Причина: {action}"}
    if action == "complete":
        return {"resolution": "Заменил картридж"}
    return {}


@pytest.mark.parametrize("persona", SIGNED_IN)
@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", WORKFLOW)
def test_workflow_action_answers_the_specified_status_code(
    api_client, make_world, action, status, persona
):
    world = make_world(status)
    ticket = world.ticket
    before = snapshot(ticket.pk)
    expected = expected_for_action(persona, status, action)

    response = api_client(world.users[persona]).post(
        f"{API}/tickets/{ticket.pk}/{action}/", action_body(action, world)
    )

    if expected == 200:
        assert response.status_code == 200, response.content[:500]
        row = WORKFLOW[action]
        assert response.json()["status"] == row.target
        assert response.json()["version"] == before["ticket"]["version"] + 1
        ticket.refresh_from_db()
        assert (ticket.status, ticket.version) == (row.target, before["ticket"]["version"] + 1)
        if action == "assign":
            assert ticket.assignee_id == world.spare_technician.pk
        if action == "decline":
            assert ticket.assignee_id is None
        assert Ticket.history.filter(id=ticket.pk).count() == before["history"][0] + 1
        return
    body = assert_error_shape(response, expected)
    if expected == 409:
        assert body["errors"][0]["code"] == "invalid_transition"
    assert snapshot(ticket.pk) == before


# --- Every other ticket endpoint -------------------------------------------------------------


def _txt_upload() -> SimpleUploadedFile:
    return SimpleUploadedFile("notes.txt", b"replaced the roller\n", content_type="text/plain")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # formatted with ticket, attachment
    expected: Expectation
    body: Callable[[], dict] | None = None
    multipart: bool = False


ENDPOINTS: dict[str, Endpoint] = {
    "detail": Endpoint("get", "tickets/{ticket}/", _visible_then(_ok(200))),
    "edit": Endpoint(
        "patch", "tickets/{ticket}/", _visible_then(_edit), lambda: {"title": "Новый заголовок"}
    ),
    "delete": Endpoint("delete", "tickets/{ticket}/", _visible_then(_delete_ticket)),
    "comments": Endpoint("get", "tickets/{ticket}/comments/", _visible_then(_ok(200))),
    "comment": Endpoint(
        "post",
        "tickets/{ticket}/comments/",
        _visible_then(_comment),
        lambda: {"text": "Уточнение", "internal": False},
    ),
    "internal_note": Endpoint(
        "post",
        "tickets/{ticket}/comments/",
        _visible_then(_internal_note),
        lambda: {"text": "Для своих", "internal": True},
    ),
    "attachments": Endpoint("get", "tickets/{ticket}/attachments/", _visible_then(_ok(200))),
    "upload": Endpoint(
        "post",
        "tickets/{ticket}/attachments/",
        _visible_then(_comment),
        lambda: {"file": [_txt_upload()]},
        multipart=True,
    ),
    "history": Endpoint("get", "tickets/{ticket}/history/", _visible_then(_ok(200))),
    "download": Endpoint("get", "attachments/{attachment}/download/", _visible_then(_ok(200))),
    "delete_attachment": Endpoint(
        "delete", "attachments/{attachment}/", _visible_then(_delete_attachment)
    ),
}
# Endpoints other than actions depend on the status only through `new` (the technician is
# not yet the assignee) and closed/cancelled (finished); these cover each case.
ENDPOINT_STATUSES = ("new", "in_progress", "resolved", "closed", "cancelled")


def _send(client, endpoint: Endpoint, world: World):
    url = f"{API}/" + endpoint.path.format(ticket=world.ticket.pk, attachment=world.attachment.pk)
    data = endpoint.body() if endpoint.body else None
    send = getattr(client, endpoint.method)
    if endpoint.multipart:
        return send(url, data, format="multipart")
    return send(url, data) if data is not None else send(url)


def _check_success(name: str, response, world: World, persona: str, before: dict) -> None:
    ticket_id = world.ticket.pk
    if name == "detail":
        body = response.json()
        assert body["id"] == ticket_id
        assert response["ETag"] == f'"{body["version"]}"'
        assert body["allowed_actions"] == expected_allowed_actions(persona, world.ticket.status)
    elif name == "edit":
        assert response.json()["title"] == "Новый заголовок"
        assert Ticket.objects.get(pk=ticket_id).version == before["ticket"]["version"] + 1
    elif name == "delete":
        assert not Ticket.objects.filter(pk=ticket_id).exists()
        assert Ticket.history.filter(id=ticket_id, history_type="-").exists()
    elif name == "comments":
        ids = [c["id"] for c in response.json()]
        internal_seen = world.internal_note.pk in ids
        assert world.public_comment.pk in ids
        assert internal_seen == (persona in STAFF), "internal notes only for staff (§4.4)"
    elif name in ("comment", "internal_note"):
        created = response.json()
        assert created["internal"] is (name == "internal_note")
        assert Comment.objects.filter(ticket_id=ticket_id).count() == before["comments"] + 1
    elif name == "attachments":
        assert [a["id"] for a in response.json()] == [world.attachment.pk]
    elif name == "upload":
        assert [a["name"] for a in response.json()] == ["notes.txt"]
        assert Attachment.objects.filter(ticket_id=ticket_id).count() == before["attachments"] + 1
    elif name == "history":
        events = [entry["event"] for entry in response.json()]
        assert events[0] == "created"
        assert events.count("commented") == (2 if persona in STAFF else 1)
    elif name == "download":
        # Consuming the stream closes the file (the test client wraps it).
        assert b"".join(response.streaming_content) == b"hello\n"
    elif name == "delete_attachment":
        assert not Attachment.objects.filter(pk=world.attachment.pk).exists()
        assert Attachment.history.filter(id=world.attachment.pk, history_type="-").exists()
    if ENDPOINTS[name].method == "get":
        assert snapshot(ticket_id) == before, "a GET changed something"


@pytest.mark.parametrize("persona", SIGNED_IN)
@pytest.mark.parametrize("status", ENDPOINT_STATUSES)
@pytest.mark.parametrize("name", ENDPOINTS)
def test_ticket_endpoint_answers_the_specified_status_code(
    api_client, make_world, name, status, persona
):
    world = make_world(status)
    endpoint = ENDPOINTS[name]
    before = snapshot(world.ticket.pk)
    expected = endpoint.expected(persona, status)

    response = _send(api_client(world.users[persona]), endpoint, world)

    if expected < 400:
        assert response.status_code == expected, response.content[:500]
        _check_success(name, response, world, persona, before)
        return
    assert_error_shape(response, expected)
    assert snapshot(world.ticket.pk) == before


@pytest.mark.parametrize("name", [*ENDPOINTS, *(f"action:{a}" for a in WORKFLOW)])
def test_anonymous_gets_401_everywhere_and_changes_nothing(api_client, make_world, name):
    world = make_world("in_progress")
    before = snapshot(world.ticket.pk)
    if name.startswith("action:"):
        action = name.removeprefix("action:")
        assert expected_for_action(ANONYMOUS, "in_progress", action) == 401
        response = api_client().post(
            f"{API}/tickets/{world.ticket.pk}/{action}/", action_body(action, world)
        )
    else:
        assert ENDPOINTS[name].expected(ANONYMOUS, "in_progress") == 401
        response = _send(api_client(), ENDPOINTS[name], world)
    body = assert_error_shape(response, 401)
    assert body["errors"][0]["code"] == "not_authenticated"
    assert snapshot(world.ticket.pk) == before


@pytest.mark.parametrize("persona", [CREATOR, ASSIGNEE, MANAGER, ADMIN])
@pytest.mark.parametrize("status", STATUSES)
def test_detail_lists_exactly_the_actions_the_persona_may_take(api_client, people, status, persona):
    ticket = _ticket_in(status, creator=people[CREATOR], assignee=people[ASSIGNEE])
    response = api_client(people[persona]).get(f"{API}/tickets/{ticket.pk}/")
    if not sees(persona, status):
        assert_error_shape(response, 404)
        return
    assert response.status_code == 200
    assert response.json()["allowed_actions"] == expected_allowed_actions(persona, status)


# --- Lists and users -------------------------------------------------------------------------


@pytest.fixture
def listed(people):
    """Tickets of several owners, keyed by who may see them (SPEC §4.1)."""
    creator, stranger = people[CREATOR], people[STRANGER]
    tech, other_tech = people[ASSIGNEE], people[OTHER_TECHNICIAN]
    return {
        "mine_new": TicketFactory(creator=creator),
        "mine_assigned": _ticket_in("in_progress", creator=creator, assignee=tech),
        "mine_closed": _ticket_in("closed", creator=creator, assignee=other_tech),
        "strangers": TicketFactory(creator=stranger),
        "strangers_other_tech": _ticket_in("assigned", creator=stranger, assignee=other_tech),
        "strangers_tech": _ticket_in("resolved", creator=stranger, assignee=tech),
        "by_tech": TicketFactory(creator=tech),
    }


VISIBLE_IN_LIST = {
    CREATOR: {"mine_new", "mine_assigned", "mine_closed"},
    STRANGER: {"strangers", "strangers_other_tech", "strangers_tech"},
    ASSIGNEE: {"mine_assigned", "strangers_tech", "by_tech"},
    OTHER_TECHNICIAN: {"mine_closed", "strangers_other_tech"},
    MANAGER: "all",
    ADMIN: "all",
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_ticket_list_shows_exactly_the_visible_tickets(api_client, people, listed, persona):
    response = api_client(people[persona]).get(f"{API}/tickets/", {"page_size": 100})
    if persona == ANONYMOUS:
        assert_error_shape(response, 401)
        return
    assert response.status_code == 200
    names = VISIBLE_IN_LIST[persona]
    expected = {t.pk for t in listed.values()} if names == "all" else {listed[n].pk for n in names}
    body = response.json()
    assert {item["id"] for item in body["results"]} == expected
    assert body["count"] == len(expected)


def test_ticket_list_items_omit_description_and_allowed_actions(api_client, people, listed):
    items = api_client(people[MANAGER]).get(f"{API}/tickets/").json()["results"]
    assert items
    for item in items:
        assert "description" not in item
        assert "allowed_actions" not in item
        assert {"id", "title", "status", "version", "comments_count"} <= set(item)


USERS_LIST = {
    ANONYMOUS: 401,
    CREATOR: 403,
    STRANGER: 403,
    ASSIGNEE: 403,
    OTHER_TECHNICIAN: 403,
    MANAGER: 200,
    ADMIN: 200,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_users_list_is_for_admins_and_managers_only(api_client, people, persona):
    inactive = TechnicianFactory(username="retired_technician", is_active=False)
    response = api_client(people[persona]).get(f"{API}/users/")
    if USERS_LIST[persona] != 200:
        assert_error_shape(response, USERS_LIST[persona])
        return
    assert response.status_code == 200
    usernames = {u["username"] for u in response.json()["results"]}
    if persona == ADMIN:
        assert usernames == {u.username for u in people.values() if u} | {inactive.username}
    else:  # the manager sees the active technicians, to assign tickets to
        assert usernames == {"technician", "other_technician"}


@pytest.mark.parametrize("persona", PERSONAS)
def test_users_me_is_the_current_user(api_client, people, persona):
    response = api_client(people[persona]).get(f"{API}/users/me/")
    if persona == ANONYMOUS:
        assert_error_shape(response, 401)
        return
    assert response.status_code == 200
    assert response.json()["username"] == people[persona].username
    assert response.json()["role"] == people[persona].role


# --- The workflow end to end, and optimistic concurrency --------------------------------------


def test_full_workflow_with_decline_hold_resume_reopen_and_close(
    api_client, requester, technician, manager
):
    me, tech, boss = api_client(requester), api_client(technician), api_client(manager)
    created = me.post(
        f"{API}/tickets/", {"title": "Сломался сканер", "description": "Не сканирует"}
    )
    assert created.status_code == 201
    url = f"{API}/tickets/{created.json()['id']}/"

    def act(client, action, body=None, *, status):
        response = client.post(url + f"{action}/", body or {})
        assert response.status_code == 200, (action, response.content[:300])
        assert response.json()["status"] == status
        return response.json()

    act(boss, "assign", {"assignee": technician.pk}, status="assigned")
    declined = act(tech, "decline", {"reason": "Не мой профиль"}, status="new")
    assert declined["assignee"] is None
    assert declined["status_reason"] == "Не мой профиль"
    assert tech.get(url).status_code == 404, "after declining, the technician no longer sees it"

    act(boss, "assign", {"assignee": technician.pk}, status="assigned")
    act(tech, "accept", status="in_progress")
    act(boss, "hold", {"reason": "Ждём запчасть"}, status="on_hold")
    act(tech, "resume", status="in_progress")
    act(tech, "complete", {"resolution": "Почистил"}, status="resolved")
    act(boss, "reopen", {"reason": "Снова не сканирует"}, status="in_progress")
    act(tech, "complete", {"resolution": "Заменил шлейф"}, status="resolved")
    closed = act(boss, "close", status="closed")
    assert closed["closed_at"] and closed["resolution"] == "Заменил шлейф"
    assert closed["version"] == 11

    history = boss.get(url + "history/").json()
    assert [(e["event"], e["reason"]) for e in history] == [
        ("created", ""),
        ("assigned", ""),
        ("declined", "Не мой профиль"),
        ("assigned", ""),
        ("accepted", ""),
        ("held", "Ждём запчасть"),
        ("resumed", ""),
        ("completed", "Почистил"),
        ("reopened", "Снова не сканирует"),
        ("completed", "Заменил шлейф"),
        ("closed", ""),
    ]
    assert me.get(url).json()["allowed_actions"] == []
    assert boss.get(url).json()["allowed_actions"] == ["reopen"]


@pytest.fixture
def own_ticket(requester):
    return TicketFactory(creator=requester, priority="normal")


def test_edit_with_a_stale_if_match_is_412_and_changes_nothing(api_client, requester, own_ticket):
    url = f"{API}/tickets/{own_ticket.pk}/"
    before = snapshot(own_ticket.pk)
    response = api_client(requester).patch(url, {"title": "Моё"}, headers={"If-Match": '"5"'})
    body = assert_error_shape(response, 412)
    assert body["errors"][0]["code"] == "stale_version"
    assert snapshot(own_ticket.pk) == before


def test_action_with_a_stale_if_match_is_412_and_changes_nothing(
    api_client, manager, technician, own_ticket
):
    url = f"{API}/tickets/{own_ticket.pk}/assign/"
    before = snapshot(own_ticket.pk)
    response = api_client(manager).post(
        url, {"assignee": technician.pk}, headers={"If-Match": 'W/"0"'}
    )
    assert_error_shape(response, 412)
    assert snapshot(own_ticket.pk) == before


def test_weak_and_wildcard_if_match_are_accepted(api_client, requester, own_ticket):
    me = api_client(requester)
    url = f"{API}/tickets/{own_ticket.pk}/"
    unconditional = me.patch(url, {"description": "Без If-Match"})
    assert (unconditional.status_code, unconditional["ETag"]) == (200, '"2"')
    weak = me.patch(url, {"title": "Первое"}, headers={"If-Match": 'W/"2"'})
    assert weak.status_code == 200, weak.content
    assert (weak.json()["version"], weak["ETag"]) == (3, '"3"')
    anything = me.patch(url, {"priority": "high"}, headers={"If-Match": "*"})
    assert anything.status_code == 200, anything.content
    assert anything.json()["version"] == 4
    own_ticket.refresh_from_db()
    assert (own_ticket.title, own_ticket.priority, own_ticket.version) == ("Первое", "high", 4)


@pytest.mark.parametrize("header", ["abc", '"-1"', '"1.5"', 'W/"x"', '"99999999999999999"'])
def test_malformed_if_match_is_400_naming_the_header(api_client, requester, own_ticket, header):
    before = snapshot(own_ticket.pk)
    response = api_client(requester).patch(
        f"{API}/tickets/{own_ticket.pk}/", {"title": "X"}, headers={"If-Match": header}
    )
    body = assert_error_shape(response, 400)
    assert body["errors"][0]["attr"] == "If-Match"
    assert snapshot(own_ticket.pk) == before


def test_etag_of_the_detail_is_the_quoted_version(api_client, requester, own_ticket):
    Ticket.objects.filter(pk=own_ticket.pk).update(version=7)
    response = api_client(requester).get(f"{API}/tickets/{own_ticket.pk}/")
    assert response.status_code == 200
    assert response.json()["version"] == 7
    assert response["ETag"] == '"7"'


# --- Query counts (STYLE: list endpoints pin their query count; SPEC §9) ------------------------


@pytest.fixture
def many_tickets(requester, technician, manager):
    """About 120 tickets of the requester, each with a public comment, an internal note and
    an attachment, half of them assigned."""
    for n in range(120):
        ticket = _ticket_in(
            "in_progress" if n % 2 else "new", creator=requester, assignee=technician
        )
        CommentFactory(ticket=ticket, author=requester)
        CommentFactory(ticket=ticket, author=manager, internal=True)
        AttachmentFactory(ticket=ticket, uploaded_by=requester)


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(captured)


@pytest.mark.parametrize("who", ["manager", "requester"])
def test_ticket_list_takes_the_same_small_number_of_queries_for_10_and_100(
    api_client, request, many_tickets, who
):
    client = api_client(request.getfixturevalue(who))
    small = _queries(client, f"{API}/tickets/?page_size=10")
    large = _queries(client, f"{API}/tickets/?page_size=100")
    assert small == large
    assert large <= 6
    page = client.get(f"{API}/tickets/?page_size=100").json()["results"]
    assert len(page) == 100
    expected_comments = 2 if who == "manager" else 1
    assert {(t["comments_count"], t["attachments_count"]) for t in page} == {(expected_comments, 1)}


def test_ticket_detail_takes_at_most_10_queries(api_client, requester, technician, manager):
    ticket = _ticket_in("in_progress", creator=requester, assignee=technician)
    CommentFactory.create_batch(5, ticket=ticket, author=requester)
    AttachmentFactory.create_batch(3, ticket=ticket, uploaded_by=requester)
    for user in (requester, technician, manager):
        assert _queries(api_client(user), f"{API}/tickets/{ticket.pk}/") <= 10


def test_history_takes_the_same_number_of_queries_for_5_and_40_comments(
    api_client, requester, technician, manager
):
    def ticket_with(comments: int) -> int:
        ticket = services.ticket_create(actor=requester, title="Шум", description="Гудит")
        services.ticket_apply_action(
            actor=manager, ticket=ticket, action="assign", assignee=technician
        )
        for n in range(comments):
            services.comment_add(
                actor=technician if n % 2 else requester,
                ticket=ticket,
                text=f"Комментарий {n}",
                internal=bool(n % 2),
            )
        return ticket.pk

    few, many = ticket_with(5), ticket_with(40)
    for user in (requester, manager):
        client = api_client(user)
        small = _queries(client, f"{API}/tickets/{few}/history/")
        large = _queries(client, f"{API}/tickets/{many}/history/")
        assert small == large
    seen = api_client(requester).get(f"{API}/tickets/{many}/history/").json()
    assert sum(e["event"] == "commented" for e in seen) == 20, "internal notes are hidden"
