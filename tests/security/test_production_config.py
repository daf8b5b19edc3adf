"""Production configuration (issue 7, part 4; SPEC §2, §5, §7, §7.1).

`check --deploy` is clean with production settings; every route of the site (pages, API, the
admin, the API docs) answers with the security headers and the CSP, whatever its status;
cookies carry Secure/HttpOnly/SameSite in production; no public media or source files; error
pages with DEBUG=0 leak nothing; the logs hold no password, token, session id or CSRF token,
and no user input can forge a log line.

The production checks run the real settings module in a subprocess with production
environment variables (DEBUG=0, a strong SECRET_KEY, SECURE_SSL_REDIRECT=1), exactly as
`make check-deploy` and a deployment would, instead of overriding settings in-process."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.tests.factories import TEST_PASSWORD
from tickets import services
from tickets.models import Attachment
from tickets.workflow import ACTIONS

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1"
HOST = "desk.example.com"
LOGIN = "/accounts/login/"


# --- Running the real settings with a production environment ----------------------------------


def production_env(tmp: Path, **overrides: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "SECURE_", "SESSION_", "CSRF_"))
        and k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="techticket.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        SECURE_SSL_REDIRECT="1",
        ALLOWED_HOSTS=HOST,
        DATABASE_URL=f"sqlite:///{tmp / 'production.sqlite3'}",
        LOG_DIR=str(tmp / "logs"),
        MEDIA_ROOT=str(tmp / "media"),
    )
    env.update(overrides)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_check_deploy_with_production_settings_reports_nothing(tmp_path):
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "warnings"),
    [
        ({"SECRET_KEY": "django-insecure-short"}, {"security.W009"}),
        (
            {"SECURE_SSL_REDIRECT": "0"},
            {"security.W004", "security.W008", "security.W012", "security.W016"},
        ),
        ({"DEBUG": "1"}, {"security.W018"}),
    ],
    ids=["weak-secret-key", "plain-http", "debug-on"],
)
def test_check_deploy_really_checks_the_production_switches(tmp_path, overrides, warnings):
    """The clean result above is not vacuous: each production switch, turned off, is caught."""
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        production_env(tmp_path, **overrides),
    )

    assert result.returncode != 0
    found = set(re.findall(r"\(security\.W\d+\)", result.stdout + result.stderr))
    assert {f"({w})" for w in warnings} <= found, result.stdout + result.stderr


PRODUCTION_PASSWORD = "Prod-Passphrase-9173"
PRODUCTION_LOCAL_SECRET = "local-variable-secret-5521"

# Runs inside the subprocess: the real settings, production environment, a migrated SQLite
# file, and Django's test client (no network). Prints one JSON line with what it saw.
PRODUCTION_SCRIPT = r"""
import json, sys, types
import django
from django.conf import settings

# Static files are collected at deployment (collectstatic); their manifest is not under test.
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
django.setup()
from django.core.management import call_command
from django.test import Client
from django.urls import path

import techticket.urls as site_urls
from accounts.models import User

call_command("migrate", verbosity=0)
PASSWORD = sys.argv[1]
LOCAL_SECRET = sys.argv[2]
User.objects.create_user("prod", "prod@example.com", PASSWORD)


def boom(request):
    secret = LOCAL_SECRET  # a local variable a debug page would show
    raise RuntimeError(f"boom in {settings.BASE_DIR} ({len(secret)})")


urls = types.ModuleType("production_probe_urls")
urls.urlpatterns = [path("explode/", boom), path("api/v1/explode/", boom), *site_urls.urlpatterns]
for name in ("handler400", "handler403", "handler404", "handler500"):
    setattr(urls, name, getattr(site_urls, name))
sys.modules[urls.__name__] = urls
settings.ROOT_URLCONF = urls.__name__


def snap(response):
    streaming = getattr(response, "streaming", False)
    return {
        "status": response.status_code,
        "headers": dict(response.headers),
        "cookies": {
            name: {key: morsel[key] for key in ("secure", "httponly", "samesite")}
            for name, morsel in response.cookies.items()
        },
        "body": "" if streaming else response.content.decode(errors="replace"),
    }


