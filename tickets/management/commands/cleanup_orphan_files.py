"""Find (and with --delete remove) stored files that no attachment row references (SPEC §4.5).

Such files are left behind when a server process dies between storing an upload and committing
its row, or between deleting a row and removing its file. A dry run by default. Files younger
than --min-age are an upload that may still be in flight and are never touched. Rows whose file
is missing are reported, never changed.
"""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand

from tickets import attachments as storage


def _seconds(value: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of seconds") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return seconds


def _size(size: int) -> str:
    return f"{size} bytes ({size / 1024 / 1024:.1f} MiB)"


class Command(BaseCommand):
    help = (
        "List the files under MEDIA_ROOT/attachments that no attachment row references, with "
        "their total size (dry run), or remove them with --delete. Files younger than --min-age "
        "seconds are left alone: an upload stores its file before it commits its row. Rows "
        "whose file is missing are reported and never changed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--delete",
            action="store_true",
            help="Remove the orphan files (without it nothing is changed).",
        )
        parser.add_argument(
            "--min-age",
            type=_seconds,
            default=storage.ORPHAN_MIN_AGE_SECONDS,
            metavar="SECONDS",
            help="Only files not modified for this many seconds count as orphans "
            "(default: %(default)s). 0 only when no upload can be in progress.",
        )

    def handle(self, *args, delete: bool, min_age: int, **options):
        audit = storage.audit_stored_files(min_age=min_age)
        if audit.orphans:
            self.stdout.write(f"Files without an attachment row, older than {min_age} s:")
            for item in audit.orphans:
                self.stdout.write(f"  {item.path}  {item.size} bytes")
        if not delete:
            self._report_dry_run(audit)
        else:
            removed = storage.remove_orphan_files(audit)
            total = sum(item.size for item in removed)
            self.stdout.write(
                self.style.SUCCESS(f"Deleted {len(removed)} orphan files, {_size(total)}.")
            )
            if len(removed) < len(audit.orphans):
                kept = len(audit.orphans) - len(removed)
                self.stdout.write(
                    f"Kept {kept} of them: referenced, modified or gone since the scan, "
                    "or not removable (see app.log)."
                )
        if audit.young:
            self.stdout.write(
                f"Left alone {len(audit.young)} files without a row younger than {min_age} s "
                "(an upload may be in progress)."
            )
        if audit.missing:
            self.stdout.write(
                self.style.WARNING("Attachment rows whose file is missing (reported, not changed):")
            )
            for row in audit.missing:
                self.stdout.write(
                    f"  attachment {row.attachment_id} of ticket {row.ticket_id} "
                    f"({row.name}): {row.path}"
                )
            self.stdout.write(
                self.style.WARNING(f"{len(audit.missing)} attachment rows without their file.")
            )

    def _report_dry_run(self, audit: storage.StorageAudit) -> None:
        if not audit.orphans:
            self.stdout.write("No orphan files.")
            return
        self.stdout.write(
            f"{len(audit.orphans)} orphan files, {_size(audit.orphan_bytes)}. Dry run: nothing "
            "was deleted; run again with --delete to remove them."
        )
