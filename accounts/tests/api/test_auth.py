"""Authentication over the API (SPEC §3, §5): registration, JWT tokens, token attacks, the
browser session with CSRF, and login throttling."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import Role, User
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from accounts.throttling import client_ip
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/users/me/"
USERS = "/api/v1/users/"
WRONG_PASSWORD = "Not-The-Password-987"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Registration's rate limit counts in the cache, which outlives a test's transaction."""
    cache.clear()
    yield
    cache.clear()


def error_attrs(response) -> set:
    return {error["attr"] for error in response.json()["errors"]}


def assert_error_shape(response, status: int, error_type: str = "client_error") -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["type"] == error_type
    assert body["errors"], body
    for error in body["errors"]:
        assert set(error) == {"code", "detail", "attr"}
    return body


def registration(**overrides) -> dict:
    data = {
        "username": "newcomer",
        "email": "newcomer@example.com",
        "password": "Sturdy-Lantern-Orbit-77",
        "first_name": "Нина",
        "last_name": "Новикова",
        "department": "Склад",
    }
    data.update(overrides)
    return data


def obtain(client: APIClient, username: str, password: str = TEST_PASSWORD, **extra):
    return client.post(TOKEN, {"username": username, "password": password}, **extra)


def bearer(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def b64url(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# --- Registration ---------------------------------------------------------------------------


def test_registration_creates_a_requester(api_client):
    response = api_client().post(REGISTER, registration())
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["role"] == Role.USER
    assert body["username"] == "newcomer"
    assert body["is_active"] is True
    assert "password" not in body
    user = User.objects.get(username="newcomer")
    assert user.role == Role.USER
    assert user.department == "Склад"
    assert user.check_password("Sturdy-Lantern-Orbit-77")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("role", "admin"),
        ("role", "manager"),
        ("is_staff", True),
        ("is_superuser", True),
        ("is_active", False),
        ("date_joined", "2000-01-01T00:00:00Z"),
        ("id", 1),
        ("groups", [1]),
    ],
)
def test_registration_refuses_privileged_or_unknown_fields(api_client, field, value):
    response = api_client().post(REGISTER, registration(**{field: value}))
    assert_error_shape(response, 400, "validation_error")
    assert field in error_attrs(response)
    assert not User.objects.filter(username="newcomer").exists()


def test_registration_refuses_a_weak_password(api_client):
    response = api_client().post(REGISTER, registration(password="12345678"))
    assert_error_shape(response, 400, "validation_error")
    assert error_attrs(response) == {"password"}
    assert not User.objects.filter(username="newcomer").exists()


def test_registration_refuses_a_password_like_the_username(api_client):
    response = api_client().post(
        REGISTER, registration(username="orbitlantern", password="orbitlantern")
    )
    assert_error_shape(response, 400, "validation_error")
    assert "password" in error_attrs(response)
    assert not User.objects.filter(username="orbitlantern").exists()


def test_registration_refuses_an_email_taken_in_another_case(api_client, requester):
    response = api_client().post(REGISTER, registration(email=requester.email.upper()))
    assert_error_shape(response, 400, "validation_error")
    assert error_attrs(response) == {"email"}
    assert not User.objects.filter(username="newcomer").exists()


def test_registration_refuses_a_taken_username(api_client, requester):
    response = api_client().post(REGISTER, registration(username=requester.username))
    assert_error_shape(response, 400, "validation_error")
    assert "username" in error_attrs(response)
    assert User.objects.filter(username=requester.username).count() == 1
    assert not User.objects.filter(email="newcomer@example.com").exists()


@pytest.mark.parametrize("missing", ["username", "email", "password"])
def test_registration_requires_username_email_and_password(api_client, missing):
    data = registration()
    del data[missing]
    response = api_client().post(REGISTER, data)
    assert_error_shape(response, 400, "validation_error")
    assert missing in error_attrs(response)
    assert User.objects.count() == 0


def test_registration_refuses_an_invalid_email(api_client):
    response = api_client().post(REGISTER, registration(email="not-an-email"))
    assert_error_shape(response, 400, "validation_error")
    assert error_attrs(response) == {"email"}
    assert User.objects.count() == 0


