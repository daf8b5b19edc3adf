"""Strict parsing of the environment (SPEC §2).

Every variable is read from the process environment, falling back to a `.env` file in the
project root. A malformed value stops start-up with `ImproperlyConfigured` naming the variable,
instead of being silently replaced by a default.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"0", "false", "no", "off"})


def load_dotenv(path: Path) -> None:
    """Read `KEY=value` lines from `path` into os.environ without overriding what is set."""
    if path.is_file():
        environ.Env.read_env(str(path), overwrite=False)


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str) -> str:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in TRUE_VALUES:
        return True
    if lowered in FALSE_VALUES:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off."
    )


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise ImproperlyConfigured(f"{name}={value!r} is an empty list.")
    return items


def env_path(name: str, default: Path, *, base: Path) -> Path:
    value = _raw(name)
    if value is None:
        return default
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


SQLITE_SCHEMES = frozenset({"sqlite"})
POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "pgsql"})


def parse_database_url(name: str, value: str, *, base: Path) -> dict:
    """Turn `sqlite:///relative.db`, `sqlite:////abs.db` or `postgres://…` into DATABASES entry."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is malformed: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme in SQLITE_SCHEMES:
        raw_path = unquote(parts.path)
        if parts.netloc or not raw_path.startswith("/") or raw_path == "/":
            raise ImproperlyConfigured(
                f"{name}={value!r} is malformed; use sqlite:///relative/path.sqlite3 "
                "or sqlite:////absolute/path.sqlite3."
            )
        db_path = Path(raw_path[1:])
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": db_path if db_path.is_absolute() else base / db_path,
        }
    if scheme in POSTGRES_SCHEMES:
        db_name = unquote(parts.path.lstrip("/"))
        if not db_name or "/" in db_name:
            raise ImproperlyConfigured(
                f"{name}={value!r} is malformed; use postgres://user:password@host:5432/name."
            )
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": db_name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
        }
    raise ImproperlyConfigured(
        f"{name}={value!r} has an unsupported scheme {parts.scheme!r}; "
        "use sqlite:/// or postgres://."
    )
