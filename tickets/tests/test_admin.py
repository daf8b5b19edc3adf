"""Tickets, comments and attachments in the administrator's panel: reachable by admins only,
and every change made there is recorded with the admin as actor."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tickets.attachments import stored_path
from tickets.models import Attachment, Comment, Status, Ticket
from tickets.services import attachment_add, comment_add, ticket_create
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(requester):
    return ticket_create(actor=requester, title="Не работает лифт", description="Подъезд 2")


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:tickets_ticket_changelist",
        "admin:tickets_comment_changelist",
        "admin:tickets_attachment_changelist",
    ],
)
def test_lists_open_for_admins_and_not_for_managers(
    url_name, admin_client_, manager_client, ticket
):
    assert admin_client_.get(reverse(url_name)).status_code == 200
    assert manager_client.get(reverse(url_name)).status_code == 302


def test_ticket_history_page_shows_the_records(admin_client_, ticket, requester):
    response = admin_client_.get(reverse("admin:tickets_ticket_history", args=[ticket.pk]))
    assert response.status_code == 200
    assert requester.full_name in response.content.decode()


def test_admin_edit_goes_through_the_service(admin_client_, admin_user, ticket):
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    response = admin_client_.post(
        url,
        {
            "title": "Не работает лифт (срочно)",
            "description": ticket.description,
            "category": "repair",
            "priority": "critical",
            "comments-TOTAL_FORMS": "0",
            "comments-INITIAL_FORMS": "0",
            "attachments-TOTAL_FORMS": "0",
            "attachments-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.version) == ("critical", 2)
    latest = ticket.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (admin_user, "updated")


def test_finished_tickets_are_read_only_in_the_admin(admin_client_, requester, technician):
    closed = TicketFactory(creator=requester, status=Status.CLOSED, assignee=technician)
    response = admin_client_.get(reverse("admin:tickets_ticket_change", args=[closed.pk]))
    assert response.status_code == 200
    assert 'name="title"' not in response.content.decode()


def test_admin_delete_records_the_admin_and_removes_files(
    admin_client_, admin_user, ticket, requester, django_capture_on_commit_callbacks
):
    (attachment,) = attachment_add(
        actor=requester, ticket=ticket, files=[SimpleUploadedFile("a.txt", b"hello")]
    )
    on_disk = stored_path(attachment.path)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            reverse("admin:tickets_ticket_delete", args=[ticket.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    assert not Ticket.objects.filter(pk=ticket.pk).exists()
    deletion = Ticket.history.get(id=ticket.pk, history_type="-")
    assert deletion.history_user == admin_user
    assert not on_disk.exists()


def test_admin_corrects_a_comment_and_history_keeps_the_original(
    admin_client_, admin_user, ticket, requester
):
    comment = comment_add(actor=requester, ticket=ticket, text="пароль от почты: 12345")
    response = admin_client_.post(
        reverse("admin:tickets_comment_change", args=[comment.pk]),
        {"text": "[удалено администратором]", "internal": ""},
    )
    assert response.status_code == 302
    comment.refresh_from_db()
    assert comment.text == "[удалено администратором]"
    original, edit = comment.history.order_by("history_date")
    assert original.text == "пароль от почты: 12345"
    assert (edit.history_user, edit.history_change_reason) == (admin_user, "comment_edited")


def test_admin_removes_an_attachment_through_the_service(
    admin_client_, admin_user, ticket, requester, django_capture_on_commit_callbacks
):
    (attachment,) = attachment_add(
        actor=requester, ticket=ticket, files=[SimpleUploadedFile("a.txt", b"hello")]
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            reverse("admin:tickets_attachment_delete", args=[attachment.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    assert not Attachment.objects.exists()
    removal = Attachment.history.get(id=attachment.pk, history_type="-")
    assert removal.history_user == admin_user
    assert not stored_path(attachment.path).exists()
    assert Comment.objects.count() == 0