host = "desk.example.com"
client = Client(HTTP_HOST=host, raise_request_exception=False)
credentials = {"username": "prod", "password": PASSWORD}
out = {
    "http": snap(client.get("/accounts/login/")),
    "login_page": snap(client.get("/accounts/login/", secure=True)),
    "login": snap(client.post("/accounts/login/", credentials, secure=True)),
    "create": snap(
        client.post(
            "/tickets/new/",
            {"title": "T", "description": "D", "category": "incident", "priority": "normal"},
            secure=True,
        )
    ),
    "language": snap(
        client.post("/i18n/setlang/", {"language": "en", "next": "/"}, secure=True)
    ),
    "404": snap(client.get("/no-such-page/", secure=True)),
    "api_404": snap(client.get("/api/v1/no-such/", secure=True)),
    "500": snap(client.get("/explode/", secure=True, headers={"X-Request-ID": "prod-500"})),
    "api_500": snap(
        client.get("/api/v1/explode/", secure=True, headers={"X-Request-ID": "prod-api-500"})
    ),
    "bad_host": snap(
        Client(raise_request_exception=False).get(
            "/", secure=True, headers={"host": "evil.example.org"}
        )
    ),
    "csrf": snap(
        Client(HTTP_HOST=host, enforce_csrf_checks=True, raise_request_exception=False).post(
            "/accounts/login/", credentials, secure=True
        )
    ),
    "media": snap(client.get("/media/attachments/2026/01/x.txt", secure=True)),
    "static_traversal": snap(client.get("/static/../manage.py", secure=True)),
    "browsable_api": snap(
        client.get("/api/v1/tickets/?format=api", secure=True, headers={"accept": "text/html"})
    ),
}
print("@@PRODUCTION@@" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """What a production deployment answers, and the log it wrote."""
    tmp = tmp_path_factory.mktemp("production")
    result = run(
        ["-c", PRODUCTION_SCRIPT, PRODUCTION_PASSWORD, PRODUCTION_LOCAL_SECRET],
        production_env(tmp),
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("@@PRODUCTION@@")]
    assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-3000:]
    seen = json.loads(lines[0].removeprefix("@@PRODUCTION@@"))
    log = (tmp / "logs" / "app.log").read_text(encoding="utf-8")
    return seen, log, result.stderr


@pytest.mark.slow
def test_production_redirects_plain_http_to_https(production):
    seen, _log, _stderr = production

    assert seen["http"]["status"] == 301
    assert seen["http"]["headers"]["Location"] == f"https://{HOST}{LOGIN}"


@pytest.mark.slow
def test_production_pages_send_hsts_and_the_security_headers(production):
    seen, _log, _stderr = production
    page = seen["login_page"]

    assert page["status"] == 200
    hsts = page["headers"]["Strict-Transport-Security"]
    assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 31_536_000
    assert "includeSubDomains" in hsts
    assert_security_headers(page["headers"], "the production login page")


@pytest.mark.slow
def test_production_cookies_are_secure_httponly_and_lax(production):
    seen, _log, _stderr = production
    csrf = seen["login_page"]["cookies"][settings.CSRF_COOKIE_NAME]
    session = seen["login"]["cookies"][settings.SESSION_COOKIE_NAME]
    flash = seen["create"]["cookies"]["messages"]

    assert seen["login"]["status"] == 302
    assert seen["create"]["status"] == 302
    assert (csrf["secure"], csrf["samesite"]) == (True, "Lax")
    for cookie in (session, flash):
        assert (cookie["secure"], cookie["httponly"], cookie["samesite"]) == (True, True, "Lax")


@pytest.mark.slow
def test_production_language_cookie_is_secure_and_lax(production):
    seen, _log, _stderr = production
    language = seen["language"]["cookies"][settings.LANGUAGE_COOKIE_NAME]

    assert seen["language"]["status"] == 302
    assert (language["secure"], language["samesite"]) == (True, "Lax")


