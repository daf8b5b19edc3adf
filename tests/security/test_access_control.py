"""Access-control attacks (issue 7, part 1), written as an attacker would try them.

- Every route that takes an object id — found by walking the URL resolver, so a new route is
  covered the day it is added — tried with another user's ticket, attachment or user: the
  answer must be indistinguishable from the one for an id that does not exist, and nothing
  may change (SPEC §4.1: "a ticket outside a user's visibility does not exist for that user").
- Made-up words hidden in an invisible ticket and in an internal note: no list, count, search,
  history entry, page or download may ever contain them.
- Mass assignment of status, assignee, creator, role, is_staff… through every write endpoint
  and form: refused with 400 naming the field (API) or ignored (pages), never honoured.
- Demotion and deactivation take effect on the very next request, with the same token or
  session; a technician whose ticket was reassigned away loses it at once.

The permission matrices (tickets/tests/api/test_permission_matrix.py and
tickets/tests/pages/test_page_permissions.py) cover each persona × endpoint on the victim's
own terms; this module covers what they do not: indistinguishability, leaks, extra fields and
state changing under the attacker's feet."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services as accounts
from accounts.models import Role, User
from accounts.tests.factories import TEST_PASSWORD, AdminFactory
from tests.security.conftest import (
    ADMIN_LOGIN,
    API,
    LOGIN,
    NOTE_FILE_CONTENT,
    NOTE_FILE_SECRET,
    NOTE_SECRET,
    NOTE_SECRETS,
    PUBLIC_FILE_CONTENT,
    TICKET_SECRETS,
    TITLE_SECRET,
    assert_json_error,
    assert_leaks_none,
    body_of,
    db_state,
    error_attrs,
    found_count,
    page_text,
    session_client,
    text_file,
)
from tickets import services
from tickets.models import Attachment, Comment, Ticket
from tickets.workflow import ACTIONS

pytestmark = pytest.mark.django_db

EVERY_SECRET = (*TICKET_SECRETS, *NOTE_SECRETS, NOTE_FILE_CONTENT, PUBLIC_FILE_CONTENT)

# --- Every object route, from the URL resolver ---------------------------------------------

# The path segment in front of an id names what the id addresses.
KINDS = {"tickets": "ticket", "attachments": "attachment", "comments": "comment", "users": "user"}
# Values for the other parameters a route may take; each one multiplies the route.
OTHER_PARAMETERS = {"format": ("json",), "action": tuple(ACTIONS)}


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(n for n in (namespace, pattern.namespace) if n) or None
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        else:
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield prefix + str(pattern.pattern), name, list(pattern.pattern.regex.groupindex)


def _is_id(parameter: str) -> bool:
    return parameter in ("pk", "id") or parameter.endswith("_id")


@dataclass(frozen=True)
class Route:
    pattern: str
    name: str | None
    id_parameter: str
    kind: str | None  # None: this test does not know what the id addresses
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def api(self) -> bool:
        return self.pattern.startswith("api/")

    def url(self, object_id: int) -> str:
        return reverse(self.name, kwargs={self.id_parameter: object_id, **dict(self.extra)})

    def __str__(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.extra)
        return f"{self.name}[{extra}]" if extra else str(self.name)


def _object_routes() -> list[Route]:
    routes = []
    for pattern, name, parameters in _walk(get_resolver().url_patterns):
        ids = [p for p in parameters if _is_id(p)]
        if pattern.startswith("admin/") or not ids:
            continue  # the admin site has its own test below
        id_parameter = ids[0]
        segment = re.search(rf"([a-z_]+)/\^?(?:\(\?P<|<(?:\w+:)?){id_parameter}>", pattern)
        kind = KINDS.get(segment.group(1)) if segment else None
        others = [p for p in parameters if p != id_parameter]
        if len(ids) > 1 or any(p not in OTHER_PARAMETERS for p in others) or name is None:
            kind = None
        combinations = [()]
        for parameter in others:
            values = OTHER_PARAMETERS.get(parameter, ("?",))
            combinations = [(*c, (parameter, v)) for c in combinations for v in values]
        routes += [Route(pattern, name, id_parameter, kind, extra) for extra in combinations]
    return routes


OBJECT_ROUTES = _object_routes()


def test_every_object_route_is_known_to_the_attack_below():
    """A new route with an id must be classified here, or it would escape the attack."""
    unknown = [r.pattern for r in OBJECT_ROUTES if r.kind is None]
    assert unknown == [], f"teach KINDS / OTHER_PARAMETERS about: {unknown}"
    names = {r.name for r in OBJECT_ROUTES}
    # The walk itself works: it finds routes we know exist, in the API and the pages.
    assert {
        "api:ticket-detail",
        "api:ticket-comments",
        "api:ticket-attachments",
        "api:ticket-history",
        "api:ticket-accept",
        "api:attachment-detail",
        "api:attachment-download",
        "api:user-detail",
        "tickets:detail",
        "tickets:edit",
        "tickets:action",
        "tickets:attachment-download",
        "tickets:attachment-delete",
    } <= names
    assert len(OBJECT_ROUTES) >= 30


@pytest.fixture
def people(requester, other_requester, technician, other_technician, manager, admin_user):
    return {
        "requester": requester,
        "stranger": other_requester,
        "technician": technician,
        "other_technician": other_technician,
        "manager": manager,
        "admin": admin_user,
    }


def outsiders(kind: str, scene, people) -> list[tuple[str, User, object]]:
    """(who, user, object) for each user to whom the object does not exist (or, for users,
    whom the object is not theirs to manage)."""
    if kind == "ticket":
        return [
            ("stranger", people["stranger"], scene.ticket),
            ("other_technician", people["other_technician"], scene.ticket),
        ]
    if kind == "attachment":
        return [
            ("stranger", people["stranger"], scene.public_file),
            ("other_technician", people["other_technician"], scene.public_file),
            ("creator, file on an internal note", people["requester"], scene.note_file),
        ]
    if kind == "comment":
        return [
            ("stranger", people["stranger"], scene.public_comment),
            ("other_technician", people["other_technician"], scene.public_comment),
            ("creator, internal note", people["requester"], scene.internal_note),
        ]
    return [(who, people[who], people["admin"]) for who in ("requester", "technician", "manager")]


def missing_id(kind: str) -> int:
    model = {"ticket": Ticket, "attachment": Attachment, "comment": Comment, "user": User}[kind]
    return model.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000


METHODS = ("get", "post", "put", "patch", "delete", "options")


def hostile_body(route: Route, people, scene) -> dict:
    """Input that the endpoint would refuse (unknown or forbidden fields): if a view looked at
    the body before checking visibility, it would answer 400 instead of 404."""
    if route.api:
        return {
            "title": "Взлом",
            "text": "Взлом",
            "reason": "Взлом",
            "resolution": "Взлом",
            "assignee": people["other_technician"].pk,
            "status": "closed",
            "internal": True,
            "role": "admin",
        }
    return {
        "title": "Взлом",
        "description": "Взлом",
        "text": "Взлом",
        "reason": "Взлом",
        "internal": "on",
        "assignee": people["other_technician"].pk,
        "version": scene.ticket.version,
    }


def send(client, method: str, url: str, body: dict, *, api: bool):
    if method in ("get", "options"):
        return getattr(client, method)(url)
    if api:
        return getattr(client, method)(url, body, format="json")
    if method == "post":
        return client.post(url, body)
    return getattr(client, method)(url)


def observable(response, object_id: int) -> dict:
    """Everything an attacker sees of a response, with the id they asked for blanked."""
    content_type = response.get("Content-Type", "")
    seen = {
        "status": response.status_code,
        "content_type": content_type,
        "allow": response.get("Allow"),
        "location": response.get("Location", "").replace(f"/{object_id}/", "/<id>/"),
    }
    if content_type.startswith("application/json"):
        seen["body"] = response.json()
    else:
        seen["templates"] = [t.name for t in getattr(response, "templates", None) or []]
    return seen


def _route_param(route: Route):
    return pytest.param(route, id=str(route))


@pytest.mark.parametrize("route", [_route_param(r) for r in OBJECT_ROUTES if r.kind])
def test_outsider_cannot_tell_someone_elses_object_from_a_missing_one(
    route, scene, people, api_client
):
    before = db_state()
    absent = missing_id(route.kind)

    for who, user, target in outsiders(route.kind, scene, people):
        client = api_client(user) if route.api else session_client(user)
        for method in METHODS:
            body = hostile_body(route, people, scene)
            foreign = send(client, method, route.url(target.pk), body, api=route.api)
            nothing = send(client, method, route.url(absent), body, api=route.api)
            where = f"{method.upper()} {route.url(target.pk)} as {who}"
            assert observable(foreign, target.pk) == observable(nothing, absent), where
            assert_leaks_none(foreign, EVERY_SECRET, where)
            if route.kind != "user" and method != "options":
                # §4.1: 404, never 403 and never a validation error that would confirm it.
                assert foreign.status_code in (404, 405), (where, foreign.status_code)
    assert db_state() == before, "an outsider's request changed something"

    # Control: the same urls do address the objects — someone entitled gets another answer.
    admin = api_client(people["admin"]) if route.api else session_client(people["admin"])
    target = outsiders(route.kind, scene, people)[0][2]
    assert any(
        send(admin, m, route.url(target.pk), {}, api=route.api).status_code
        != send(admin, m, route.url(absent), {}, api=route.api).status_code
        for m in ("get", "post", "delete")
    ), f"{route} does not seem to address a {route.kind}"


# --- The admin site ------------------------------------------------------------------------

ADMIN_MODELS = {
    "tickets/ticket/": "ticket",
    "tickets/comment/": "comment",
    "tickets/attachment/": "attachment",
    "accounts/user/": "user",
}


def _admin_object_routes() -> list[tuple[str, str]]:
    routes = []
    for pattern, _name, parameters in _walk(get_resolver().url_patterns):
        if not pattern.startswith("admin/"):
            continue
        if pattern.startswith("admin/r/"):
            routes.append((pattern, "view_on_site"))
            continue
        for prefix, kind in ADMIN_MODELS.items():
            rest = pattern.removeprefix("admin/").removeprefix(prefix)
            has_id = any(_is_id(p) for p in parameters) or rest.startswith("^(")
            if pattern.startswith(f"admin/{prefix}") and has_id:
                routes.append((pattern, kind))
    return routes


ADMIN_OBJECT_ROUTES = _admin_object_routes()


def fill(pattern: str, values: dict, positional: tuple) -> str:
    """A url for a route pattern: path converters and named or positional regex groups."""
    path = pattern.replace("^", "").replace("$", "")
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), path)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(values[m.group(1)]), path)
    remaining = iter(positional)
    path = re.sub(r"\([^)]*\)", lambda m: str(next(remaining)), path)
    return "/" + path


def test_the_admin_walk_finds_the_object_pages():
    kinds = {kind for _pattern, kind in ADMIN_OBJECT_ROUTES}
    assert kinds == {"ticket", "comment", "attachment", "user", "view_on_site"}
    assert len(ADMIN_OBJECT_ROUTES) >= 18


@pytest.mark.parametrize(("pattern", "kind"), ADMIN_OBJECT_ROUTES, ids=lambda v: str(v))
def test_non_admins_never_reach_an_object_in_the_admin_site(scene, people, pattern, kind):
    target = {
        "ticket": scene.ticket,
        "comment": scene.internal_note,
        "attachment": scene.note_file,
        "user": people["requester"],
        "view_on_site": scene.ticket,
    }[kind]
    history_id = (
        type(target).history.filter(id=target.pk).values_list("history_id", flat=True).first()
        if hasattr(type(target), "history")
        else 1
    )
    values = {
        "object_id": target.pk,
        "id": target.pk,
        "content_type_id": ContentType.objects.get_for_model(Ticket).pk,
    }
    url = fill(pattern, values, (target.pk, history_id))
    before = db_state()

    for who in ("requester", "technician", "manager"):
        client = session_client(people[who])
        for response in (
            client.get(url),
            client.post(url, {"post": "yes", "role": "admin", "internal": "on", "text": "x"}),
        ):
            assert response.status_code == 302, (who, url, response.status_code)
            assert response["Location"].startswith(ADMIN_LOGIN), (who, url)
            assert_leaks_none(response, EVERY_SECRET, f"{url} as {who}")
    assert db_state() == before

    # Control: an admin is not sent to the login page for the same url.
    answer = session_client(people["admin"]).get(url)
    assert not answer.get("Location", "").startswith(ADMIN_LOGIN), url
    if pattern.endswith(("change/", "history/", "delete/", "password/", "([^/]+)/$")):
        # 200, or 403 where nobody may (users are never deleted); a missing object would
        # redirect to the index instead.
        assert answer.status_code in (200, 403), (url, answer.status_code)


# --- Lists, counts, search, history and downloads never leak ----------------------------------


def api_reads(client, scene) -> dict:
    """Everything the API lets a user read that could mention the victim's ticket."""
    ticket = scene.ticket.pk
    return {
        "list": client.get(f"{API}/tickets/", {"page_size": 100}),
        **{
            f"search {word}": client.get(f"{API}/tickets/", {"search": word})
            for word in (*TICKET_SECRETS, *NOTE_SECRETS)
        },
        "filter by creator": client.get(f"{API}/tickets/", {"creator": scene.ticket.creator_id}),
        "filter by assignee": client.get(f"{API}/tickets/", {"assignee": scene.ticket.assignee_id}),
        "detail": client.get(f"{API}/tickets/{ticket}/"),
        "comments": client.get(f"{API}/tickets/{ticket}/comments/"),
        "attachments": client.get(f"{API}/tickets/{ticket}/attachments/"),
        "history": client.get(f"{API}/tickets/{ticket}/history/"),
        "public file": client.get(f"{API}/attachments/{scene.public_file.pk}/download/"),
        "note file": client.get(f"{API}/attachments/{scene.note_file.pk}/download/"),
    }


