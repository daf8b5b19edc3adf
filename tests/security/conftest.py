"""Shared ground of the adversarial tests: a victim's ticket full of secrets, the attacker's own
ticket, and the means to prove that a refused attack left the database and the disk as they
were and leaked nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import User
from tickets import services
from tickets.models import Attachment, Comment, Ticket

API = "/api/v1"
LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"

# Made-up words, each written into exactly one hidden object. Any response that contains one
# has leaked that object. (Latin nonsense, so that stemming keeps them whole.)
TITLE_SECRET = "zephyrquartz"
DESCRIPTION_SECRET = "marmaladeobelisk"
NOTE_SECRET = "quasarpumpernickel"
NOTE_FILE_SECRET = "hushhushblueprint"
NOTE_FILE_CONTENT = b"vault combination 4711\n"
PUBLIC_FILE_CONTENT = b"receipt for the safe\n"
TICKET_SECRETS = (TITLE_SECRET, DESCRIPTION_SECRET)
NOTE_SECRETS = (NOTE_SECRET, NOTE_FILE_SECRET)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Registration's rate limit counts in the cache, which outlives a test's transaction."""
    cache.clear()
    yield
    cache.clear()


def text_file(name: str = "notes.txt", content: bytes = b"replaced the roller\n"):
    return SimpleUploadedFile(name, content, content_type="text/plain")


def session_client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@dataclass
class Scene:
    """The victim's ticket (created by `requester`, in progress with `technician`) with a
    public comment, an internal note, a public file and a file on the internal note; and the
    attacker's (`other_requester`) own ticket."""

    ticket: Ticket
    public_comment: Comment
    internal_note: Comment
    public_file: Attachment
    note_file: Attachment
    attackers_ticket: Ticket


@pytest.fixture
def scene(requester, other_requester, technician, other_technician, manager, admin_user) -> Scene:
    ticket = services.ticket_create(
        actor=requester,
        title=f"Не открывается сейф {TITLE_SECRET}",
        description=f"Код знает только бухгалтер: {DESCRIPTION_SECRET}",
        files=[text_file("receipt.txt", PUBLIC_FILE_CONTENT)],
    )
    act = services.ticket_apply_action
    act(actor=manager, ticket=ticket, action="assign", assignee=technician)
    act(actor=technician, ticket=ticket, action="accept")
    public = services.comment_add(actor=requester, ticket=ticket, text="Когда придёте?")
    note = services.comment_add(
        actor=technician, ticket=ticket, text=f"Служебно: {NOTE_SECRET}", internal=True
    )
    [note_file] = services.attachment_add(
        actor=technician,
        ticket=ticket,
        files=[text_file(f"{NOTE_FILE_SECRET}.txt", NOTE_FILE_CONTENT)],
        comment=note,
    )
    attackers = services.ticket_create(
        actor=other_requester, title="Моя заявка", description="Сломался стул"
    )
    ticket.refresh_from_db()
    return Scene(
        ticket=ticket,
        public_comment=public,
        internal_note=note,
        public_file=ticket.attachments.get(comment=None),
        note_file=note_file,
        attackers_ticket=attackers,
    )


def db_state() -> dict:
    """Every row an attack could change, and every stored file."""
    media = Path(settings.MEDIA_ROOT)
    return {
        "tickets": list(Ticket.objects.order_by("pk").values()),
        "comments": list(Comment.objects.order_by("pk").values()),
        "attachments": list(Attachment.objects.order_by("pk").values()),
        "users": list(
            User.objects.order_by("pk").values(
                "pk",
                "username",
                "email",
                "first_name",
                "last_name",
                "department",
                "role",
                "is_active",
                "password",
            )
        ),
        "history": (
            Ticket.history.count(),
            Comment.history.count(),
            Attachment.history.count(),
        ),
        "files": sorted(str(p) for p in media.rglob("*") if p.is_file()) if media.exists() else [],
    }


def body_of(response) -> bytes:
    """The whole body, streamed or not (read once, kept for later checks)."""
    if not hasattr(response, "_security_body"):
        streamed = getattr(response, "streaming", False)
        response._security_body = (
            b"".join(response.streaming_content) if streamed else response.content
        )
    return response._security_body


CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
CSP_NONCE = re.compile(r'nonce="[^"]+"')


def page_text(response, *, blank: tuple[str, ...] = ()) -> str:
    """A page's HTML without its per-response CSRF token and CSP nonce, with the `blank` words
    replaced: what stays is what an attacker can compare between two answers."""
    html = CSRF_INPUT.sub('name="csrfmiddlewaretoken" value=""', body_of(response).decode())
    html = CSP_NONCE.sub('nonce=""', html)
    for word in blank:
        html = html.replace(word, "<word>")
    return html


def assert_leaks_none(response, secrets, where: str) -> None:
    body = body_of(response)
    for secret in secrets:
        raw = secret if isinstance(secret, bytes) else secret.encode()
        assert raw not in body, f"{secret!r} leaked through {where}"


def assert_json_error(response, status: int, *, code: str | None = None) -> dict:
    """SPEC §5: the one JSON error shape; returns the body."""
    assert response.status_code == status, (status, response.content[:400])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"type", "errors"}
    assert body["errors"], body
    if code is not None:
        assert body["errors"][0]["code"] == code, body
    return body


def error_attrs(response) -> set:
    return {error["attr"] for error in response.json()["errors"]}


FOUND_COUNT = re.compile(r'id="found-count">[^<\d]*(\d+)')


def found_count(response) -> int:
    """The number of tickets the list page says it found."""
    match = FOUND_COUNT.search(response.content.decode())
    assert match, "the list page shows how many tickets it found"
    return int(match.group(1))
