"""Upload handlers, run while Django parses a multipart body (before any view code).

- The size limit of SPEC §4.5, before a byte of an oversized file is written to disk: a handler
  placed first skips the rest of any file that passes ATTACHMENT_MAX_BYTES and notes its name
  on the request. The API and the pages then answer 413 / a form error for it.
- Django's temporary file of a large upload is written into the attachments' `.incoming/`
  (FILE_UPLOAD_TEMP_DIR), so a full disk there is answered 507 like a full disk anywhere else
  in the upload, without a partial file; and what a killed worker leaves behind is found by
  `manage.py cleanup_orphan_files`.
"""

from __future__ import annotations

import contextlib
import errno
import os

from django.conf import settings
from django.core.files import uploadhandler
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

from techticket.api.errors import is_api_request
from techticket.pages import storage_failure_page
from tickets.attachments import StorageFailure


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


class TemporaryFileUploadHandler(uploadhandler.TemporaryFileUploadHandler):
    """Django's handler, with its directory made on demand and a full disk turned into
    StorageFailure (507) after the partial temporary file is removed."""

    def new_file(self, *args, **kwargs):
        try:
            os.makedirs(settings.FILE_UPLOAD_TEMP_DIR, exist_ok=True)
            super().new_file(*args, **kwargs)
        except OSError as exc:
            raise self._failure(exc) from exc

    def receive_data_chunk(self, raw_data, start):
        try:
            return super().receive_data_chunk(raw_data, start)
        except OSError as exc:
            raise self._discard(exc) from exc

    def file_complete(self, file_size):
        try:
            return super().file_complete(file_size)  # seeks, which flushes the last writes
        except OSError as exc:
            raise self._discard(exc) from exc

    def _discard(self, exc: OSError) -> Exception:
        path = self.file.temporary_file_path()
        with contextlib.suppress(OSError):
            self.file.close()  # removes it, unless flushing what is left fails first
        with contextlib.suppress(OSError):
            os.unlink(path)
        return self._failure(exc)

    @staticmethod
    def _failure(exc: OSError) -> Exception:
        return StorageFailure() if exc.errno in (errno.ENOSPC, errno.EDQUOT) else exc


class UploadLimitMiddleware:
    """Puts SizeLimitUploadHandler in front of Django's own handlers on every request, answers
    a page's upload that hits a full disk with the 507 page, and closes the request's uploaded
    files before its response leaves."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.oversized_uploads = []
        request.upload_handlers.insert(0, SizeLimitUploadHandler(request))
        response = self.get_response(request)
        # Django would close (and so delete) the temporary files of the upload once the
        # response is sent; closing them now means that when the client hears "refused",
        # nothing of its upload is on the disk any more.
        request.close()
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        # A page's form is parsed here, before the CSRF check reads it: a full disk while
        # Django writes the upload would otherwise surface there, as a 500. (The API parses
        # its own bodies, inside DRF, which answers 507 in JSON.)
        if request.method != "POST" or is_api_request(request):
            return None
        if not request.content_type.startswith("multipart/"):
            return None
        try:
            request.POST  # noqa: B018 - parsing is the point
        except StorageFailure as exc:
            return storage_failure_page(request, exc)
        return None