@pytest.mark.parametrize("who", ["stranger", "other_technician"])
def test_api_lists_counts_search_history_and_files_hide_an_invisible_ticket(
    api_client, scene, people, who
):
    client = api_client(people[who])
    own = {"stranger": {scene.attackers_ticket.pk}, "other_technician": set()}[who]

    reads = api_reads(client, scene)

    for name, response in reads.items():
        assert_leaks_none(response, EVERY_SECRET, f"{name} as {who}")
        if name.startswith(("list", "search", "filter")):
            assert response.status_code == 200, name
            body = response.json()
            ids = {item["id"] for item in body["results"]}
            assert scene.ticket.pk not in ids, name
            assert body["count"] == len(ids), f"{name}: the count counts what is not listed"
            expected = own if name == "list" else set()
            assert ids == expected, name
        else:
            assert_json_error(response, 404, code="not_found")
    # Control: the words do find the ticket for someone who may see it.
    boss = api_client(people["manager"])
    for word in TICKET_SECRETS:
        found = boss.get(f"{API}/tickets/", {"search": word}).json()
        assert [item["id"] for item in found["results"]] == [scene.ticket.pk], word


def test_api_never_shows_the_creator_an_internal_note_or_its_file(api_client, scene, requester):
    client = api_client(requester)

    reads = api_reads(client, scene)

    for name, response in reads.items():
        assert_leaks_none(response, (*NOTE_SECRETS, NOTE_FILE_CONTENT), name)
    assert_json_error(reads["note file"], 404, code="not_found")
    assert body_bytes_of(reads["public file"]) == PUBLIC_FILE_CONTENT
    for word in NOTE_SECRETS:
        assert reads[f"search {word}"].json()["count"] == 0
    detail = reads["detail"].json()
    [listed] = [t for t in reads["list"].json()["results"] if t["id"] == scene.ticket.pk]
    for counts in (detail, listed):
        assert (counts["comments_count"], counts["attachments_count"]) == (1, 1)
    assert [c["id"] for c in reads["comments"].json()] == [scene.public_comment.pk]
    assert [a["id"] for a in reads["attachments"].json()] == [scene.public_file.pk]
    history = reads["history"].json()
    assert scene.internal_note.pk not in {e["comment_id"] for e in history}
    assert scene.note_file.pk not in {e["attachment_id"] for e in history}
    # Control: staff do see the note, its file and their history entries.
    staff = api_reads(api_client(scene.ticket.assignee), scene)
    assert NOTE_SECRET in staff["comments"].content.decode()
    assert NOTE_FILE_SECRET in staff["attachments"].content.decode()
    assert body_bytes_of(staff["note file"]) == NOTE_FILE_CONTENT
    assert staff["detail"].json()["comments_count"] == 2
    assert scene.note_file.pk in {e["attachment_id"] for e in staff["history"].json()}


