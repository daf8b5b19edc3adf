"""Business events (SPEC §7): one JSON object per line in `events.log`, after commit.

An event describes something that happened; if the transaction that did it rolls back, it did
not happen, so the line is written from `transaction.on_commit`.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from techticket.request_context import current_request_id

logger = logging.getLogger("techticket.events")


def publish(
    event: str, *, actor_id: int | None, ticket_id: int | None = None, **details: Any
) -> None:
    """Schedule `event` to be written when the current transaction commits (at once outside one)."""
    payload: dict[str, Any] = {
        "ts": None,
        "event": event,
        "ticket_id": ticket_id,
        "actor_id": actor_id,
        "request_id": current_request_id(),
    }
    if details:
        payload["details"] = details

    def write() -> None:
        payload["ts"] = timezone.now().isoformat()
        logger.info(payload)

    transaction.on_commit(write)
