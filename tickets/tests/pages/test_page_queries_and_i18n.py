"""The pages' SQL cost and their languages (SPEC §6, §8, §9): the list's query count does not
depend on the page size, the card's not on the number of comments and history entries; every
page renders in Russian (the default) without English UI strings and in English after the
language switcher; the Russian catalogue is complete."""

from __future__ import annotations

import ast
import gettext
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from tickets import services
from tickets.models import Ticket
from tickets.tests.factories import AttachmentFactory, CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db

PO_FILE = Path(settings.BASE_DIR) / "locale" / "ru" / "LC_MESSAGES" / "django.po"
MO_FILE = PO_FILE.with_suffix(".mo")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def count_queries(client: Client, path: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params or {})
    assert response.status_code == 200, path
    return len(queries)


def txt(name: str = "акт.txt") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"text\n", content_type="text/plain")


# --- Query counts ------------------------------------------------------------------------------


@pytest.fixture
def many_tickets(requester, technician, manager):
    """120 tickets of the requester, half assigned, each with a public comment, an internal
    note and two files (one on the note)."""
    for number in range(120):
        ticket = TicketFactory(
            creator=requester,
            status="in_progress" if number % 2 else "new",
            assignee=technician if number % 2 else None,
        )
        CommentFactory(ticket=ticket, author=requester)
        note = CommentFactory(ticket=ticket, author=manager, internal=True)
        AttachmentFactory(ticket=ticket, uploaded_by=requester)
        AttachmentFactory(ticket=ticket, comment=note, uploaded_by=manager)
    return Ticket.objects.count()


# The list's own queries: the count, one page of rows with people and visible comment/file
# counts, and the technicians of the assignee filter (dispatchers); plus the session and the
# user of every page. SPEC §9: at most 6 per list request.
LIST_QUERY_LIMIT = 6


@pytest.mark.parametrize("persona", ["manager", "requester", "technician"])
def test_list_query_count_does_not_depend_on_the_page_size(many_tickets, persona, request):
    client = logged_in(request.getfixturevalue(persona))

    small = count_queries(client, "/tickets/", {"view": "all", "page_size": 10})
    large = count_queries(client, "/tickets/", {"view": "all", "page_size": 100})
    last_page = count_queries(client, "/tickets/", {"view": "all", "page_size": 100, "page": 2})

    assert small == large == last_page
    assert large <= LIST_QUERY_LIMIT


def test_list_page_size_100_really_shows_100_rows_with_their_counts(many_tickets, manager):
    html = logged_in(manager).get("/tickets/", {"view": "all", "page_size": 100}).content.decode()

    assert len(re.findall(r'<a href="/tickets/\d+/" class="fw-semibold">', html)) == 100
    # Each row shows its comments and files as the manager may see them (the note too).
    assert html.count('aria-label="Комментарии"></i> 2') == 100
    assert html.count('aria-label="Файлы"></i> 2') == 100


def test_list_counts_hide_internal_notes_from_the_requester(many_tickets, requester):
    html = logged_in(requester).get("/tickets/", {"page_size": 100}).content.decode()

    assert html.count('aria-label="Комментарии"></i> 1') == 100
    assert html.count('aria-label="Файлы"></i> 1') == 100


def test_searching_and_filtering_the_list_does_not_add_queries_per_row(many_tickets, manager):
    client = logged_in(manager)
    params = {"view": "all", "search": "принтер", "status": "new,in_progress", "ordering": "-id"}

    small = count_queries(client, "/tickets/", {**params, "page_size": 10})
    large = count_queries(client, "/tickets/", {**params, "page_size": 100})

    assert small == large <= LIST_QUERY_LIMIT


def _busy_ticket(requester, technician, manager, *, comments: int) -> Ticket:
    """A ticket in progress with `comments` comments (a third of them internal notes, every
    fifth with a file) and about as many history entries from holds and resumes."""
    ticket = services.ticket_create(
        actor=requester, title="Сломался принтер", description="Мнёт бумагу", files=[txt()]
    )
    services.ticket_apply_action(actor=manager, ticket=ticket, action="assign", assignee=technician)
    services.ticket_apply_action(actor=technician, ticket=ticket, action="accept")
    for number in range(comments):
        comment = services.comment_add(
            actor=technician, ticket=ticket, text=f"Запись {number}", internal=number % 3 == 0
        )
        if number % 5 == 0:
            services.attachment_add(
                actor=technician, ticket=ticket, files=[txt(f"фото-{number}.txt")], comment=comment
            )
        if number % 2 == 0:
            action = "hold" if number % 4 == 0 else "resume"
            services.ticket_apply_action(
                actor=technician, ticket=ticket, action=action, reason="Жду запчасть"
            )
    return ticket


