import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction

from accounts.models import MSG_EMAIL_TAKEN, Role, User
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_email_is_unique_regardless_of_case():
    UserFactory(username="ivanov", email="Ivanov@Example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("ivanov2", "ivanov@example.COM", "x")


def test_full_clean_reports_a_duplicate_email_on_the_email_field():
    UserFactory(username="ivanov", email="ivanov@example.com")
    duplicate = User(username="petrov", email="IVANOV@example.com")
    duplicate.set_password("Another-Strong-Pass-1")
    with pytest.raises(ValidationError) as caught:
        duplicate.full_clean()
    assert caught.value.message_dict == {"email": [str(MSG_EMAIL_TAKEN)]}


def test_createsuperuser_makes_an_admin_with_admin_panel_access(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Very-Strong-Pass-2026")
    call_command(
        "createsuperuser",
        "--noinput",
        "--username=boss",
        "--email=boss@example.com",
        verbosity=0,
    )
    boss = User.objects.get(username="boss")
    assert boss.role == Role.ADMIN
    assert boss.is_staff
    assert boss.is_superuser
    assert boss.check_password("Very-Strong-Pass-2026")


@pytest.mark.parametrize("role", [Role.USER, Role.TECHNICIAN, Role.MANAGER])
def test_only_the_admin_role_grants_admin_rights(role):
    user = UserFactory(role=role)
    assert not user.is_staff
    assert not user.is_superuser
    assert not user.has_perm("accounts.change_user")
    assert not user.has_module_perms("accounts")


def test_an_inactive_admin_has_no_permissions():
    admin = UserFactory(role=Role.ADMIN, is_active=False)
    assert not admin.has_perm("accounts.change_user")


def test_create_user_ignores_staff_flags_sent_by_a_caller():
    user = User.objects.create_user(
        "sneaky", "s@example.com", "x", is_staff=True, is_superuser=True
    )
    assert user.role == Role.USER
    assert not user.is_staff


def test_role_must_be_one_of_the_four():
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("odd", "odd@example.com", "x", role="overlord")


def test_full_name_falls_back_to_username():
    assert UserFactory(username="nobody", first_name="", last_name="").full_name == "nobody"
    assert UserFactory(first_name="Иван", last_name="Петров").full_name == "Иван Петров"
