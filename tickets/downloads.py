"""The one way a stored file leaves the server (SPEC §4.5): through a permission-checked view,
with its real type, an RFC 6266 file name, no sniffing, and a sandbox so that whatever it holds
never runs as part of the site. Used by the API and by the pages."""

from __future__ import annotations

from django.http import FileResponse

from techticket.errors import NotFound
from tickets.attachments import stored_path
from tickets.models import Attachment

SANDBOX_CSP = "sandbox; default-src 'none'; img-src 'self'"


def attachment_response(attachment: Attachment) -> FileResponse:
    """Images inline, everything else as a download. NotFound if the file is missing."""
    try:
        handle = stored_path(attachment.path).open("rb")
    except (OSError, ValueError):
        raise NotFound() from None
    response = FileResponse(
        handle,
        content_type=attachment.content_type,
        as_attachment=not attachment.is_image,
        filename=attachment.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX_CSP
    response["Cache-Control"] = "private, no-store"
    return response
