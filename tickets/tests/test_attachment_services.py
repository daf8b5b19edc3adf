"""Attachments through the services (SPEC §4.5): who may add and remove them, what history and
events they leave, and that a failed upload leaves neither a file nor a row."""

from io import BytesIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from techticket.errors import NotFound, PermissionDenied, UnsupportedFileType, ValidationError
from tickets.attachments import stored_path
from tickets.models import Attachment, Status, Ticket
from tickets.services import (
    MSG_COMMENT_NOT_ON_TICKET,
    attachment_add,
    attachment_delete,
    comment_add,
    ticket_apply_action,
    ticket_create,
    ticket_delete,
)
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def png(name="photo.png") -> SimpleUploadedFile:
    buffer = BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def text(name="log.txt", body="Ошибка 0x80070005\n") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body.encode(), content_type="text/plain")


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def ticket(requester):
    return ticket_create(actor=requester, title="Течёт кран", description="В туалете 2 этажа")


def test_requester_attaches_files_with_history_and_events(
    ticket, requester, django_capture_on_commit_callbacks, events_log
):
    with django_capture_on_commit_callbacks(execute=True):
        photo, log = attachment_add(actor=requester, ticket=ticket, files=[png(), text()])
    assert (photo.name, photo.content_type, photo.uploaded_by) == (
        "photo.png",
        "image/png",
        requester,
    )
    assert stored_path(photo.path).read_bytes()[:4] == b"\x89PNG"
    assert log.content_type == "text/plain"
    assert sorted(p.name for p in stored_files()) == sorted(Path(a.path).name for a in (photo, log))
    records = Attachment.history.filter(ticket_id=ticket.pk)
    assert {(r.history_type, r.history_user_id, r.history_change_reason) for r in records} == {
        ("+", requester.pk, "attachment_added")
    }
    assert [e["event"] for e in events_log()].count("attachment.added") == 2


def test_a_ticket_is_created_with_its_photo(requester):
    ticket = ticket_create(
        actor=requester, title="Разбито окно", description="Кабинет 12", files=[png()]
    )
    assert list(ticket.attachments.values_list("name", flat=True)) == ["photo.png"]


