"""The main path through the pages, server-side: create, find, assign, accept, comment,
complete, close, with the timeline and messages a person sees."""

from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def _photo(name="фото.png"):
    buffer = BytesIO()
    Image.new("RGB", (6, 6), "green").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def test_requester_creates_a_ticket_with_a_photo_and_lands_on_its_card(requester_client):
    response = requester_client.post(
        reverse("tickets:create"),
        {
            "title": "Сломался принтер",
            "description": "Принтер в бухгалтерии мнёт бумагу",
            "category": "repair",
            "priority": "high",
            "file": [_photo()],
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tickets:detail", args=[ticket.pk])
    card = requester_client.get(response["Location"])
    body = card.content.decode()
    assert "Сломался принтер" in body
    assert "фото.png" in body
    assert "создала заявку" in body, "Ирина Заявкина: the verb agrees"


def test_the_whole_job_in_pages(
    requester_client, manager_client, technician_client, technician, requester
):
    requester_client.post(
        reverse("tickets:create"),
        {
            "title": "Сломался принтер",
            "description": "Мнёт бумагу",
            "category": "repair",
            "priority": "normal",
        },
    )
    ticket = Ticket.objects.get()
    listing = manager_client.get(reverse("tickets:list"), {"search": "принтеры", "view": "all"})
    assert "<mark>принтер</mark>" in listing.content.decode()
    url = lambda action: reverse("tickets:action", args=[ticket.pk, action])  # noqa: E731
    assert (
        manager_client.post(url("assign"), {"assignee": technician.pk, "version": 1}).status_code
        == 302
    )
    assert technician_client.post(url("accept"), {"version": 2}).status_code == 302
    technician_client.post(
        reverse("tickets:comment", args=[ticket.pk]),
        {"text": "Нужен новый ролик", "internal": "on"},
    )
    technician_client.post(url("complete"), {"resolution": "Заменил ролик"})
    manager_client.post(url("reopen"), {"reason": "Снова мнёт"})
    technician_client.post(url("complete"), {"resolution": "Почистил тракт"})
    manager_client.post(url("close"), {})
    ticket.refresh_from_db()
    assert ticket.status == "closed"
    card = requester_client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    assert "назначил исполнителя" in card
    assert "Нужен новый ролик" not in card, "the requester never sees internal notes"
    assert "Снова мнёт" in card
    staff_card = manager_client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    assert "Нужен новый ролик" in staff_card
