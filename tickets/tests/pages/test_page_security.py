"""The security baseline of the pages (SPEC §7.1, §4.5, §5): CSRF on every state-changing form,
no state change on GET, user-written text shown as text everywhere, security headers and no
inline script on every page, login throttling, sessions at login and at a password change,
and downloads that never render in the site's origin."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from io import BytesIO

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.html import escape
from PIL import Image

from accounts.models import User
from accounts.tests.factories import TEST_PASSWORD, AdminFactory, TechnicianFactory
from tickets import services
from tickets.models import Attachment, Comment, Ticket
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
NEW_PASSWORD = "Brand-New-Passphrase-91"

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
TEMPLATE_EXPRESSION = "{{7*7}}"
TEMPLATE_TAG = "{% debug %}"
PAYLOADS = (SCRIPT, IMG, TEMPLATE_EXPRESSION, TEMPLATE_TAG)
ALL_PAYLOADS = " ".join(PAYLOADS)


def csrf_client(user=None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def txt_upload(name: str = "notes.txt", content: bytes = b"replaced the roller\n"):
    return SimpleUploadedFile(name, content, content_type="text/plain")


def png_upload(name: str = "фото.png"):
    buffer = BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def ticket_state(ticket_id: int) -> tuple:
    """What a refused request must leave as it was."""
    return (
        Ticket.objects.filter(pk=ticket_id)
        .values_list("status", "version", "assignee_id", "title")
        .first(),
        Comment.objects.filter(ticket_id=ticket_id).count(),
        Attachment.objects.filter(ticket_id=ticket_id).count(),
        Ticket.history.filter(id=ticket_id).count(),
        Comment.history.filter(ticket_id=ticket_id).count(),
        Attachment.history.filter(ticket_id=ticket_id).count(),
    )


# --- CSRF on every state-changing form -----------------------------------------------------


@dataclass
class Form:
    """One state-changing form: who posts it, where, what, and how to see whether it acted."""

    user: User | None
    url: str
    data: dict
    state: callable  # () → a value that changes exactly when the form has acted
    page: str  # a GET that gives the browser its CSRF cookie


@pytest.fixture
def forms(requester, technician, manager):
    """Every state-changing form of the site, each on data where it would succeed."""
    spare = TechnicianFactory(username="spare_technician")

    def ticket(status: str, **fields):
        assignee = None if status == "new" else technician
        return TicketFactory(creator=requester, status=status, assignee=assignee, **fields)

    def action(user, status, name, **data):
        t = ticket(status)
        return Form(
            user,
            f"/tickets/{t.pk}/{name}/",
            {"version": t.version, **data},
            lambda: ticket_state(t.pk),
            f"/tickets/{t.pk}/",
        )

    open_ticket = ticket("in_progress")
    attachment = services.attachment_add(
        actor=requester, ticket=open_ticket, files=[txt_upload("to-remove.txt")]
    )[0]
    card = f"/tickets/{open_ticket.pk}/"
    return {
        "create": Form(
            requester,
            "/tickets/new/",
            {
                "title": "Нет сети",
                "description": "Совсем",
                "category": "incident",
                "priority": "normal",
            },
            lambda: Ticket.objects.count(),
            "/tickets/new/",
        ),
        "edit": Form(
            requester,
            f"/tickets/{open_ticket.pk}/edit/",
            {
                "title": "Изменённый заголовок",
                "description": open_ticket.description,
                "category": "repair",
                "priority": "high",
                "version": open_ticket.version,
            },
            lambda: ticket_state(open_ticket.pk),
            f"/tickets/{open_ticket.pk}/edit/",
        ),
        "assign": action(manager, "new", "assign", assignee=spare.pk),
        "accept": action(technician, "assigned", "accept"),
        "decline": action(technician, "assigned", "decline", reason="Не мой профиль"),
        "hold": action(technician, "in_progress", "hold", reason="Жду запчасть"),
        "resume": action(technician, "on_hold", "resume"),
        "complete": action(technician, "in_progress", "complete", resolution="Готово"),
        "close": action(manager, "resolved", "close"),
        "reopen": action(manager, "closed", "reopen", reason="Снова сломалось"),
        "cancel": action(requester, "new", "cancel", reason="Само прошло"),
        "comment": Form(
            requester,
            f"/tickets/{open_ticket.pk}/comments/",
            {"text": "Уточнение"},
            lambda: ticket_state(open_ticket.pk),
            card,
        ),
        "upload": Form(
            requester,
            f"/tickets/{open_ticket.pk}/attachments/",
            {"file": [txt_upload()]},
            lambda: ticket_state(open_ticket.pk),
            card,
        ),
        "attachment_delete": Form(
            requester,
            f"/tickets/attachments/{attachment.pk}/delete/",
            {},
            lambda: ticket_state(open_ticket.pk),
            card,
        ),
        "logout": Form(
            requester,
            "/accounts/logout/",
            {},
            lambda: Session.objects.count(),
            "/tickets/",
        ),
        "language": Form(
            requester,
            "/i18n/setlang/",
            {"language": "en", "next": "/tickets/"},
            None,  # the cookie of the response tells
            "/tickets/",
        ),
        "register": Form(
            None,
            "/accounts/register/",
            {
                "username": "newcomer",
                "email": "newcomer@example.com",
                "password": NEW_PASSWORD,
                "password_confirm": NEW_PASSWORD,
            },
            lambda: User.objects.count(),
            "/accounts/register/",
        ),
        "login": Form(
            None,
            LOGIN,
            {"username": requester.username, "password": TEST_PASSWORD},
            lambda: Session.objects.count(),
            LOGIN,
        ),
        "profile": Form(
            requester,
            "/accounts/profile/",
            {"email": "new-address@example.com", "first_name": "Новое", "last_name": "Имя"},
            lambda: User.objects.filter(pk=requester.pk).values_list("email", "first_name").get(),
            "/accounts/profile/",
        ),
        "password_change": Form(
            requester,
            "/accounts/password/",
            {
                "old_password": TEST_PASSWORD,
                "password": NEW_PASSWORD,
                "password_confirm": NEW_PASSWORD,
            },
            lambda: User.objects.get(pk=requester.pk).password,
            "/accounts/password/",
        ),
    }


FORM_NAMES = (
    "create",
    "edit",
    "assign",
    "accept",
    "decline",
    "hold",
    "resume",
    "complete",
    "close",
    "reopen",
    "cancel",
    "comment",
    "upload",
    "attachment_delete",
    "logout",
    "language",
    "register",
    "login",
    "profile",
    "password_change",
)


@pytest.mark.parametrize("name", FORM_NAMES)
def test_form_without_csrf_token_is_refused_and_changes_nothing(forms, name):
    form = forms[name]
    client = csrf_client(form.user)
    assert client.get(form.page).status_code == 200
    assert settings.CSRF_COOKIE_NAME in client.cookies, "the page gives the browser its token"
    before = form.state() if form.state else None

    refused = client.post(form.url, form.data)

    assert refused.status_code == 403
    assert "errors/403_csrf.html" in [t.name for t in refused.templates]
    assert settings.LANGUAGE_COOKIE_NAME not in refused.cookies
    if form.state:
        assert form.state() == before
    if form.user is not None:
        assert client.get("/tickets/").status_code == 200, "the session survived"

    # The same form with the token acts: the refusal above was the missing token.
    data = {**form.data, "csrfmiddlewaretoken": client.cookies[settings.CSRF_COOKIE_NAME].value}
    for value in data.values():
        if isinstance(value, list):
            for upload in value:
                upload.seek(0)
    accepted = client.post(form.url, data)
    assert accepted.status_code == 302, accepted.content[:300]
    if form.state:
        assert form.state() != before
    else:
        assert accepted.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"


# --- GET never changes state -----------------------------------------------------------------

ACTIONS = ("assign", "accept", "decline", "hold", "resume", "complete", "close", "reopen", "cancel")


@pytest.mark.parametrize("action", ACTIONS)
def test_get_on_an_action_url_is_405_and_changes_nothing(manager_client, technician, action):
    ticket = TicketFactory(status="in_progress", assignee=technician)
    before = ticket_state(ticket.pk)

    response = manager_client.get(
        f"/tickets/{ticket.pk}/{action}/", {"assignee": technician.pk, "reason": "через GET"}
    )

    assert response.status_code == 405
    assert "POST" in response["Allow"]
    assert ticket_state(ticket.pk) == before


def test_get_on_other_form_urls_changes_nothing(requester, requester_client):
    ticket = TicketFactory(creator=requester, status="new")
    attachment = services.attachment_add(actor=requester, ticket=ticket, files=[txt_upload()])[0]
    before = ticket_state(ticket.pk)

    answers = {
        path: requester_client.get(path, {"text": "через GET", "language": "en"}).status_code
        for path in (
            f"/tickets/{ticket.pk}/comments/",
            f"/tickets/{ticket.pk}/attachments/",
            f"/tickets/attachments/{attachment.pk}/delete/",
            "/accounts/logout/",
        )
    }
    setlang = requester_client.get("/i18n/setlang/", {"language": "en", "next": "/tickets/"})

    assert set(answers.values()) == {405}, answers
    assert ticket_state(ticket.pk) == before
    assert Attachment.objects.filter(pk=attachment.pk).exists()
    assert settings.LANGUAGE_COOKIE_NAME not in setlang.cookies
    assert requester_client.get("/tickets/").status_code == 200, "still logged in"


# --- User-written text is shown as text --------------------------------------------------------


class MarkupScanner(HTMLParser):
    """The tags of a page: inline scripts, event-handler attributes, javascript: URLs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.inline_scripts: list[str] = []
        self.handlers: list[tuple[str, str]] = []
        self.js_urls: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name))
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.js_urls.append(value)
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self._in_inline_script = True
            self.inline_scripts.append("")

    def handle_data(self, data):
        if self._in_inline_script:
            self.inline_scripts[-1] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_inline_script = False


