"""The permission matrix of the pages (SPEC §4.1–§4.5, §6): every persona × every page and form
of the ticket pages, with the exact answer, and proof that a refused POST changes nothing.

anonymous → the login page with `next`; outside visibility → 404; visible but not allowed → 403;
allowed → 200 (pages) or a redirect (forms); an action from a wrong status → back to the card
with an error message. The expectations are SPEC §4 restated by hand (tickets/tests/spec_table.py),
never computed from tickets.policies or tickets.workflow, so a wrong rule in the code shows here."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib.messages import constants as message_levels
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from accounts.tests.factories import TechnicianFactory
from techticket.errors import InvalidTransition
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

LOGIN = "/accounts/login/"

# --- The expectations, from SPEC §4 ----------------------------------------------------------


def expected_buttons(persona: str, status: str) -> list[str]:
    return [
        name
        for name, row in WORKFLOW.items()
        if status in row.sources and may_act(persona, status, name)
    ]


def may_edit(persona: str, status: str) -> bool:  # §4.2
    return persona in (CREATOR, *DISPATCHERS) and status not in FINISHED


def may_comment(persona: str, status: str) -> bool:  # §4.4
    return persona in DISPATCHERS or status not in FINISHED


def may_delete_attachment(persona: str, status: str) -> bool:  # §4.5; CREATOR uploaded it
    return persona in DISPATCHERS or (persona == CREATOR and status not in FINISHED)


# --- The world every case starts from ----------------------------------------------------------


@dataclass
class World:
    users: dict
    spare_technician: object
    ticket: Ticket
    public_comment: Comment
    internal_note: Comment
    attachment: Attachment  # uploaded by CREATOR, on the ticket itself
    note_attachment: Attachment  # uploaded by MANAGER, on the internal note


def _stored_text_file(content: bytes = b"hello\n") -> str:
    relative = f"attachments/2026/01/{uuid.uuid4().hex}.txt"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return relative


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

    def make(status: str, *, bare: bool = False) -> World:
        """A ticket in `status`, with a public comment, an internal note and a file on each
        (`bare`: the ticket alone)."""
        assignee = None if status == "new" else people[ASSIGNEE]
        ticket = TicketFactory(creator=people[CREATOR], status=status, assignee=assignee)
        if bare:
            return World(people, spare, ticket, None, None, None, None)
        public = CommentFactory(ticket=ticket, author=people[CREATOR], text="Публичный")
        internal = CommentFactory(
            ticket=ticket, author=people[MANAGER], text="Служебная заметка", internal=True
        )
        attachment = AttachmentFactory(
            ticket=ticket, uploaded_by=people[CREATOR], path=_stored_text_file(), size=6
        )
        note_attachment = AttachmentFactory(
            ticket=ticket,
            comment=internal,
            uploaded_by=people[MANAGER],
            path=_stored_text_file(b"secret\n"),
            size=7,
        )
        return World(people, spare, ticket, public, internal, attachment, note_attachment)

    return make


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def snapshot(ticket_id: int) -> dict:
    """Everything a refused request must leave as it was."""
    media = Path(settings.MEDIA_ROOT)
    return {
        "ticket": Ticket.objects.filter(pk=ticket_id)
        .values("version", "status", "assignee_id", "title", "priority", "resolution")
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


def login_redirect(path: str) -> str:
    return f"{LOGIN}?next={quote(path, safe='/')}"


def messages_of(response) -> list[tuple[int, str]]:
    return [(m.level, str(m.message)) for m in get_messages(response.wsgi_request)]


def card(ticket_id: int) -> str:
    return f"/tickets/{ticket_id}/"


# --- Workflow actions ------------------------------------------------------------------------


def action_form(action: str, world: World) -> dict:
    """What the card's form for `action` posts: the version, and the inputs it asks for."""
    data = {"version": world.ticket.version}
    if action == "assign":
        data["assignee"] = world.spare_technician.pk
    if action in ("decline", "hold", "reopen", "cancel"):
        data["reason"] = f"Причина: {action}"
    if action == "complete":
        data["resolution"] = "Заменил картридж"
    return data