def body_bytes_of(response) -> bytes:
    assert response.status_code == 200, response.status_code
    return body_of(response)


def page_reads(client, scene) -> dict:
    ticket = scene.ticket.pk
    lists = {
        f"list {view}": client.get("/tickets/", {"view": view, "page_size": 100})
        for view in ("all", "mine", "open", "assigned", "unassigned")
    }
    return {
        **lists,
        "filter by creator": client.get(
            "/tickets/", {"view": "all", "creator": scene.ticket.creator_id}
        ),
        "card": client.get(f"/tickets/{ticket}/"),
        "edit form": client.get(f"/tickets/{ticket}/edit/"),
        "public file": client.get(f"/tickets/attachments/{scene.public_file.pk}/download/"),
        "note file": client.get(f"/tickets/attachments/{scene.note_file.pk}/download/"),
    }


DECOY = "nowhereword"


def assert_search_reveals_nothing(client, words, secrets) -> None:
    """Searching the list page for a hidden word answers exactly as searching for a word that
    exists nowhere. (The page echoes the query, so each answer's own word is blanked.)"""
    decoy = client.get("/tickets/", {"view": "all", "search": DECOY})
    assert found_count(decoy) == 0
    for word in words:
        response = client.get("/tickets/", {"view": "all", "search": word})
        assert response.status_code == 200
        assert found_count(response) == 0, word
        assert_leaks_none(response, [s for s in secrets if s != word], f"a search for {word}")
        assert page_text(response, blank=(word,)) == page_text(decoy, blank=(DECOY,)), word


