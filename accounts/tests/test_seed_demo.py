import pytest
from django.core.management import call_command

from accounts.models import Role, User

pytestmark = pytest.mark.django_db


def test_demo_accounts_one_per_role_with_working_passwords(tmp_path, capsys):
    credentials = tmp_path / "creds"
    call_command("seed_demo", credentials_file=str(credentials))
    assert sorted(User.objects.values_list("role", flat=True)) == sorted(Role.values)
    lines = [
        line.split()
        for line in credentials.read_text(encoding="utf-8").splitlines()
        if not line.startswith("#")
    ]
    assert len(lines) == 4
    printed = capsys.readouterr().out
    for username, role, password in lines:
        assert password in printed
        assert len(password) >= 16
        user = User.objects.get(username=username)
        assert user.check_password(password)
        assert user.role == role
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"


def test_demo_command_is_idempotent(tmp_path):
    credentials = tmp_path / "creds"
    call_command("seed_demo", credentials_file=str(credentials))
    first = credentials.read_text(encoding="utf-8")
    passwords = dict(User.objects.values_list("username", "password"))
    call_command("seed_demo", credentials_file=str(credentials))
    assert User.objects.count() == 4
    assert dict(User.objects.values_list("username", "password")) == passwords
    assert credentials.read_text(encoding="utf-8") == first


def test_demo_command_leaves_a_database_with_users_alone(tmp_path, requester):
    call_command("seed_demo", credentials_file=str(tmp_path / "creds"))
    assert list(User.objects.values_list("username", flat=True)) == ["requester"]
    assert not (tmp_path / "creds").exists()