def _check_action(world: World, persona: str, action: str, status: str) -> None:
    ticket = world.ticket
    before = snapshot(ticket.pk)
    url = f"/tickets/{ticket.pk}/{action}/"

    response = client_for(world.users[persona]).post(url, action_form(action, world))

    if not sees(persona, status):
        assert response.status_code == 404
        assert snapshot(ticket.pk) == before
    elif not may_act(persona, status, action):
        assert response.status_code == 403
        assert snapshot(ticket.pk) == before
    elif status not in WORKFLOW[action].sources:
        # The right person from the wrong status: back to the card, told why, nothing changed.
        assert response.status_code == 302
        assert response["Location"] == card(ticket.pk)
        with translation.override("ru"):
            refusal = str(InvalidTransition.default_message)
        assert (message_levels.ERROR, refusal) in messages_of(response)
        assert snapshot(ticket.pk) == before
    else:
        assert response.status_code == 302
        row = WORKFLOW[action]
        ticket.refresh_from_db()
        assert (ticket.status, ticket.version) == (row.target, before["ticket"]["version"] + 1)
        assert Ticket.history.filter(id=ticket.pk).count() == before["history"][0] + 1
        assert [level for level, _text in messages_of(response)] == [message_levels.SUCCESS]
        if action == "assign":
            assert ticket.assignee_id == world.spare_technician.pk
        if action == "decline":
            # The technician no longer sees the ticket, so the card would be a 404.
            assert ticket.assignee_id is None
            assert response["Location"] == "/tickets/"
        else:
            assert response["Location"] == card(ticket.pk)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", WORKFLOW)
def test_workflow_action_form_answers_as_the_spec_says(make_world, subtests, action, status):
    """Every signed-in persona, each on a fresh ticket in `status`."""
    for persona in SIGNED_IN:
        with subtests.test(persona=persona):
            _check_action(make_world(status, bare=True), persona, action, status)


@pytest.mark.parametrize("action", WORKFLOW)
def test_anonymous_action_post_goes_to_login_and_changes_nothing(make_world, action):
    world = make_world("in_progress" if action != "assign" else "new")
    before = snapshot(world.ticket.pk)
    url = f"/tickets/{world.ticket.pk}/{action}/"

    response = Client().post(url, action_form(action, world))

    assert response.status_code == 302
    assert response["Location"] == login_redirect(url)
    assert snapshot(world.ticket.pk) == before


def test_unknown_action_in_the_url_is_404_and_changes_nothing(make_world, manager):
    world = make_world("in_progress")
    before = snapshot(world.ticket.pk)

    for name in ("explode", "delete", "ASSIGN", "assign_"):
        response = client_for(manager).post(f"/tickets/{world.ticket.pk}/{name}/", {"version": 1})
        assert response.status_code == 404, name

    assert snapshot(world.ticket.pk) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/tickets/abc/"),
        ("get", "/tickets/1.5/"),
        ("get", "/tickets/-1/"),
        ("get", "/tickets/abc/edit/"),
        ("post", "/tickets/abc/edit/"),
        ("post", "/tickets/abc/accept/"),
        ("post", "/tickets/abc/comments/"),
        ("post", "/tickets/abc/attachments/"),
        ("get", "/tickets/attachments/abc/download/"),
        ("post", "/tickets/attachments/abc/delete/"),
        ("get", "/tickets/99999999999999999999999/"),
        ("get", "/tickets/attachments/99999999999999999999999/download/"),
    ],
)
def test_non_numeric_or_absurd_ids_are_404(manager_client, method, path):
    response = getattr(manager_client, method)(path)

    assert response.status_code == 404
    assert "errors/404.html" in [t.name for t in response.templates]


# --- Buttons on the card ---------------------------------------------------------------------

DATA_ACTION = re.compile(r'data-action="([a-z_]+)"')


@pytest.mark.parametrize("status", STATUSES)
def test_card_shows_exactly_the_buttons_of_allowed_actions(make_world, subtests, status):
    world = make_world(status)
    for persona in [p for p in SIGNED_IN if sees(p, status)]:
        with subtests.test(persona=persona):
            response = client_for(world.users[persona]).get(card(world.ticket.pk))

            assert response.status_code == 200
            html = response.content.decode()
            assert DATA_ACTION.findall(html) == expected_buttons(persona, status)
            for name in expected_buttons(persona, status):
                assert f'action="/tickets/{world.ticket.pk}/{name}/"' in html


def test_assign_form_offers_only_active_technicians(make_world, manager_client, requester):
    world = make_world("new")
    inactive = TechnicianFactory(username="retired_technician", is_active=False)

    html = manager_client.get(card(world.ticket.pk)).content.decode()

    assign_form = html[html.index(f'action="/tickets/{world.ticket.pk}/assign/"') :]
    assign_form = assign_form[: assign_form.index("</form>")]
    offered = set(re.findall(r'<option value="(\d+)"', assign_form))
    technicians = {world.users[ASSIGNEE], world.users[OTHER_TECHNICIAN], world.spare_technician}
    assert offered == {str(user.pk) for user in technicians}
    assert str(inactive.pk) not in offered
    assert str(requester.pk) not in offered


# --- Every other page and form ---------------------------------------------------------------


def _txt_upload(name: str = "notes.txt") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"replaced the roller\n", content_type="text/plain")