def scan(html: str) -> MarkupScanner:
    scanner = MarkupScanner()
    scanner.feed(html)
    scanner.close()
    return scanner


def assert_no_executable_markup(html: str, where: str) -> None:
    found = scan(html)
    assert found.inline_scripts == [], f"inline <script> on {where}"
    assert found.handlers == [], f"on…= attributes on {where}"
    assert found.js_urls == [], f"javascript: URLs on {where}"


def assert_shown_as_text(html: str, where: str, *, expect: tuple[str, ...] = PAYLOADS) -> None:
    """No payload is markup; each one in `expect` is visible as its literal text."""
    for raw in (SCRIPT, IMG):
        assert raw not in html, f"{raw} unescaped on {where}"
    assert "alert(1)</script>" not in html
    for payload in expect:
        assert escape(payload) in html, f"{payload} not shown literally on {where}"
    if TEMPLATE_EXPRESSION in expect:
        # Shown literally, never evaluated: the text around it is intact.
        assert "&gt; {{7*7}} {% debug %}" in html, f"template syntax evaluated on {where}"
    assert "sql_queries" not in html, "{% debug %} ran"
    assert_no_executable_markup(html, where)


@pytest.fixture
def hostile_ticket(requester, technician, manager):
    """A ticket where every piece of user-written text is a payload, with every kind of entry."""
    for user, (first, last) in (
        (requester, (SCRIPT, IMG)),
        (technician, (TEMPLATE_EXPRESSION, TEMPLATE_TAG)),
    ):
        user.first_name, user.last_name = first, last
        user.save(update_fields=["first_name", "last_name"])
    ticket = services.ticket_create(
        actor=requester,
        title=f"Старый {SCRIPT}",
        description=f"{ALL_PAYLOADS}\nвторая строка {SCRIPT}",
        files=[txt_upload(f"{IMG}.txt"), txt_upload(f"{TEMPLATE_EXPRESSION}.txt")],
    )
    services.ticket_update(actor=requester, ticket=ticket, title=ALL_PAYLOADS)
    services.comment_add(actor=requester, ticket=ticket, text=f"Комментарий {ALL_PAYLOADS}")
    act = services.ticket_apply_action
    act(actor=manager, ticket=ticket, action="assign", assignee=technician)
    act(actor=technician, ticket=ticket, action="accept")
    services.comment_add(
        actor=technician, ticket=ticket, text=f"Заметка {ALL_PAYLOADS}", internal=True
    )
    act(actor=technician, ticket=ticket, action="hold", reason=f"Пауза {ALL_PAYLOADS}")
    act(actor=technician, ticket=ticket, action="resume")
    act(actor=technician, ticket=ticket, action="complete", resolution=f"Итог {ALL_PAYLOADS}")
    act(actor=manager, ticket=ticket, action="reopen", reason=f"Возврат {ALL_PAYLOADS}")
    removed = services.attachment_add(
        actor=technician, ticket=ticket, files=[txt_upload(f"{IMG} удалён.txt")]
    )[0]
    services.attachment_delete(actor=manager, attachment=removed)
    ticket.refresh_from_db()
    return ticket