@pytest.mark.parametrize("who", ["stranger", "other_technician"])
def test_pages_lists_counts_search_and_files_hide_an_invisible_ticket(scene, people, who):
    client = session_client(people[who])

    reads = page_reads(client, scene)

    for name, response in reads.items():
        assert_leaks_none(response, EVERY_SECRET, f"{name} as {who}")
        assert f'href="/tickets/{scene.ticket.pk}/"' not in response.content.decode(), name
        if name.startswith(("list", "filter")):
            assert response.status_code == 200, name
            # Every quick view of a requester lists their own ticket; nothing else.
            mine = who == "stranger" and name.startswith("list")
            assert found_count(response) == (1 if mine else 0), name
        else:
            assert response.status_code == 404, name
    assert_search_reveals_nothing(client, (*TICKET_SECRETS, *NOTE_SECRETS), EVERY_SECRET)
    # Control: the same search finds the ticket for a manager.
    boss = session_client(people["manager"])
    for word in TICKET_SECRETS:
        response = boss.get("/tickets/", {"view": "all", "search": word})
        assert found_count(response) == 1
        assert f'href="/tickets/{scene.ticket.pk}/"' in response.content.decode()


def test_pages_never_show_the_creator_an_internal_note_or_its_file(scene, requester):
    client = session_client(requester)

    reads = page_reads(client, scene)

    for name, response in reads.items():
        assert_leaks_none(response, (*NOTE_SECRETS, NOTE_FILE_CONTENT), name)
    assert reads["note file"].status_code == 404
    assert TITLE_SECRET in reads["card"].content.decode(), "control: the card is the ticket's"
    assert_search_reveals_nothing(client, NOTE_SECRETS, (*NOTE_SECRETS, NOTE_FILE_CONTENT))
    # Control: the assignee's card shows the note and its file.
    staff_card = session_client(scene.ticket.assignee).get(f"/tickets/{scene.ticket.pk}/")
    html = staff_card.content.decode()
    assert NOTE_SECRET in html
    assert NOTE_FILE_SECRET in html


def test_a_comment_made_internal_afterwards_vanishes_from_the_requesters_history(
    api_client, scene, requester, technician, admin_user
):
    comment = services.comment_add(actor=technician, ticket=scene.ticket, text="Пароль от Wi-Fi")
    [photo] = services.attachment_add(
        actor=technician,
        ticket=scene.ticket,
        files=[text_file("wifi-password-sticker.txt", b"12345678\n")],
        comment=comment,
    )
    services.comment_admin_edit(
        actor=admin_user, comment=comment, text="Пароль от Wi-Fi", internal=True
    )
    client = api_client(requester)
    # What already works: the lists follow the comment's current state.
    assert comment.pk not in [
        c["id"] for c in client.get(f"{API}/tickets/{scene.ticket.pk}/comments/").json()
    ]
    assert client.get(f"{API}/attachments/{photo.pk}/download/").status_code == 404

    history = client.get(f"{API}/tickets/{scene.ticket.pk}/history/").json()
    card = session_client(requester).get(f"/tickets/{scene.ticket.pk}/").content.decode()

    assert comment.pk not in {e["comment_id"] for e in history}
    assert photo.pk not in {e["attachment_id"] for e in history}
    assert "wifi-password-sticker" not in card


@pytest.mark.parametrize("who", ["requester", "stranger"])
def test_upload_cannot_hang_a_file_on_a_hidden_comment(api_client, scene, people, who):
    """The `comment` of an upload names a comment the uploader may not see: refused exactly as
    a comment that does not exist, and nothing is stored."""
    user = people[who]
    ticket = scene.ticket if who == "requester" else scene.attackers_ticket
    hidden = scene.internal_note if who == "requester" else scene.public_comment
    client = api_client(user)
    url = f"{API}/tickets/{ticket.pk}/attachments/"
    before = db_state()

    foreign = client.post(url, {"file": [text_file()], "comment": hidden.pk}, format="multipart")
    nothing = client.post(
        url, {"file": [text_file()], "comment": missing_id("comment")}, format="multipart"
    )

    assert_json_error(foreign, 400)
    assert error_attrs(foreign) == {"comment"}
    assert foreign.json() == nothing.json()
    assert db_state() == before
    # Control: without the comment, the same upload is accepted.
    assert client.post(url, {"file": [text_file()]}, format="multipart").status_code == 201


# --- Mass assignment over the API -------------------------------------------------------------


