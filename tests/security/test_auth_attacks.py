"""Authentication attacks (issue 7, part 2), written as an attacker would try them.

- Brute force: the lockout of SPEC §5 is shared by every worker process (proved with real
  separate processes on the same database), counts the failures of both doors (API and login
  page), and is not dodged by forged client-address headers or by spelling the username
  differently.
- Enumeration: an unknown username, a wrong password and an inactive account get the same
  answer and the same work (the password hasher runs for unknown users too), on every login
  door, and an unknown username is locked out exactly like a real one.
- Sessions: a session planted before an admin login is not the one after it; a logged-out
  session cannot be replayed; an admin's password reset ends the user's sessions.
- Token forgeries beyond tests in accounts/tests/api/test_auth.py: algorithm confusion,
  missing claims, role claims, forged refresh tokens.

- A password change (own, or an admin's reset) ends every API token issued before it, access
  and refresh, as it ends the user's other browser sessions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import jwt
import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import services as accounts
from accounts.models import Role
from accounts.tests.factories import TEST_PASSWORD
from tests.security.conftest import (
    ADMIN_LOGIN,
    API,
    LOGIN,
    assert_json_error,
    page_text,
    session_client,
)
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

TOKEN = f"{API}/auth/token/"
REFRESH = f"{API}/auth/token/refresh/"
ME = f"{API}/users/me/"
WRONG = "Not-The-Password-987"
NEW_PASSWORD = "Brand-New-Passphrase-91"
LIMIT = 5  # SPEC §5: five failures lock the username out from that address


def api_login(username: str, password: str, **extra):
    return APIClient().post(TOKEN, {"username": username, "password": password}, **extra)


def page_login(username: str, password: str, *, client: Client | None = None, url=LOGIN, **extra):
    return (client or Client()).post(url, {"username": username, "password": password}, **extra)


def assert_no_tokens(response) -> None:
    assert response.status_code in (401, 429), response.content[:300]
    assert "access" not in response.json() and "refresh" not in response.json()


def assert_api_locked(response) -> None:
    assert_json_error(response, 429, code="throttled")
    assert 0 < int(response["Retry-After"]) <= 15 * 60


def assert_page_locked(client: Client, response) -> None:
    assert response.status_code == 429
    assert "errors/429_login.html" in [t.name for t in response.templates]
    assert SESSION_KEY not in client.session


# --- Brute force across worker processes ----------------------------------------------------

# Another server worker: its own interpreter, its own Django, its own database connection.
WORKER = textwrap.dedent(
    """
    import json, sys
    import django
    django.setup()
    from django.test import Client, override_settings
    from django.test.utils import setup_test_environment
    setup_test_environment()  # lets the test client's host in
    channel, username, times = sys.argv[1], sys.argv[2], int(sys.argv[3])
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    codes = []
    with override_settings(STORAGES=storages):
        for n in range(times):
            body = {"username": username, "password": f"wrong-{n}"}
            if channel == "api":
                r = Client().post("/api/v1/auth/token/", body, content_type="application/json")
            else:
                r = Client().post("/accounts/login/", body)
            codes.append(r.status_code)
    print(json.dumps(codes))
    """
)


def database_url() -> str:
    """The test database, as DATABASE_URL, for another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"], safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "localhost"
    return f"postgres://{credentials}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(channel: str, username: str, times: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "techticket.settings",
    }
    return subprocess.Popen(  # noqa: S603 — our own interpreter running our own code
        [sys.executable, "-c", WORKER, channel, username, str(times)],
        cwd=Path(settings.BASE_DIR),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(worker: subprocess.Popen) -> list[int]:
    out, err = worker.communicate(timeout=180)
    assert worker.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
def test_failures_in_another_worker_process_lock_out_this_one(requester):
    codes = finish(start_worker("api", "requester", LIMIT))
    assert codes == [401] * LIMIT, "the other process saw only wrong passwords"

    assert_api_locked(api_login("requester", TEST_PASSWORD))
    browser = Client()
    assert_page_locked(browser, page_login("requester", TEST_PASSWORD, client=browser))


@pytest.mark.django_db(transaction=True)
def test_failures_split_between_processes_and_doors_add_up(requester):
    for _ in range(3):
        assert page_login("requester", WRONG).status_code == 200
    assert finish(start_worker("api", "requester", 2)) == [401, 401]

    assert_api_locked(api_login("requester", TEST_PASSWORD))
    row = AccessAttempt.objects.get(username="requester")
    assert row.failures_since_start == LIMIT


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_from_two_processes_lock_and_never_crash(requester):
    workers = [start_worker("api", "requester", 4), start_worker("page", "requester", 4)]
    api_codes, page_codes = (finish(w) for w in workers)

    # Each attempt is a wrong password (401 / the form again) or refused (429); never a 500.
    assert set(api_codes) <= {401, 429}, api_codes
    assert set(page_codes) <= {200, 429}, page_codes
    assert 429 in api_codes + page_codes, "8 failures must hit the limit"
    assert_api_locked(api_login("requester", TEST_PASSWORD))
    assert AccessAttempt.objects.get(username="requester").failures_since_start >= LIMIT


# --- Forged client addresses and respelled usernames -----------------------------------------

SPOOFED_HEADERS = {
    "HTTP_X_FORWARDED_FOR": "203.0.113.{n}",
    "HTTP_X_REAL_IP": "203.0.113.{n}",
    "HTTP_FORWARDED": "for=203.0.113.{n};proto=https",
    "HTTP_X_CLIENT_IP": "203.0.113.{n}",
    "HTTP_TRUE_CLIENT_IP": "203.0.113.{n}",
    "HTTP_CF_CONNECTING_IP": "203.0.113.{n}",
}
# The API with X-Forwarded-For is in accounts/tests/api/test_auth.py.
SPOOF_CASES = [
    (door, header)
    for door in ("api", "page")
    for header in SPOOFED_HEADERS
    if (door, header) != ("api", "HTTP_X_FORWARDED_FOR")
]


@pytest.mark.parametrize(("door", "header"), SPOOF_CASES)
def test_a_new_forged_address_per_attempt_does_not_dodge_the_lockout(requester, door, header):
    login = api_login if door == "api" else page_login
    for n in range(LIMIT):
        forged = {header: SPOOFED_HEADERS[header].format(n=n)}
        assert login("requester", WRONG, **forged).status_code in (200, 401, 429)

    fresh = {header: SPOOFED_HEADERS[header].format(n=99)}
    if door == "api":
        assert_api_locked(api_login("requester", TEST_PASSWORD, **fresh))
    else:
        browser = Client()
        assert_page_locked(browser, page_login("requester", TEST_PASSWORD, client=browser, **fresh))
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_page_failures_under_respelled_usernames_count_for_the_real_one(requester):
    # The login form strips whitespace and NFKC-normalises (fullwidth ｒ → r) before
    # authenticating; so does the failure count.
    for variant in (" requester", "requester ", "\trequester", "ｒequester", "requester\n"):
        assert page_login(variant, WRONG).status_code in (200, 429), repr(variant)

    browser = Client()
    assert_page_locked(browser, page_login("requester", TEST_PASSWORD, client=browser))
    assert_no_tokens(api_login("requester", TEST_PASSWORD))


def test_api_failures_under_padded_usernames_count_for_the_real_one(requester):
    for variant in (" requester", "requester ", "\trequester", "requester\n", "  requester  "):
        assert api_login(variant, WRONG).status_code in (401, 429), repr(variant)

    assert_api_locked(api_login("requester", TEST_PASSWORD))
    for variant in (" requester", "requester "):
        assert_no_tokens(api_login(variant, TEST_PASSWORD))


def test_padded_username_after_a_lockout_is_told_429_like_the_plain_one(requester):
    for _ in range(LIMIT):
        api_login("requester", WRONG)

    plain = api_login("requester", TEST_PASSWORD)
    padded = api_login(" requester", TEST_PASSWORD)

    assert_api_locked(plain)
    assert (padded.status_code, padded.json()) == (plain.status_code, plain.json())


# --- Unknown user, wrong password, inactive account: one answer ------------------------------


@pytest.fixture
def inactive(db):
    from accounts.tests.factories import UserFactory

    return UserFactory(username="retired", is_active=False)


@pytest.mark.parametrize("url", [LOGIN, ADMIN_LOGIN])
def test_login_pages_answer_unknown_user_wrong_password_and_inactive_alike(
    requester, inactive, url
):
    attempts = {
        "requester": page_login("requester", WRONG, url=url),
        "nobody-here": page_login("nobody-here", WRONG, url=url),
        "retired": page_login("retired", TEST_PASSWORD, url=url),  # the right password
    }

    answers = {
        name: (
            r.status_code,
            r.context["form"].errors.as_data().keys(),
            [str(e) for e in r.context["form"].non_field_errors()],
            page_text(r, blank=(name,)),
        )
        for name, r in attempts.items()
    }
    assert answers["requester"][0] == 200
    assert answers["requester"][2], "the form says why"
    assert answers["nobody-here"] == answers["requester"]
    assert answers["retired"] == answers["requester"]


@pytest.fixture
def hashed(monkeypatch):
    """The passwords the password hasher hashed, in order."""
    calls: list[str] = []
    original = MD5PasswordHasher.encode

    def spy(self, password, salt, *args, **kwargs):
        calls.append(password)
        return original(self, password, salt, *args, **kwargs)

    monkeypatch.setattr(MD5PasswordHasher, "encode", spy)
    return calls


@pytest.mark.parametrize("door", ["api", "page", "admin"])
def test_the_password_hasher_runs_for_unknown_users_too(requester, inactive, hashed, door):
    """Equal work, without timing it: each failed login hashes the typed password once,
    whether or not the account exists or is active."""

    def attempt(username: str, password: str) -> list[str]:
        hashed.clear()
        if door == "api":
            response = api_login(username, password)
            assert response.status_code == 401
        else:
            response = page_login(username, password, url=LOGIN if door == "page" else ADMIN_LOGIN)
            assert response.status_code == 200
        return list(hashed)

    assert attempt("nobody-here", "Typed-For-Nobody-1") == ["Typed-For-Nobody-1"]
    assert attempt("requester", "Typed-Wrong-2") == ["Typed-Wrong-2"]
    assert attempt("retired", TEST_PASSWORD) == [TEST_PASSWORD]


def test_an_unknown_username_is_locked_out_exactly_like_a_real_one(requester):
    for username in ("requester", "nobody-here"):
        for _ in range(LIMIT):
            api_login(username, WRONG)
            page_login(username, WRONG, client=Client(), REMOTE_ADDR="198.51.100.7")

    api = {u: api_login(u, WRONG) for u in ("requester", "nobody-here")}
    pages = {
        u: page_login(u, WRONG, REMOTE_ADDR="198.51.100.7") for u in ("requester", "nobody-here")
    }

    assert_api_locked(api["requester"])
    assert (api["nobody-here"].status_code, api["nobody-here"].json()) == (
        api["requester"].status_code,
        api["requester"].json(),
    )
    assert api["nobody-here"]["Retry-After"] == api["requester"]["Retry-After"]
    assert pages["requester"].status_code == pages["nobody-here"].status_code == 429
    assert page_text(pages["nobody-here"], blank=("nobody-here",)) == page_text(
        pages["requester"], blank=("requester",)
    )


# --- Sessions --------------------------------------------------------------------------------


def planted_session(client: Client) -> str:
    """An attacker's anonymous session key, planted in the victim's browser."""
    session = client.session
    session["planted"] = "by the attacker"
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    return session.session_key


def test_a_session_planted_before_an_admin_login_is_useless_after_it(admin_user):
    victim = Client()
    planted = planted_session(victim)

    response = victim.post(
        f"{ADMIN_LOGIN}?next=/admin/",
        {"username": admin_user.username, "password": TEST_PASSWORD, "next": "/admin/"},
    )

    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert victim.cookies[settings.SESSION_COOKIE_NAME].value != planted
    assert not Session.objects.filter(session_key=planted).exists()
    attacker = Client()
    attacker.cookies[settings.SESSION_COOKIE_NAME] = planted
    assert attacker.get("/admin/")["Location"].startswith(ADMIN_LOGIN)
    assert attacker.get("/tickets/")["Location"].startswith(LOGIN)
    assert victim.get("/admin/").status_code == 200, "control: the victim is logged in"


@pytest.mark.parametrize(
    ("login_url", "logout_url"), [(LOGIN, "/accounts/logout/"), (ADMIN_LOGIN, "/admin/logout/")]
)
def test_a_logged_out_session_cannot_be_replayed(admin_user, login_url, logout_url):
    browser = Client()
    logged_in = page_login(admin_user.username, TEST_PASSWORD, client=browser, url=login_url)
    assert logged_in.status_code == 302
    stolen = browser.cookies[settings.SESSION_COOKIE_NAME].value
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = stolen
    assert thief.get("/tickets/").status_code == 200, "control: the stolen cookie works"

    assert browser.post(logout_url).status_code in (200, 302)

    assert not Session.objects.filter(session_key=stolen).exists()
    assert thief.get("/tickets/")["Location"].startswith(LOGIN)
    assert thief.get("/admin/")["Location"].startswith(ADMIN_LOGIN)
    assert_json_error(thief.get(ME), 401)


def test_an_admin_password_reset_ends_the_users_sessions(requester, admin_user):
    browser = session_client(requester)
    assert browser.get("/tickets/").status_code == 200
    assert browser.get(ME).status_code == 200

    accounts.user_set_password(actor=admin_user, user=requester, password=NEW_PASSWORD)

    assert browser.get("/tickets/")["Location"].startswith(f"{LOGIN}?next=")
    assert_json_error(browser.get(ME), 401)
    assert_no_tokens(api_login("requester", TEST_PASSWORD))
    assert api_login("requester", NEW_PASSWORD).status_code == 200, "control"


@pytest.mark.parametrize("who_changes", ["the user", "an admin"])
def test_a_password_change_ends_every_token_issued_before_it(requester, admin_user, who_changes):
    before = api_login("requester", TEST_PASSWORD).json()
    stolen = APIClient()
    stolen.credentials(HTTP_AUTHORIZATION=f"Bearer {before['access']}")
    assert stolen.get(ME).status_code == 200

    if who_changes == "the user":
        browser = session_client(requester)
        form = {"old_password": TEST_PASSWORD, "password": NEW_PASSWORD}
        changed = browser.post("/accounts/password/", {**form, "password_confirm": NEW_PASSWORD})
        assert changed.status_code == 302
    else:
        accounts.user_set_password(actor=admin_user, user=requester, password=NEW_PASSWORD)

    assert_json_error(stolen.get(ME), 401)
    assert_no_tokens(APIClient().post(REFRESH, {"refresh": before["refresh"]}))
    after = api_login("requester", NEW_PASSWORD).json()
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Bearer {after['access']}")
    assert fresh.get(ME).status_code == 200, "control: a token issued after the change works"
    assert APIClient().post(REFRESH, {"refresh": after["refresh"]}).status_code == 200


# --- Token forgeries -------------------------------------------------------------------------


def b64url(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(user) -> dict:
    return dict(AccessToken.for_user(user).payload)


def hmac_token(header: dict, payload: dict, key: str) -> str:
    """A JWT with any header, signed HMAC-SHA256 with `key`."""
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def without(payload: dict, claim: str) -> dict:
    return {k: v for k, v in payload.items() if k != claim}


REAL_KEY = settings.SECRET_KEY  # simplejwt signs with SECRET_KEY (no SIGNING_KEY is set)
ATTACKER_KEY = "an-attackers-key-of-sufficient-length-0123456789abcdef"

FORGERIES = {
    # The right key, but not the pinned algorithm: algorithm confusion must not work.
    "HS512 with the real key": lambda u: jwt.encode(claims(u), REAL_KEY * 2, algorithm="HS512"),
    "header says RS256, HMAC body": lambda u: hmac_token(
        {"alg": "RS256", "typ": "JWT"}, claims(u), REAL_KEY
    ),
    "alg None": lambda u: f"{b64url({'alg': 'None', 'typ': 'JWT'})}.{b64url(claims(u))}.",
    "alg NONE": lambda u: f"{b64url({'alg': 'NONE', 'typ': 'JWT'})}.{b64url(claims(u))}.",
    "empty signature": lambda u: str(AccessToken.for_user(u)).rsplit(".", 1)[0] + ".",
    "jku and kid of the attacker": lambda u: jwt.encode(
        claims(u),
        ATTACKER_KEY,
        algorithm="HS256",
        headers={"jku": "https://evil.example.com/jwks.json", "kid": "evil"},
    ),
    # Signed with the real key, yet not a token this server issued: a claim is missing.
    "no exp": lambda u: jwt.encode(without(claims(u), "exp"), REAL_KEY, algorithm="HS256"),
    "no jti": lambda u: jwt.encode(without(claims(u), "jti"), REAL_KEY, algorithm="HS256"),
    "no token_type": lambda u: jwt.encode(
        without(claims(u), "token_type"), REAL_KEY, algorithm="HS256"
    ),
    "no user_id": lambda u: jwt.encode(without(claims(u), "user_id"), REAL_KEY, algorithm="HS256"),
}


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("forgery", FORGERIES)
def test_forged_access_token_gets_401_and_changes_nothing(requester, forgery):
    ticket = TicketFactory(creator=requester, title="Моя")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {FORGERIES[forgery](requester)}")

    answers = [
        client.get(ME),
        client.get(f"{API}/tickets/{ticket.pk}/"),
        client.patch(f"{API}/tickets/{ticket.pk}/", {"title": "Подделка"}),
    ]

    for response in answers:
        assert_json_error(response, 401)
        assert b"requester" not in response.content
    ticket.refresh_from_db()
    assert (ticket.title, ticket.version) == ("Моя", 1)


def test_role_claims_in_a_token_are_never_trusted(requester, admin_user):
    """SPEC §3: the role is read from the database, never from a token — even a correctly
    signed one that says otherwise."""
    payload = {**claims(requester), "role": "admin", "is_staff": True, "is_superuser": True}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.encode(payload, REAL_KEY, 'HS256')}")
    foreign = TicketFactory(creator=admin_user)

    assert client.get(ME).json()["role"] == Role.USER
    assert_json_error(client.get(f"{API}/users/"), 403)
    assert_json_error(client.get(f"{API}/tickets/{foreign.pk}/"), 404)
    assert_json_error(client.patch(f"{API}/users/{requester.pk}/", {"role": "admin"}), 403)
    requester.refresh_from_db()
    assert requester.role == Role.USER


def _expired_refresh(user) -> str:
    token = RefreshToken.for_user(user)
    token.set_exp(from_time=timezone.now(), lifetime=-timedelta(minutes=1))
    return str(token)


REFRESH_FORGERIES = {
    "signed with another key": lambda u, other: jwt.encode(
        dict(RefreshToken.for_user(u).payload), ATTACKER_KEY, algorithm="HS256"
    ),
    "alg none": lambda u, other: (
        f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(dict(RefreshToken.for_user(u).payload))}."
    ),
    "expired": lambda u, other: _expired_refresh(u),
    "someone else's user_id, re-signed by the attacker": lambda u, other: jwt.encode(
        {**dict(RefreshToken.for_user(u).payload), "user_id": str(other.pk)},
        ATTACKER_KEY,
        algorithm="HS256",
    ),
    "payload swapped under a real signature": lambda u, other: ".".join(
        [
            str(RefreshToken.for_user(u)).split(".")[0],
            b64url({**dict(RefreshToken.for_user(u).payload), "user_id": str(other.pk)}),
            str(RefreshToken.for_user(u)).split(".")[2],
        ]
    ),
}


@pytest.mark.parametrize("forgery", REFRESH_FORGERIES)
def test_forged_refresh_token_gets_no_tokens(requester, admin_user, forgery):
    response = APIClient().post(
        REFRESH, {"refresh": REFRESH_FORGERIES[forgery](requester, admin_user)}
    )

    assert_json_error(response, 401)
    assert "access" not in response.json() and "refresh" not in response.json()
    # Control: a genuine refresh token of the same user is accepted.
    genuine = APIClient().post(REFRESH, {"refresh": str(RefreshToken.for_user(requester))})
    assert genuine.status_code == 200