@dataclass(frozen=True)
class Page:
    method: str
    path: str  # formatted with ticket, attachment, note_attachment
    expected: callable  # (persona, status) → status code, for a persona who sees the ticket
    data: callable = None  # (world) → the form's data


def _edit_data(world: World) -> dict:
    return {
        "title": "Новый заголовок",
        "description": world.ticket.description,
        "category": "repair",
        "priority": "high",
        "version": world.ticket.version,
    }


PAGES: dict[str, Page] = {
    "card": Page("get", "/tickets/{ticket}/", lambda p, s: 200),
    "edit_form": Page(
        "get", "/tickets/{ticket}/edit/", lambda p, s: 200 if may_edit(p, s) else 403
    ),
    "edit": Page(
        "post",
        "/tickets/{ticket}/edit/",
        lambda p, s: 302 if may_edit(p, s) else 403,
        _edit_data,
    ),
    "comment": Page(
        "post",
        "/tickets/{ticket}/comments/",
        lambda p, s: 302 if may_comment(p, s) else 403,
        lambda world: {"text": "Уточнение"},
    ),
    "internal_note": Page(
        "post",
        "/tickets/{ticket}/comments/",
        lambda p, s: 302 if may_comment(p, s) else 403,
        lambda world: {"text": "Для своих", "internal": "on"},
    ),
    "upload": Page(
        "post",
        "/tickets/{ticket}/attachments/",
        lambda p, s: 302 if may_comment(p, s) else 403,
        lambda world: {"file": [_txt_upload()]},
    ),
    "download": Page("get", "/tickets/attachments/{attachment}/download/", lambda p, s: 200),
    "delete_attachment": Page(
        "post",
        "/tickets/attachments/{attachment}/delete/",
        lambda p, s: 302 if may_delete_attachment(p, s) else 403,
    ),
}
# Outside the workflow actions, the status matters only through `new` (the technician is not
# yet the assignee) and closed/cancelled (finished); these statuses cover every case.
PAGE_STATUSES = ("new", "in_progress", "resolved", "closed", "cancelled")


def _path(page: Page, world: World) -> str:
    return page.path.format(
        ticket=world.ticket.pk,
        attachment=world.attachment.pk,
        note_attachment=world.note_attachment.pk,
    )


def _check_success(name: str, response, world: World, persona: str, before: dict) -> None:
    ticket_id = world.ticket.pk
    if name == "card":
        html = response.content.decode()
        assert world.ticket.title in html
        assert "Публичный" in html
        assert ("Служебная заметка" in html) == (persona in STAFF), "internal notes: staff only"
    elif name == "edit_form":
        assert f'name="version" value="{world.ticket.version}"' in response.content.decode()
    elif name == "edit":
        assert response["Location"] == card(ticket_id)
        fresh = Ticket.objects.get(pk=ticket_id)
        assert (fresh.title, fresh.priority) == ("Новый заголовок", "high")
        assert fresh.version == before["ticket"]["version"] + 1
    elif name in ("comment", "internal_note"):
        created = Comment.objects.filter(ticket_id=ticket_id).latest("pk")
        assert response["Location"] == f"{card(ticket_id)}#comment-{created.pk}"
        assert Comment.objects.filter(ticket_id=ticket_id).count() == before["comments"] + 1
        # A requester's form has no internal checkbox: the flag is ignored, never honoured.
        assert created.internal is (name == "internal_note" and persona in STAFF)
    elif name == "upload":
        assert response["Location"] == f"{card(ticket_id)}#attachments"
        assert Attachment.objects.filter(ticket_id=ticket_id).count() == before["attachments"] + 1
        assert Attachment.objects.filter(ticket_id=ticket_id).latest("pk").name == "notes.txt"
    elif name == "download":
        assert b"".join(response.streaming_content) == b"hello\n"
        assert "attachment" in response["Content-Disposition"]
    elif name == "delete_attachment":
        assert response["Location"] == f"{card(ticket_id)}#attachments"
        assert not Attachment.objects.filter(pk=world.attachment.pk).exists()
    if PAGES[name].method == "get":
        assert snapshot(ticket_id) == before, "a GET changed something"


def _check_page(world: World, name: str, persona: str, status: str) -> bool:
    """Sends the page's request as `persona`; True when it changed something (as allowed)."""
    page = PAGES[name]
    before = snapshot(world.ticket.pk)
    expected = page.expected(persona, status) if sees(persona, status) else 404
    client = client_for(world.users[persona])
    if page.method == "get":
        response = client.get(_path(page, world))
    else:
        response = client.post(_path(page, world), page.data(world) if page.data else {})

    assert response.status_code == expected, response.content[:300]
    if expected < 400:
        _check_success(name, response, world, persona, before)
        return page.method == "post"
    assert snapshot(world.ticket.pk) == before
    return False


