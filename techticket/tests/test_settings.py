import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from techticket.env import env_bool, env_int, env_list, parse_database_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("Yes", True), ("on", True), ("0", False), ("off", False)],
)
def test_env_bool_accepts_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env_bool("SOME_FLAG", not expected) is expected


def test_env_bool_uses_default_when_unset_or_blank(monkeypatch):
    monkeypatch.delenv("SOME_FLAG", raising=False)
    assert env_bool("SOME_FLAG", True) is True
    monkeypatch.setenv("SOME_FLAG", "  ")
    assert env_bool("SOME_FLAG", False) is False


def test_env_bool_refuses_anything_else_naming_the_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match=r"DEBUG='maybe'"):
        env_bool("DEBUG", False)


def test_env_int_refuses_text_and_too_small_values(monkeypatch):
    monkeypatch.setenv("ATTACHMENT_MAX_BYTES", "ten")
    with pytest.raises(ImproperlyConfigured, match="ATTACHMENT_MAX_BYTES"):
        env_int("ATTACHMENT_MAX_BYTES", 1)
    monkeypatch.setenv("ATTACHMENT_MAX_BYTES", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("ATTACHMENT_MAX_BYTES", 1, minimum=1)
    monkeypatch.setenv("ATTACHMENT_MAX_BYTES", "2048")
    assert env_int("ATTACHMENT_MAX_BYTES", 1, minimum=1) == 2048


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", " a.example.com, b.example.com ,")
    assert env_list("ALLOWED_HOSTS", []) == ["a.example.com", "b.example.com"]
    monkeypatch.setenv("ALLOWED_HOSTS", ",")
    with pytest.raises(ImproperlyConfigured, match="ALLOWED_HOSTS"):
        env_list("ALLOWED_HOSTS", [])


def test_sqlite_url_relative_to_project_root(tmp_path):
    config = parse_database_url("DATABASE_URL", "sqlite:///db.sqlite3", base=tmp_path)
    assert config == {"ENGINE": "django.db.backends.sqlite3", "NAME": tmp_path / "db.sqlite3"}
    absolute = parse_database_url("DATABASE_URL", "sqlite:////srv/desk.db", base=tmp_path)
    assert absolute["NAME"] == Path("/srv/desk.db")


def test_postgres_url_is_split_into_parts(tmp_path):
    config = parse_database_url(
        "DATABASE_URL", "postgres://desk:p%40ss@db.internal:6543/techticket", base=tmp_path
    )
    assert config == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "techticket",
        "USER": "desk",
        "PASSWORD": "p@ss",
        "HOST": "db.internal",
        "PORT": "6543",
    }


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root@localhost/db",
        "postgres://localhost",
        "postgres://localhost:notaport/db",
        "sqlite://",
        "sqlite:///",
        "just-a-word",
    ],
)
def test_malformed_database_url_names_the_variable(tmp_path, url):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        parse_database_url("DATABASE_URL", url, base=tmp_path)


def _start_django(**env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "techticket.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_start_up_refuses_debug_off_without_secret_key():
    result = _start_django(DEBUG="0", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG=0" in result.stderr


@pytest.mark.slow
def test_start_up_refuses_malformed_values_naming_them():
    result = _start_django(DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG='maybe'" in result.stderr
    result = _start_django(DEBUG="1", DATABASE_URL="oracle://x/y")
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


@pytest.mark.slow
def test_start_up_succeeds_with_debug_on_and_no_secret_key():
    result = _start_django(DEBUG="1")
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_sqlite_runs_in_wal_mode_with_busy_timeout_and_immediate_transactions():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite pragmas apply to the SQLite backend only")
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 5000
        cursor.execute("PRAGMA foreign_keys")
        assert cursor.fetchone()[0] == 1
    assert connection.transaction_mode == "IMMEDIATE"


def test_security_headers_settings(settings):
    assert settings.X_FRAME_OPTIONS == "DENY"
    assert settings.SECURE_REFERRER_POLICY == "same-origin"
    assert "'unsafe-inline'" not in settings.SECURE_CSP["script-src"]


@pytest.mark.django_db
def test_no_public_media_url_is_served(client, settings, requester):
    stored = settings.MEDIA_ROOT / "attachments" / "secret.txt"
    stored.parent.mkdir(parents=True)
    stored.write_text("confidential", encoding="utf-8")
    client.force_login(requester)
    for url in ("/media/attachments/secret.txt", "/uploads/attachments/secret.txt"):
        assert client.get(url).status_code == 404
