"""Validation and storage of uploaded files (SPEC §4.5), with real files of every allowed type."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import stat
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from PIL import Image

from techticket.errors import AttachmentTooLarge, UnsupportedFileType
from tickets import attachments
from tickets.attachments import (
    ALLOWED_EXTENSIONS,
    MAX_FILES_PER_UPLOAD,
    STORAGE_FAILED_MESSAGE,
    TOO_LARGE_MESSAGE,
    UNSUPPORTED_TYPE_MESSAGE,
    StorageFailure,
    StoredFile,
    remove_stored,
    sanitize_name,
    store_upload,
    stored_path,
)

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT_TYPE = "application/vnd.oasis.opendocument.text"
ODS_TYPE = "application/vnd.oasis.opendocument.spreadsheet"
ALLOWED_LIST = "jpg, jpeg, png, gif, webp, pdf, txt, log, csv, docx, xlsx, odt, ods"


# --- Real files -------------------------------------------------------------------------


def image_bytes(image_format: str, size: tuple[int, int] = (8, 6), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color=1 if mode == "1" else "red").save(buffer, format=image_format)
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    """A minimal one-page PDF with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A ZIP with `members` in order; "mimetype" is stored uncompressed, as ODF requires."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            method = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, content, compress_type=method)
    return buffer.getvalue()


def content_types(main_part: str, main_type: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{main_part}" ContentType="{main_type}"/>'
        "</Types>"
    ).encode()


def rels(target: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        f'relationships/officeDocument" Target="{target}"/></Relationships>'
    ).encode()


def docx_bytes() -> bytes:
    return zip_bytes(
        {
            "[Content_Types].xml": content_types(
                "word/document.xml",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
            ),
            "_rels/.rels": rels("word/document.xml"),
            "word/document.xml": (
                '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.'
                'openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r>'
                "<w:t>Принтер не печатает</w:t></w:r></w:p></w:body></w:document>"
            ).encode(),
        }
    )


def xlsx_bytes() -> bytes:
    return zip_bytes(
        {
            "[Content_Types].xml": content_types(
                "xl/workbook.xml",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
            ),
            "_rels/.rels": rels("xl/workbook.xml"),
            "xl/workbook.xml": (
                '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.'
                'openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="Лист1" '
                'sheetId="1" r:id="rId1" xmlns:r="http://schemas.openxmlformats.org/'
                'officeDocument/2006/relationships"/></sheets></workbook>'
            ).encode(),
            "xl/worksheets/sheet1.xml": (
                b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
                b'openxmlformats.org/spreadsheetml/2006/main"><sheetData/></worksheet>'
            ),
        }
    )


def odf_bytes(mimetype: str) -> bytes:
    return zip_bytes(
        {
            "mimetype": mimetype.encode(),
            "META-INF/manifest.xml": (
                '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
                '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{mimetype}"/>'
                '<manifest:file-entry manifest:full-path="content.xml" '
                'manifest:media-type="text/xml"/></manifest:manifest>'
            ).encode(),
            "content.xml": (
                b'<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office='
                b'"urn:oasis:names:tc:opendocument:xmlns:office:1.0" office:version="1.2">'
                b"<office:body/></office:document-content>"
            ),
        }
    )


TEXT = "Заявка №42: принтер на 3-м этаже не печатает.\nError 0x80070005\n".encode()
CSV = "номер;тема;приоритет\n1;Принтер;высокий\n2;VPN;normal\n".encode()
LOG = b"2031-02-03 10:00:01 ERROR spooler: job 17 failed (code=5)\n" * 20
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


class CountingUpload:
    """An upload without a declared size whose chunks() counts how many chunks were read."""

    def __init__(self, name: str, chunk: bytes, count: int) -> None:
        self.name = name
        self.chunk = chunk
        self.count = count
        self.chunks_read = 0

    def chunks(self):
        for _ in range(self.count):
            self.chunks_read += 1
            yield self.chunk