def test_registered_user_can_obtain_tokens_and_call_the_api(api_client):
    api_client().post(REGISTER, registration())
    response = obtain(APIClient(), "newcomer", "Sturdy-Lantern-Orbit-77")
    assert response.status_code == 200, response.json()
    me = bearer(response.json()["access"]).get(ME)
    assert me.status_code == 200
    assert (me.json()["username"], me.json()["role"]) == ("newcomer", Role.USER)


# --- Tokens ---------------------------------------------------------------------------------


def test_token_endpoint_returns_an_access_and_a_refresh_token(requester):
    response = obtain(APIClient(), "requester")
    assert response.status_code == 200, response.json()
    assert set(response.json()) == {"access", "refresh"}
    access = AccessToken(response.json()["access"])
    refresh = RefreshToken(response.json()["refresh"])
    assert str(access["user_id"]) == str(requester.pk)
    assert str(refresh["user_id"]) == str(requester.pk)


def test_wrong_password_and_unknown_user_get_the_same_401(requester):
    wrong_password = obtain(APIClient(), "requester", WRONG_PASSWORD)
    unknown_user = obtain(APIClient(), "nobody-at-all", WRONG_PASSWORD)
    assert_error_shape(wrong_password, 401)
    assert_error_shape(unknown_user, 401)
    assert wrong_password.json() == unknown_user.json()
    assert "access" not in wrong_password.json()


def test_inactive_user_cannot_obtain_tokens(requester):
    requester.is_active = False
    requester.save(update_fields=["is_active"])
    response = obtain(APIClient(), "requester")
    assert_error_shape(response, 401)
    assert response.json() == obtain(APIClient(), "nobody-at-all", WRONG_PASSWORD).json()


def test_access_tokens_live_at_most_15_minutes(requester):
    access = AccessToken(obtain(APIClient(), "requester").json()["access"])
    lifetime = access["exp"] - access["iat"]
    assert 0 < lifetime <= 15 * 60


def test_refresh_rotates_both_tokens_and_blacklists_the_old_refresh(requester):
    pair = obtain(APIClient(), "requester").json()
    rotated = APIClient().post(REFRESH, {"refresh": pair["refresh"]})
    assert rotated.status_code == 200, rotated.json()
    new = rotated.json()
    assert set(new) == {"access", "refresh"}
    assert new["refresh"] != pair["refresh"]
    assert new["access"] != pair["access"]
    assert bearer(new["access"]).get(ME).status_code == 200

    reused = APIClient().post(REFRESH, {"refresh": pair["refresh"]})
    assert_error_shape(reused, 401)
    assert APIClient().post(REFRESH, {"refresh": new["refresh"]}).status_code == 200


def test_refresh_refuses_garbage_and_access_tokens(requester):
    access = obtain(APIClient(), "requester").json()["access"]
    assert_error_shape(APIClient().post(REFRESH, {"refresh": "garbage"}), 401)
    assert_error_shape(APIClient().post(REFRESH, {"refresh": access}), 401)


def test_logout_blacklists_the_refresh_token(requester):
    pair = obtain(APIClient(), "requester").json()
    response = bearer(pair["access"]).post(LOGOUT, {"refresh": pair["refresh"]})
    assert response.status_code == 204
    assert response.content == b""
    refused = APIClient().post(REFRESH, {"refresh": pair["refresh"]})
    assert_error_shape(refused, 401)


def test_logout_refuses_someone_elses_refresh_token(requester, other_requester):
    mine = obtain(APIClient(), "requester").json()
    theirs = obtain(APIClient(), "other_requester").json()
    response = bearer(mine["access"]).post(LOGOUT, {"refresh": theirs["refresh"]})
    assert_error_shape(response, 400, "validation_error")
    assert error_attrs(response) == {"refresh"}
    still_works = APIClient().post(REFRESH, {"refresh": theirs["refresh"]})
    assert still_works.status_code == 200


def test_logout_refuses_a_garbage_refresh_token(requester):
    pair = obtain(APIClient(), "requester").json()
    response = bearer(pair["access"]).post(LOGOUT, {"refresh": "garbage"})
    assert_error_shape(response, 400, "validation_error")
    assert error_attrs(response) == {"refresh"}


