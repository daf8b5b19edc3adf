"""Query budget of the ticket list, card, history and search, over the API and on the pages.

Each request below is made by a manager, a requester and a technician, with the auth real
clients use (a JWT bearer token for the API, a session cookie for the pages), over data in
which a query per row would show: 37 tickets with public comments, internal notes, files on
the ticket and on both kinds of comments, people in both roles; and one ticket with 20
comments and a history of every kind (created, assigned twice, accepted, edited, held,
resumed, comments, notes, files) made through the services.

The number of SQL queries is pinned exactly: one more is a regression (a query per row, a
count run twice), one fewer means the table below should shrink. The numbers are the same on
SQLite and PostgreSQL. Search is pinned in both its modes (tickets/search.py): few matches,
ranked by relevance, and many matches (past RANK_LIMIT), newest first; in both, a searched list
costs exactly what the unsearched list costs, because the search counts its results once while
it is built and the paginator reuses that count (TicketQuerySet.count).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from tickets import search, services
from tickets.models import Status, Ticket
from tickets.tests.factories import AttachmentFactory, CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db

# --- The budget ---------------------------------------------------------------------------
# Request → number of SQL queries. "(manager)" rows are what a dispatcher's page costs when
# it differs from the requester's and technician's. Every row is explained; nothing here may
# grow with the number of tickets, comments, files or history entries shown.
BUDGET = {
    # API, JWT bearer: each request first loads the token's user.
    # user (JWT), count, page of ids, rows with people and counts (page_size 10 = 100)
    "api list": 4,
    # the same four: status and assignee are conditions of the count and of the page of ids
    "api list filtered": 4,
    # user (JWT), search (matches and results counted in one query), page of ids (ranked or
    # newest first), rows: the paginator reuses the search's count
    "api list search": 4,
    # the same four: the filters narrow the search's count query and the page of ids
    "api list search filtered": 4,
    # user (JWT), count, page of ids at offset 10, rows
    "api list page 2": 4,
    # user (JWT), ticket with creator, assignee and both counts (allowed actions are computed)
    "api detail": 2,
    # user (JWT), ticket, ticket history with actors, comment history with authors,
    # attachment history with uploaders
    "api history": 5,
    # user (JWT), ticket, visible comments with authors, their files with uploaders (prefetch)
    "api comments": 4,
    # user (JWT), ticket, visible files with uploader and comment
    "api attachments": 3,
    # Pages, session cookie: each request first loads the session, then its user.
    # session, user, count, page of ids, rows with people and counts
    "page list": 5,
    # … and the active technicians for the Assignee filter
    "page list (manager)": 6,
    # session, user, search (counts once), page of ids, rows
    "page list search": 5,
    "page list search (manager)": 6,  # … and the technicians of the Assignee filter
    # session, user, count, page of ids at offset 10, rows
    "page list page 2": 5,
    "page list page 2 (manager)": 6,  # … and the technicians of the Assignee filter
    # session, user, ticket with people and counts, visible files with uploader and comment,
    # ticket / comment / attachment history with actors, the users named by assignee changes,
    # visible comments with authors (their files are among the ticket's, loaded once)
    "page detail": 9,
    # … and the active technicians for the Assign form
    "page detail (manager)": 10,
}

API = "/api/v1/tickets/"
PERSONAS = ("manager", "requester", "technician")
RARE_WORD = "сканер"  # in the titles of a few tickets
COMMON_WORD = "принтер"  # in every ticket's description
# Search modes: (word, RANK_LIMIT). Few matches are ranked by relevance; past RANK_LIMIT the
# newest come first — a limit of 0 makes any match count as many.
SEARCH_MODES = {
    "ranked": (RARE_WORD, search.RANK_LIMIT),
    "newest": (COMMON_WORD, 0),
}


# --- Data ---------------------------------------------------------------------------------


@dataclass
class World:
    users: dict[str, User]  # persona → user
    busy: Ticket  # 20 comments, a long history


@pytest.fixture
def world(requester, other_requester, technician, other_technician, manager) -> World:
    creators = (requester, other_requester)
    assignees = (technician, other_technician, None)
    working = (Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD, Status.RESOLVED)
    for i in range(36):
        creator = technician if i in (4, 5) else creators[i % 2]
        assignee = assignees[i % 3]
        title = {"title": f"Сканер не сканирует в кабинете {i}"} if i % 7 == 0 else {}
        ticket = TicketFactory(
            creator=creator,
            assignee=assignee,
            status=Status.NEW if assignee is None else working[(i // 2) % 4],
            **title,
        )
        staff = assignee or manager
        CommentFactory(ticket=ticket, author=creator)
        public = CommentFactory(ticket=ticket, author=staff)
        note = CommentFactory(ticket=ticket, author=staff, internal=True)
        AttachmentFactory(ticket=ticket, uploaded_by=creator)
        AttachmentFactory(ticket=ticket, comment=public, uploaded_by=staff)
        AttachmentFactory(ticket=ticket, comment=note, uploaded_by=staff)

    busy = services.ticket_create(
        actor=requester,
        title="Сканер в бухгалтерии не видит сеть",
        description="После переезда сканер не находит сетевую папку, принтер рядом работает.",
        files=[SimpleUploadedFile("error.txt", b"error 0x42\n", "text/plain")],
    )
    act = services.ticket_apply_action
    act(actor=manager, ticket=busy, action="assign", assignee=other_technician)
    act(actor=manager, ticket=busy, action="assign", assignee=technician)
    act(actor=technician, ticket=busy, action="accept")
    services.ticket_update(actor=requester, ticket=busy.pk, priority="high")
    for i in range(20):
        internal = i % 4 == 3
        author = technician if internal or i % 2 else requester
        comment = services.comment_add(
            actor=author, ticket=busy, text=f"Комментарий {i}", internal=internal
        )
        if i in (2, 3, 6, 7):  # files on public comments and on internal notes
            services.attachment_add(
                actor=author,
                ticket=busy,
                comment=comment,
                files=[SimpleUploadedFile(f"log{i}.txt", b"line\n", "text/plain")],
            )
    act(actor=technician, ticket=busy, action="hold", reason="Ждём запчасть")
    act(actor=manager, ticket=busy, action="resume")
    return World(
        users={"manager": manager, "requester": requester, "technician": technician},
        busy=busy,
    )


# --- Measuring ----------------------------------------------------------------------------


@dataclass
class Measured:
    url: str
    queries: int
    sql: list[str]
    response: object


def measure(client, url: str) -> Measured:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.content[:500])
    return Measured(url, len(captured), [q["sql"] for q in captured.captured_queries], response)


def budget_key(name: str, persona: str) -> str:
    dispatcher_row = f"{name} ({persona})"
    return dispatcher_row if dispatcher_row in BUDGET else name


def _listing(sql: list[str]) -> str:
    return "\n".join(f"  {i}. {query[:300]}" for i, query in enumerate(sql, 1))


def check(persona: str, results: list[tuple[str, Measured]]) -> None:
    """Each (budget row, measured request) costs exactly its budget."""
    wrong = [
        f"{key} — GET {measured.url} as {persona}: {measured.queries} queries, "
        f"budget {BUDGET[key]}\n" + _listing(measured.sql)
        for name, measured in results
        if measured.queries != BUDGET[key := budget_key(name, persona)]
    ]
    assert not wrong, "\n\n".join(wrong)


def api_rows(measured: Measured) -> list:
    rows = measured.response.json()["results"]
    assert rows, "an empty page would skip the rows query"
    return rows


def page_rows(measured: Measured) -> list:
    rows = measured.response.context["page"].object_list
    assert rows, "an empty page would skip the rows query"
    return rows


def page_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def search_mode(monkeypatch, mode: str) -> str:
    word, limit = SEARCH_MODES[mode]
    monkeypatch.setattr(search, "RANK_LIMIT", limit)
    return word


def assert_costs_the_same(measured: Measured, reference: Measured) -> None:
    assert measured.queries == reference.queries, (
        f"GET {measured.url}: {measured.queries} queries\n{_listing(measured.sql)}\n"
        f"GET {reference.url}: {reference.queries} queries\n{_listing(reference.sql)}"
    )


def assert_mode(measured: Measured, mode: str) -> None:
    """The search ran in `mode`: ranked queries select `search_rank`, the newest-first don't."""
    ranked = any("search_rank" in sql for sql in measured.sql)
    assert ranked == (mode == "ranked"), _listing(measured.sql)