def media_files() -> list[Path]:
    """Every file anywhere under MEDIA_ROOT, hidden folders such as .incoming included."""
    root = Path(settings.MEDIA_ROOT)
    return [Path(folder, name) for folder, _dirs, names in os.walk(root) for name in names]


def assert_refused_as_unsupported(name: str, content: bytes) -> None:
    with pytest.raises(UnsupportedFileType) as caught:
        store_upload(upload(name, content))
    assert caught.value.field == "file"
    assert caught.value.message == UNSUPPORTED_TYPE_MESSAGE % {"types": ALLOWED_LIST}
    assert media_files() == []


# --- Accepted files -----------------------------------------------------------------------

ACCEPTED = [
    ("photo.png", lambda: image_bytes("PNG"), "image/png", "png"),
    ("photo.jpg", lambda: image_bytes("JPEG"), "image/jpeg", "jpg"),
    ("photo.jpeg", lambda: image_bytes("JPEG"), "image/jpeg", "jpeg"),
    ("anim.gif", lambda: image_bytes("GIF", mode="P"), "image/gif", "gif"),
    ("camera.webp", lambda: image_bytes("WEBP"), "image/webp", "webp"),
    ("акт.pdf", pdf_bytes, "application/pdf", "pdf"),
    ("описание.txt", lambda: TEXT, "text/plain", "txt"),
    ("bom.txt", lambda: b"\xef\xbb\xbf" + TEXT, "text/plain", "txt"),
    ("spooler.log", lambda: LOG, "text/plain", "log"),
    ("список.csv", lambda: CSV, "text/csv", "csv"),
    ("отчёт.docx", docx_bytes, DOCX_TYPE, "docx"),
    ("таблица.xlsx", xlsx_bytes, XLSX_TYPE, "xlsx"),
    ("текст.odt", lambda: odf_bytes(ODT_TYPE), ODT_TYPE, "odt"),
    ("таблица.ods", lambda: odf_bytes(ODS_TYPE), ODS_TYPE, "ods"),
]


@pytest.mark.parametrize(
    ("name", "make", "content_type", "extension"),
    ACCEPTED,
    ids=[case[0] for case in ACCEPTED],
)
def test_allowed_file_is_stored_with_its_metadata(name, make, content_type, extension):
    content = make()

    stored = store_upload(upload(name, content))

    assert isinstance(stored, StoredFile)
    assert re.fullmatch(rf"attachments/\d{{4}}/\d{{2}}/[0-9a-f]{{32}}\.{extension}", stored.path)
    assert stored.name == name
    assert stored.content_type == content_type
    assert stored.size == len(content)
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    on_disk = Path(settings.MEDIA_ROOT) / stored.path
    assert on_disk.read_bytes() == content
    assert stat.S_IMODE(on_disk.stat().st_mode) == 0o640
    assert media_files() == [on_disk]  # the temporary file is gone


def test_allowed_extensions_cover_the_spec_with_official_types():
    assert ", ".join(ALLOWED_EXTENSIONS) == ALLOWED_LIST
    assert ALLOWED_EXTENSIONS["jpg"] == ALLOWED_EXTENSIONS["jpeg"] == "image/jpeg"
    assert ALLOWED_EXTENSIONS["docx"] == DOCX_TYPE
    assert ALLOWED_EXTENSIONS["ods"] == ODS_TYPE
    assert MAX_FILES_PER_UPLOAD == 10


def test_upper_case_extension_is_stored_lower_case_keeping_the_original_name():
    stored = store_upload(upload("IMG_0042.JPG", image_bytes("JPEG")))

    assert stored.path.endswith(".jpg")
    assert stored.name == "IMG_0042.JPG"
    assert stored.content_type == "image/jpeg"


def test_file_is_stored_under_the_current_year_and_month(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: datetime(2031, 2, 3, 4, 5, tzinfo=UTC))

    stored = store_upload(upload("a.txt", TEXT))

    assert stored.path.startswith("attachments/2031/02/")
    assert (Path(settings.MEDIA_ROOT) / stored.path).is_file()