def test_one_bad_file_refuses_the_whole_upload_and_leaves_nothing(ticket, requester):
    svg = SimpleUploadedFile("x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    with pytest.raises(UnsupportedFileType):
        attachment_add(actor=requester, ticket=ticket, files=[png(), text(), svg])
    assert not Attachment.objects.exists()
    assert stored_files() == []


def test_a_failure_after_storing_removes_the_stored_files(ticket, requester, monkeypatch):
    from tickets import services

    def broken_publish(*args, **kwargs):
        raise RuntimeError("event bus down")

    monkeypatch.setattr(services, "publish", broken_publish)
    with pytest.raises(RuntimeError):
        attachment_add(actor=requester, ticket=ticket, files=[png(), text()])
    assert not Attachment.objects.exists()
    assert stored_files() == []


def test_a_create_with_a_bad_file_leaves_no_ticket(requester):
    with pytest.raises(UnsupportedFileType):
        ticket_create(
            actor=requester,
            title="Сломан стул",
            description="Ножка",
            files=[SimpleUploadedFile("a.exe", b"MZ\x90\x00")],
        )
    assert not Ticket.objects.exists()
    assert stored_files() == []


@pytest.mark.parametrize("count", [0, 11])
def test_between_one_and_ten_files_per_upload(ticket, requester, count):
    with pytest.raises(ValidationError) as caught:
        attachment_add(
            actor=requester, ticket=ticket, files=[text(f"f{i}.txt") for i in range(count)]
        )
    assert caught.value.field == "file"
    assert stored_files() == []


def test_files_can_belong_to_a_comment_of_the_same_ticket(ticket, requester):
    comment = comment_add(actor=requester, ticket=ticket, text="Фото прилагаю")
    (attachment,) = attachment_add(
        actor=requester, ticket=ticket, files=[png()], comment=comment.pk
    )
    assert attachment.comment == comment


def test_a_comment_of_another_ticket_is_refused(ticket, requester):
    other = ticket_create(actor=requester, title="Другая", description="заявка")
    foreign = comment_add(actor=requester, ticket=other, text="чужой комментарий")
    with pytest.raises(ValidationError) as caught:
        attachment_add(actor=requester, ticket=ticket, files=[png()], comment=foreign)
    assert caught.value.message == MSG_COMMENT_NOT_ON_TICKET
    assert stored_files() == []


def test_a_requester_cannot_attach_to_an_internal_note(ticket, requester, manager):
    note = comment_add(actor=manager, ticket=ticket, text="служебное", internal=True)
    with pytest.raises(ValidationError):
        attachment_add(actor=requester, ticket=ticket, files=[png()], comment=note.pk)


def test_strangers_and_finished_tickets(requester, other_requester, technician, manager):
    closed = TicketFactory(creator=requester, status=Status.CLOSED, assignee=technician)
    with pytest.raises(NotFound):
        attachment_add(actor=other_requester, ticket=closed, files=[png()])
    with pytest.raises(PermissionDenied):
        attachment_add(actor=requester, ticket=closed, files=[png()])
    assert len(attachment_add(actor=manager, ticket=closed, files=[png()])) == 1


def test_uploader_removes_own_file_and_the_file_goes_after_commit(
    ticket, requester, django_capture_on_commit_callbacks, events_log
):
    (attachment,) = attachment_add(actor=requester, ticket=ticket, files=[text()])
    on_disk = stored_path(attachment.path)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        attachment_delete(actor=requester, attachment=attachment.pk)
    assert on_disk.exists(), "the file stays until the transaction commits"
    for callback in callbacks:
        callback()
    assert not on_disk.exists()
    assert not Attachment.objects.filter(pk=attachment.pk).exists()
    removal = Attachment.history.get(id=attachment.pk, history_type="-")
    assert (removal.history_user, removal.history_change_reason) == (
        requester,
        "attachment_removed",
    )
    assert events_log()[-1]["event"] == "attachment.removed"


def test_who_may_remove_an_attachment(ticket, requester, technician, manager, other_requester):
    ticket_apply_action(actor=manager, ticket=ticket, action="assign", assignee=technician)
    (by_requester,) = attachment_add(actor=requester, ticket=ticket, files=[text()])
    with pytest.raises(PermissionDenied):
        attachment_delete(actor=technician, attachment=by_requester)
    with pytest.raises(NotFound):
        attachment_delete(actor=other_requester, attachment=by_requester)
    attachment_delete(actor=manager, attachment=by_requester)
    assert not Attachment.objects.exists()


def test_uploader_cannot_remove_once_the_ticket_is_finished(ticket, requester, manager):
    (attachment,) = attachment_add(actor=requester, ticket=ticket, files=[text()])
    ticket_apply_action(actor=manager, ticket=ticket, action="cancel")
    with pytest.raises(PermissionDenied):
        attachment_delete(actor=requester, attachment=attachment)
    assert Attachment.objects.filter(pk=attachment.pk).exists()


def test_requester_cannot_see_or_remove_files_of_internal_notes(ticket, requester, manager):
    note = comment_add(actor=manager, ticket=ticket, text="служебное", internal=True)
    (hidden,) = attachment_add(actor=manager, ticket=ticket, files=[text()], comment=note)
    with pytest.raises(NotFound):
        attachment_delete(actor=requester, attachment=hidden)


def test_deleting_a_ticket_removes_its_files_after_commit(
    ticket, requester, admin_user, django_capture_on_commit_callbacks
):
    attachment_add(actor=requester, ticket=ticket, files=[png(), text()])
    assert len(stored_files()) == 2
    with django_capture_on_commit_callbacks(execute=True):
        ticket_delete(actor=admin_user, ticket=ticket)
    assert stored_files() == []
    assert not Attachment.objects.exists()
    assert Attachment.history.filter(ticket_id=ticket.pk, history_type="-").count() == 2