# The card: the ticket with people and counts, the comments with their files, the files, the
# timeline (ticket, comment and file history), the technicians of the assign form; plus the
# session and the user. SPEC §9 allows 10 per detail request; the page reads the session too.
CARD_QUERY_LIMIT = 11


@pytest.mark.parametrize("persona", ["manager", "technician", "requester"])
def test_card_query_count_does_not_grow_with_comments_and_history(
    requester, technician, manager, persona, request
):
    few = _busy_ticket(requester, technician, manager, comments=5)
    many = _busy_ticket(requester, technician, manager, comments=40)
    assert (few.comments.count(), many.comments.count()) == (5, 40)
    assert many.history.count() >= 20 > few.history.count()
    client = logged_in(request.getfixturevalue(persona))

    small = count_queries(client, f"/tickets/{few.pk}/")
    large = count_queries(client, f"/tickets/{many.pk}/")

    assert small == large
    assert large <= CARD_QUERY_LIMIT


def test_card_with_40_comments_shows_them_all(requester, technician, manager):
    ticket = _busy_ticket(requester, technician, manager, comments=40)

    staff = logged_in(manager).get(f"/tickets/{ticket.pk}/").content.decode()
    own = logged_in(requester).get(f"/tickets/{ticket.pk}/").content.decode()

    assert staff.count('id="comment-') == 40
    internal = len([n for n in range(40) if n % 3 == 0])
    assert own.count('id="comment-') == 40 - internal
    assert staff.count('class="timeline-entry') > own.count('class="timeline-entry') > 40


# --- Languages -----------------------------------------------------------------------------


class VisibleText(HTMLParser):
    """The text a person sees or hears on a page: text nodes and the attributes read aloud
    or shown (aria-label, title, placeholder, alt, confirmations, button values)."""

    ATTRIBUTES = ("aria-label", "title", "placeholder", "alt", "data-confirm")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        values = dict(attrs)
        for name in self.ATTRIBUTES:
            if values.get(name):
                self.texts.append(values[name].strip())
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.texts.append(values["value"].strip())

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        text = " ".join(data.split())
        if text and not self._skip:
            self.texts.append(text)