LEAK_MARKERS = (
    "Traceback",
    "RuntimeError",
    "boom in",
    "DJANGO_SETTINGS_MODULE",
    "SECRET_KEY",
    "Using the URLconf",
    "urlpatterns",
    "techticket.urls",
    "production_probe_urls",
    "DEBUG = True",
    "You're seeing this error",
    "CSRF cookie not set",
    "Referer checking failed",
    "Invalid HTTP_HOST",
    "evil.example.org",
    PRODUCTION_LOCAL_SECRET,
    str(ROOT),
    "/site-packages/",
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "status", "html"),
    [
        ("404", 404, True),
        ("500", 500, True),
        ("bad_host", 400, True),
        ("csrf", 403, True),
        ("api_404", 404, False),
        ("api_500", 500, False),
    ],
)
def test_production_error_pages_leak_nothing(production, name, status, html):
    seen, _log, _stderr = production
    answer = seen[name]

    assert answer["status"] == status
    for marker in LEAK_MARKERS:
        assert marker not in answer["body"], f"{marker!r} on the production {name} page"
    if html:
        assert answer["body"].lstrip().lower().startswith("<!doctype html")
        assert_security_headers(answer["headers"], f"the production {name} page")
    else:
        assert json.loads(answer["body"])["type"] in ("client_error", "server_error")
    if status == 500:  # the id to quote, and nothing else
        request_id = "prod-500" if html else "prod-api-500"
        assert request_id in answer["body"]


@pytest.mark.slow
def test_production_log_has_the_traceback_but_no_password_or_local_variables(production):
    _seen, log, _stderr = production

    assert "[prod-500]" in log
    assert "RuntimeError: boom in" in log  # the administrator gets the traceback...
    assert PRODUCTION_LOCAL_SECRET not in log  # ...without local variables
    assert PRODUCTION_PASSWORD not in log


@pytest.mark.slow
def test_production_serves_no_media_no_source_and_no_browsable_api(production):
    seen, _log, _stderr = production

    assert seen["media"]["status"] == 404
    assert seen["static_traversal"]["status"] == 404
    assert "SECRET_KEY" not in seen["static_traversal"]["body"]
    browsable = seen["browsable_api"]
    assert browsable["headers"]["Content-Type"].startswith("application/json")
    assert "<html" not in browsable["body"].lower()


DEBUG_URLCONF_SCRIPT = r"""
import django
django.setup()
from django.conf import settings
from django.urls import Resolver404, resolve
assert settings.DEBUG
for url in ("/media/attachments/2026/01/x.txt", "/uploads/attachments/2026/01/x.txt",
            "/media/../db.sqlite3"):
    try:
        match = resolve(url)
    except Resolver404:
        print("404", url)
    else:
        print("SERVED", url, match.func)
"""


@pytest.mark.slow
def test_media_is_not_served_even_with_debug_on(tmp_path):
    result = run(["-c", DEBUG_URLCONF_SCRIPT], production_env(tmp_path, DEBUG="1"))

    assert result.returncode == 0, result.stderr
    assert "SERVED" not in result.stdout
    assert result.stdout.count("404 ") == 3


# --- Security headers and CSP on every route -----------------------------------------------------


def csp_directives(value: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in value.split(";") if part.strip()}


def assert_security_headers(headers, where: str, *, sandboxed: bool = False) -> None:
    csp = csp_directives(headers["Content-Security-Policy"])
    if sandboxed:  # a download: a sandbox of its own, no scripts at all
        assert "sandbox" in csp, where
        assert csp.get("default-src") == ["'none'"], where
    else:
        assert csp["default-src"] == ["'self'"], where
        for directive in ("script-src", "style-src"):
            sources = csp.get(directive, csp["default-src"])
            for unsafe in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"):
                assert unsafe not in sources, f"{directive} {unsafe} on {where}"
        assert csp["object-src"] == ["'none'"], where
        assert csp["base-uri"] == ["'self'"], where
        assert csp["frame-ancestors"] == ["'none'"], where
        assert csp["form-action"] == ["'self'"], where
    assert headers["X-Frame-Options"] == "DENY", where
    assert headers["X-Content-Type-Options"] == "nosniff", where
    assert headers["Referrer-Policy"] == "same-origin", where
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin", where


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)