def test_hostile_text_is_stored_as_written(hostile_ticket):
    names = set(hostile_ticket.attachments.values_list("name", flat=True))
    assert hostile_ticket.title == ALL_PAYLOADS
    assert names == {f"{IMG}.txt", f"{TEMPLATE_EXPRESSION}.txt"}
    assert hostile_ticket.creator.first_name == SCRIPT


def test_card_shows_user_written_text_as_text(hostile_ticket, manager_client, requester_client):
    url = f"/tickets/{hostile_ticket.pk}/"

    staff_html = manager_client.get(url).content.decode()
    requester_html = requester_client.get(url).content.decode()

    assert_shown_as_text(staff_html, "the card (manager)")
    assert_shown_as_text(requester_html, "the card (requester)")
    assert f"#{hostile_ticket.pk} {escape(ALL_PAYLOADS)}</h1>" in staff_html
    assert f"#{hostile_ticket.pk} 49" not in staff_html
    for text in ("Комментарий", "Заметка", "Итог", "Возврат", "Пауза"):
        assert f"{text} {escape(ALL_PAYLOADS)}" in staff_html, text
    assert f">{escape(IMG)}.txt</a>" in staff_html
    assert f">{TEMPLATE_EXPRESSION}.txt</a>" in staff_html
    assert f"{escape(IMG)} удалён.txt" in staff_html, "the timeline names the removed file"
    assert f"{escape(SCRIPT)} {escape(IMG)}" in staff_html, "the requester's name"