def privileged_fields(people) -> dict:
    """Fields an attacker would add to any write, with the value they would like."""
    return {
        "status": "closed",
        "assignee": people["technician"].pk,
        "creator": people["admin"].pk,
        "author": people["admin"].pk,
        "uploaded_by": people["admin"].pk,
        "ticket": 1,
        "role": "admin",
        "is_staff": True,
        "is_superuser": True,
        "is_active": False,
        "version": 99,
        "created_at": "2000-01-01T00:00:00Z",
        "updated_at": "2000-01-01T00:00:00Z",
        "closed_at": "2000-01-01T00:00:00Z",
        "resolution": "Сделано",
        "id": 424242,
    }


TICKET_WRITE_FIELDS = (
    "status",
    "assignee",
    "creator",
    "role",
    "is_staff",
    "is_superuser",
    "version",
    "created_at",
    "updated_at",
    "closed_at",
    "resolution",
    "id",
)


@pytest.mark.parametrize("field", TICKET_WRITE_FIELDS)
def test_api_ticket_create_refuses_privileged_fields(api_client, people, field):
    client = api_client(people["requester"])
    legit = {"title": "Не работает сканер", "description": "Не включается"}
    before = db_state()

    response = client.post(f"{API}/tickets/", {**legit, field: privileged_fields(people)[field]})

    assert_json_error(response, 400)
    assert field in error_attrs(response)
    assert db_state() == before
    created = client.post(f"{API}/tickets/", legit)
    assert created.status_code == 201, "control: the same request without the field works"
    ticket = Ticket.objects.get(pk=created.json()["id"])
    assert (ticket.status, ticket.creator, ticket.assignee, ticket.version) == (
        "new",
        people["requester"],
        None,
        1,
    )


@pytest.mark.parametrize("editor", ["requester", "manager"])
@pytest.mark.parametrize("field", TICKET_WRITE_FIELDS)
def test_api_ticket_edit_refuses_privileged_fields(api_client, scene, people, editor, field):
    client = api_client(people[editor])
    url = f"{API}/tickets/{scene.ticket.pk}/"
    before = db_state()

    response = client.patch(url, {"title": "Сейф", field: privileged_fields(people)[field]})

    assert_json_error(response, 400)
    assert field in error_attrs(response)
    assert db_state() == before
    assert client.patch(url, {"title": "Сейф"}).status_code == 200, "control"


COMMENT_WRITE_FIELDS = ("author", "ticket", "created_at", "id", "role", "is_staff", "status")


@pytest.mark.parametrize("field", COMMENT_WRITE_FIELDS)
def test_api_comment_refuses_privileged_fields(api_client, scene, people, field):
    client = api_client(people["requester"])
    url = f"{API}/tickets/{scene.ticket.pk}/comments/"
    before = db_state()

    response = client.post(url, {"text": "Жду", field: privileged_fields(people)[field]})

    assert_json_error(response, 400)
    assert field in error_attrs(response)
    assert db_state() == before
    created = client.post(url, {"text": "Жду"})
    assert created.status_code == 201, "control"
    assert created.json()["author"]["id"] == people["requester"].pk


# The actor who may take each action, the status it starts from, and its legitimate body.
ACTION_SETUPS = {
    "assign": ("manager", "new", lambda p: {"assignee": p["technician"].pk}),
    "accept": ("technician", "assigned", lambda p: {}),
    "decline": ("technician", "assigned", lambda p: {"reason": "Не мой профиль"}),
    "hold": ("technician", "in_progress", lambda p: {"reason": "Жду деталь"}),
    "resume": ("technician", "on_hold", lambda p: {}),
    "complete": ("technician", "in_progress", lambda p: {"resolution": "Готово"}),
    "close": ("manager", "resolved", lambda p: {}),
    "reopen": ("manager", "closed", lambda p: {"reason": "Снова сломалось"}),
    "cancel": ("requester", "new", lambda p: {"reason": "Само прошло"}),
}


def test_action_setups_cover_every_workflow_action():
    assert set(ACTION_SETUPS) == set(ACTIONS)


def ticket_in(status: str, people) -> Ticket:
    ticket = services.ticket_create(actor=people["requester"], title="Шумит", description="Очень")
    path = {
        "new": [],
        "assigned": ["assign"],
        "in_progress": ["assign", "accept"],
        "on_hold": ["assign", "accept", "hold"],
        "resolved": ["assign", "accept", "complete"],
        "closed": ["assign", "accept", "complete", "close"],
    }[status]
    actor = {"assign": "manager", "close": "manager"}
    for action in path:
        services.ticket_apply_action(
            actor=people[actor.get(action, "technician")],
            ticket=ticket,
            action=action,
            assignee=people["technician"],
            reason="Подготовка",
        )
    ticket.refresh_from_db()
    return ticket


@pytest.mark.parametrize("action", ACTION_SETUPS)
def test_api_workflow_actions_refuse_fields_they_do_not_take(api_client, people, action):
    who, status, legit = ACTION_SETUPS[action]
    ticket = ticket_in(status, people)
    client = api_client(people[who])
    url = f"{API}/tickets/{ticket.pk}/{action}/"
    body = legit(people)
    extra_fields = [
        f
        for f in ("status", "assignee", "creator", "resolution", "version", "closed_at", "role")
        if f not in body
    ]
    before = db_state()

    for field in extra_fields:
        response = client.post(url, {**body, field: privileged_fields(people)[field]})
        assert_json_error(response, 400)
        assert field in error_attrs(response), field
    assert db_state() == before
    done = client.post(url, body)
    assert done.status_code == 200, ("control", done.content[:300])
    assert done.json()["status"] == ACTIONS[action].target