def assert_no_inline_code(html: str, where: str) -> None:
    """The CSP forbids inline scripts and styles; a page that has them is broken in a browser."""
    assert not INLINE_SCRIPT.search(html), f"inline <script> on {where}"
    assert not INLINE_STYLE.search(html), f"inline style on {where}"


@pytest.fixture
def world(requester, technician, manager, admin_user):
    ticket = services.ticket_create(
        actor=requester,
        title="Сломался принтер",
        description="Мнёт бумагу",
        files=[SimpleUploadedFile("notes.txt", b"paper jam\n")],
    )
    services.ticket_apply_action(actor=manager, ticket=ticket, action="assign", assignee=technician)
    services.comment_add(actor=requester, ticket=ticket, text="Срочно")
    clients = {"anonymous": Client()}
    for user in (requester, technician, manager, admin_user):
        clients[user.role] = Client()
        clients[user.role].force_login(user)
    return {
        "ticket": ticket,
        "attachment": ticket.attachments.get(),
        "comment": ticket.comments.get(),
        "requester": requester,
        "technician": technician,
        "clients": clients,
    }


# Every named route of the site outside the admin: who asks, the path, the expected status.
# Routes that only take POST are asked with GET: their 405 must carry the headers too.
SITE_ROUTES = {
    "home": ("anonymous", "/", 200),
    "home (signed in)": ("user", "/", 302),
    "accounts:login": ("anonymous", LOGIN, 200),
    "accounts:logout": ("user", "/accounts/logout/", 405),
    "accounts:register": ("anonymous", "/accounts/register/", 200),
    "accounts:profile": ("user", "/accounts/profile/", 200),
    "accounts:password_change": ("user", "/accounts/password/", 200),
    "tickets:list": ("manager", "/tickets/?view=all", 200),
    "tickets:create": ("user", "/tickets/new/", 200),
    "tickets:detail": ("manager", "/tickets/{ticket}/", 200),
    "tickets:edit": ("user", "/tickets/{ticket}/edit/", 200),
    "tickets:comment": ("user", "/tickets/{ticket}/comments/", 405),
    "tickets:upload": ("user", "/tickets/{ticket}/attachments/", 405),
    "tickets:action": ("manager", "/tickets/{ticket}/close/", 405),
    "tickets:attachment-download": ("user", "/tickets/attachments/{attachment}/download/", 200),
    "tickets:attachment-delete": ("user", "/tickets/attachments/{attachment}/delete/", 405),
    "set_language": ("user", "/i18n/setlang/", 302),  # GET changes nothing, just redirects
    "favicon.ico": ("anonymous", "/favicon.ico", 301),
    "api:register": ("anonymous", f"{API}/auth/register/", 405),
    "api:token": ("anonymous", f"{API}/auth/token/", 405),
    "api:token-refresh": ("anonymous", f"{API}/auth/token/refresh/", 405),
    "api:logout": ("user", f"{API}/auth/logout/", 405),
    "api:schema": ("anonymous", f"{API}/schema/", 200),
    "api:docs": ("anonymous", f"{API}/docs/", 200),
    "api:user-list": ("admin", f"{API}/users/", 200),
    "api:user-me": ("user", f"{API}/users/me/", 200),
    "api:user-detail": ("admin", f"{API}/users/{{requester}}/", 200),
    "api:ticket-list": ("user", f"{API}/tickets/", 200),
    "api:ticket-list (anonymous)": ("anonymous", f"{API}/tickets/", 401),
    "api:ticket-detail": ("user", f"{API}/tickets/{{ticket}}/", 200),
    "api:ticket-comments": ("user", f"{API}/tickets/{{ticket}}/comments/", 200),
    "api:ticket-attachments": ("user", f"{API}/tickets/{{ticket}}/attachments/", 200),
    "api:ticket-history": ("user", f"{API}/tickets/{{ticket}}/history/", 200),
    **{
        f"api:ticket-{action}": ("manager", f"{API}/tickets/{{ticket}}/{action}/", 405)
        for action in ACTIONS
    },
    "api:attachment-detail": ("user", f"{API}/attachments/{{attachment}}/", 405),
    "api:attachment-download": ("user", f"{API}/attachments/{{attachment}}/download/", 200),
    "api unknown route": ("user", f"{API}/no-such/", 404),
    "unknown page": ("user", "/no-such-page/", 404),
    "invisible ticket": ("technician", "/tickets/999999/", 404),
}