def test_list_shows_user_written_text_as_text_also_when_highlighting(
    hostile_ticket, manager_client, requester_client
):
    plain = manager_client.get("/tickets/", {"view": "all"}).content.decode()
    searched = manager_client.get("/tickets/", {"view": "all", "search": "alert"})
    own = requester_client.get("/tickets/").content.decode()

    assert_shown_as_text(plain, "the list")
    assert_shown_as_text(own, "the requester's list")
    html = searched.content.decode()
    assert searched.status_code == 200
    assert "<mark>alert</mark>" in html, "the search highlights its word"
    assert "&lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt;" in html
    assert_shown_as_text(html.replace("<mark>", "").replace("</mark>", ""), "the search results")


def test_search_box_and_filters_echo_the_query_as_text(manager_client):
    response = manager_client.get("/tickets/", {"search": f'"{SCRIPT}', "view": "all"})

    html = response.content.decode()
    assert response.status_code == 200
    assert f'value="{escape(chr(34) + SCRIPT)}"' in html
    assert_shown_as_text(html, "the search box", expect=())


def test_forms_show_user_written_text_as_text(hostile_ticket, requester_client):
    edit = requester_client.get(f"/tickets/{hostile_ticket.pk}/edit/").content.decode()
    profile = requester_client.get("/accounts/profile/").content.decode()

    assert f'value="{escape(ALL_PAYLOADS)}"' in edit
    assert_shown_as_text(edit, "the edit form")
    assert f'value="{escape(SCRIPT)}"' in profile
    assert_shown_as_text(profile, "the profile", expect=(SCRIPT, IMG))


def test_flash_messages_show_file_names_as_text(hostile_ticket, manager_client):
    attachment = hostile_ticket.attachments.get(name=f"{IMG}.txt")

    response = manager_client.post(f"/tickets/attachments/{attachment.pk}/delete/", follow=True)

    html = response.content.decode()
    assert response.status_code == 200
    assert f"{escape(IMG)}.txt" in html
    assert IMG not in html
    assert_no_executable_markup(html, "the card with a message")


