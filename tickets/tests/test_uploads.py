"""A full disk while Django writes a large upload to its temporary file (tickets/uploads.py):
507 with the usual error, on the API and the pages, and no partial file, row or comment."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from django.core.files import uploadhandler
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tickets.models import Attachment, Comment
from tickets.tests.factories import TicketFactory

API = "/api/v1"
LARGE = b"line of text\n" * 40_000  # 520 kB: past FILE_UPLOAD_MAX_MEMORY_SIZE, onto the disk


@pytest.fixture
def disk_full(monkeypatch):
    """The disk fills after the temporary file got its first chunk."""
    real = uploadhandler.TemporaryFileUploadHandler.receive_data_chunk

    def receive(self, raw_data, start):
        if start > 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, raw_data, start)

    monkeypatch.setattr(uploadhandler.TemporaryFileUploadHandler, "receive_data_chunk", receive)


@pytest.fixture
def ticket(requester):
    return TicketFactory(creator=requester)


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def large_file() -> SimpleUploadedFile:
    return SimpleUploadedFile("журнал.txt", LARGE, content_type="text/plain")


def test_large_upload_is_stored_through_the_temporary_file(settings, api_client, requester, ticket):
    response = api_client(requester).post(
        f"{API}/tickets/{ticket.pk}/attachments/", {"file": [large_file()]}, format="multipart"
    )

    assert response.status_code == 201, response.content[:300]
    incoming = Path(settings.FILE_UPLOAD_TEMP_DIR)
    assert incoming.is_dir() and not any(incoming.iterdir()), "the temporary file is gone"
    assert len(stored_files(settings)) == 1


def test_full_disk_on_the_api_is_507_and_leaves_nothing(
    settings, api_client, requester, ticket, disk_full
):
    response = api_client(requester).post(
        f"{API}/tickets/{ticket.pk}/attachments/", {"file": [large_file()]}, format="multipart"
    )

    assert response.status_code == 507, response.content[:300]
    assert response.json()["errors"][0]["code"] == "storage_failed"
    assert stored_files(settings) == []
    assert not Attachment.objects.exists()


def test_full_disk_on_a_page_comment_is_a_507_page_and_keeps_no_comment(
    settings, requester_client, ticket, disk_full
):
    response = requester_client.post(
        f"/tickets/{ticket.pk}/comments/", {"text": "Журнал во вложении", "file": [large_file()]}
    )

    assert response.status_code == 507
    assert "507" in response.content.decode()
    assert stored_files(settings) == []
    assert not Comment.objects.exists()
    assert not Attachment.objects.exists()


def test_full_disk_on_a_page_with_the_csrf_check_on_is_the_507_page(
    settings, requester, ticket, disk_full
):
    """In production the CSRF check reads the form before any view: the full disk must be
    answered there too, with the 507 page, not a 500."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(requester)
    browser.get(f"/tickets/{ticket.pk}/")
    token = browser.cookies["csrftoken"].value

    response = browser.post(
        f"/tickets/{ticket.pk}/attachments/",
        {"file": [large_file()], "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 507
    assert stored_files(settings) == []
    assert not Attachment.objects.exists()
