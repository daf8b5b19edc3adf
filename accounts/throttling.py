"""Who is asking: the client address used by login throttling (SPEC §5).

`X-Forwarded-For` is trusted only as far as TRUSTED_PROXY_COUNT reverse proxies are configured:
each trusted proxy appends the address it received the request from, so the client is the
entry that many positions from the right. Anything further left was written by the client and
is ignored, so a forged header cannot dodge the lockout."""

from __future__ import annotations

from django.conf import settings


def client_ip(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    if len(forwarded) < proxies:
        return remote
    return forwarded[-proxies]