@pytest.mark.parametrize("status", PAGE_STATUSES)
@pytest.mark.parametrize("name", PAGES)
def test_ticket_page_answers_as_the_spec_says(make_world, subtests, name, status):
    """Every signed-in persona; a fresh world after each POST that changed the ticket."""
    world = make_world(status)
    for persona in SIGNED_IN:
        with subtests.test(persona=persona):
            if _check_page(world, name, persona, status):
                world = make_world(status)


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_ticket_page_goes_to_login_and_changes_nothing(make_world, name):
    world = make_world("in_progress")
    page = PAGES[name]
    before = snapshot(world.ticket.pk)
    path = _path(page, world)

    if page.method == "get":
        response = Client().get(path)
    else:
        response = Client().post(path, page.data(world) if page.data else {})

    assert response.status_code == 302
    assert response["Location"] == login_redirect(path)
    assert snapshot(world.ticket.pk) == before


@pytest.mark.parametrize("persona", SIGNED_IN)
@pytest.mark.parametrize("status", ("in_progress", "closed"))
def test_attachments_of_an_internal_note_exist_only_for_staff(make_world, persona, status):
    world = make_world(status)
    before = snapshot(world.ticket.pk)
    client = client_for(world.users[persona])
    sees_note = sees(persona, status) and persona in STAFF

    download = client.get(f"/tickets/attachments/{world.note_attachment.pk}/download/")
    delete = client.post(f"/tickets/attachments/{world.note_attachment.pk}/delete/")

    if sees_note:
        assert download.status_code == 200
        assert b"".join(download.streaming_content) == b"secret\n"
        # MANAGER uploaded it: the other staff may not remove it, dispatchers always may.
        assert delete.status_code == (302 if persona in DISPATCHERS else 403)
    else:
        assert (download.status_code, delete.status_code) == (404, 404)
    if delete.status_code != 302:
        assert snapshot(world.ticket.pk) == before


@pytest.mark.parametrize("persona", PERSONAS)
def test_list_and_create_pages_per_persona(make_world, persona, people):
    world = make_world("in_progress")
    user = people[persona]
    client = client_for(user)
    tickets_before = Ticket.objects.count()

    listing = client.get("/tickets/", {"view": "all"})
    create_form = client.get("/tickets/new/")
    created = client.post(
        "/tickets/new/",
        {
            "title": "Не включается монитор",
            "description": "Индикатор мигает оранжевым",
            "category": "incident",
            "priority": "normal",
        },
    )

    if user is None:
        assert listing["Location"] == login_redirect("/tickets/") + "%3Fview%3Dall"
        assert create_form["Location"] == login_redirect("/tickets/new/")
        assert created["Location"] == login_redirect("/tickets/new/")
        assert Ticket.objects.count() == tickets_before
        return
    assert (listing.status_code, create_form.status_code) == (200, 200)
    listed = f'href="/tickets/{world.ticket.pk}/"' in listing.content.decode()
    assert listed == sees(persona, "in_progress"), "the list applies the visibility rule"
    assert created.status_code == 302
    new_ticket = Ticket.objects.latest("pk")
    assert (new_ticket.creator, new_ticket.status) == (user, "new")
    assert created["Location"] == card(new_ticket.pk)


# --- Navigation per role -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", SIGNED_IN)
def test_navigation_links_the_admin_only_for_admins(persona, people):
    client = client_for(people[persona])

    html = client.get("/tickets/").content.decode()
    admin_index = client.get("/admin/")

    assert ('href="/admin/"' in html) == (persona == ADMIN)
    assert 'href="/tickets/"' in html
    assert 'href="/tickets/new/"' in html
    if persona == ADMIN:
        assert admin_index.status_code == 200
    else:
        assert admin_index.status_code == 302
        assert admin_index["Location"].startswith("/admin/login/")


def test_navigation_of_an_anonymous_visitor_offers_only_login_and_registration():
    html = Client().get(LOGIN).content.decode()

    assert 'href="/accounts/login/"' in html
    assert 'href="/accounts/register/"' in html
    assert 'href="/tickets/"' not in html
    assert 'href="/admin/"' not in html


@pytest.mark.parametrize("persona", [CREATOR, ASSIGNEE, MANAGER, ADMIN])
@pytest.mark.parametrize("status", ("in_progress", "closed"))
def test_internal_note_checkbox_only_for_staff(make_world, persona, status):
    world = make_world(status)

    html = client_for(world.users[persona]).get(card(world.ticket.pk)).content.decode()

    has_comment_form = f'action="/tickets/{world.ticket.pk}/comments/"' in html
    assert has_comment_form == may_comment(persona, status)
    has_checkbox = 'type="checkbox" name="internal"' in html
    assert has_checkbox == (has_comment_form and persona in STAFF)
