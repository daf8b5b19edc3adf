"""Validation and storage of uploaded files (SPEC §4.5).

An upload streams into `MEDIA_ROOT/attachments/.incoming/` (same filesystem as the final place,
so the move is one atomic `os.replace`), hashed and counted as it goes and refused the moment it
passes the size limit. Its type is then decided from the content and must agree with the
extension of the sanitised name; only then does it move to `attachments/YYYY/MM/<uuid>.<ext>`.
Whatever goes wrong, the temporary file is removed: a refused or failed upload leaves nothing.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
import tempfile
import time
import unicodedata
import uuid
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from PIL import Image

from techticket.errors import ApplicationError, AttachmentTooLarge, UnsupportedFileType
from techticket.events import publish
from tickets import events
from tickets.models import Attachment

logger = logging.getLogger(__name__)

# Order matters: the refusal message lists the types in this order.
ALLOWED_EXTENSIONS: dict[str, str] = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "log": "text/plain",
    "csv": "text/csv",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}
MAX_FILES_PER_UPLOAD = 10
IMAGE_MAX_PIXELS = 40_000_000
# Members of DOCX/XLSX/ODT/ODS read to recognise them are decompressed up to this many bytes.
ZIP_MEMBER_MAX_BYTES = 1024 * 1024
MAX_NAME_LENGTH = 255
ATTACHMENTS_DIR = "attachments"
INCOMING_DIR = ".incoming"
FILE_MODE = 0o640

UNSUPPORTED_TYPE_MESSAGE = _("This type of file is not allowed. Allowed types: %(types)s.")
TOO_LARGE_MESSAGE = _("The file is too large. The maximum size is %(limit)s.")
STORAGE_FAILED_MESSAGE = _("The file could not be saved. Please try again later.")


class StorageFailure(ApplicationError):
    """The file was valid but could not be written (disk full, permissions, I/O error)."""

    code = "storage_failed"
    default_message = STORAGE_FAILED_MESSAGE
    status_code = 507


class StoredFile(NamedTuple):
    path: str  # relative to MEDIA_ROOT, POSIX: attachments/YYYY/MM/<uuid32hex>.<ext>
    name: str  # the sanitised original name
    size: int
    content_type: str
    sha256: str


_IMAGE_FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}
_IMAGE_SIGNATURES = {
    "JPEG": (b"\xff\xd8\xff",),
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    "GIF": (b"GIF87a", b"GIF89a"),
}
_OOXML_MAIN_PART = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}
_ODF_MIMETYPES = {"odt": ALLOWED_EXTENSIONS["odt"], "ods": ALLOWED_EXTENSIONS["ods"]}
_TEXT_EXTENSIONS = frozenset({"txt", "log", "csv"})
_HEAD_BYTES = 4096
_READ_BYTES = 64 * 1024
# Bidi embeddings/overrides/isolates and marks: they let "exe.txt" display as "txt.exe".
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_DROPPED = frozenset({"Cc", "Cs"})  # control characters (NUL included), lone surrogates
# Text a browser would sniff as markup (WHATWG MIME sniffing) or that is plainly a web page.
_MARKUP_START = re.compile(
    r"(?:<!doctype|<\?xml|<!--|<(?:html|head|body|script|iframe|svg|style|title|div|table"
    r"|font|h1|br|p|a|b)(?=[\s/>]|$))",
    re.IGNORECASE,
)
_MARKUP_NEAR_START = re.compile(r"<\s*(?:script|svg|html|iframe)\b", re.IGNORECASE)


def allowed_types_text() -> str:
    """The allowed extensions as the refusal message lists them: "jpg, jpeg, png, ..."."""
    return ", ".join(ALLOWED_EXTENSIONS)


def _unsupported() -> UnsupportedFileType:
    return UnsupportedFileType(
        UNSUPPORTED_TYPE_MESSAGE % {"types": allowed_types_text()}, field="file"
    )


def too_large(limit: int | None = None) -> AttachmentTooLarge:
    """The error for a file over `limit` bytes (default: ATTACHMENT_MAX_BYTES)."""
    limit = settings.ATTACHMENT_MAX_BYTES if limit is None else limit
    return AttachmentTooLarge(TOO_LARGE_MESSAGE % {"limit": filesizeformat(limit)}, field="file")


def sanitize_name(name: str) -> str:
    """A safe display name: no directories, control or bidi characters, leading dots or runs of
    whitespace; at most 255 characters, keeping the extension; "file" if nothing is left."""
    name = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    name = "".join(
        " " if char.isspace() else char
        for char in name
        if char.isspace() or (unicodedata.category(char) not in _DROPPED and char not in _BIDI)
    )
    name = " ".join(name.split()).lstrip(". ")
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) < 16:
            stem = stem[: MAX_NAME_LENGTH - len(extension) - 1].rstrip()
            name = f"{stem}.{extension}"
        else:
            name = name[:MAX_NAME_LENGTH].rstrip()
    return name or "file"


def _extension(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


def _attachments_root() -> Path:
    return Path(settings.MEDIA_ROOT) / ATTACHMENTS_DIR


def store_upload(upload: Any, *, max_bytes: int | None = None) -> StoredFile:
    """Validate `upload` (anything with `.name` and `.chunks()`) and store it under
    MEDIA_ROOT/attachments/YYYY/MM/. Raises AttachmentTooLarge, UnsupportedFileType (both for
    field "file") or StorageFailure; on any failure no file is left behind."""
    limit = settings.ATTACHMENT_MAX_BYTES if max_bytes is None else max_bytes
    name = sanitize_name(str(getattr(upload, "name", "") or ""))
    extension = _extension(name)
    if extension not in ALLOWED_EXTENSIONS:
        raise _unsupported()
    declared_size = getattr(upload, "size", None)
    if isinstance(declared_size, int) and declared_size > limit:
        raise too_large(limit)

    try:
        incoming = _attachments_root() / INCOMING_DIR
        incoming.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=incoming, prefix="upload-", suffix=".part")
    except OSError as exc:
        raise StorageFailure() from exc
    temp = Path(temp_name)
    moved = False
    try:
        size, sha256 = _receive(upload, fd, limit)
        if not _content_matches(temp, extension):
            raise _unsupported()
        now = timezone.now()
        relative = PurePosixPath(
            ATTACHMENTS_DIR, f"{now:%Y}", f"{now:%m}", f"{uuid.uuid4().hex}.{extension}"
        )
        stored = StoredFile(relative.as_posix(), name, size, ALLOWED_EXTENSIONS[extension], sha256)
        final = Path(settings.MEDIA_ROOT) / relative
        final.parent.mkdir(parents=True, exist_ok=True)
        temp.chmod(FILE_MODE)
        os.replace(temp, final)
        moved = True
        return stored
    except OSError as exc:
        raise StorageFailure() from exc
    finally:
        if not moved:
            _discard(temp)


def _receive(upload: Any, fd: int, limit: int) -> tuple[int, str]:
    """Copy the upload's chunks to `fd`; return (size, sha256 hex). Stops reading and raises
    AttachmentTooLarge as soon as more than `limit` bytes have arrived."""
    hasher = hashlib.sha256()
    size = 0
    with os.fdopen(fd, "wb") as out:
        for chunk in upload.chunks():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            hasher.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return size, hasher.hexdigest()


def _discard(temp: Path) -> None:
    # Never let a failed clean-up hide the error that made the upload fail.
    try:
        temp.unlink(missing_ok=True)
    except OSError:
        logger.exception("Could not remove the temporary upload %s", temp)


def _content_matches(path: Path, extension: str) -> bool:
    """Whether the file's content is what its (allowed) extension says it is."""
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if extension in _IMAGE_FORMATS:
        image_format = _IMAGE_FORMATS[extension]
        if image_format == "WEBP":
            signed = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
        else:
            signed = head.startswith(_IMAGE_SIGNATURES[image_format])
        return signed and _is_valid_image(path, image_format)
    if extension == "pdf":
        return head.startswith(b"%PDF-")
    if extension in _OOXML_MAIN_PART:
        required = ("[Content_Types].xml", _OOXML_MAIN_PART[extension])
        return head.startswith(b"PK\x03\x04") and _zip_matches(path, required, None)
    if extension in _ODF_MIMETYPES:
        mimetype = _ODF_MIMETYPES[extension].encode()
        return head.startswith(b"PK\x03\x04") and _zip_matches(path, ("mimetype",), mimetype)
    if extension in _TEXT_EXTENSIONS:
        return _is_plain_text(path)
    return False