def test_api_upload_never_honours_fields_about_the_stored_file(api_client, scene, people):
    client = api_client(people["requester"])
    before = Attachment.objects.count()

    response = client.post(
        f"{API}/tickets/{scene.ticket.pk}/attachments/",
        {
            "file": [text_file("report.txt")],
            "uploaded_by": people["admin"].pk,
            "ticket": scene.attackers_ticket.pk,
            "path": "../../../etc/passwd",
            "name": "evil.html",
            "content_type": "text/html",
            "size": 1,
            "sha256": "0" * 64,
            "internal": "true",
        },
        format="multipart",
    )

    # Refused (400 naming a field) or ignored — never honoured.
    if response.status_code == 400:
        assert error_attrs(response) & {"uploaded_by", "ticket", "path", "name", "content_type"}
        assert Attachment.objects.count() == before
        return
    assert response.status_code == 201, response.content[:300]
    [created] = response.json()
    stored = Attachment.objects.get(pk=created["id"])
    assert stored.uploaded_by == people["requester"]
    assert stored.ticket_id == scene.ticket.pk
    assert (stored.name, stored.content_type, stored.size) == ("report.txt", "text/plain", 20)
    assert stored.path.startswith("attachments/") and ".." not in stored.path
    assert stored.comment_id is None


@pytest.mark.parametrize("who", ["requester", "technician", "manager"])
def test_nobody_promotes_themselves_through_the_users_api(api_client, people, who):
    user = people[who]
    client = api_client(user)
    before = db_state()

    answers = {
        "PATCH me": client.patch(f"{API}/users/me/", {"role": "admin", "is_staff": True}),
        "PUT me": client.put(f"{API}/users/me/", {"role": "admin"}),
        "POST me": client.post(f"{API}/users/me/", {"role": "admin"}),
        "PATCH own": client.patch(f"{API}/users/{user.pk}/", {"role": "admin"}),
        "PUT own": client.put(f"{API}/users/{user.pk}/", {"role": "admin"}),
        "POST users": client.post(
            f"{API}/users/",
            {
                "username": "sleeper",
                "email": "sleeper@example.com",
                "password": "Sturdy-Lantern-Orbit-77",
                "role": "admin",
            },
        ),
    }

    assert {name: r.status_code for name, r in answers.items()} == {
        "PATCH me": 405,
        "PUT me": 405,
        "POST me": 405,
        "PATCH own": 403,
        "PUT own": 405,
        "POST users": 403,
    }
    assert db_state() == before
    assert client.get(f"{API}/users/me/").json()["role"] == user.role


# --- Mass assignment through the page forms ----------------------------------------------------


def page_extras(people) -> dict:
    return {
        "status": "closed",
        "assignee": people["technician"].pk,
        "creator": people["admin"].pk,
        "author": people["admin"].pk,
        "ticket": 1,
        "role": "admin",
        "is_staff": "on",
        "is_superuser": "on",
        "is_active": "",
        "created_at": "2000-01-01 00:00",
        "closed_at": "2000-01-01 00:00",
        "resolution": "Сделано",
        "id": 424242,
        "pk": 424242,
    }


def test_page_ticket_create_ignores_privileged_fields(people):
    client = session_client(people["requester"])
    started = timezone.now() - timedelta(seconds=1)

    response = client.post(
        "/tickets/new/",
        {
            "title": "Не включается проектор",
            "description": "Переговорная 2",
            "category": "incident",
            "priority": "normal",
            **page_extras(people),
            "version": 77,
        },
    )

    assert response.status_code == 302
    ticket = Ticket.objects.get(title="Не включается проектор")
    assert ticket.pk != 424242
    assert (ticket.status, ticket.creator, ticket.assignee) == ("new", people["requester"], None)
    assert (ticket.version, ticket.resolution, ticket.closed_at) == (1, "", None)
    assert ticket.created_at >= started


def test_page_ticket_edit_ignores_privileged_fields(scene, people):
    client = session_client(people["requester"])
    ticket = scene.ticket

    response = client.post(
        f"/tickets/{ticket.pk}/edit/",
        {
            "title": "Сейф заклинило",
            "description": ticket.description,
            "category": ticket.category,
            "priority": "high",
            "version": ticket.version,
            **page_extras(people),
            "assignee": people["other_technician"].pk,
        },
    )

    assert response.status_code == 302
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.title, fresh.priority, fresh.version) == (
        "Сейф заклинило",
        "high",
        ticket.version + 1,
    )
    assert (fresh.status, fresh.assignee, fresh.creator) == (
        ticket.status,
        ticket.assignee,
        ticket.creator,
    )
    assert (fresh.resolution, fresh.closed_at) == (ticket.resolution, ticket.closed_at)


def test_page_action_forms_ignore_fields_they_do_not_take(people):
    ticket = ticket_in("assigned", people)
    client = session_client(people["technician"])

    response = client.post(
        f"/tickets/{ticket.pk}/accept/",
        {
            "version": ticket.version,
            **page_extras(people),
            "assignee": people["other_technician"].pk,
        },
    )

    assert response.status_code == 302
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.status, fresh.assignee, fresh.creator) == (
        "in_progress",
        people["technician"],
        people["requester"],
    )
    assert (fresh.resolution, fresh.closed_at) == ("", None)


def test_page_comment_form_ignores_author_ticket_and_internal(scene, people):
    client = session_client(people["requester"])

    response = client.post(
        f"/tickets/{scene.ticket.pk}/comments/",
        {
            "text": "Спасибо",
            **page_extras(people),
            "ticket": scene.attackers_ticket.pk,
            "internal": "on",
        },
    )

    assert response.status_code == 302
    comment = Comment.objects.latest("pk")
    assert (comment.text, comment.author, comment.ticket_id, comment.internal) == (
        "Спасибо",
        people["requester"],
        scene.ticket.pk,
        False,
    )