def test_logout_requires_authentication(requester):
    pair = obtain(APIClient(), "requester").json()
    response = APIClient().post(LOGOUT, {"refresh": pair["refresh"]})
    assert_error_shape(response, 401)
    assert APIClient().post(REFRESH, {"refresh": pair["refresh"]}).status_code == 200


# --- Token attacks on a protected endpoint ----------------------------------------------------


def test_valid_token_reaches_the_protected_endpoint(requester):
    response = bearer(AccessToken.for_user(requester)).get(ME)
    assert response.status_code == 200
    assert response.json()["id"] == requester.pk


def test_no_token_gets_401(api_client):
    assert_error_shape(api_client().get(ME), 401)


def test_token_signed_with_another_key_gets_401(requester):
    payload = dict(AccessToken.for_user(requester).payload)
    forged = jwt.encode(payload, "an-attackers-key-of-sufficient-length-0123", algorithm="HS256")
    assert_error_shape(bearer(forged).get(ME), 401)


def test_token_with_tampered_payload_gets_401(requester, admin_user):
    header, _payload, signature = str(AccessToken.for_user(requester)).split(".")
    claims = dict(AccessToken.for_user(requester).payload, user_id=admin_user.pk)
    tampered = f"{header}.{b64url(claims)}.{signature}"
    assert_error_shape(bearer(tampered).get(ME), 401)


def test_expired_token_gets_401(requester):
    token = AccessToken.for_user(requester)
    token.set_exp(from_time=timezone.now(), lifetime=-timedelta(minutes=1))
    assert_error_shape(bearer(token).get(ME), 401)


def test_alg_none_token_gets_401(requester):
    claims = dict(AccessToken.for_user(requester).payload)
    unsigned = f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims)}."
    assert_error_shape(bearer(unsigned).get(ME), 401)


def test_refresh_token_used_as_access_token_gets_401(requester):
    refresh = obtain(APIClient(), "requester").json()["refresh"]
    assert_error_shape(bearer(refresh).get(ME), 401)


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c", "Bearer", ""])
def test_garbage_token_gets_401(requester, garbage):
    assert_error_shape(bearer(garbage).get(ME), 401)


def test_token_for_a_nonexistent_user_gets_401(requester):
    token = AccessToken.for_user(requester)
    token["user_id"] = User.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    assert_error_shape(bearer(token).get(ME), 401)


def test_token_of_a_deleted_user_gets_401(db):
    doomed = UserFactory(username="doomed")
    client = bearer(AccessToken.for_user(doomed))
    assert client.get(ME).status_code == 200
    doomed.delete()
    assert_error_shape(client.get(ME), 401)


def test_token_of_a_user_deactivated_after_issue_gets_401(requester):
    client = bearer(obtain(APIClient(), "requester").json()["access"])
    assert client.get(ME).status_code == 200
    requester.is_active = False
    requester.save(update_fields=["is_active"])
    assert_error_shape(client.get(ME), 401)


def test_role_change_takes_effect_on_the_next_request_with_the_same_token(manager):
    client = bearer(obtain(APIClient(), "manager").json()["access"])
    assert client.get(USERS).status_code == 200
    manager.role = Role.USER
    manager.save(update_fields=["role"])
    assert_error_shape(client.get(USERS), 403)
    assert client.get(ME).json()["role"] == Role.USER


def test_promotion_takes_effect_on_the_next_request_with_the_same_token(requester):
    client = bearer(obtain(APIClient(), "requester").json()["access"])
    assert client.get(USERS).status_code == 403
    requester.role = Role.ADMIN
    requester.save(update_fields=["role"])
    response = client.get(USERS)
    assert response.status_code == 200
    assert [u["username"] for u in response.json()["results"]] == ["requester"]


# --- The browser session, for the site's own JavaScript ---------------------------------------


def csrf_cookie(client: Client) -> str:
    """Loads a page with a form, as the browser does before the JavaScript runs."""
    client.get("/admin/login/")
    return client.cookies["csrftoken"].value


def test_session_authenticates_the_api(requester):
    client = Client()
    client.force_login(requester)
    response = client.get(ME)
    assert response.status_code == 200
    assert response.json()["username"] == "requester"


def test_session_post_without_csrf_token_is_refused_with_json_403(requester):
    client = Client(enforce_csrf_checks=True)
    client.force_login(requester)
    response = client.post(
        "/api/v1/tickets/",
        {"title": "Сломан стул", "description": "Ножка"},
        content_type="application/json",
    )
    assert_error_shape(response, 403)
    assert not Ticket.objects.exists()


