"""Logging set-up (SPEC §7): rotating `app.log` and `events.log` under LOG_DIR.

Every record carries the request id and the acting user's id. Events are JSON lines, one per
business event, written by `techticket.events.publish` after the transaction commits.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
from pathlib import Path

from techticket.request_context import current_request_id, current_user_id

MAX_BYTES = 10 * 1024 * 1024
BACKUP_COUNT = 10


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `user_id` to every record (`-` outside a request).

    Django logs a 4xx/5xx response (`Not Found: …`) after the middleware has finished, with the
    request in the record: the ids then come from the request itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id() or getattr(request, "request_id", None) or "-"
        if not hasattr(record, "user_id"):
            # Only a user already loaded: logging must never run a query (the database may be
            # what failed). AuthenticationMiddleware caches the user here once it is read.
            user = getattr(request, "_cached_user", None) if request is not None else None
            record.user_id = current_user_id() or (
                user.pk if user is not None and user.is_authenticated else "-"
            )
        return True


# C0 and C1 control characters but the tab, Unicode line and paragraph separators, and the
# bidirectional controls: line breaks would forge a log line, terminal escape sequences (ESC [ …)
# could rewrite what a terminal shows of the log, bidi controls reorder what a reader sees.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_ESCAPES = {"\n": "\\n", "\r": "\\r"}


def _escape_control(match: re.Match) -> str:
    char = match.group()
    return _ESCAPES.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


class SingleLineFormatter(logging.Formatter):
    """Escapes line breaks and other control characters in the message, so user input can
    neither forge a log line nor send escape sequences to a terminal showing the log.

    Tracebacks still follow on their own lines, indented, after the message.
    """

    def format(self, record: logging.LogRecord) -> str:
        original = record.msg, record.args
        record.msg = _CONTROL.sub(_escape_control, record.getMessage())
        record.args = None
        try:
            return super().format(record)
        finally:
            record.msg, record.args = original


class JSONLineFormatter(logging.Formatter):
    """Events are logged with the event dict as the message; this writes it as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        payload = record.msg if isinstance(record.msg, dict) else {"message": record.getMessage()}
        return json.dumps(payload, ensure_ascii=False, default=str, sort_keys=False)


def configure(settings: dict) -> None:
    log_dir = Path(settings["log_dir"])
    log_dir.mkdir(parents=True, exist_ok=True)
    level = settings.get("level", "INFO")
    text_format = (
        "%(asctime)s %(levelname)s [%(request_id)s] user=%(user_id)s %(name)s: %(message)s"
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"request_context": {"()": RequestContextFilter}},
            "formatters": {
                "text": {"()": SingleLineFormatter, "format": text_format},
                "json": {"()": JSONLineFormatter},
            },
            "handlers": {
                "console": {
                    "class": "logging.StreamHandler",
                    "filters": ["request_context"],
                    "formatter": "text",
                    "level": "INFO" if settings.get("debug") else "WARNING",
                },
                "app_file": {
                    "class": "logging.handlers.RotatingFileHandler",
                    "filename": str(log_dir / "app.log"),
                    "maxBytes": MAX_BYTES,
                    "backupCount": BACKUP_COUNT,
                    "encoding": "utf-8",
                    "delay": True,
                    "filters": ["request_context"],
                    "formatter": "text",
                    "level": "WARNING",
                },
                "events_file": {
                    "class": "logging.handlers.RotatingFileHandler",
                    "filename": str(log_dir / "events.log"),
                    "maxBytes": MAX_BYTES,
                    "backupCount": BACKUP_COUNT,
                    "encoding": "utf-8",
                    "delay": True,
                    "formatter": "json",
                },
            },
            "root": {"handlers": ["console", "app_file"], "level": level},
            "loggers": {
                "django": {"handlers": ["console", "app_file"], "level": level, "propagate": False},
                # Axes logs every login at INFO; failures still reach app.log as warnings.
                "axes": {
                    "handlers": ["console", "app_file"],
                    "level": "WARNING",
                    "propagate": False,
                },
                "techticket.events": {
                    "handlers": ["events_file"],
                    "level": "INFO",
                    "propagate": False,
                },
            },
        }
    )


def flush_logs() -> None:
    """Push buffered log lines to disk (tests and management commands read the files)."""
    for name in ("techticket.events", "django", ""):
        for handler in logging.getLogger(name).handlers:
            handler.flush()
