"""The size limit of SPEC §4.5 applied while a multipart body is parsed, before a byte of an
oversized file is written to disk: an upload handler placed first skips the rest of any file
that passes ATTACHMENT_MAX_BYTES and notes its name on the request. The API and the pages then
answer 413 / a form error for it."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class SizeLimitUploadHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.ATTACHMENT_MAX_BYTES:
            self.request.oversized_uploads.append(self.file_name)
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size):
        return None


class UploadLimitMiddleware:
    """Puts SizeLimitUploadHandler in front of Django's own handlers on every request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.oversized_uploads = []
        request.upload_handlers.insert(0, SizeLimitUploadHandler(request))
        return self.get_response(request)