def visible_texts(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    parser.close()
    return parser.texts


@dataclass
class Page:
    name: str
    client: Client
    path: str
    status: int
    english: tuple[str, ...]  # UI strings of the page, in English
    method: str = "get"
    data: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    follow: bool = False
    # False for pages made of Django's and third-party apps' strings (the admin), which are
    # checked for the phrases above only.
    own_strings_only: bool = True

    def render(self) -> str:
        send = getattr(self.client, self.method)
        response = send(self.path, self.data, headers=self.headers, follow=self.follow)
        assert response.status_code == self.status, (self.name, response.status_code)
        return response.content.decode()


SIGNED_IN_LAYOUT = ("Tickets", "New ticket", "Log out", "Switch")
EVERY_EVENT = (
    "created the ticket",
    "edited the ticket",
    "assigned the technician",
    "accepted the ticket",
    "declined the ticket",
    "put the work on hold",
    "resumed the work",
    "completed the work",
    "verified and closed the ticket",
    "returned the ticket to work",
    "cancelled the ticket",
    "commented",
    "wrote an internal note",
    "attached",
    "removed",
)


@pytest.fixture
def full_history_ticket(requester, technician, manager):
    """A ticket that went through every kind of history entry, ending cancelled."""
    act = services.ticket_apply_action
    ticket = services.ticket_create(
        actor=requester,
        title="Течёт кран",
        description="В переговорной",
        files=[txt("схема.txt")],
    )
    services.ticket_update(actor=requester, ticket=ticket, priority="high", title="Течёт кран!")
    act(actor=manager, ticket=ticket, action="assign", assignee=technician)
    act(actor=technician, ticket=ticket, action="decline", reason="Не мой участок")
    act(actor=manager, ticket=ticket, action="assign", assignee=technician)
    act(actor=technician, ticket=ticket, action="accept")
    services.comment_add(actor=requester, ticket=ticket, text="Капает сильнее")
    services.comment_add(actor=technician, ticket=ticket, text="Нужна прокладка", internal=True)
    act(actor=technician, ticket=ticket, action="hold", reason="Жду прокладку")
    act(actor=manager, ticket=ticket, action="resume")
    act(actor=technician, ticket=ticket, action="complete", resolution="Заменил прокладку")
    act(actor=manager, ticket=ticket, action="close")
    act(actor=manager, ticket=ticket, action="reopen", reason="Снова течёт")
    extra = services.attachment_add(actor=technician, ticket=ticket, files=[txt("лишний.txt")])
    services.attachment_delete(actor=technician, attachment=extra[0])
    act(actor=manager, ticket=ticket, action="cancel", reason="Кран заменили целиком")
    return ticket


@pytest.fixture
def pages(requester, technician, manager, admin_user, full_history_ticket, settings):
    settings.ROOT_URLCONF = "techticket.tests.urls_for_tests"
    working = services.ticket_create(
        actor=requester, title="Нет сети", description="Кабинет 5", files=[txt()]
    )
    services.ticket_apply_action(
        actor=manager, ticket=working, action="assign", assignee=technician
    )
    closed = TicketFactory(creator=requester, status="closed", assignee=technician)
    locked_out = "someone"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post("/accounts/login/", {"username": locked_out, "password": "wrong"})
    as_requester, as_technician, as_manager = (
        logged_in(requester),
        logged_in(technician),
        logged_in(manager),
    )
    card_words = ("History", "Comments", "Files", "Creator", "Assignee", "Created", "Updated")
    return [
        Page("home", Client(), "/", 200, ("Log in", "Register")),
        Page("login", Client(), "/accounts/login/", 200, ("Log in", "Username", "Password")),
        Page(
            "register",
            Client(),
            "/accounts/register/",
            200,
            ("Register", "Username", "Email", "First name", "Last name", "Password again"),
        ),
        Page(
            "list",
            as_requester,
            "/tickets/",
            200,
            (
                *SIGNED_IN_LAYOUT,
                "Search",
                "Status",
                "Priority",
                "Category",
                "Created by me",
                "Find",
                "Reset",
                "tickets found",
                "Title",
            ),
        ),
        Page(
            "list manager",
            as_manager,
            "/tickets/",
            200,
            ("Unassigned", "Anyone", "Nobody", "Created from", "Created until"),
            data={"view": "all", "ordering": "priority"},
        ),
        Page(
            "list with a bad filter",
            as_manager,
            "/tickets/",
            400,
            ("Nothing matches these filters",),
            data={"created_after": "вчера"},
        ),
        Page(
            "card with every kind of history entry",
            as_manager,
            f"/tickets/{full_history_ticket.pk}/",
            200,
            (*SIGNED_IN_LAYOUT, *card_words, *EVERY_EVENT, "Internal note", "Cancelled"),
        ),
        Page(
            "card of the requester",
            as_requester,
            f"/tickets/{working.pk}/",
            200,
            (*card_words, "Add comment", "Upload", "Edit", "No comments yet."),
        ),
        Page(
            "card of the technician",
            as_technician,
            f"/tickets/{working.pk}/",
            200,
            ("Actions", "Accept", "Decline", "Reason", "Internal note (staff only)"),
        ),
        Page(
            "card of the manager",
            as_manager,
            f"/tickets/{working.pk}/",
            200,
            ("Assign", "Technician", "Cancel ticket", "Assigned"),
        ),
        Page(
            "card with a message",
            as_requester,
            f"/tickets/{working.pk}/comments/",
            200,
            ("Your comment is added.",),
            method="post",
            data={"text": "Уточнение"},
            follow=True,
        ),
        Page(
            "create",
            as_requester,
            "/tickets/new/",
            200,
            ("New ticket", "Title", "Description", "Category", "Priority", "Create ticket"),
        ),
        Page(
            "edit",
            as_requester,
            f"/tickets/{working.pk}/edit/",
            200,
            ("Edit ticket", "Title", "Description", "Save", "Cancel"),
        ),
        Page(
            "profile",
            as_requester,
            "/accounts/profile/",
            200,
            ("Profile", "Username", "Role", "Department", "Change password", "Requester"),
        ),
        Page(
            "password change",
            as_requester,
            "/accounts/password/",
            200,
            ("Change password", "Current password", "New password again"),
        ),
        Page("404", as_requester, "/tickets/999999/", 404, ("Page not found",)),
        Page("403", as_requester, f"/tickets/{closed.pk}/edit/", 403, ("Access denied",)),
        Page(
            "400",
            Client(raise_request_exception=False),
            "/tickets/",
            400,
            ("Bad request",),
            headers={"host": "evil.example.com"},
        ),
        Page(
            "403 csrf",
            Client(enforce_csrf_checks=True),
            "/accounts/login/",
            403,
            ("The form has expired",),
            method="post",
        ),
        Page(
            "500",
            Client(raise_request_exception=False),
            "/explode/",
            500,
            ("Something went wrong on our side",),
        ),
        Page(
            "admin",
            logged_in(admin_user),
            "/admin/",
            200,
            ("Administration", "Recent actions", "View site"),
            own_strings_only=False,
        ),
        Page(
            "429",
            Client(),
            "/accounts/login/",
            429,
            ("Too many failed logins", "Go to the start page"),
            method="post",
            data={"username": locked_out, "password": "wrong"},
        ),
        Page(
            "form errors",
            as_requester,
            "/tickets/new/",
            400,
            ("This field is required",),
            method="post",
        ),
    ]


def switch_language(client: Client, language: str) -> None:
    """What the language switcher in the navigation bar posts."""
    data = {"language": language, "next": "/"}
    if client.handler.enforce_csrf_checks:
        client.get("/accounts/register/")
        data["csrfmiddlewaretoken"] = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post("/i18n/setlang/", data)
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == language


def _data_words() -> set[str]:
    """Words of the test data that are Latin in both languages: logins, e-mail addresses,
    file extensions, the product name, the name of the language English in English."""
    words = {"Tech_ticket", "English", "txt"}
    for username, email in User.objects.values_list("username", "email"):
        words |= {username, email}
    return words


def untranslated(russian: str, english: str) -> list[str]:
    """Latin texts that stay the same after switching to English: English in the Russian page."""
    data = sorted(_data_words(), key=len, reverse=True)
    english_texts = set(visible_texts(english))
    left = []
    for text in visible_texts(russian):
        if text not in english_texts:
            continue
        stripped = text
        for word in data:
            stripped = stripped.replace(word, "")
        if re.search(r"[A-Za-z]{2,}", stripped):
            left.append(text)
    return left


def test_every_page_is_russian_by_default_and_english_after_switching(pages):
    for page in pages:
        russian = page.render()
        russian_text = "\n".join(visible_texts(russian))
        assert re.search(r'<html lang="ru"[ >]', russian), page.name
        for phrase in page.english:
            assert phrase not in russian_text, f"{page.name}: {phrase!r} untranslated"

        switch_language(page.client, "en")
        english = page.render()
        switch_language(page.client, "ru")
        english_text = "\n".join(visible_texts(english))
        assert re.search(r'<html lang="en"[ >]', english), page.name
        for phrase in page.english:
            assert phrase in english_text, f"{page.name}: {phrase!r} missing in English"
        if page.own_strings_only:
            left = set(untranslated(russian, english))
            assert left == set(), f"{page.name}: English in the Russian page"


def test_breadcrumb_label_is_translated(requester_client, requester):
    ticket = TicketFactory(creator=requester)

    pages = [
        requester_client.get(f"/tickets/{ticket.pk}/").content.decode(),
        requester_client.get(f"/tickets/{ticket.pk}/edit/").content.decode(),
    ]

    for html in pages:
        assert 'aria-label="breadcrumb"' not in html


def test_filter_errors_name_the_field_in_the_users_language(manager_client):
    response = manager_client.get("/tickets/", {"created_after": "вчера"})

    assert response.status_code == 400
    text = "\n".join(visible_texts(response.content.decode()))
    assert "created_after" not in text


def test_flash_message_close_button_is_translated(requester_client, requester):
    ticket = TicketFactory(creator=requester)

    response = requester_client.post(
        f"/tickets/{ticket.pk}/comments/", {"text": "Уточнение"}, follow=True
    )

    html = response.content.decode()
    assert "Комментарий добавлен." in html
    assert 'aria-label="Close"' not in html


# --- The Russian catalogue ---------------------------------------------------------------------


@dataclass
class PoEntry:
    line: int
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)