def test_same_file_uploaded_twice_gets_two_paths():
    first = store_upload(upload("a.txt", TEXT))
    second = store_upload(upload("a.txt", TEXT))

    assert first.path != second.path
    assert first.sha256 == second.sha256
    assert len(media_files()) == 2


def test_text_with_angle_brackets_is_accepted():
    content = b"if a < b and b > c then fail\n<<< conflict marker >>>\n"

    assert store_upload(upload("notes.txt", content)).size == len(content)


def test_file_exactly_at_the_limit_is_accepted():
    stored = store_upload(upload("a.txt", b"x" * 1024), max_bytes=1024)

    assert stored.size == 1024


# --- Refused types ------------------------------------------------------------------------

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def test_svg_is_refused():
    assert_refused_as_unsupported("logo.svg", SVG)


def test_svg_renamed_txt_is_refused():
    assert_refused_as_unsupported("logo.txt", b'<?xml version="1.0"?>\n' + SVG)


def test_html_is_refused():
    assert_refused_as_unsupported("page.html", HTML)


def test_html_renamed_txt_is_refused():
    assert_refused_as_unsupported("page.txt", b"\xef\xbb\xbf  \n" + HTML)


def test_html_renamed_pdf_is_refused():
    assert_refused_as_unsupported("page.pdf", HTML)


def test_script_tag_near_the_start_of_a_log_is_refused():
    assert_refused_as_unsupported("x.log", b"hello\n<script>alert(1)</script>\n")


def test_png_renamed_pdf_is_refused():
    assert_refused_as_unsupported("scan.pdf", image_bytes("PNG"))


def test_jpeg_renamed_png_is_refused():
    assert_refused_as_unsupported("photo.png", image_bytes("JPEG"))


def test_pdf_with_executable_extension_after_it_is_refused():
    assert_refused_as_unsupported("invoice.pdf.exe", pdf_bytes())


def test_windows_executable_renamed_txt_is_refused():
    assert_refused_as_unsupported("readme.txt", WINDOWS_EXE)


def test_elf_executable_renamed_log_is_refused():
    assert_refused_as_unsupported("server.log", ELF)


def test_text_that_is_not_utf8_is_refused():
    assert_refused_as_unsupported("cp1251.txt", "Привет".encode("cp1251"))


def test_file_without_extension_is_refused():
    assert_refused_as_unsupported("README", TEXT)


def test_corrupt_png_is_refused():
    assert_refused_as_unsupported("broken.png", b"\x89PNG\r\n\x1a\n" + os.urandom(200))