def test_admin_pages_show_user_written_text_as_text(hostile_ticket, admin_client_, requester):
    comment = hostile_ticket.comments.order_by("pk").first()
    attachment = hostile_ticket.attachments.order_by("pk").first()
    pages = {
        "ticket list": "/admin/tickets/ticket/",
        "ticket": f"/admin/tickets/ticket/{hostile_ticket.pk}/change/",
        "ticket history": f"/admin/tickets/ticket/{hostile_ticket.pk}/history/",
        "comment list": "/admin/tickets/comment/",
        "comment": f"/admin/tickets/comment/{comment.pk}/change/",
        "attachment list": "/admin/tickets/attachment/",
        "attachment": f"/admin/tickets/attachment/{attachment.pk}/change/",
        "user list": "/admin/accounts/user/",
        "user": f"/admin/accounts/user/{requester.pk}/change/",
    }
    for where, url in pages.items():
        response = admin_client_.get(url)
        assert response.status_code == 200, where
        html = response.content.decode()
        for raw in (SCRIPT, IMG):
            assert raw not in html, f"{raw} unescaped on the admin {where}"
        assert escape(IMG) in html, f"the payload is not shown as text on the admin {where}"
        assert_no_executable_markup(html, f"the admin {where}")
        assert "sql_queries" not in html


# --- Headers and markup of every page ----------------------------------------------------------


@pytest.fixture
def every_page(requester, technician, manager, admin_user):
    """(name, client, path, expected status) for every kind of page of the site."""
    ticket = services.ticket_create(
        actor=requester,
        title="Сломался принтер",
        description="Мнёт бумагу",
        files=[png_upload(), txt_upload()],
    )
    services.ticket_apply_action(actor=manager, ticket=ticket, action="assign", assignee=technician)
    services.comment_add(actor=technician, ticket=ticket, text="Заметка", internal=True)
    closed = TicketFactory(creator=requester, status="closed", assignee=technician)
    anonymous, clients = Client(), {}
    for user in (requester, technician, manager, admin_user):
        clients[user.role] = Client()
        clients[user.role].force_login(user)
    card = f"/tickets/{ticket.pk}/"
    return [
        ("home", anonymous, "/", 200),
        ("login", anonymous, LOGIN, 200),
        ("register", anonymous, "/accounts/register/", 200),
        ("404 anonymous", anonymous, "/no-such-page/", 404),
        ("list", clients["user"], "/tickets/", 200),
        ("list manager", clients["manager"], "/tickets/?view=all&search=принтер", 200),
        ("list with a bad filter", clients["manager"], "/tickets/?status=broken", 400),
        ("create", clients["user"], "/tickets/new/", 200),
        ("card requester", clients["user"], card, 200),
        ("card technician", clients["technician"], card, 200),
        ("card manager", clients["manager"], card, 200),
        ("card admin", clients["admin"], card, 200),
        ("edit", clients["user"], f"/tickets/{ticket.pk}/edit/", 200),
        ("profile", clients["user"], "/accounts/profile/", 200),
        ("password change", clients["user"], "/accounts/password/", 200),
        ("404", clients["user"], "/tickets/999999/", 404),
        ("403", clients["user"], f"/tickets/{closed.pk}/edit/", 403),
        ("admin", clients["admin"], "/admin/", 200),
    ]


def assert_security_headers(response, where: str) -> None:
    csp = {
        directive.split()[0]: directive.split()[1:]
        for directive in response["Content-Security-Policy"].split(";")
        if directive.strip()
    }
    script_src = csp.get("script-src", csp.get("default-src"))
    assert script_src, where
    assert "'unsafe-inline'" not in script_src, where
    assert "'unsafe-eval'" not in script_src, where
    assert csp["default-src"] == ["'self'"], where
    assert csp["frame-ancestors"] == ["'none'"], where
    assert response["X-Frame-Options"] == "DENY", where
    assert response["Referrer-Policy"] == "same-origin", where
    assert response["X-Content-Type-Options"] == "nosniff", where