def _is_valid_image(path: Path, image_format: str) -> bool:
    """Pillow opens and verifies the image as `image_format`, within IMAGE_MAX_PIXELS."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=[image_format]) as image:
                width, height = image.size
                if image.format != image_format or width * height > IMAGE_MAX_PIXELS:
                    return False
                image.verify()
            # verify() leaves the image unusable; reopening proves it still parses the same way.
            with Image.open(path, formats=[image_format]) as image:
                return image.format == image_format
    # The content is hostile until proven otherwise: any failure of the parser means "not a
    # valid image" (OSError, SyntaxError, ValueError, struct.error, DecompressionBombError, and
    # DecompressionBombWarning, which the filter above turns into an exception).
    except Exception:
        return False


def _zip_matches(path: Path, required: tuple[str, ...], mimetype: bytes | None) -> bool:
    """The ZIP holds every `required` member, each readable within ZIP_MEMBER_MAX_BYTES; with
    `mimetype`, the first required member's content must equal it."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if not all(member in names for member in required):
                return False
            with archive.open(required[0]) as member:
                content = member.read(ZIP_MEMBER_MAX_BYTES + 1)
    # As with images: a corrupt, encrypted or unsupported archive is simply not this type.
    except Exception:
        return False
    if len(content) > ZIP_MEMBER_MAX_BYTES:
        return False
    return mimetype is None or content.strip() == mimetype