def test_truncated_png_is_refused():
    content = image_bytes("PNG", size=(64, 64))

    assert_refused_as_unsupported("cut.png", content[: len(content) // 2])


def test_decompression_bomb_png_is_refused():
    bomb = image_bytes("PNG", size=(10_000, 10_000), mode="1")
    assert len(bomb) < 100_000  # a small file that would decode to 100 megapixels

    assert_refused_as_unsupported("bomb.png", bomb)


def test_pillow_bomb_warning_refuses_even_when_the_own_limit_is_higher(monkeypatch):
    monkeypatch.setattr(attachments, "IMAGE_MAX_PIXELS", 10**12)
    bomb = image_bytes("PNG", size=(10_000, 10_000), mode="1")

    assert_refused_as_unsupported("bomb.png", bomb)


def test_image_over_the_pixel_limit_is_refused(monkeypatch):
    monkeypatch.setattr(attachments, "IMAGE_MAX_PIXELS", 400)

    assert store_upload(upload("ok.png", image_bytes("PNG", size=(20, 20)))).size > 0
    with pytest.raises(UnsupportedFileType):
        store_upload(upload("big.png", image_bytes("PNG", size=(21, 20))))


def test_zip_named_docx_without_document_xml_is_refused():
    archive = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/other.xml": b"<x/>"})

    assert_refused_as_unsupported("report.docx", archive)


def test_xlsx_renamed_docx_is_refused():
    assert_refused_as_unsupported("report.docx", xlsx_bytes())


def test_ods_renamed_odt_is_refused():
    assert_refused_as_unsupported("text.odt", odf_bytes(ODS_TYPE))


def test_executable_with_an_appended_docx_is_refused():
    assert_refused_as_unsupported("setup.docx", WINDOWS_EXE + docx_bytes())


def test_zip_member_is_not_decompressed_beyond_the_cap(monkeypatch):
    monkeypatch.setattr(attachments, "ZIP_MEMBER_MAX_BYTES", 64 * 1024)
    padding = b" " * (128 * 1024)  # compresses to almost nothing
    archive = zip_bytes(
        {"[Content_Types].xml": b"<Types>" + padding + b"</Types>", "word/document.xml": b"<d/>"}
    )

    assert_refused_as_unsupported("bomb.docx", archive)


def test_refusal_message_names_the_allowed_types():
    with pytest.raises(UnsupportedFileType) as caught:
        store_upload(upload("x.exe", WINDOWS_EXE))

    for extension in ALLOWED_EXTENSIONS:
        assert extension in str(caught.value)
    assert caught.value.code == "unsupported_file_type"
    assert caught.value.status_code == 400


# --- Size limit ---------------------------------------------------------------------------


def test_file_over_the_limit_is_refused_without_reading_the_rest():
    streamed = CountingUpload("big.txt", b"x" * 256, count=100)

    with pytest.raises(AttachmentTooLarge) as caught:
        store_upload(streamed, max_bytes=1024)

    assert streamed.chunks_read == 5  # 1280 bytes: the first chunk over the limit
    assert caught.value.field == "file"
    assert caught.value.status_code == 413
    assert caught.value.message == TOO_LARGE_MESSAGE % {"limit": filesizeformat(1024)}
    assert media_files() == []


def test_limit_plus_one_byte_is_refused():
    with pytest.raises(AttachmentTooLarge):
        store_upload(CountingUpload("a.txt", b"x" * 1025, count=1), max_bytes=1024)

    assert media_files() == []


def test_declared_size_over_the_limit_is_refused_before_reading():
    oversized = SimpleUploadedFile("a.txt", b"x" * 2048)
    oversized.chunks = pytest.fail  # reading it at all would fail the test

    with pytest.raises(AttachmentTooLarge):
        store_upload(oversized, max_bytes=1024)

    assert not Path(settings.MEDIA_ROOT).exists()


def test_default_limit_comes_from_settings(settings):
    settings.ATTACHMENT_MAX_BYTES = 100

    assert store_upload(upload("a.txt", b"x" * 100)).size == 100
    with pytest.raises(AttachmentTooLarge):
        store_upload(CountingUpload("b.txt", b"x" * 101, count=1))


# --- Names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\Иван\\Desktop\\отчёт.pdf", "отчёт.pdf"),
        ("evil\x00name\n\r\t.txt", "evilname .txt"),
        ("invoice\u202etxt.exe", "invoicetxt.exe"),
        ("\u2066a\u200fb\u202c.log", "ab.log"),
        ("  ..hidden.txt  ", "hidden.txt"),
        ("two    spaces\u00a0here.csv", "two spaces here.csv"),
        ("", "file"),
        ("../", "file"),
        ("...", "file"),
    ],
)
def test_sanitize_name(raw, expected):
    assert sanitize_name(raw) == expected


def test_sanitize_name_caps_a_long_name_keeping_the_extension():
    name = sanitize_name("д" * 1000 + ".txt")

    assert len(name) == 255
    assert name.endswith("д.txt")


def test_path_traversal_name_is_stored_safely_under_attachments(tmp_path):
    stored = store_upload(upload("../../etc/passwd.txt", TEXT))

    assert stored.name == "passwd.txt"
    assert stored.path.startswith("attachments/")
    assert media_files() == [Path(settings.MEDIA_ROOT) / stored.path]
    assert not (tmp_path / "etc").exists()


