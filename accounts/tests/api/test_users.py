"""Users over the API (SPEC §3, §5): the current user, the admin's user management, and the
manager's list of technicians to assign."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Role, User
from accounts.tests.factories import (
    AdminFactory,
    ManagerFactory,
    TechnicianFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me/"
USERS = "/api/v1/users/"
USER_FIELDS = {
    "id",
    "username",
    "email",
    "first_name",
    "last_name",
    "full_name",
    "role",
    "department",
    "is_active",
}


def detail_url(user) -> str:
    return f"{USERS}{user.pk}/"


def usernames(response) -> set[str]:
    assert response.status_code == 200, response.json()
    return {item["username"] for item in response.json()["results"]}


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["type"] in {"client_error", "validation_error"}
    assert body["errors"]
    return body


def error_attrs(response) -> set:
    return {error["attr"] for error in response.json()["errors"]}


def new_user(**overrides) -> dict:
    data = {
        "username": "hired",
        "email": "hired@example.com",
        "password": "Sturdy-Lantern-Orbit-77",
        "first_name": "Олег",
        "last_name": "Новиков",
        "department": "Сеть",
    }
    data.update(overrides)
    return data


@pytest.fixture
def population(personas, other_technician):
    """Every persona, plus an inactive technician, an inactive requester, a second admin
    and a second manager."""
    return {
        **{user.username: user for user in personas.values()},
        "other_technician": other_technician,
        "retired_tech": TechnicianFactory(username="retired_tech", is_active=False),
        "left_requester": UserFactory(username="left_requester", is_active=False),
        "second_admin": AdminFactory(username="second_admin"),
        "second_manager": ManagerFactory(username="second_manager"),
    }


# --- GET users/me/ ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_me_returns_the_current_user_in_the_spec_shape(api_client, personas, role):
    user = personas[role]
    response = api_client(user).get(ME)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body == {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "full_name": f"{user.first_name} {user.last_name}",
        "role": role.value,
        "department": user.department,
        "is_active": True,
    }


def test_me_full_name_falls_back_to_the_username(api_client):
    nameless = UserFactory(username="nameless", first_name="", last_name="")
    assert api_client(nameless).get(ME).json()["full_name"] == "nameless"


def test_me_requires_authentication(api_client):
    assert_error(api_client().get(ME), 401)


# --- GET users/ ------------------------------------------------------------------------------


def test_admin_lists_every_user(api_client, population):
    response = api_client(population["admin"]).get(USERS)
    assert usernames(response) == set(population)
    assert response.json()["count"] == len(population)
    assert all(set(item) == USER_FIELDS for item in response.json()["results"])


def test_admin_filters_users_by_role(api_client, population):
    client = api_client(population["admin"])
    assert usernames(client.get(USERS, {"role": "technician"})) == {
        "technician",
        "other_technician",
        "retired_tech",
    }
    assert usernames(client.get(USERS, {"role": "admin"})) == {"admin", "second_admin"}
    assert usernames(client.get(USERS, {"role": "user"})) == {"requester", "left_requester"}


def test_admin_filters_users_by_activity(api_client, population):
    client = api_client(population["admin"])
    assert usernames(client.get(USERS, {"is_active": "false"})) == {
        "retired_tech",
        "left_requester",
    }
    active = usernames(client.get(USERS, {"is_active": "true"}))
    assert active == set(population) - {"retired_tech", "left_requester"}


def test_admin_combines_role_and_activity_filters(api_client, population):
    response = api_client(population["admin"]).get(
        USERS, {"role": "technician", "is_active": "true"}
    )
    assert usernames(response) == {"technician", "other_technician"}


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("ZHUK", {"zhukov"}),  # username, any case
        ("уковск", {"zhukov"}),  # last name
        ("Евлампий", {"evl"}),  # first name
        ("mailbox-42@corp", {"evl"}),  # email
        ("nobody-matches-this", set()),
    ],
)
def test_admin_searches_users_by_username_name_and_email(api_client, admin_user, term, expected):
    UserFactory(username="zhukov", first_name="Пётр", last_name="Жуковский")
    UserFactory(username="evl", first_name="Евлампий", email="mailbox-42@corp.example")
    assert usernames(api_client(admin_user).get(USERS, {"search": term})) == expected


def test_user_list_refuses_an_unknown_role_filter(api_client, admin_user):
    response = api_client(admin_user).get(USERS, {"role": "wizard"})
    assert_error(response, 400)
    assert "role" in error_attrs(response)


def test_manager_lists_only_active_technicians(api_client, population):
    response = api_client(population["manager"]).get(USERS)
    assert usernames(response) == {"technician", "other_technician"}
    assert {item["role"] for item in response.json()["results"]} == {"technician"}


@pytest.mark.parametrize(
    "params",
    [{"role": "admin"}, {"role": "user"}, {"is_active": "false"}, {"search": "admin"}],
)
def test_manager_cannot_widen_the_list_with_filters(api_client, population, params):
    listed = usernames(api_client(population["manager"]).get(USERS, params))
    assert listed <= {"technician", "other_technician"}
    assert not listed & {"admin", "second_admin", "requester", "retired_tech", "left_requester"}


def test_manager_search_finds_a_technician(api_client, population):
    response = api_client(population["manager"]).get(USERS, {"search": "other_tech"})
    assert usernames(response) == {"other_technician"}


@pytest.mark.parametrize("role", [Role.USER, Role.TECHNICIAN])
def test_requesters_and_technicians_cannot_list_users(api_client, personas, role):
    assert_error(api_client(personas[role]).get(USERS), 403)


def test_anonymous_cannot_list_users(api_client, population):
    assert_error(api_client().get(USERS), 401)


def test_user_list_query_count_does_not_grow_with_users(
    api_client, admin_user, django_assert_max_num_queries
):
    for n in range(30):
        UserFactory(username=f"bulk{n}")
    client = api_client(admin_user)
    with django_assert_max_num_queries(4):
        response = client.get(USERS, {"page_size": 100})
    assert response.json()["count"] == 31


# --- POST users/ -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_admin_creates_a_user_with_any_role(api_client, admin_user, role):
    response = api_client(admin_user).post(USERS, new_user(role=role.value))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == USER_FIELDS
    assert (body["username"], body["role"], body["is_active"]) == ("hired", role.value, True)
    created = User.objects.get(username="hired")
    assert created.role == role
    assert created.check_password("Sturdy-Lantern-Orbit-77")
    token = APIClient().post(
        "/api/v1/auth/token/", {"username": "hired", "password": "Sturdy-Lantern-Orbit-77"}
    )
    assert token.status_code == 200


def test_admin_creates_an_inactive_user(api_client, admin_user):
    response = api_client(admin_user).post(USERS, new_user(is_active=False))
    assert response.status_code == 201, response.json()
    assert User.objects.get(username="hired").is_active is False


def test_user_created_without_a_role_is_a_requester(api_client, admin_user):
    response = api_client(admin_user).post(USERS, new_user())
    assert response.status_code == 201, response.json()
    assert response.json()["role"] == Role.USER


@pytest.mark.parametrize("role", [Role.USER, Role.TECHNICIAN, Role.MANAGER])
def test_non_admins_cannot_create_users(api_client, personas, role):
    response = api_client(personas[role]).post(USERS, new_user(role="admin"))
    assert_error(response, 403)
    assert not User.objects.filter(username="hired").exists()


def test_anonymous_cannot_create_users(api_client):
    assert_error(api_client().post(USERS, new_user()), 401)
    assert not User.objects.filter(username="hired").exists()


@pytest.mark.parametrize(
    ("field", "value"), [("is_superuser", True), ("is_staff", True), ("date_joined", "2000")]
)
def test_user_create_refuses_unknown_fields(api_client, admin_user, field, value):
    response = api_client(admin_user).post(USERS, new_user(**{field: value}))
    assert_error(response, 400)
    assert field in error_attrs(response)
    assert not User.objects.filter(username="hired").exists()


@pytest.mark.parametrize(
    ("overrides", "attr"),
    [
        ({"role": "overlord"}, "role"),
        ({"password": "12345678"}, "password"),
        ({"email": "ADMIN@example.com"}, "email"),
        ({"username": "requester"}, "username"),
    ],
)
def test_user_create_validates_its_input(api_client, admin_user, requester, overrides, attr):
    response = api_client(admin_user).post(USERS, new_user(**overrides))
    assert_error(response, 400)
    assert attr in error_attrs(response)
    assert not User.objects.filter(email="hired@example.com").exists()


# --- PATCH users/{id}/ -----------------------------------------------------------------------


def test_admin_changes_a_users_role(api_client, admin_user, requester):
    response = api_client(admin_user).patch(detail_url(requester), {"role": "technician"})
    assert response.status_code == 200, response.json()
    assert response.json()["role"] == "technician"
    requester.refresh_from_db()
    assert requester.role == Role.TECHNICIAN


def test_admin_changes_a_users_department(api_client, admin_user, technician):
    response = api_client(admin_user).patch(detail_url(technician), {"department": "Связь"})
    assert response.status_code == 200, response.json()
    assert response.json()["department"] == "Связь"
    technician.refresh_from_db()
    assert technician.department == "Связь"


def test_admin_deactivates_and_reactivates_a_user(api_client, admin_user, technician):
    client = api_client(admin_user)
    response = client.patch(detail_url(technician), {"is_active": False})
    assert response.status_code == 200, response.json()
    assert response.json()["is_active"] is False
    technician.refresh_from_db()
    assert technician.is_active is False
    assert client.patch(detail_url(technician), {"is_active": True}).json()["is_active"] is True
    technician.refresh_from_db()
    assert technician.is_active is True


def test_admin_changes_are_recorded_as_events(
    api_client, admin_user, requester, events_log, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api_client(admin_user).patch(detail_url(requester), {"role": "manager", "is_active": False})
    events = {event["event"]: event for event in events_log()}
    assert events["user.role_changed"]["actor_id"] == admin_user.pk
    assert events["user.role_changed"]["details"] == {
        "user_id": requester.pk,
        "old": "user",
        "new": "manager",
    }
    assert events["user.deactivated"]["details"] == {"user_id": requester.pk}


@pytest.mark.parametrize("change", [{"role": "user"}, {"is_active": False}])
def test_admin_cannot_change_their_own_role_or_deactivate_themselves(
    api_client, admin_user, change
):
    response = api_client(admin_user).patch(detail_url(admin_user), change)
    assert_error(response, 403)
    admin_user.refresh_from_db()
    assert (admin_user.role, admin_user.is_active) == (Role.ADMIN, True)


def test_admin_may_edit_their_own_department(api_client, admin_user):
    response = api_client(admin_user).patch(detail_url(admin_user), {"department": "ИТ"})
    assert response.status_code == 200, response.json()
    admin_user.refresh_from_db()
    assert admin_user.department == "ИТ"


@pytest.mark.parametrize("role", [Role.USER, Role.TECHNICIAN, Role.MANAGER])
def test_non_admins_cannot_change_users(api_client, personas, other_technician, role):
    client = api_client(personas[role])
    department = other_technician.department
    assert_error(client.patch(detail_url(other_technician), {"role": "admin"}), 403)
    assert_error(client.patch(detail_url(personas[role]), {"role": "admin"}), 403)
    assert_error(client.patch(detail_url(other_technician), {"department": "X"}), 403)
    other_technician.refresh_from_db()
    assert (other_technician.role, other_technician.department) == (Role.TECHNICIAN, department)
    assert User.objects.filter(role=Role.ADMIN).count() == 1


def test_anonymous_cannot_change_users(api_client, requester):
    assert_error(api_client().patch(detail_url(requester), {"role": "admin"}), 401)
    requester.refresh_from_db()
    assert requester.role == Role.USER


@pytest.mark.parametrize(
    ("field", "value"),
    [("is_superuser", True), ("is_staff", True), ("username", "renamed"), ("password", "x")],
)
def test_user_update_refuses_unknown_fields(api_client, admin_user, requester, field, value):
    response = api_client(admin_user).patch(detail_url(requester), {field: value})
    assert_error(response, 400)
    assert field in error_attrs(response)
    requester.refresh_from_db()
    assert requester.username == "requester"


def test_user_update_refuses_an_invalid_role(api_client, admin_user, requester):
    response = api_client(admin_user).patch(detail_url(requester), {"role": "overlord"})
    assert_error(response, 400)
    assert error_attrs(response) == {"role"}


def test_user_update_of_a_nonexistent_user_is_404(api_client, admin_user):
    missing = User.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    assert_error(api_client(admin_user).patch(f"{USERS}{missing}/", {"role": "user"}), 404)


# --- GET users/{id}/ -------------------------------------------------------------------------


def test_admin_sees_any_user(api_client, population):
    client = api_client(population["admin"])
    for user in population.values():
        response = client.get(detail_url(user))
        assert response.status_code == 200
        assert response.json()["username"] == user.username
        assert set(response.json()) == USER_FIELDS


def test_manager_sees_an_active_technician(api_client, manager, technician):
    response = api_client(manager).get(detail_url(technician))
    assert response.status_code == 200
    assert response.json()["username"] == "technician"


@pytest.mark.parametrize("target", ["requester", "retired_tech", "admin", "second_manager"])
def test_manager_gets_404_for_anyone_but_an_active_technician(api_client, population, target):
    assert_error(api_client(population["manager"]).get(detail_url(population[target])), 404)


@pytest.mark.parametrize("role", [Role.USER, Role.TECHNICIAN])
def test_requesters_and_technicians_cannot_see_users(api_client, personas, role):
    assert_error(api_client(personas[role]).get(detail_url(personas[Role.TECHNICIAN])), 403)


def test_admin_gets_404_for_a_nonexistent_user(api_client, admin_user):
    missing = User.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    assert_error(api_client(admin_user).get(f"{USERS}{missing}/"), 404)


# --- Deactivation takes effect at once ---------------------------------------------------------


def test_deactivated_users_existing_token_is_refused_on_the_next_request(
    api_client, admin_user, technician
):
    victim = APIClient()
    victim.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(technician)}")
    assert victim.get(ME).status_code == 200
    response = api_client(admin_user).patch(detail_url(technician), {"is_active": False})
    assert response.status_code == 200
    assert_error(victim.get(ME), 401)
    assert_error(victim.post("/api/v1/tickets/", {"title": "T", "description": "D"}), 401)


def test_demotion_through_the_api_takes_effect_on_the_next_request(api_client, admin_user, manager):
    boss = api_client(manager)
    assert boss.get(USERS).status_code == 200
    api_client(admin_user).patch(detail_url(manager), {"role": "technician"})
    assert_error(boss.get(USERS), 403)