_PO_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$')


def parse_po(text: str) -> list[PoEntry]:
    """The active entries of a PO file (obsolete `#~` ones left out)."""
    entries: list[PoEntry] = []
    entry, target = None, None

    def finish():
        if entry is not None and target is not None:
            entries.append(entry)

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            entry, target = None, None
            continue
        if line.startswith("#~"):
            continue
        if entry is None:
            entry = PoEntry(line=number)
        if line.startswith("#,"):
            entry.flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            continue
        if line.startswith("#"):
            continue
        match = _PO_KEYWORD.match(line)
        if match:
            keyword, index, literal = match.groups()
            value = ast.literal_eval(literal)
            if keyword.startswith("msgstr"):
                target = ("msgstr", int(index or 0))
                entry.msgstr[target[1]] = value
            else:
                target = (keyword, None)
                setattr(entry, keyword, value)
            continue
        assert line.startswith('"'), f"line {number}: cannot read {raw!r}"
        value = ast.literal_eval(line)
        if target[0] == "msgstr":
            entry.msgstr[target[1]] += value
        else:
            setattr(entry, target[0], getattr(entry, target[0]) + value)
    finish()
    return entries


PLACEHOLDER = re.compile(r"%\((\w+)\)[sdfi]|\{(\w+)\}")


