"""Optimistic concurrency over HTTP (SPEC §4.2): the ticket's `version` is its ETag, and a
change sent with `If-Match` naming another version is refused with 412."""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

from techticket.errors import ValidationError

MSG_BAD_IF_MATCH = _('If-Match must be the ticket\'s ETag, e.g. "3".')
# What `If-Match` may hold, as the OpenAPI schema states it: nothing or `*` (no condition),
# or a version, quoted or not, weak (`W/"3"`) or strong.
IF_MATCH_PATTERN = r'^(\*|(W/)?"?[0-9]{1,12}"?)?$'
_VERSION = re.compile(r'(?:W/)?"?([0-9]{1,12})"?')


def etag_for(version: int) -> str:
    return f'"{version}"'


def expected_version(request) -> int | None:
    """The version named by `If-Match`, or None when the header is absent, empty or `*`."""
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        return None
    match = _VERSION.fullmatch(header)
    if match is None:
        raise ValidationError(MSG_BAD_IF_MATCH, field="If-Match")
    return int(match.group(1))