def named_routes(patterns, namespace: str = "", prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from named_routes(pattern.url_patterns, inner, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name}" if pattern.name else prefix + str(pattern.pattern)


def test_the_header_walk_covers_every_route_of_the_site():
    routes = set(named_routes(get_resolver().url_patterns))
    site = {name for name in routes if not name.startswith(("admin:", "admin/"))}

    assert site <= {name.split(" (")[0] for name in SITE_ROUTES}, site - set(SITE_ROUTES)


@pytest.mark.parametrize("route", SITE_ROUTES)
def test_every_route_sends_the_security_headers(world, route):
    persona, template, status = SITE_ROUTES[route]
    path = template.format(
        ticket=world["ticket"].pk,
        attachment=world["attachment"].pk,
        requester=world["requester"].pk,
    )
    client = world["clients"][persona]
    client.raise_request_exception = False

    response = client.get(path)

    assert response.status_code == status, (route, response.content[:300])
    download = route.endswith("download")
    if route != "api:docs":  # its two known defects are pinned by the xfail tests below
        assert_security_headers(response, route, sandboxed=download)
    assert response["X-Request-ID"]
    if response["Content-Type"].startswith("text/html") and route != "api:docs":
        assert_no_inline_code(response.content.decode(), route)
    if download:
        b"".join(response.streaming_content)


def test_api_docs_send_the_security_headers_except_coop(world):
    response = world["clients"]["anonymous"].get(f"{API}/docs/")
    headers = {k: v for k, v in response.items() if k != "Cross-Origin-Opener-Policy"}
    headers["Cross-Origin-Opener-Policy"] = "same-origin"  # see the xfail below

    assert response.status_code == 200
    assert_security_headers(headers, "the API docs")


def test_api_docs_run_under_the_csp_without_inline_code(client):
    response = client.get(f"{API}/docs/")

    assert response.status_code == 200
    assert_no_inline_code(response.content.decode(), "the API docs")


def test_api_docs_keep_the_cross_origin_opener_policy(client):
    response = client.get(f"{API}/docs/")

    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def admin_urls(world) -> dict[str, str]:
    """Changelist, add, change, history and delete pages of every model in the admin, plus
    the admin's own pages."""
    objects = {
        "accounts.user": world["requester"].pk,
        "tickets.ticket": world["ticket"].pk,
        "tickets.comment": world["comment"].pk,
        "tickets.attachment": world["attachment"].pk,
    }
    urls = {
        "index": "/admin/",
        "password change": "/admin/password_change/",
        "jsi18n": "/admin/jsi18n/",
        "user password": f"/admin/accounts/user/{world['requester'].pk}/password/",
    }
    for model in admin.site._registry:
        label = model._meta.label_lower
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        urls[f"{label} list"] = base
        urls[f"{model._meta.app_label} app"] = f"/admin/{model._meta.app_label}/"
        urls[f"{label} add"] = f"{base}add/"
        if label in objects:
            for page in ("change", "history", "delete"):
                urls[f"{label} {page}"] = f"{base}{objects[label]}/{page}/"
    record = world["ticket"].history.order_by("history_id").first()
    urls["ticket history record"] = (
        f"/admin/tickets/ticket/{world['ticket'].pk}/history/{record.history_id}/"
    )
    return urls


# django-simple-history's history list has one inline style; pinned by the xfail below.
SIMPLE_HISTORY_PAGES = {
    "tickets.ticket history",
    "tickets.comment history",
    "tickets.attachment history",
}


def test_every_admin_page_sends_the_security_headers_and_no_inline_code(world):
    client = world["clients"]["admin"]
    checked = 0

    for where, url in admin_urls(world).items():
        response = client.get(url)
        assert response.status_code in (200, 403), (where, response.status_code)
        assert_security_headers(response, f"admin {where}")
        if response["Content-Type"].startswith("text/html"):
            html = response.content.decode()
            assert not INLINE_SCRIPT.search(html), f"inline <script> on admin {where}"
            if where not in SIMPLE_HISTORY_PAGES:
                assert not INLINE_STYLE.search(html), f"inline style on admin {where}"
        checked += 1

    assert checked >= 40
    login = Client().get("/admin/login/")
    assert_security_headers(login, "the admin login")
    assert_no_inline_code(login.content.decode(), "the admin login")


@pytest.mark.xfail(
    strict=True,
    reason="KNOWN, accepted (cosmetic): the admin history lists of tickets, comments and "
    'attachments carry one inline style (`<p class="paginator" style="border-top: 0">` in '
    "django-simple-history's object_history_list.html); the CSP (style-src 'self') refuses "
    "it, so the paginator keeps its top border and the console shows an error. Copying the "
    "third-party template to drop one attribute is not worth its upkeep; docs/security.md.",
)
def test_admin_history_lists_have_no_inline_style(world):
    client = world["clients"]["admin"]
    urls = admin_urls(world)

    for where in sorted(SIMPLE_HISTORY_PAGES):
        response = client.get(urls[where])
        assert response.status_code == 200
        assert not INLINE_STYLE.search(response.content.decode()), where


# --- Cookies and sessions in development mode (plain HTTP allowed) -------------------------------


def test_plain_http_mode_keeps_cookies_lax_and_the_session_httponly(requester):
    client = Client()

    page = client.get(LOGIN)
    login = client.post(LOGIN, {"username": requester.username, "password": TEST_PASSWORD})
    flash = client.post(
        "/tickets/new/",
        {"title": "T", "description": "D", "category": "incident", "priority": "normal"},
    )

    csrf = page.cookies[settings.CSRF_COOKIE_NAME]
    session = login.cookies[settings.SESSION_COOKIE_NAME]
    messages = flash.cookies["messages"]
    assert csrf["samesite"] == "Lax"
    assert (session["httponly"], session["samesite"]) == (True, "Lax")
    assert (messages["httponly"], messages["samesite"]) == (True, "Lax")
    # SECURE_SSL_REDIRECT=0 (the default): the site works over plain HTTP.
    assert not session["secure"]


def test_token_login_opens_no_browser_session(api_client, requester):
    """A JWT login must not also sign a browser in: whatever cookie the answer carries, it
    authenticates nothing on the pages (SPEC §5: tokens for integrators, sessions for pages)."""
    response = api_client().post(
        f"{API}/auth/token/", {"username": requester.username, "password": TEST_PASSWORD}
    )
    browser = Client()
    for name, morsel in response.cookies.items():
        browser.cookies[name] = morsel.value

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    assert browser.get("/tickets/").status_code == 302, "the cookie must not be a login"
    assert browser.get(f"{API}/users/me/").status_code == 401


# --- No public files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/media/../techticket/settings.py",
        "/media/%2e%2e/techticket/settings.py",
        "/static/../manage.py",
        "/static/%2e%2e/%2e%2e/manage.py",
        "/static/..%2f..%2fmanage.py",
        "/static/vendor/bootstrap/../../../../techticket/settings.py",
        "/uploads/attachments/",
        "/.env",
        "/.git/config",
        "/db.sqlite3",
        "/logs/app.log",
        "/.pytest-logs/app.log",
        "/manage.py",
        "/tickets/attachments/1/download/..%2f..%2f..%2fetc%2fpasswd",
        "/api/v1/attachments/1/download/%2e%2e/",
    ],
)
def test_source_logs_and_uploads_are_never_served(requester_client, requester, path):
    stored = services.attachment_add(
        actor=requester,
        ticket=services.ticket_create(actor=requester, title="T", description="D"),
        files=[SimpleUploadedFile("secret.txt", b"the vault code is 4711\n")],
    )[0]

    response = requester_client.get(path)
    direct = requester_client.get(f"/media/{stored.path}")

    assert response.status_code == 404, path
    assert direct.status_code == 404
    for body in (response.content, direct.content):
        assert b"4711" not in body
        assert b"SECRET_KEY" not in body


