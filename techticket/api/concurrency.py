"""Optimistic concurrency over HTTP (SPEC §4.2): the ticket's `version` is its ETag, and a
change sent with `If-Match` naming another version is refused with 412."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from techticket.errors import ValidationError

MSG_BAD_IF_MATCH = _('If-Match must be the ticket\'s ETag, e.g. "3".')


def etag_for(version: int) -> str:
    return f'"{version}"'


def expected_version(request) -> int | None:
    """The version named by `If-Match`, or None when the header is absent or `*`."""
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        return None
    value = header.removeprefix("W/").strip().strip('"')
    if not value.isdigit() or len(value) > 12:
        raise ValidationError(MSG_BAD_IF_MATCH, field="If-Match")
    return int(value)