def test_session_post_with_csrf_token_creates_a_ticket(requester):
    client = Client(enforce_csrf_checks=True)
    client.force_login(requester)
    csrf_token = csrf_cookie(client)
    response = client.post(
        "/api/v1/tickets/",
        {"title": "Сломан стул", "description": "Ножка"},
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token},
    )
    assert response.status_code == 201, response.json()
    assert response.json()["creator"]["username"] == "requester"
    assert Ticket.objects.get().creator == requester


def test_session_post_with_a_wrong_csrf_token_is_refused(requester):
    client = Client(enforce_csrf_checks=True)
    client.force_login(requester)
    csrf_cookie(client)
    response = client.post(
        "/api/v1/tickets/",
        {"title": "Сломан стул", "description": "Ножка"},
        content_type="application/json",
        headers={"X-CSRFToken": "x" * 32},
    )
    assert_error_shape(response, 403)


def test_bearer_token_needs_no_csrf_token(requester):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(requester)}")
    response = client.post("/api/v1/tickets/", {"title": "Сломан стул", "description": "Ножка"})
    assert response.status_code == 201, response.json()


# --- Login throttling -----------------------------------------------------------------------


def fail(client, username: str, times: int = 5, **extra) -> None:
    """`times` wrong passwords; the one that reaches the limit may already answer 429."""
    for attempt in range(1, times + 1):
        response = obtain(client, username, WRONG_PASSWORD, **extra)
        allowed = {401, 429} if attempt >= 5 else {401}
        assert response.status_code in allowed, response.json()


def assert_login_refused(response) -> None:
    """The right password got no tokens: the pair is locked out."""
    assert response.status_code in {401, 429}, response.content
    assert "access" not in response.json()
    assert "refresh" not in response.json()


