"""`manage.py cleanup_orphan_files` and the storage audit behind it (SPEC §4.5): files without
a row are listed (dry run) or removed (--delete), files of uploads that may be in flight are
kept, rows whose file is missing are reported and never changed."""

import os
import time
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from tickets import attachments, events
from tickets.attachments import (
    ORPHAN_MIN_AGE_SECONDS,
    audit_stored_files,
    remove_orphan_files,
    stored_path,
)
from tickets.models import Attachment
from tickets.services import attachment_add, ticket_create
from tickets.tests.factories import AttachmentFactory

pytestmark = pytest.mark.django_db

HOUR = 3600


@pytest.fixture
def ticket(requester):
    return ticket_create(actor=requester, title="Не печатает принтер", description="Кабинет 305")


@pytest.fixture
def kept(ticket, requester) -> Attachment:
    """An attachment with its row and its file, stored long ago."""
    upload = SimpleUploadedFile("log.txt", b"paper jam at tray 2\n")
    (attachment,) = attachment_add(actor=requester, ticket=ticket, files=[upload])
    age(stored_path(attachment.path), 10 * HOUR)
    return attachment


def media_file(relative: str, size: int = 100, *, seconds_old: float = 2 * HOUR) -> Path:
    path = Path(settings.MEDIA_ROOT) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return age(path, seconds_old)


