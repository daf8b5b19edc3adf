"""Fixtures shared by every app's tests: one persona per role, each with a logged-in client."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Role
from accounts.tests.factories import (
    AdminFactory,
    ManagerFactory,
    TechnicianFactory,
    UserFactory,
)
from techticket.logging import flush_logs


@pytest.fixture(autouse=True)
def _test_storage(settings, tmp_path):
    """Each test stores attachments in its own folder and leaves nothing behind; static files
    come from the finders, so tests need no `collectstatic`."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "media" / "attachments" / ".incoming")
    # Hashing strength is Django's concern, not ours; a fast hasher keeps the suite quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    yield
    shutil.rmtree(tmp_path / "media", ignore_errors=True)


@pytest.fixture
def requester(db):
    return UserFactory(username="requester", first_name="Ирина", last_name="Заявкина")


@pytest.fixture
def other_requester(db):
    return UserFactory(username="other_requester")


@pytest.fixture
def technician(db):
    return TechnicianFactory(username="technician", first_name="Пётр", last_name="Мастеров")


@pytest.fixture
def other_technician(db):
    return TechnicianFactory(username="other_technician")


@pytest.fixture
def manager(db):
    return ManagerFactory(username="manager", first_name="Михаил", last_name="Диспетчеров")


@pytest.fixture
def admin_user(db):
    return AdminFactory(username="admin", first_name="Анна", last_name="Администраторова")


@pytest.fixture
def personas(requester, technician, manager, admin_user):
    return {
        Role.USER: requester,
        Role.TECHNICIAN: technician,
        Role.MANAGER: manager,
        Role.ADMIN: admin_user,
    }


def logged_in_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client_(admin_user):
    return logged_in_client(admin_user)


@pytest.fixture
def manager_client(manager):
    return logged_in_client(manager)


@pytest.fixture
def technician_client(technician):
    return logged_in_client(technician)


@pytest.fixture
def requester_client(requester):
    return logged_in_client(requester)


def _log_reader(name: str):
    """Returns a function giving the text written to LOG_DIR/name since the fixture started."""
    path = Path(settings.LOG_DIR) / name
    start = path.stat().st_size if path.exists() else 0

    def read() -> str:
        flush_logs()
        if not path.exists():
            return ""
        with path.open(encoding="utf-8") as handle:
            handle.seek(start)
            return handle.read()

    return read


@pytest.fixture
def events_log():
    """The events written to events.log during the test, as parsed JSON objects."""
    read = _log_reader("events.log")
    return lambda: [json.loads(line) for line in read().splitlines() if line.strip()]


@pytest.fixture
def app_log():
    """The text written to app.log during the test."""
    return _log_reader("app.log")


@pytest.fixture
def api_client():
    """`api_client(user)` → a DRF APIClient sending that user's JWT access token;
    `api_client()` → an anonymous one."""
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
        return client

    return make