def test_every_page_sends_the_security_headers_and_no_inline_script(every_page):
    for where, client, path, status in every_page:
        response = client.get(path)
        assert response.status_code == status, where
        assert_security_headers(response, where)
        html = response.content.decode()
        assert "<html" in html, where
        assert_no_executable_markup(html, where)


def test_error_pages_send_the_security_headers_and_no_inline_script(settings):
    settings.ROOT_URLCONF = "techticket.tests.urls_for_tests"
    client = Client(raise_request_exception=False, enforce_csrf_checks=True)

    responses = {
        "403 csrf": client.post(LOGIN, {"username": "x", "password": "y"}),
        "500": client.get("/explode/"),
    }

    assert {where: r.status_code for where, r in responses.items()} == {"403 csrf": 403, "500": 500}
    for where, response in responses.items():
        assert_security_headers(response, where)
        assert_no_executable_markup(response.content.decode(), where)


def test_bad_request_page_sends_the_security_headers_and_no_inline_script():
    client = Client(raise_request_exception=False)

    response = client.get("/tickets/", headers={"host": "evil.example.com"})

    assert response.status_code == 400
    assert "errors/400.html" in [t.name for t in response.templates]
    assert_no_executable_markup(response.content.decode(), "400")
    assert_security_headers(response, "400")


def test_lockout_page_sends_the_security_headers_and_no_inline_script(requester):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        response = client.post(LOGIN, {"username": requester.username, "password": "wrong"})

    assert response.status_code == 429
    assert_security_headers(response, "429")
    assert_no_executable_markup(response.content.decode(), "429")


# --- Login throttling ------------------------------------------------------------------------


def test_sixth_login_after_five_failures_is_429_even_with_the_right_password(admin_user):
    client = Client()
    wrong = {"username": admin_user.username, "password": "not-the-password"}

    first_four = [client.post(LOGIN, wrong).status_code for _ in range(4)]
    fifth = client.post(LOGIN, wrong).status_code
    sixth = client.post(LOGIN, {"username": admin_user.username, "password": TEST_PASSWORD})

    assert first_four == [200] * 4
    assert fifth in (200, 429)
    assert sixth.status_code == 429
    assert "errors/429_login.html" in [t.name for t in sixth.templates]
    assert SESSION_KEY not in client.session
    assert client.get("/tickets/").status_code == 302, "not logged in"


def test_lockout_also_closes_the_admin_login(admin_user):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post(LOGIN, {"username": admin_user.username, "password": "wrong"})
    client = Client()

    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": admin_user.username, "password": TEST_PASSWORD, "next": "/admin/"},
    )

    assert response.status_code == 429
    assert SESSION_KEY not in client.session


def test_lockout_is_per_username(admin_user, requester):
    other_admin = AdminFactory(username="second_admin")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post(LOGIN, {"username": admin_user.username, "password": "wrong"})

    other = Client().post(LOGIN, {"username": requester.username, "password": TEST_PASSWORD})
    other_admin_login = Client().post(
        "/admin/login/?next=/admin/",
        {"username": other_admin.username, "password": TEST_PASSWORD, "next": "/admin/"},
    )

    assert other.status_code == 302
    assert (other_admin_login.status_code, other_admin_login["Location"]) == (302, "/admin/")


def test_failed_page_logins_do_not_log_the_password(requester, app_log):
    Client().post(LOGIN, {"username": requester.username, "password": "Very-Secret-Typo-77"})

    assert "Very-Secret-Typo-77" not in app_log()


# --- Sessions --------------------------------------------------------------------------------