def placeholders(text: str) -> set[str]:
    return {a or b for a, b in PLACEHOLDER.findall(text)}


@pytest.fixture(scope="module")
def catalogue() -> list[PoEntry]:
    entries = parse_po(PO_FILE.read_text(encoding="utf-8"))
    assert entries[0].msgid == "", "the header comes first"
    return entries


def test_po_parser_reads_plurals_contexts_and_continuation_lines():
    entries = parse_po(
        '# comment\nmsgid ""\nmsgstr ""\n"Language: ru\\n"\n\n'
        '#, fuzzy, python-format\nmsgctxt "feminine"\nmsgid "New"\nmsgstr "Новая"\n\n'
        'msgid "%(n)d file"\nmsgid_plural "%(n)d files"\nmsgstr[0] "%(n)d файл"\n'
        'msgstr[1] "%(n)d файла"\nmsgstr[2] ""\n"%(n)d файлов"\n\n'
        '#~ msgid "Old"\n#~ msgstr "Старое"\n'
    )

    assert [e.msgid for e in entries] == ["", "New", "%(n)d file"]
    assert entries[0].msgstr == {0: "Language: ru\n"}
    assert (entries[1].msgctxt, entries[1].flags) == ("feminine", {"fuzzy", "python-format"})
    assert entries[2].msgstr == {0: "%(n)d файл", 1: "%(n)d файла", 2: "%(n)d файлов"}


def test_every_russian_message_is_translated_and_none_is_fuzzy(catalogue):
    header, *messages = catalogue
    plural_forms = re.search(r"nplurals=(\d+)", header.msgstr[0])
    assert plural_forms and plural_forms.group(1) == "3", "Russian has three plural forms"
    assert "fuzzy" not in header.flags
    assert len(messages) > 100

    problems = []
    for entry in messages:
        where = f"line {entry.line}: {entry.msgid!r}"
        if "fuzzy" in entry.flags:
            problems.append(f"{where} is fuzzy")
        expected_forms = {0, 1, 2} if entry.msgid_plural is not None else {0}
        if set(entry.msgstr) != expected_forms:
            problems.append(f"{where} has forms {sorted(entry.msgstr)}")
        if not all(value.strip() for value in entry.msgstr.values()):
            problems.append(f"{where} has an empty translation")
    assert problems == []


def test_russian_translations_keep_the_placeholders(catalogue):
    problems = []
    for entry in catalogue[1:]:
        source = placeholders(entry.msgid) | placeholders(entry.msgid_plural or "")
        for index, value in entry.msgstr.items():
            got = placeholders(value)
            # A plural form may leave the number out ("один файл"), never add a name.
            kept = got == source if entry.msgid_plural is None else got <= source
            if not kept:
                problems.append(f"line {entry.line} [{index}]: {entry.msgid!r} → {value!r}")
    assert problems == []


def test_compiled_catalogue_matches_the_po_file(catalogue):
    with MO_FILE.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog

    stale = []
    for entry in catalogue[1:]:
        key = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            if compiled.get(key) != entry.msgstr[0]:
                stale.append(entry.msgid)
        elif any(compiled.get((key, n)) != value for n, value in entry.msgstr.items()):
            stale.append(entry.msgid)
    assert stale == [], "django.mo is out of date: run compilemessages"