def age(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def run(*args: str) -> str:
    out = StringIO()
    call_command("cleanup_orphan_files", *args, stdout=out)
    return out.getvalue()


def test_dry_run_lists_the_orphans_with_their_total_size_and_deletes_nothing(kept):
    orphan = media_file("attachments/2026/01/" + "a" * 32 + ".txt", 1000)
    leftover = media_file("attachments/.incoming/upload-x1.part", 48_576)

    output = run()

    assert f"  attachments/2026/01/{'a' * 32}.txt  1000 bytes" in output
    assert "  attachments/.incoming/upload-x1.part  48576 bytes" in output
    assert "2 orphan files, 49576 bytes (0.0 MiB). Dry run: nothing was deleted" in output
    assert kept.path not in output
    assert orphan.exists() and leftover.exists() and stored_path(kept.path).exists()


def test_delete_removes_only_the_files_without_a_row(
    kept, events_log, django_capture_on_commit_callbacks
):
    orphan = media_file("attachments/2026/01/" + "b" * 32 + ".png", 3 * 1024 * 1024)
    leftover = media_file("attachments/.incoming/upload-x2.part", 10)
    outside = media_file("other/notes.txt")

    with django_capture_on_commit_callbacks(execute=True):
        output = run("--delete")

    assert "Deleted 2 orphan files, 3145738 bytes (3.0 MiB)." in output
    assert not orphan.exists() and not leftover.exists()
    assert stored_path(kept.path).read_bytes() == b"paper jam at tray 2\n"
    assert outside.exists(), "only the attachments folder is cleaned"
    assert Attachment.objects.get() == kept
    (event,) = [e for e in events_log() if e["event"] == events.ORPHAN_FILES_REMOVED]
    assert event["actor_id"] is None
    assert event["details"] == {
        "files": 2,
        "bytes": 3145738,
        "paths": [
            "attachments/.incoming/upload-x2.part",
            f"attachments/2026/01/{'b' * 32}.png",
        ],
    }


def test_files_of_an_upload_in_flight_are_kept_even_with_delete(kept):
    # Being received: still in .incoming; moved into the store, its row not committed yet.
    receiving = media_file("attachments/.incoming/upload-y.part", seconds_old=5)
    moved = media_file("attachments/2026/01/" + "c" * 32 + ".txt", seconds_old=5)

    output = run("--delete")

    assert receiving.exists() and moved.exists()
    assert "Deleted 0 orphan files" in output
    assert f"Left alone 2 files without a row younger than {ORPHAN_MIN_AGE_SECONDS} s" in output


def test_min_age_sets_the_grace_period(kept):
    recent = media_file("attachments/.incoming/upload-z.part", seconds_old=120)

    assert "Left alone 1 files" in run("--delete", "--min-age", "300")
    assert recent.exists()
    assert "Deleted 1 orphan files" in run("--delete", "--min-age", "60")
    assert not recent.exists()


def test_min_age_zero_takes_every_file_without_a_row(kept):
    just_written = media_file("attachments/.incoming/upload-now.part", seconds_old=0)

    run("--delete", "--min-age", "0")

    assert not just_written.exists()
    assert stored_path(kept.path).exists()


def test_rows_whose_file_is_missing_are_reported_and_never_changed(kept, ticket, app_log):
    lost = AttachmentFactory(ticket=ticket, name="фото.png", path="attachments/2026/01/lost.png")

    output = run("--delete", "--min-age", "0")

    assert "Attachment rows whose file is missing (reported, not changed):" in output
    assert f"  attachment {lost.pk} of ticket {ticket.pk} (фото.png): {lost.path}" in output
    assert "1 attachment rows without their file." in output
    assert kept.path not in output
    assert Attachment.objects.filter(pk=lost.pk).exists()
    assert f"Attachment {lost.pk} of ticket {ticket.pk} has no file at {lost.path}" in app_log()


def test_a_row_pointing_outside_the_attachments_folder_counts_as_missing(kept, ticket):
    outside = media_file("elsewhere.txt")
    row = AttachmentFactory(ticket=ticket, path="attachments/../elsewhere.txt")

    audit = audit_stored_files()

    assert [m.attachment_id for m in audit.missing] == [row.pk]
    assert outside.exists()


def test_a_row_committed_after_the_scan_keeps_its_file(kept, ticket):
    path = "attachments/2026/01/" + "d" * 32 + ".txt"
    media_file(path)
    audit = audit_stored_files()
    assert [item.path for item in audit.orphans] == [path]
    AttachmentFactory(ticket=ticket, path=path)  # the upload's row commits now

    assert remove_orphan_files(audit) == []
    assert (Path(settings.MEDIA_ROOT) / path).exists()


def test_a_file_modified_after_the_scan_is_kept(kept):
    path = media_file("attachments/.incoming/upload-w.part")
    audit = audit_stored_files()
    age(path, 1)  # written to again: an upload is using it

    assert remove_orphan_files(audit) == []
    assert path.exists()


def test_files_that_vanish_during_the_scan_or_before_removal_are_skipped(kept, monkeypatch):
    gone_later = media_file("attachments/.incoming/upload-done.part")
    real_walk = os.walk

    def walk(top, *args, **kwargs):
        for directory, subdirectories, names in real_walk(top, *args, **kwargs):
            # A file listed by the walk but removed before it is looked at.
            yield directory, subdirectories, [*names, "upload-vanished.part"]

    monkeypatch.setattr(os, "walk", walk)
    audit = audit_stored_files()
    monkeypatch.undo()
    assert [item.path for item in audit.orphans] == ["attachments/.incoming/upload-done.part"]
    gone_later.unlink()  # the upload's own clean-up got there first

    assert remove_orphan_files(audit) == []


def test_audit_splits_files_without_a_row_by_age(kept):
    media_file("attachments/.incoming/upload-old.part", 7, seconds_old=2 * HOUR)
    media_file("attachments/.incoming/upload-new.part", 9, seconds_old=10)

    audit = audit_stored_files(min_age=HOUR)

    assert [(i.path, i.size) for i in audit.orphans] == [
        ("attachments/.incoming/upload-old.part", 7)
    ]
    assert [(i.path, i.size) for i in audit.young] == [("attachments/.incoming/upload-new.part", 9)]
    assert audit.orphan_bytes == 7
    assert audit.missing == ()


def test_a_file_that_cannot_be_removed_is_logged_and_the_rest_go_on(kept, monkeypatch, app_log):
    stuck = media_file("attachments/.incoming/upload-stuck.part")
    loose = media_file("attachments/.incoming/upload-loose.part")
    real_unlink = Path.unlink

    def unlink(self, *args, **kwargs):
        if self.name == stuck.name:
            raise PermissionError(13, "Permission denied")
        return real_unlink(self, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", unlink)

    output = run("--delete")

    assert "Deleted 1 orphan files" in output
    assert "Kept 1 of them" in output
    assert stuck.exists() and not loose.exists()
    assert "Could not remove the orphan file attachments/.incoming/upload-stuck.part" in app_log()


def test_an_empty_or_absent_store_has_nothing_to_report():
    assert not (Path(settings.MEDIA_ROOT) / attachments.ATTACHMENTS_DIR).exists()

    assert run().strip() == "No orphan files."


@pytest.mark.parametrize("value", ["-1", "soon"])
def test_min_age_must_be_a_whole_number_of_seconds(value):
    with pytest.raises(CommandError, match="--min-age"):
        call_command("cleanup_orphan_files", "--min-age", value)