def test_password_change_ends_the_other_sessions_and_keeps_this_one(requester):
    this, other = Client(), Client()
    for client in (this, other):
        credentials = {"username": requester.username, "password": TEST_PASSWORD}
        assert client.post(LOGIN, credentials).status_code == 302
    assert other.get("/tickets/").status_code == 200

    response = this.post(
        "/accounts/password/",
        {"old_password": TEST_PASSWORD, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert this.get("/tickets/").status_code == 200, "the session that changed it stays"
    logged_out = other.get("/tickets/")
    assert logged_out.status_code == 302
    assert logged_out["Location"].startswith(f"{LOGIN}?next=")
    requester.refresh_from_db()
    assert requester.check_password(NEW_PASSWORD)


def test_wrong_current_password_changes_nothing(requester, requester_client):
    before = User.objects.get(pk=requester.pk).password

    response = requester_client.post(
        "/accounts/password/",
        {"old_password": "wrong", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
    )

    assert response.status_code == 400
    assert User.objects.get(pk=requester.pk).password == before


def test_login_gives_a_new_session_key(requester):
    client = Client()
    anonymous_session = client.session
    anonymous_session["probe"] = "before login"
    anonymous_session.save()
    before = anonymous_session.session_key
    client.cookies[settings.SESSION_COOKIE_NAME] = before

    response = client.post(LOGIN, {"username": requester.username, "password": TEST_PASSWORD})

    assert response.status_code == 302
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert client.session[SESSION_KEY] == str(requester.pk)


def test_registration_logs_in_with_a_new_session_key():
    client = Client()
    anonymous_session = client.session
    anonymous_session["probe"] = "before"
    anonymous_session.save()
    before = anonymous_session.session_key

    response = client.post(
        "/accounts/register/",
        {
            "username": "newcomer",
            "email": "newcomer@example.com",
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != before
    assert client.session[SESSION_KEY] == str(User.objects.get(username="newcomer").pk)


def test_session_cookie_is_httponly_and_lax(requester):
    client = Client()

    client.post(LOGIN, {"username": requester.username, "password": TEST_PASSWORD})

    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


# --- Downloads -------------------------------------------------------------------------------


def test_downloads_carry_the_file_name_and_a_sandbox(requester, requester_client):
    ticket = TicketFactory(creator=requester)
    document, photo, hostile = services.attachment_add(
        actor=requester,
        ticket=ticket,
        files=[txt_upload("отчёт.txt", b"text\n"), png_upload(), txt_upload(f'{IMG}".txt')],
    )

    responses = {
        item.name: requester_client.get(f"/tickets/attachments/{item.pk}/download/")
        for item in (document, photo, hostile)
    }

    text = responses["отчёт.txt"]
    assert text.status_code == 200
    assert text["Content-Type"].startswith("text/plain")
    assert text["Content-Disposition"] == (
        "attachment; filename*=utf-8''%D0%BE%D1%82%D1%87%D1%91%D1%82.txt"
    )
    assert b"".join(text.streaming_content) == b"text\n"
    image = responses["фото.png"]
    assert image["Content-Type"] == "image/png"
    assert image["Content-Disposition"].startswith("inline; filename*=utf-8''")
    b"".join(image.streaming_content)
    odd = responses[hostile.name]
    assert odd["Content-Disposition"].startswith("attachment; ")
    # One header line; the quote in the name is escaped inside the quoted string (RFC 6266).
    assert (
        odd["Content-Disposition"] == 'attachment; filename="<img src=x onerror=alert(1)>\\".txt"'
    )
    b"".join(odd.streaming_content)
    for name, response in responses.items():
        csp = response["Content-Security-Policy"]
        assert csp.split(";")[0].strip() == "sandbox", name
        assert "script-src" not in csp and "default-src 'none'" in csp, name
        assert response["X-Content-Type-Options"] == "nosniff", name
        assert response["X-Frame-Options"] == "DENY", name


def test_uploaded_html_is_refused_so_it_can_never_be_served(requester, requester_client):
    ticket = TicketFactory(creator=requester)
    page = SimpleUploadedFile("page.html", b"<script>alert(1)</script>", content_type="text/html")
    disguised = SimpleUploadedFile(
        "page.txt", b"<html><script>alert(1)</script></html>", content_type="text/plain"
    )

    for upload in (page, disguised):
        response = requester_client.post(f"/tickets/{ticket.pk}/attachments/", {"file": [upload]})
        assert response.status_code == 400, upload.name

    assert not ticket.attachments.exists()


def test_media_files_are_not_served_publicly(requester, requester_client):
    ticket = TicketFactory(creator=requester)
    stored = services.attachment_add(actor=requester, ticket=ticket, files=[txt_upload()])[0]

    response = requester_client.get(f"{settings.MEDIA_URL}{stored.path}")

    assert response.status_code == 404