def test_profile_form_ignores_role_activity_username_and_password(people):
    user = people["requester"]
    client = session_client(user)
    password = User.objects.get(pk=user.pk).password

    response = client.post(
        "/accounts/profile/",
        {
            "email": "irina@example.com",
            "first_name": "Ирина",
            "last_name": "Новая",
            "department": "Склад",
            **page_extras(people),
            "username": "root",
            "password": "Hijacked-Password-99",
            "last_login": "2000-01-01 00:00",
            "date_joined": "2000-01-01 00:00",
        },
    )

    assert response.status_code == 302
    fresh = User.objects.get(pk=user.pk)
    assert (fresh.email, fresh.last_name, fresh.department) == (
        "irina@example.com",
        "Новая",
        "Склад",
    )
    assert (fresh.username, fresh.role, fresh.is_active) == ("requester", Role.USER, True)
    assert fresh.password == password
    assert not fresh.is_staff and not fresh.is_superuser
    assert client.get("/admin/").status_code == 302, "still no admin"


def test_registration_page_ignores_role_and_staff_flags(people):
    client = session_client()
    password = "Sturdy-Lantern-Orbit-77"

    response = client.post(
        "/accounts/register/",
        {
            "username": "mole",
            "email": "mole@example.com",
            "password": password,
            "password_confirm": password,
            **page_extras(people),
        },
    )

    assert response.status_code == 302
    user = User.objects.get(username="mole")
    assert (user.role, user.is_active) == (Role.USER, True)
    assert not user.is_staff and not user.is_superuser
    assert user.pk != 424242
    assert client.get("/admin/").status_code == 302


# --- Demotion and deactivation take effect on the very next request ---------------------------


def test_manager_demoted_mid_session_loses_every_foreign_ticket_at_once(api_client, scene, people):
    manager = people["manager"]
    token, browser = api_client(manager), session_client(manager)
    ticket = scene.ticket.pk
    assert token.get(f"{API}/tickets/{ticket}/").status_code == 200
    assert browser.get(f"/tickets/{ticket}/").status_code == 200

    accounts.user_change_role(actor=people["admin"], user=manager, role=Role.USER)
    before = db_state()

    assert_json_error(token.get(f"{API}/tickets/{ticket}/"), 404)
    assert token.get(f"{API}/tickets/").json()["count"] == 0
    assert token.get(f"{API}/tickets/", {"search": TITLE_SECRET}).json()["count"] == 0
    assert_json_error(token.post(f"{API}/tickets/{ticket}/hold/", {"reason": "Ещё могу?"}), 404)
    assert_json_error(token.get(f"{API}/users/"), 403)
    assert browser.get(f"/tickets/{ticket}/").status_code == 404
    assert found_count(browser.get("/tickets/", {"view": "all"})) == 0
    assert browser.post(f"/tickets/{ticket}/hold/", {"reason": "Ещё могу?"}).status_code == 404
    assert db_state() == before


def test_technician_demoted_mid_session_loses_assigned_tickets_and_internal_notes(
    api_client, scene, people
):
    technician = people["technician"]
    own = services.ticket_create(actor=technician, title="Мой монитор", description="Мерцает")
    services.comment_add(
        actor=people["manager"], ticket=own, text=f"Про него: {NOTE_SECRET}", internal=True
    )
    token, browser = api_client(technician), session_client(technician)
    assert NOTE_SECRET in token.get(f"{API}/tickets/{own.pk}/comments/").content.decode()

    accounts.user_change_role(actor=people["admin"], user=technician, role=Role.USER)

    assert_json_error(token.get(f"{API}/tickets/{scene.ticket.pk}/"), 404)
    assert_json_error(token.post(f"{API}/tickets/{scene.ticket.pk}/complete/"), 404)
    assert browser.get(f"/tickets/{scene.ticket.pk}/").status_code == 404
    assert {t["id"] for t in token.get(f"{API}/tickets/").json()["results"]} == {own.pk}
    for response in (
        token.get(f"{API}/tickets/{own.pk}/comments/"),
        token.get(f"{API}/tickets/{own.pk}/history/"),
        browser.get(f"/tickets/{own.pk}/"),
    ):
        assert response.status_code == 200
        assert_leaks_none(response, (NOTE_SECRET,), "a demoted technician's own ticket")
    assert token.get(f"{API}/tickets/{own.pk}/").json()["comments_count"] == 0
    assert_json_error(
        token.post(f"{API}/tickets/{own.pk}/comments/", {"text": "x", "internal": True}), 403
    )


def test_admin_demoted_mid_session_loses_the_admin_site_and_admin_rights(api_client, scene, people):
    admin = people["admin"]
    second_admin = AdminFactory(username="second_admin")
    token, browser = api_client(admin), session_client(admin)
    change_page = f"/admin/tickets/ticket/{scene.ticket.pk}/change/"
    assert browser.get(change_page).status_code == 200

    accounts.user_change_role(actor=second_admin, user=admin, role=Role.MANAGER)
    before = db_state()

    assert browser.get(change_page)["Location"].startswith(ADMIN_LOGIN)
    assert browser.get("/admin/accounts/user/")["Location"].startswith(ADMIN_LOGIN)
    assert_json_error(token.delete(f"{API}/tickets/{scene.ticket.pk}/"), 403)
    assert_json_error(token.patch(f"{API}/users/{people['requester'].pk}/", {"role": "admin"}), 403)
    assert db_state() == before
    assert token.get(f"{API}/tickets/{scene.ticket.pk}/").status_code == 200, "still a manager"