# --- Logs: no secrets, no forged lines ---------------------------------------------------------


@pytest.mark.django_db
def test_logs_hold_no_password_token_session_id_or_csrf_token(
    requester, api_client, app_log, events_log, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        seen = _sign_in_every_way(requester, api_client)
    (wrong, new_password, registered_password, weak_password, session_id, csrf_token) = seen[:6]
    pair, rotated = seen[6:]

    logged = app_log() + "\n".join(json.dumps(e, ensure_ascii=False) for e in events_log())

    assert "Unauthorized: /api/v1/auth/token/" in logged, "the failures were logged"
    assert "Locking out" in logged
    assert "user.password_changed" in logged
    secrets_ = [
        *wrong,
        TEST_PASSWORD,
        new_password,
        registered_password,
        session_id,
        csrf_token,
        pair["access"],
        pair["refresh"],
        rotated["access"],
        rotated["refresh"],
        *(token.split(".")[2] for token in (pair["access"], pair["refresh"], rotated["access"])),
    ]
    for secret in secrets_:
        assert secret not in logged, f"{secret[:12]}… is in the logs"
    assert f'"{weak_password}"' not in logged and f"'{weak_password}'" not in logged


def _sign_in_every_way(requester, api_client):
    """Page and API logins (failed and successful), a password change, token rotation and
    reuse, logout, a forged token, registrations and a lockout."""
    wrong = [f"Wrong-Typo-Pass-{n}" for n in range(8)]
    new_password = "Fresh-Harbour-Lantern-58"
    registered_password = "Quiet-Meadow-Violin-63"
    weak_password = "1234"
    page = Client()
    page.post(LOGIN, {"username": requester.username, "password": wrong[0]})
    page.get(LOGIN)
    page.post(LOGIN, {"username": requester.username, "password": TEST_PASSWORD})
    session_id = page.cookies[settings.SESSION_COOKIE_NAME].value
    csrf_token = page.cookies[settings.CSRF_COOKIE_NAME].value
    page.post(
        "/accounts/password/",
        {"old_password": wrong[1], "password": new_password, "password_confirm": new_password},
    )
    page.post(
        "/accounts/password/",
        {"old_password": TEST_PASSWORD, "password": new_password, "password_confirm": new_password},
    )
    anonymous = api_client()
    anonymous.post(f"{API}/auth/token/", {"username": requester.username, "password": wrong[2]})
    pair = anonymous.post(
        f"{API}/auth/token/", {"username": requester.username, "password": new_password}
    ).json()
    rotated = anonymous.post(f"{API}/auth/token/refresh/", {"refresh": pair["refresh"]}).json()
    anonymous.post(f"{API}/auth/token/refresh/", {"refresh": pair["refresh"]})  # reused: 401
    bearer = api_client()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {rotated['access']}")
    bearer.get(f"{API}/no-such/")
    bearer.post(f"{API}/auth/logout/", {"refresh": rotated["refresh"]})
    bearer.post(f"{API}/auth/logout/", {"refresh": rotated["refresh"]})  # again: 400
    forged = api_client()
    forged.credentials(HTTP_AUTHORIZATION=f"Bearer {rotated['access'][:-4]}AAAA")
    forged.get(f"{API}/tickets/")
    for body in (
        {"username": "newbie", "email": "n@example.com", "password": registered_password},
        {"username": "weakling", "email": "w@example.com", "password": weak_password},
    ):
        anonymous.post(f"{API}/auth/register/", body)
    for attempt in wrong[3:]:  # a lockout: axes logs every failure and the lock
        anonymous.post(f"{API}/auth/token/", {"username": "newbie", "password": attempt})
    return (
        wrong,
        new_password,
        registered_password,
        weak_password,
        session_id,
        csrf_token,
        pair,
        rotated,
    )


def test_logs_hold_no_file_contents(
    requester_client, requester, app_log, events_log, django_capture_on_commit_callbacks
):
    ticket = services.ticket_create(actor=requester, title="T", description="D")
    with django_capture_on_commit_callbacks(execute=True):
        requester_client.post(
            f"/tickets/{ticket.pk}/attachments/",
            {"file": [SimpleUploadedFile("a.txt", b"contents-marker-6617\n")]},
        )
        requester_client.post(
            f"/tickets/{ticket.pk}/attachments/",
            {"file": [SimpleUploadedFile("b.txt", b"<html>refused-marker-6618</html>")]},
        )

    logged = app_log() + json.dumps(events_log())

    assert Attachment.objects.filter(ticket=ticket).count() == 1
    assert "attachment.added" in logged
    assert "contents-marker-6617" not in logged
    assert "refused-marker-6618" not in logged


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \[[^\]]*\] user=\S+ ")
FORGED = "2026-01-01 00:00:00,000 CRITICAL [forged-7741] user=1 accounts: admin password reset"


