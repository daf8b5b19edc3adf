import pytest

from accounts.models import Role, User
from accounts.services import (
    user_change_role,
    user_create,
    user_register,
    user_set_active,
    user_set_password,
    user_update,
)
from accounts.tests.factories import UserFactory
from techticket.errors import PermissionDenied, ValidationError

pytestmark = pytest.mark.django_db


def test_registration_always_creates_a_requester(events_log):
    user = user_register(
        username="newbie",
        email="Newbie@Example.com",
        password="Quite-Long-Pass-77",
        first_name="Новый",
        department="Склад",
    )
    assert user.role == Role.USER
    assert user.email == "Newbie@example.com"
    assert user.check_password("Quite-Long-Pass-77")


def test_registration_applies_password_validators():
    with pytest.raises(ValidationError) as caught:
        user_register(username="weak", email="weak@example.com", password="12345")
    assert caught.value.field == "password"
    assert not User.objects.filter(username="weak").exists()


def test_registration_refuses_an_email_taken_in_another_case(requester):
    with pytest.raises(ValidationError):
        user_register(username="twin", email=requester.email.upper(), password="Quite-Long-Pass-77")


def test_admin_creates_a_user_with_any_role(admin_user):
    user = user_create(
        actor=admin_user,
        username="fixer",
        email="fixer@example.com",
        password="Quite-Long-Pass-77",
        role=Role.TECHNICIAN,
    )
    assert user.role == Role.TECHNICIAN


@pytest.mark.parametrize("role", [Role.USER, Role.TECHNICIAN, Role.MANAGER])
def test_non_admins_cannot_create_users(personas, role):
    with pytest.raises(PermissionDenied):
        user_create(
            actor=personas[role],
            username="x1",
            email="x1@example.com",
            password="Quite-Long-Pass-77",
            role=Role.ADMIN,
        )
    assert not User.objects.filter(username="x1").exists()


@pytest.mark.django_db(transaction=True)
def test_admin_changes_a_role_and_an_event_is_written(admin_user, requester, events_log):
    user_change_role(actor=admin_user, user=requester, role=Role.TECHNICIAN)
    requester.refresh_from_db()
    assert requester.role == Role.TECHNICIAN
    events = [e for e in events_log() if e["event"] == "user.role_changed"]
    assert events == [
        {
            "ts": events[0]["ts"],
            "event": "user.role_changed",
            "ticket_id": None,
            "actor_id": admin_user.pk,
            "request_id": None,
            "details": {"user_id": requester.pk, "old": "user", "new": "technician"},
        }
    ]


@pytest.mark.parametrize("role", [Role.USER, Role.TECHNICIAN, Role.MANAGER])
def test_non_admins_cannot_change_roles(personas, role, other_requester):
    with pytest.raises(PermissionDenied):
        user_change_role(actor=personas[role], user=other_requester, role=Role.ADMIN)
    other_requester.refresh_from_db()
    assert other_requester.role == Role.USER


def test_nobody_changes_their_own_role(admin_user, requester):
    with pytest.raises(PermissionDenied):
        user_change_role(actor=admin_user, user=admin_user, role=Role.USER)
    with pytest.raises(PermissionDenied):
        user_change_role(actor=requester, user=requester, role=Role.ADMIN)


def test_a_user_edits_their_own_profile_but_not_someone_elses(requester, other_requester):
    user_update(actor=requester, user=requester, department="Склад №2")
    requester.refresh_from_db()
    assert requester.department == "Склад №2"
    with pytest.raises(PermissionDenied):
        user_update(actor=requester, user=other_requester, department="Взлом")


def test_unknown_fields_are_refused(admin_user, requester):
    with pytest.raises(ValidationError) as caught:
        user_update(actor=admin_user, user=requester, is_superuser=True)
    assert caught.value.field == "is_superuser"


def test_bulk_deactivation_skips_unchanged_users(admin_user):
    active = UserFactory.create_batch(3)
    already = UserFactory(is_active=False)
    changed = user_set_active(actor=admin_user, users=[*active, already], active=False)
    assert changed == 3
    assert User.objects.filter(is_active=False).count() == 4


def test_admin_resets_a_password_and_a_user_changes_their_own(admin_user, requester):
    user_set_password(actor=admin_user, user=requester, password="Brand-New-Pass-31")
    requester.refresh_from_db()
    assert requester.check_password("Brand-New-Pass-31")
    user_set_password(actor=requester, user=requester, password="Second-New-Pass-32")
    requester.refresh_from_db()
    assert requester.check_password("Second-New-Pass-32")


def test_a_user_cannot_reset_someone_elses_password(requester, other_requester):
    with pytest.raises(PermissionDenied):
        user_set_password(actor=requester, user=other_requester, password="Brand-New-Pass-31")