def test_deactivated_user_is_shut_out_of_every_door_on_the_next_request(people, scene):
    victim = people["requester"]
    pair = (
        APIClient()
        .post(f"{API}/auth/token/", {"username": victim.username, "password": TEST_PASSWORD})
        .json()
    )
    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    browser = session_client(victim)
    ticket = scene.ticket.pk
    assert token.get(f"{API}/tickets/{ticket}/").status_code == 200
    assert browser.get(f"/tickets/{ticket}/").status_code == 200

    accounts.user_set_active(actor=people["admin"], users=[victim], active=False)
    before = db_state()

    for response in (
        token.get(f"{API}/tickets/"),
        token.get(f"{API}/tickets/{ticket}/"),
        token.post(f"{API}/tickets/{ticket}/comments/", {"text": "Я ещё тут"}),
        token.get(f"{API}/attachments/{scene.public_file.pk}/download/"),
        browser.get(f"{API}/users/me/"),  # the session, through the API
    ):
        assert_json_error(response, 401)
    for path in (f"/tickets/{ticket}/", "/tickets/", "/accounts/profile/"):
        page = browser.get(path)
        assert page.status_code == 302, path
        assert page["Location"].startswith(f"{LOGIN}?next="), path
    posted = browser.post(f"/tickets/{ticket}/comments/", {"text": "Я ещё тут"})
    assert posted["Location"].startswith(f"{LOGIN}?next=")
    refreshed = APIClient().post(f"{API}/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert_json_error(refreshed, 401)
    assert "access" not in refreshed.json()
    assert db_state() == before


# --- A technician acting on a ticket reassigned away from them -------------------------------


@pytest.fixture
def reassigned(people):
    """A ticket the technician accepted, wrote an internal note and uploaded a file on —
    then the manager reassigned it to the other technician."""
    technician = people["technician"]
    ticket = ticket_in("in_progress", people)
    note = services.comment_add(actor=technician, ticket=ticket, text="Мои заметки", internal=True)
    [upload] = services.attachment_add(actor=technician, ticket=ticket, files=[text_file()])
    stale_version = Ticket.objects.get(pk=ticket.pk).version
    services.ticket_apply_action(
        actor=people["manager"],
        ticket=ticket,
        action="assign",
        assignee=people["other_technician"],
    )
    ticket.refresh_from_db()
    return ticket, note, upload, stale_version


def test_technician_reassigned_away_gets_404_on_every_api_route(api_client, people, reassigned):
    ticket, _note, upload, stale_version = reassigned
    client = api_client(people["technician"])
    url = f"{API}/tickets/{ticket.pk}/"
    before = db_state()

    attempts = {
        "detail": client.get(url),
        "history": client.get(url + "history/"),
        "comments": client.get(url + "comments/"),
        "internal note": client.post(url + "comments/", {"text": "Ещё я", "internal": True}),
        "upload": client.post(url + "attachments/", {"file": [text_file()]}, format="multipart"),
        "download own file": client.get(f"{API}/attachments/{upload.pk}/download/"),
        "delete own file": client.delete(f"{API}/attachments/{upload.pk}/"),
        "edit": client.patch(url, {"title": "Моё"}),
        **{
            action: client.post(
                url + f"{action}/",
                {"reason": "Я же начал"} if action in ("decline", "hold") else {},
                headers={"If-Match": f'"{stale_version}"'},
            )
            for action in ("accept", "decline", "hold", "complete")
        },
    }

    assert {name: r.status_code for name, r in attempts.items()} == dict.fromkeys(attempts, 404)
    for response in attempts.values():
        assert_json_error(response, 404, code="not_found")
    assert db_state() == before
    # Control: the new assignee can take over.
    accepted = api_client(people["other_technician"]).post(url + "accept/")
    assert accepted.status_code == 200
    assert accepted.json()["assignee"]["id"] == people["other_technician"].pk


def test_technician_reassigned_away_gets_404_on_every_page(people, reassigned):
    ticket, _note, upload, stale_version = reassigned
    client = session_client(people["technician"])
    card = f"/tickets/{ticket.pk}/"
    before = db_state()

    attempts = {
        "card": client.get(card),
        "edit form": client.get(card + "edit/"),
        "comment": client.post(card + "comments/", {"text": "Ещё я", "internal": "on"}),
        "upload": client.post(card + "attachments/", {"file": [text_file()]}),
        "download own file": client.get(f"/tickets/attachments/{upload.pk}/download/"),
        "delete own file": client.post(f"/tickets/attachments/{upload.pk}/delete/"),
        **{
            action: client.post(
                card + f"{action}/",
                {"version": stale_version, "reason": "Я же начал", "resolution": "Готово"},
            )
            for action in ("accept", "decline", "hold", "complete")
        },
    }

    assert {name: r.status_code for name, r in attempts.items()} == dict.fromkeys(attempts, 404)
    assert db_state() == before
    listing = client.get("/tickets/", {"view": "assigned"})
    assert found_count(listing) == 0


def test_technician_who_created_the_ticket_keeps_seeing_it_but_may_no_longer_work_it(
    api_client, people
):
    technician = people["technician"]
    ticket = services.ticket_create(actor=technician, title="Мой стул", description="Скрипит")
    services.ticket_apply_action(
        actor=people["manager"], ticket=ticket, action="assign", assignee=technician
    )
    services.ticket_apply_action(actor=technician, ticket=ticket, action="accept")
    services.ticket_apply_action(
        actor=people["manager"],
        ticket=ticket,
        action="assign",
        assignee=people["other_technician"],
    )
    client = api_client(technician)
    url = f"{API}/tickets/{ticket.pk}/"
    before = db_state()

    detail = client.get(url)
    bodies = {"accept": {}, "decline": {"reason": "Моя же"}, "hold": {"reason": "Моя же"}}
    refused = {
        action: client.post(url + f"{action}/", bodies.get(action, {}))
        for action in ("accept", "decline", "hold", "complete")
    }

    assert detail.status_code == 200
    assert detail.json()["allowed_actions"] == []
    assert {a: r.status_code for a, r in refused.items()} == dict.fromkeys(refused, 403)
    for response in refused.values():
        assert_json_error(response, 403, code="permission_denied")
    page = session_client(technician).post(f"/tickets/{ticket.pk}/accept/", {"version": 4})
    assert page.status_code == 403
    assert db_state() == before