def assert_no_forged_line(text: str) -> None:
    marked = [line for line in text.splitlines() if "forged-7741" in line]
    assert marked, "the hostile input reached the log (else this test proves nothing)"
    for line in text.splitlines():
        assert not line.startswith(FORGED[:40]), f"forged line: {line!r}"
    for line in marked:
        assert LOG_LINE.match(line), f"a line not written by the logger: {line!r}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "newline", ["\n", "\r", "\r\n", "\u2028", "\x85"], ids=["LF", "CR", "CRLF", "LS", "NEL"]
)
@pytest.mark.parametrize("channel", ["page login", "api token", "admin login", "url path"])
def test_user_input_with_line_breaks_cannot_forge_a_log_line(api_client, app_log, newline, channel):
    hostile = f"eve{newline}{FORGED}"
    if channel == "url path":
        Client().get(f"/no-such/{quote(hostile, safe='')}/")
    else:
        for attempt in range(settings.AXES_FAILURE_LIMIT):  # failures and the lockout log it
            credentials = {"username": hostile, "password": f"wrong-{attempt}"}
            if channel == "api token":
                api_client().post(f"{API}/auth/token/", credentials)
            elif channel == "admin login":
                Client().post("/admin/login/?next=/admin/", credentials)
            else:
                Client().post(LOGIN, credentials)

    assert_no_forged_line(app_log())


@pytest.mark.django_db
def test_terminal_escapes_in_a_username_are_not_written_raw(api_client, app_log):
    hostile = f"eve\x1b[1A\x1b[2K\x1b[32m{FORGED}\x1b[0m"
    for attempt in range(2):
        api_client().post(f"{API}/auth/token/", {"username": hostile, "password": f"w{attempt}"})

    logged = app_log()

    assert "forged-7741" in logged
    assert "\x1b" not in logged


@pytest.mark.django_db
def test_the_4xx_warning_lines_carry_the_request_id(api_client, app_log):
    api_client().get(f"{API}/tickets/", headers={"X-Request-ID": "trace-4xx-3319"})
    Client().get("/no-such-page-3319/", headers={"X-Request-ID": "trace-404-3319"})

    lines = [
        line for line in app_log().splitlines() if "3319" in line or "/api/v1/tickets/" in line
    ]

    assert any("Unauthorized: /api/v1/tickets/" in line for line in lines)
    assert any("[trace-4xx-3319]" in line for line in lines if "Unauthorized" in line)
    assert any("[trace-404-3319]" in line for line in lines if "Not Found" in line)