def _is_plain_text(path: Path) -> bool:
    """UTF-8 (a BOM allowed) without NUL bytes that does not look like markup."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    start = ""
    with path.open("rb") as handle:
        while chunk := handle.read(_READ_BYTES):
            if b"\x00" in chunk:
                return False
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError:
                return False
            if len(start) < _HEAD_BYTES:
                start += text[: _HEAD_BYTES - len(start)]
    try:
        start += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    start = start.lstrip("\ufeff \t\r\n\f\v")
    return not (_MARKUP_START.match(start) or _MARKUP_NEAR_START.search(start[:1024]))


def stored_path(path: str) -> Path:
    """The absolute path of a stored file; ValueError if `path` leads outside
    MEDIA_ROOT/attachments (through "..", an absolute path or a symlink)."""
    root = _attachments_root().resolve()
    candidate = (Path(settings.MEDIA_ROOT) / path).resolve()
    if candidate == root or not candidate.is_relative_to(root):
        raise ValueError(f"{path!r} is outside the attachments folder.")
    return candidate


def remove_stored(path: str) -> None:
    """Delete a stored file; a missing file is fine, a path outside attachments is ValueError."""
    stored_path(path).unlink(missing_ok=True)


# --- Files without a row (manage.py cleanup_orphan_files) -----------------------------------

# An upload writes its file first (into .incoming/, then moved into the store) and commits its
# row last, so a file without a row is normal for as long as an upload can take. Younger files
# are left alone; only files untouched for longer than this count as orphans.
ORPHAN_MIN_AGE_SECONDS = 3600
_ORPHAN_BATCH = 500
_ORPHAN_EVENT_PATHS = 100


class FileOnDisk(NamedTuple):
    path: str  # relative to MEDIA_ROOT, POSIX, like Attachment.path
    size: int
    age: float  # seconds since the file was last modified


class RowWithoutFile(NamedTuple):
    attachment_id: int
    ticket_id: int
    path: str
    name: str


@dataclass(frozen=True)
class StorageAudit:
    min_age: float
    orphans: tuple[FileOnDisk, ...]  # no row references them, older than `min_age`
    young: tuple[FileOnDisk, ...]  # no row references them yet: maybe an upload in flight
    missing: tuple[RowWithoutFile, ...]  # rows whose file is not on disk

    @property
    def orphan_bytes(self) -> int:
        return sum(item.size for item in self.orphans)


def _files_under_attachments() -> dict[str, os.stat_result]:
    """Every file under MEDIA_ROOT/attachments (.incoming included; symlinks not followed)."""
    media = Path(settings.MEDIA_ROOT)
    found: dict[str, os.stat_result] = {}
    for directory, _subdirectories, names in os.walk(media / ATTACHMENTS_DIR):
        for name in names:
            path = Path(directory) / name
            try:
                found[path.relative_to(media).as_posix()] = path.lstat()
            except FileNotFoundError:
                continue  # gone meanwhile: an upload finished or failed
    return found


def _stored_file_exists(path: str) -> bool:
    try:
        return stored_path(path).is_file()
    except ValueError:
        return False  # a path outside the attachments folder is never served: as good as gone


def audit_stored_files(
    *, min_age: float = ORPHAN_MIN_AGE_SECONDS, now: float | None = None
) -> StorageAudit:
    """Compare the files under MEDIA_ROOT/attachments with the Attachment rows; changes nothing.
    Files no row references are orphans when older than `min_age` seconds, else `young` (an
    upload commits its row after its file is in place). Rows whose file is missing are listed
    and logged as warnings. The files are listed before the rows are read, so a row committed
    meanwhile still counts."""
    now = time.time() if now is None else now
    files = _files_under_attachments()
    referenced: set[str] = set()
    missing = []
    rows = Attachment.objects.order_by("pk").values_list("pk", "ticket_id", "path", "name")
    for attachment_id, ticket_id, path, name in rows.iterator(chunk_size=2000):
        referenced.add(path)
        if path not in files and not _stored_file_exists(path):
            missing.append(RowWithoutFile(attachment_id, ticket_id, path, name))
            logger.warning(
                "Attachment %s of ticket %s has no file at %s", attachment_id, ticket_id, path
            )
    orphans, young = [], []
    for path, stat in sorted(files.items()):
        if path in referenced:
            continue
        item = FileOnDisk(path, stat.st_size, max(0.0, now - stat.st_mtime))
        (orphans if item.age >= min_age else young).append(item)
    return StorageAudit(min_age, tuple(orphans), tuple(young), tuple(missing))


def remove_orphan_files(audit: StorageAudit) -> list[FileOnDisk]:
    """Delete the orphan files of `audit` (an operator's clean-up: no acting user). Each one is
    checked again just before: a file a row references by now, or one modified within
    `audit.min_age`, is kept. Returns the removed files; publishes one
    `attachment.orphans_removed` event with their count, total size and (the first) paths."""
    media = Path(settings.MEDIA_ROOT)
    removed: list[FileOnDisk] = []
    candidates = list(audit.orphans)
    for start in range(0, len(candidates), _ORPHAN_BATCH):
        batch = candidates[start : start + _ORPHAN_BATCH]
        claimed = set(
            Attachment.objects.filter(path__in=[item.path for item in batch]).values_list(
                "path", flat=True
            )
        )
        for item in batch:
            if item.path in claimed:
                continue
            path = media / item.path
            try:
                if time.time() - path.lstat().st_mtime < audit.min_age:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError:
                logger.exception("Could not remove the orphan file %s", item.path)
                continue
            removed.append(item)
    if removed:
        publish(
            events.ORPHAN_FILES_REMOVED,
            actor_id=None,
            files=len(removed),
            bytes=sum(item.size for item in removed),
            paths=[item.path for item in removed[:_ORPHAN_EVENT_PATHS]],
        )
    return removed