def assert_locked_out(response) -> None:
    body = assert_error_shape(response, 429)
    assert body["errors"][0]["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 15 * 60


def test_right_password_is_refused_after_five_failures(requester):
    client = APIClient()
    fail(client, "requester", times=5)
    assert_login_refused(obtain(client, "requester"))


def test_sixth_attempt_after_five_failures_gets_429_with_retry_after(requester):
    client = APIClient()
    fail(client, "requester", times=5)
    assert_locked_out(obtain(client, "requester"))


def test_locked_out_wrong_password_also_gets_429(requester):
    client = APIClient()
    fail(client, "requester", times=5)
    assert_locked_out(obtain(client, "requester", WRONG_PASSWORD))


def test_four_failures_do_not_lock(requester):
    client = APIClient()
    fail(client, "requester", times=4)
    assert obtain(client, "requester").status_code == 200


def test_lockout_does_not_block_another_username_from_the_same_address(requester, other_requester):
    client = APIClient()
    fail(client, "requester")
    assert obtain(client, "other_requester").status_code == 200
    assert_login_refused(obtain(client, "requester"))


def test_lockout_does_not_block_the_same_username_from_another_address(requester):
    fail(APIClient(), "requester", REMOTE_ADDR="198.51.100.1")
    assert obtain(APIClient(), "requester", REMOTE_ADDR="198.51.100.2").status_code == 200
    assert_login_refused(obtain(APIClient(), "requester", REMOTE_ADDR="198.51.100.1"))


def test_forged_x_forwarded_for_does_not_dodge_the_lockout(requester):
    client = APIClient()
    for n in range(5):
        forged = {"HTTP_X_FORWARDED_FOR": f"203.0.113.{n}"}
        response = obtain(client, "requester", WRONG_PASSWORD, **forged)
        assert response.status_code in ({401, 429} if n == 4 else {401})
    assert_login_refused(obtain(client, "requester", HTTP_X_FORWARDED_FOR="203.0.113.99"))
    assert_login_refused(obtain(client, "requester"))
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_behind_one_trusted_proxy_the_client_is_the_last_forwarded_address(requester, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for n in range(5):
        forwarded = f"192.0.2.{n}, 203.0.113.7"  # the left part is the client's to forge
        response = obtain(
            APIClient(), "requester", WRONG_PASSWORD, HTTP_X_FORWARDED_FOR=forwarded, **proxy
        )
        assert response.status_code in ({401, 429} if n == 4 else {401})
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}
    locked = obtain(APIClient(), "requester", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.7", **proxy)
    assert_login_refused(locked)
    neighbour = obtain(APIClient(), "requester", HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy)
    assert neighbour.status_code == 200


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "", "10.0.0.1"),
        (0, "203.0.113.7", "10.0.0.1"),
        (0, "6.6.6.6, 203.0.113.7", "10.0.0.1"),
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "6.6.6.6, 7.7.7.7, 203.0.113.7", "203.0.113.7"),
        (1, " 6.6.6.6 ,203.0.113.7 ", "203.0.113.7"),
        (1, "", "10.0.0.1"),
        (2, "203.0.113.7, 172.16.0.2", "203.0.113.7"),
        (2, "6.6.6.6, 203.0.113.7, 172.16.0.2", "203.0.113.7"),
        (2, "172.16.0.2", "10.0.0.1"),
    ],
)
def test_client_ip_trusts_only_the_configured_number_of_proxies(
    settings, proxies, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().post(TOKEN, REMOTE_ADDR="10.0.0.1", **extra)
    assert client_ip(request) == expected


def test_lockout_is_kept_in_the_database_and_shared_by_every_client(requester):
    fail(APIClient(), "requester")
    attempts = AccessAttempt.objects.filter(username="requester", ip_address="127.0.0.1")
    assert sum(attempts.values_list("failures_since_start", flat=True)) == 5
    assert_login_refused(obtain(APIClient(), "requester"))
    attempts.delete()
    assert obtain(APIClient(), "requester").status_code == 200, "the rows are the lock"


def test_lockout_from_the_api_also_refuses_the_admin_login_page(admin_user):
    fail(APIClient(), "admin")
    browser = Client()
    response = browser.post(
        "/admin/login/?next=/admin/", {"username": "admin", "password": TEST_PASSWORD}
    )
    assert response.status_code == 429
    assert "_auth_user_id" not in browser.session


def test_lockout_from_the_admin_login_page_also_refuses_the_api(admin_user):
    browser = Client()
    for _ in range(5):
        browser.post("/admin/login/", {"username": "admin", "password": WRONG_PASSWORD})
    assert "_auth_user_id" not in browser.session
    right = browser.post("/admin/login/", {"username": "admin", "password": TEST_PASSWORD})
    assert right.status_code == 429
    assert "_auth_user_id" not in browser.session
    assert_login_refused(obtain(APIClient(), "admin"))


def test_successful_admin_page_login_before_the_limit_resets_the_count(admin_user):
    for _ in range(4):
        browser = Client()
        response = browser.post("/admin/login/", {"username": "admin", "password": WRONG_PASSWORD})
        assert response.status_code == 200
    browser = Client()
    browser.post("/admin/login/", {"username": "admin", "password": TEST_PASSWORD})
    assert "_auth_user_id" in browser.session
    assert not AccessAttempt.objects.filter(username="admin").exists()


def test_successful_api_login_before_the_limit_resets_the_count(requester):
    client = APIClient()
    fail(client, "requester", times=4)
    assert obtain(client, "requester").status_code == 200
    assert not AccessAttempt.objects.filter(username="requester").exists()
    fail(client, "requester", times=4)
    assert obtain(client, "requester").status_code == 200


def test_lockout_expires_after_the_cool_off(requester):
    client = APIClient()
    fail(client, "requester")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14))
    assert_login_refused(obtain(client, "requester"))
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert obtain(client, "requester").status_code == 200


def test_admin_page_lockout_expires_after_the_cool_off(admin_user):
    fail(APIClient(), "admin")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    browser = Client()
    browser.post("/admin/login/", {"username": "admin", "password": TEST_PASSWORD})
    assert "_auth_user_id" in browser.session


def test_failed_login_never_writes_the_password_to_the_log(requester, app_log):
    secret = "Very-Secret-Typo-4711"
    assert obtain(APIClient(), "requester", secret).status_code == 401
    Client().post("/admin/login/", {"username": "requester", "password": secret})
    log = app_log()
    assert "requester" in log, "the failed login is logged"
    assert secret not in log
    assert not AccessAttempt.objects.filter(post_data__contains=secret).exists()