# --- API ----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_list_and_card(world, api_client, persona):
    client = api_client(world.users[persona])
    technician, busy = world.users["technician"].pk, world.busy.pk
    ten = measure(client, f"{API}?page_size=10")
    hundred = measure(client, f"{API}?page_size=100")
    assert len(api_rows(hundred)) > len(api_rows(ten)) == 10
    assert_costs_the_same(hundred, ten)  # ten rows or all of them: no query per row
    filtered = measure(client, f"{API}?status=new,in_progress&assignee={technician}")
    second_page = measure(client, f"{API}?page=2&page_size=10")
    api_rows(filtered)
    api_rows(second_page)
    comments = measure(client, f"{API}{busy}/comments/")
    attachments = measure(client, f"{API}{busy}/attachments/")
    assert len(comments.response.json()) >= 15
    assert len(attachments.response.json()) >= 3
    check(
        persona,
        [
            ("api list", ten),
            ("api list", hundred),
            ("api list filtered", filtered),
            ("api list page 2", second_page),
            ("api detail", measure(client, f"{API}{busy}/")),
            ("api comments", comments),
            ("api attachments", attachments),
        ],
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_history(world, api_client, persona):
    history = measure(api_client(world.users[persona]), f"{API}{world.busy.pk}/history/")
    assert len(history.response.json()) >= 20
    check(persona, [("api history", history)])


@pytest.mark.parametrize("mode", SEARCH_MODES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_api_search_costs_what_the_list_costs(world, api_client, monkeypatch, persona, mode):
    client = api_client(world.users[persona])
    word = search_mode(monkeypatch, mode)
    technician = world.users["technician"].pk
    unsearched = measure(client, f"{API}?page_size=100")
    searched = measure(client, f"{API}?search={word}&page_size=100")
    filtered = measure(client, f"{API}?search={word}&status=new,in_progress&assignee={technician}")
    second_page = measure(client, f"{API}?search={COMMON_WORD}&page=2&page_size=10")
    for measured in (searched, filtered, second_page):
        api_rows(measured)
        assert_mode(measured, mode)
    # The count the search made is the page's count, and the right one (rows are loaded apart).
    assert searched.response.json()["count"] == len(searched.response.json()["results"])

    for measured in (searched, filtered, second_page):
        assert_costs_the_same(measured, unsearched)
    check(
        persona,
        [
            ("api list", unsearched),
            ("api list search", searched),
            ("api list search filtered", filtered),
            ("api list search", second_page),
        ],
    )


# --- Pages --------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_page_list(world, persona):
    client = page_client(world.users[persona])
    default_view = measure(client, "/tickets/")  # the role's first quick view
    everything = measure(client, "/tickets/?view=all")
    second_page = measure(client, "/tickets/?view=all&page=2&page_size=10")
    for measured in (default_view, everything, second_page):
        page_rows(measured)
    check(
        persona,
        [
            ("page list", default_view),
            ("page list", everything),
            ("page list page 2", second_page),
        ],
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_page_detail(world, persona):
    card = measure(page_client(world.users[persona]), f"/tickets/{world.busy.pk}/")
    assert len(card.response.context["comments"]) >= 15
    assert len(card.response.context["timeline"].entries) >= 20
    check(persona, [("page detail", card)])


@pytest.mark.parametrize("mode", SEARCH_MODES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_page_search_costs_what_the_list_costs(world, monkeypatch, persona, mode):
    client = page_client(world.users[persona])
    word = search_mode(monkeypatch, mode)
    unsearched = measure(client, "/tickets/?view=all")
    searched = measure(client, f"/tickets/?view=all&search={word}&page_size=100")
    with_status = measure(client, f"/tickets/?view=all&search={word}&status=in_progress")
    in_default_view = measure(client, f"/tickets/?search={word}")
    second_page = measure(client, f"/tickets/?view=all&search={COMMON_WORD}&page=2&page_size=10")
    for measured in (searched, with_status, in_default_view, second_page):
        page_rows(measured)
        assert_mode(measured, mode)
    found = searched.response.context["page"]
    assert found.paginator.count == len(found.object_list)

    for measured in (searched, with_status, in_default_view, second_page):
        assert_costs_the_same(measured, unsearched)
    check(
        persona,
        [
            ("page list", unsearched),
            ("page list search", searched),
            ("page list search", with_status),
            ("page list search", in_default_view),
            ("page list search", second_page),
        ],
    )