def test_name_with_control_characters_is_stored_clean():
    stored = store_upload(upload("отчёт\x00\n\u202e за май.txt", TEXT))

    assert stored.name == "отчёт за май.txt"


def test_nul_byte_cannot_hide_the_real_extension():
    assert_refused_as_unsupported("photo.txt\x00.exe", TEXT)


def test_right_to_left_override_cannot_disguise_an_executable():
    assert_refused_as_unsupported("invoice\u202etxt.exe", WINDOWS_EXE)


def test_long_name_is_stored_capped_keeping_the_extension():
    stored = store_upload(upload("a" * 1000 + ".txt", TEXT))

    assert len(stored.name) == 255
    assert stored.name.endswith("a.txt")
    assert stored.path.endswith(".txt")


# --- Failures leave nothing behind --------------------------------------------------------


class FullDisk:
    """A file object that fails with ENOSPC after `room` bytes, like a filling disk."""

    def __init__(self, handle, room: int) -> None:
        self.handle = handle
        self.room = room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            self.handle.write(data[: self.room])
            self.handle.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.handle.write(data)

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.handle.close()


def test_disk_full_while_writing_is_a_storage_failure_and_leaves_nothing(monkeypatch):
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode), 300))

    with pytest.raises(StorageFailure) as caught:
        store_upload(CountingUpload("a.txt", b"x" * 256, count=4))

    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.__cause__.errno == errno.ENOSPC
    assert caught.value.code == "storage_failed"
    assert caught.value.status_code == 507
    assert caught.value.message == STORAGE_FAILED_MESSAGE
    assert media_files() == []


def test_disk_full_while_moving_is_a_storage_failure_and_leaves_nothing(monkeypatch):
    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)

    with pytest.raises(StorageFailure) as caught:
        store_upload(upload("photo.png", image_bytes("PNG")))

    assert caught.value.__cause__.errno == errno.ENOSPC
    assert media_files() == []


def test_unexpected_error_during_validation_leaves_nothing(monkeypatch):
    def crash(path, extension):
        assert path.is_file()  # the upload had been written to a temporary file
        raise RuntimeError("boom")

    monkeypatch.setattr(attachments, "_content_matches", crash)

    with pytest.raises(RuntimeError, match="boom"):
        store_upload(upload("a.txt", TEXT))

    assert media_files() == []


# --- Stored paths -------------------------------------------------------------------------


def test_stored_path_is_the_absolute_path_of_a_stored_file():
    stored = store_upload(upload("a.txt", TEXT))

    absolute = stored_path(stored.path)

    assert absolute.is_absolute()
    assert absolute.read_bytes() == TEXT


def test_remove_stored_deletes_the_file():
    stored = store_upload(upload("a.txt", TEXT))

    remove_stored(stored.path)

    assert media_files() == []


def test_remove_stored_ignores_a_missing_file():
    remove_stored("attachments/2031/02/" + "0" * 32 + ".txt")

    assert media_files() == []


@pytest.mark.parametrize(
    "path",
    ["../outside", "attachments/../../outside", "attachments/../settings.py", "/etc/passwd", ""],
)
def test_paths_outside_attachments_are_refused(path, tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("keep me")

    with pytest.raises(ValueError, match="outside the attachments folder"):
        stored_path(path)
    with pytest.raises(ValueError, match="outside the attachments folder"):
        remove_stored(path)

    assert outside.read_text() == "keep me"


def test_symlink_leading_outside_attachments_is_refused(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("keep me")
    folder = Path(settings.MEDIA_ROOT) / "attachments" / "2031" / "02"
    folder.mkdir(parents=True)
    (folder / "link.txt").symlink_to(outside)

    with pytest.raises(ValueError, match="outside the attachments folder"):
        remove_stored("attachments/2031/02/link.txt")

    assert outside.read_text() == "keep me"
