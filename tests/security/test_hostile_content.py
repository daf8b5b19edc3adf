"""Hostile content (issue 7, part 3; SPEC §4.5, §4.7, §5, §7.1).

Markup in every user-written field and file name on every page that shows it; hostile uploads
(markup disguised as images, polyglots, decompression bombs, traversal and disguised names);
oversized and malformed requests; hostile search strings; malformed filters, page numbers and
JSON. Each is answered with its documented error or shown as inert text: never a 500, never a
stored file or row.

The neighbouring suites already prove a lot of this for the simple cases (`<script>` in titles
and comments, SVG/HTML uploads, the name sanitiser, search operators at the function level);
this file adds the attacks they leave out, through real HTTP requests (raw multipart bodies
included, so the names arrive exactly as a hostile client sends them)."""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation
from django.utils.html import escape
from PIL import Image

from accounts.models import User
from accounts.tests.factories import TechnicianFactory
from tickets import services
from tickets.attachments import ALLOWED_EXTENSIONS, too_large
from tickets.models import Attachment, Comment, Ticket
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"
STORED_PATH = re.compile(r"attachments/\d{4}/\d{2}/[0-9a-f]{32}\.([a-z]+)")


# --- Helpers ----------------------------------------------------------------------------------


def media_files() -> list[Path]:
    """Every file under MEDIA_ROOT, the hidden `.incoming` folder included."""
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def assert_nothing_stored() -> None:
    assert not Attachment.objects.exists()
    assert not Attachment.history.exists()
    assert media_files() == []


def api_error(response, status: int, *, code: str | None = None, attr: str | None = None):
    """The one error shape of SPEC §5; returns the parsed body."""
    assert response.status_code == status, (status, response.content[:400])
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"type", "errors"}, body
    assert body["type"] in (
        {"server_error"} if status >= 500 else {"validation_error", "client_error"}
    ), body
    assert all(set(e) == {"code", "detail", "attr"} for e in body["errors"]), body
    if code is not None:
        assert code in {e["code"] for e in body["errors"]}, body
    if attr is not None:
        assert attr in {e["attr"] for e in body["errors"]}, body
    return body


def raw_multipart(*parts: tuple[str, bytes | None, bytes]) -> tuple[bytes, str]:
    """A multipart body built by hand: (field, raw filename bytes or None, content) per part.
    The test client would clean file names itself; a hostile client does not."""
    boundary = b"----hostile-boundary-7f3a"
    body = b""
    for field, filename, content in parts:
        disposition = b'form-data; name="' + field.encode() + b'"'
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        body += b"--" + boundary + b"\r\nContent-Disposition: " + disposition + b"\r\n"
        if filename is not None:
            body += b"Content-Type: application/octet-stream\r\n"
        body += b"\r\n" + content + b"\r\n"
    body += b"--" + boundary + b"--\r\n"
    return body, f"multipart/form-data; boundary={boundary.decode()}"


def post_raw(client, url: str, *parts):
    body, content_type = raw_multipart(*parts)
    return client.generic("POST", url, body, content_type=content_type)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def quiet(client):
    """A client that returns the 500 page instead of raising, as a real server would."""
    client.raise_request_exception = False
    return client


class Markup(HTMLParser):
    """What a page would execute: inline scripts, event handlers, javascript: URLs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.handlers: list[tuple[str, str]] = []
        self.js_urls: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name))
            if name in {"href", "src", "action", "formaction", "data", "xlink:href"} and (
                (value or "").strip().lower().startswith(("javascript:", "data:text/html"))
            ):
                self.js_urls.append(value)
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self.inline_scripts += 1


def assert_inert(html: str, where: str) -> None:
    found = Markup()
    found.feed(html)
    found.close()
    assert found.handlers == [], f"event handlers on {where}: {found.handlers}"
    assert found.js_urls == [], f"javascript: URLs on {where}"
    assert found.inline_scripts == 0, f"inline <script> on {where}"


def png_bytes(size=(4, 4), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 1 if mode == "1" else "red").save(buffer, format="PNG")
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(zipfile.ZipInfo(name), content, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


DOCX_PARTS = {
    "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats'
    b'.org/package/2006/content-types"/>',
    "word/document.xml": b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.'
    b'openxmlformats.org/wordprocessingml/2006/main"/>',
}


@pytest.fixture
def own_ticket(requester):
    return TicketFactory(creator=requester)


@pytest.fixture
def me(api_client, requester):
    return quiet(api_client(requester))


# --- 1. Markup in every user-written field, on every page that shows it -----------------------

# Payloads for the contexts the plain `<script>` tests do not reach: attribute values (single
# and double quoted), <textarea>, <title>, <option> inside a <select>, and URLs.
ATTR_DQ = '" autofocus onfocus="alert(1)'
ATTR_SQ = "' onmouseover='alert(2)"
BREAK_TAG = '"><svg onload=alert(3)>'
BREAK_TEXTAREA = "</textarea><img src=x onerror=alert(4)>"
BREAK_TITLE = "</title><img src=x onerror=alert(5)>"
BREAK_OPTION = "</option></select><img src=x onerror=alert(6)>"
JS_URL = "javascript:alert(7)"
MARKUP_PAYLOADS = (ATTR_DQ, ATTR_SQ, BREAK_TAG, BREAK_TEXTAREA, BREAK_TITLE, BREAK_OPTION)
TITLE = f"{ATTR_DQ} {BREAK_TAG}"


def assert_no_payload_is_markup(html: str, where: str) -> None:
    for payload in MARKUP_PAYLOADS:
        assert payload not in html, f"{payload!r} unescaped on {where}"
    assert_inert(html, where)


@pytest.fixture
def hostile(requester, manager):
    """A ticket whose every user-written text is a payload: the requester's and the assigned
    technician's names and departments, title, description, comment, internal note, hold
    reason and file names; the technician is offered in the assign drop-down."""
    requester.first_name, requester.last_name = BREAK_TITLE, ATTR_SQ
    requester.department = BREAK_TAG
    requester.save(update_fields=["first_name", "last_name", "department"])
    tech = TechnicianFactory(
        username="tech_hostile",
        first_name=BREAK_OPTION,
        last_name=ATTR_DQ,
        department=BREAK_TEXTAREA,
    )
    ticket = services.ticket_create(
        actor=requester,
        title=TITLE,
        description="\n".join((*MARKUP_PAYLOADS, JS_URL)),
        files=[
            SimpleUploadedFile(f"{ATTR_DQ}.txt", b"one\n"),
            SimpleUploadedFile(f"{ATTR_SQ} {BREAK_TAG}.txt", b"two\n"),
        ],
    )
    act = services.ticket_apply_action
    act(actor=manager, ticket=ticket, action="assign", assignee=tech)
    act(actor=tech, ticket=ticket, action="accept")
    services.comment_add(actor=requester, ticket=ticket, text=f"{BREAK_TEXTAREA} {JS_URL}")
    services.comment_add(actor=tech, ticket=ticket, text=f"{BREAK_OPTION} {ATTR_SQ}", internal=True)
    act(actor=tech, ticket=ticket, action="hold", reason=f"{BREAK_TITLE} {JS_URL}")
    act(actor=manager, ticket=ticket, action="resume")
    ticket.refresh_from_db()
    return ticket, tech


def test_attribute_and_element_breaking_payloads_stay_text_on_every_page(
    hostile, requester, manager, admin_user
):
    ticket, tech = hostile
    as_requester, as_manager, as_tech, as_admin = (
        signed_in(user) for user in (requester, manager, tech, admin_user)
    )
    comment = ticket.comments.order_by("pk").first()
    attachment = ticket.attachments.order_by("pk").first()
    record = ticket.history.order_by("history_id").last()
    card = f"/tickets/{ticket.pk}/"
    pages = {
        "list (manager, with the technician filter)": (as_manager, "/tickets/?view=all"),
        "list searched and highlighted": (as_manager, "/tickets/?view=all&search=alert+onfocus"),
        "list (requester)": (as_requester, "/tickets/"),
        "list (technician)": (as_tech, "/tickets/"),
        "card (manager, with the assign drop-down)": (as_manager, card),
        "card (requester)": (as_requester, card),
        "card (technician)": (as_tech, card),
        "edit form": (as_requester, f"/tickets/{ticket.pk}/edit/"),
        "profile": (as_requester, "/accounts/profile/"),
        "admin users": (as_admin, "/admin/accounts/user/"),
        "admin requester": (as_admin, f"/admin/accounts/user/{requester.pk}/change/"),
        "admin technician": (as_admin, f"/admin/accounts/user/{tech.pk}/change/"),
        "admin tickets": (as_admin, "/admin/tickets/ticket/"),
        "admin ticket": (as_admin, f"/admin/tickets/ticket/{ticket.pk}/change/"),
        "admin ticket history": (as_admin, f"/admin/tickets/ticket/{ticket.pk}/history/"),
        "admin history record": (
            as_admin,
            f"/admin/tickets/ticket/{ticket.pk}/history/{record.history_id}/",
        ),
        "admin ticket delete confirmation": (
            as_admin,
            f"/admin/tickets/ticket/{ticket.pk}/delete/",
        ),
        "admin comment": (as_admin, f"/admin/tickets/comment/{comment.pk}/change/"),
        "admin attachments": (as_admin, "/admin/tickets/attachment/"),
        "admin attachment": (as_admin, f"/admin/tickets/attachment/{attachment.pk}/change/"),
    }
    html = {}
    for where, (client, url) in pages.items():
        response = client.get(url)
        assert response.status_code == 200, where
        html[where] = response.content.decode()
        assert_no_payload_is_markup(html[where], where)

    # Each payload is still there, as text, where it belongs.
    shown = {
        "list (manager, with the technician filter)": (ATTR_DQ, BREAK_OPTION),
        "list (requester)": (ATTR_DQ, BREAK_TAG),
        "card (manager, with the assign drop-down)": (BREAK_OPTION, ATTR_DQ, BREAK_TEXTAREA),
        "card (requester)": (BREAK_TITLE, ATTR_SQ, BREAK_TEXTAREA),
        "edit form": (BREAK_TEXTAREA, ATTR_DQ),
        "profile": (BREAK_TITLE, ATTR_SQ, BREAK_TAG),
        "admin technician": (BREAK_OPTION, BREAK_TEXTAREA),
        "admin ticket": (ATTR_DQ,),
    }
    for where, payloads in shown.items():
        for payload in payloads:
            assert escape(payload) in html[where], f"{payload!r} not shown as text on {where}"
    assert JS_URL in html["card (requester)"], "a javascript: text stays plain text"
    assert f"{escape(ATTR_DQ)}.txt" in html["card (manager, with the assign drop-down)"]


def test_api_serves_user_written_markup_as_json_only(hostile, api_client, manager):
    ticket, tech = hostile
    client = api_client(manager)

    answers = [
        client.get(f"{API}/tickets/{ticket.pk}/"),
        client.get(f"{API}/tickets/{ticket.pk}/history/"),
        client.get(f"{API}/tickets/{ticket.pk}/comments/"),
        client.get(f"{API}/tickets/{ticket.pk}/attachments/"),
        client.get(f"{API}/users/", {"role": "technician"}),
    ]

    for response in answers:
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response["X-Content-Type-Options"] == "nosniff"
    assert answers[0].json()["title"] == TITLE  # stored and returned exactly as written
    [listed] = [u for u in answers[4].json()["results"] if u["username"] == tech.username]
    assert (listed["first_name"], listed["department"]) == (BREAK_OPTION, BREAK_TEXTAREA)


@pytest.mark.parametrize(
    "username",
    ["<svg/onload=alert(1)>", '"onmouseover="x', "eve\nadmin", "a b", "root;--", "x" * 151],
)
def test_username_with_markup_or_control_characters_is_refused_at_registration(
    api_client, username
):
    response = api_client().post(
        f"{API}/auth/register/",
        {"username": username, "email": "x@example.com", "password": "Winter-Lantern-42"},
    )

    api_error(response, 400, attr="username")
    assert not User.objects.filter(email="x@example.com").exists()


# --- 2. Hostile file names through raw multipart bodies ----------------------------------------

# (raw name as the client sends it, the name kept, or None: refused as unsupported)
HOSTILE_NAMES = [
    (b"<img src=x onerror=alert(1)>.txt", "<img src=x onerror=alert(1)>.txt"),
    (b'"onmouseover=alert(1) x=".txt', '"onmouseover=alert(1) x=".txt'),
    (b"../../../../etc/passwd.txt", "passwd.txt"),
    (b"..\\..\\..\\windows\\win.ini.txt", "win.ini.txt"),
    (b"/etc/cron.d/evil.txt", "evil.txt"),
    (b"&#x2F;etc&#x2F;shadow.txt", "shadow.txt"),
    (b"a\x00b.txt", "ab.txt"),
    (b"notes.txt\x00.exe", None),
    (b"a" * 300 + b".txt", "a" * 251 + ".txt"),
    ("evil\u202egpj.exe".encode(), None),
    ("invoice\u202efdp.txt".encode(), "invoicefdp.txt"),
    ("line\u2028break\u0085here.txt".encode(), "linebreakhere.txt"),
    (b"tab\there.txt", "tabhere.txt"),
    (b"CON.txt", "CON.txt"),
    (b"NUL.log", "NUL.log"),
    (b".htaccess", None),
    (b"...", None),
    (b"report.pdf.html", None),
    (b"shell.php", None),
]


@pytest.mark.parametrize(
    ("raw", "kept"), HOSTILE_NAMES, ids=[repr(raw[:24]) for raw, _kept in HOSTILE_NAMES]
)
def test_hostile_file_name_is_stored_cleaned_or_refused(
    me, requester_client, own_ticket, tmp_path, raw, kept
):
    response = post_raw(me, f"{API}/tickets/{own_ticket.pk}/attachments/", ("file", raw, b"hi\n"))

    if kept is None:
        api_error(response, 400, code="unsupported_file_type", attr="file")
        assert_nothing_stored()
        return
    assert response.status_code == 201, response.content
    [created] = response.json()
    assert created["name"] == kept
    stored = Attachment.objects.get(pk=created["id"])
    match = STORED_PATH.fullmatch(stored.path)
    assert match, stored.path  # the name never reaches the file system
    assert match.group(1) == kept.rsplit(".", 1)[1].lower()
    assert media_files() == [Path(settings.MEDIA_ROOT) / stored.path]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["media"], "nothing outside MEDIA_ROOT"

    download = me.get(created["download_url"])
    assert download.status_code == 200
    disposition = download["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert disposition.startswith("attachment; ")
    b"".join(download.streaming_content)
    card = requester_client.get(f"/tickets/{own_ticket.pk}/").content.decode()
    assert escape(kept) in card
    assert_inert(card, "the card listing the file")


def test_names_that_are_not_utf8_or_empty_upload_nothing(me, own_ticket):
    for raw in (b"\xff\xfe\xfd.txt", b"", b".."):
        response = post_raw(me, f"{API}/tickets/{own_ticket.pk}/attachments/", ("file", raw, b"x"))
        api_error(response, 400, attr="file")
    assert_nothing_stored()


def test_rfc2231_name_cannot_smuggle_a_forbidden_extension(me, own_ticket):
    body = (
        b'------b\r\nContent-Disposition: form-data; name="file"; filename="ok.txt"; '
        b"filename*=UTF-8''evil%2Ehtml\r\n\r\n<html><script>alert(1)</script>\r\n------b--\r\n"
    )

    response = me.generic(
        "POST",
        f"{API}/tickets/{own_ticket.pk}/attachments/",
        body,
        content_type="multipart/form-data; boundary=----b",
    )

    api_error(response, 400, code="unsupported_file_type", attr="file")
    assert_nothing_stored()


def test_page_upload_with_hostile_names_shows_them_as_text(requester_client, own_ticket):
    response = post_raw(
        requester_client,
        f"/tickets/{own_ticket.pk}/attachments/",
        ("file", b"<img src=x onerror=alert(1)>.txt", b"a\n"),
        ("file", b"../../../../tmp/evil.txt", b"b\n"),
        ("file", "\u202eexe.txt".encode(), b"c\n"),
    )

    assert response.status_code == 302
    names = sorted(own_ticket.attachments.values_list("name", flat=True))
    assert names == ["<img src=x onerror=alert(1)>.txt", "evil.txt", "exe.txt"]
    card = requester_client.get(f"/tickets/{own_ticket.pk}/").content.decode()
    assert escape("<img src=x onerror=alert(1)>.txt") in card
    assert "\u202e" not in card
    assert_inert(card, "the card")


# --- 3. Hostile file contents ----------------------------------------------------------------

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def gif_with_screen(width: int, height: int) -> bytes:
    """A GIF whose logical screen is width × height, holding one 1 × 1 frame."""
    return (
        b"GIF89a"
        + struct.pack("<HH", width, height)
        + b"\x00\x00\x00"
        + b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real JPEG whose frame header claims width × height (a decompression bomb header)."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="JPEG")
    content = bytearray(buffer.getvalue())
    frame = content.find(b"\xff\xc0")
    content[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(content)


def docx_bomb() -> bytes:
    """A DOCX whose [Content_Types].xml inflates to 8 MiB (over the 1 MiB read cap) from a few
    kilobytes."""
    padding = b" " * (8 * 1024 * 1024)
    return zip_bytes(
        {
            "[Content_Types].xml": b"<Types>" + padding + b"</Types>",
            "word/document.xml": b"<d/>",
        }
    )


REFUSED_CONTENTS = [
    ("logo.png", lambda: SVG),
    ("logo.jpg", lambda: b'<?xml version="1.0"?>\n' + SVG),
    ("logo.gif", lambda: b"GIF89a" + SVG),
    ("page.png", lambda: HTML),
    ("table.csv", lambda: HTML),
    ("server.log", lambda: b"<!-- comment -->\n" + HTML),
    ("frame.txt", lambda: b'<iframe src="https://evil.example/"></iframe>'),
    ("page.pdf", lambda: HTML),
    ("bomb.png", lambda: png_bytes((10_000, 10_000), "1")),
    ("bomb.gif", lambda: gif_with_screen(65_535, 65_535)),
    ("bomb.jpg", lambda: jpeg_claiming(60_000, 60_000)),
    ("bomb.docx", docx_bomb),
    ("archive.xlsx", lambda: zip_bytes({"xl/evil.xml": b"<x/>"})),
    ("empty.png", lambda: b""),
]


@pytest.mark.parametrize(
    ("name", "make"), REFUSED_CONTENTS, ids=[name for name, _make in REFUSED_CONTENTS]
)
def test_markup_and_bombs_are_refused_over_the_api_and_leave_nothing(me, own_ticket, name, make):
    response = post_raw(
        me, f"{API}/tickets/{own_ticket.pk}/attachments/", ("file", name.encode(), make())
    )

    body = api_error(response, 400, code="unsupported_file_type", attr="file")
    assert "png" in body["errors"][0]["detail"] and "pdf" in body["errors"][0]["detail"]
    assert_nothing_stored()


SCRIPT_EXTENSIONS = [
    *("html", "htm", "xhtml", "shtml", "svg", "svgz", "xml", "xsl"),  # markup
    *("js", "mjs", "php", "phtml", "phar", "jsp", "asp", "aspx", "py", "rb", "pl", "cgi"),
    *("sh", "bash", "bat", "cmd", "ps1", "vbs", "hta"),  # shell scripts
    *("exe", "dll", "msi", "scr", "com", "jar", "apk", "swf"),  # executables
    *("zip", "rar", "7z", "gz", "doc", "xls", "rtf"),  # archives, macro-capable documents
]


@pytest.mark.parametrize("extension", SCRIPT_EXTENSIONS)
def test_script_and_executable_extensions_are_refused_whatever_the_content(
    me, own_ticket, extension
):
    response = post_raw(
        me,
        f"{API}/tickets/{own_ticket.pk}/attachments/",
        ("file", f"a.{extension}".encode(), b"hello\n"),
    )

    api_error(response, 400, code="unsupported_file_type", attr="file")
    assert_nothing_stored()


def gif_js_polyglot() -> bytes:
    """A valid GIF whose bytes are also a script: `GIF89a/*…*/=alert(document.domain);//`."""
    return (
        b"GIF89a/*\x0a\x00\x00\x00\x00"
        + b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00"
        + b"*/=alert(document.domain);//;"
    )


def pdf_with_javascript() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<< /Type /Catalog /OpenAction << /S /JavaScript "
        b"/JS (app.alert(document.cookie)) >> >>endobj\n"
        b"<html><script>alert(1)</script></html>\ntrailer<< /Root 1 0 R >>\n%%EOF\n"
    )


def docx_with_traversal_and_a_huge_member() -> bytes:
    return zip_bytes(
        {
            **DOCX_PARTS,
            "../../../../../../tmp/pwned-by-zip.txt": b"owned",
            "/etc/pwned-absolute.txt": b"owned",
            "..\\..\\pwned-windows.txt": b"owned",
            "word/media/huge.bin": b"\x00" * (32 * 1024 * 1024),
        }
    )


# (name, content, the content type it must be served with, inline?)
INERT_CONTENTS = [
    ("polyglot.gif", gif_js_polyglot, "image/gif", True),
    ("tail.png", lambda: png_bytes() + b"<script>alert(1)</script>", "image/png", True),
    ("invoice.pdf", pdf_with_javascript, "application/pdf", False),
    (
        "steal.txt",
        lambda: b"fetch('/api/v1/users/me/').then(r => alert(document.cookie))\n",
        "text/plain",
        False,
    ),
    ("shell.php.txt", lambda: b"<?php system($_GET['c']); ?>\n", "text/plain", False),
    ("formula.csv", lambda: b"=cmd|' /C calc'!A0;@SUM(1+1)\n", "text/csv", False),
    ("report.docx", docx_with_traversal_and_a_huge_member, ALLOWED_EXTENSIONS["docx"], False),
]


@pytest.mark.parametrize(
    ("name", "make", "content_type", "inline"),
    INERT_CONTENTS,
    ids=[case[0] for case in INERT_CONTENTS],
)
def test_accepted_files_with_hostile_content_are_stored_verbatim_and_served_inert(
    me, own_ticket, tmp_path, name, make, content_type, inline
):
    content = make()

    response = post_raw(
        me, f"{API}/tickets/{own_ticket.pk}/attachments/", ("file", name.encode(), content)
    )

    assert response.status_code == 201, response.content
    [created] = response.json()
    stored = Attachment.objects.get(pk=created["id"])
    [on_disk] = media_files()  # no member of an archive was ever extracted
    assert on_disk == Path(settings.MEDIA_ROOT) / stored.path
    assert on_disk.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["media"]
    assert not Path("/tmp/pwned-by-zip.txt").exists()

    download = me.get(created["download_url"])
    assert download.status_code == 200
    # A browser will neither sniff it into HTML nor run it as a script (nosniff + a
    # non-script type), nor give it the site's origin (sandbox).
    assert download["Content-Type"] == content_type
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Security-Policy"].split(";")[0].strip() == "sandbox"
    assert download["Content-Disposition"].startswith("inline" if inline else "attachment")
    assert b"".join(download.streaming_content) == content


@pytest.mark.parametrize("where", ["upload", "create"])
def test_page_forms_refuse_disguised_markup_and_bombs_and_keep_nothing(
    requester_client, own_ticket, where
):
    url = "/tickets/new/" if where == "create" else f"/tickets/{own_ticket.pk}/attachments/"
    fields = {
        "title": "Hostile",
        "description": "files",
        "category": "incident",
        "priority": "normal",
    }
    tickets_before = Ticket.objects.count()

    for name, content in (("logo.png", SVG), ("bomb.png", png_bytes((10_000, 10_000), "1"))):
        data = {
            **(fields if where == "create" else {}),
            "file": [SimpleUploadedFile(name, content)],
        }
        response = requester_client.post(url, data)
        assert response.status_code == 400, name
        assert "png" in response.content.decode()  # the message names the allowed types

    assert Ticket.objects.count() == tickets_before
    assert_nothing_stored()


def test_page_comment_with_a_refused_file_keeps_no_comment(requester_client, own_ticket):
    response = requester_client.post(
        f"/tickets/{own_ticket.pk}/comments/",
        {"text": "Вот схема", "file": [SimpleUploadedFile("scheme.png", SVG)]},
    )

    assert response.status_code == 400
    assert_nothing_stored()
    assert not Comment.objects.filter(ticket=own_ticket).exists()


# --- 4. Oversized requests ---------------------------------------------------------------------


@pytest.mark.parametrize("where", ["upload", "comment", "create"])
def test_page_file_over_the_limit_is_a_form_error_and_nothing_is_written(
    settings, requester_client, own_ticket, where
):
    settings.ATTACHMENT_MAX_BYTES = 1024
    url = {
        "upload": f"/tickets/{own_ticket.pk}/attachments/",
        "comment": f"/tickets/{own_ticket.pk}/comments/",
        "create": "/tickets/new/",
    }[where]
    data = {
        "upload": {},
        "comment": {"text": "с большим файлом"},
        "create": {
            "title": "Большой",
            "description": "файл",
            "category": "incident",
            "priority": "normal",
        },
    }[where]
    tickets_before = Ticket.objects.count()

    response = requester_client.post(
        url, {**data, "file": [SimpleUploadedFile("big.txt", b"x" * 4096)]}
    )

    assert response.status_code == 400
    with translation.override("ru"):
        assert escape(str(too_large().message)) in response.content.decode()
    assert Ticket.objects.count() == tickets_before
    assert not Comment.objects.exists()
    assert_nothing_stored()


def test_page_body_over_the_memory_limit_is_400_and_adds_nothing(requester_client, own_ticket):
    text = "я" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2 + 1024)  # two bytes each

    response = quiet(requester_client).post(f"/tickets/{own_ticket.pk}/comments/", {"text": text})

    assert response.status_code in (400, 413)
    assert "<html" in response.content.decode()
    assert not Comment.objects.exists()


def test_api_comment_body_over_the_memory_limit_is_413_json(me, own_ticket):
    text = "я" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2 + 1024)

    response = me.post(f"{API}/tickets/{own_ticket.pk}/comments/", {"text": text})

    api_error(response, 413, code="request_too_large")
    assert not Comment.objects.exists()


@pytest.mark.parametrize(
    ("url", "field", "limit"),
    [
        ("tickets/", "title", 200),
        ("tickets/", "description", 20_000),
        ("tickets/{pk}/comments/", "text", 10_000),
    ],
)
def test_api_text_one_over_its_limit_is_400_naming_the_field(me, own_ticket, url, field, limit):
    body = {"text": "C"} if field == "text" else {"title": "T", "description": "D"}
    body[field] = "ы" * (limit + 1)

    response = me.post(f"{API}/{url.format(pk=own_ticket.pk)}", body)

    api_error(response, 400, attr=field)
    assert Ticket.objects.count() == 1
    assert not Comment.objects.exists()


def test_too_many_query_parameters_are_400_on_the_api_and_the_pages(me, requester_client):
    query = "&".join(f"f{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))

    api = me.get(f"{API}/tickets/?{query}")
    page = quiet(requester_client).get(f"/tickets/?{query}")

    api_error(api, 400)
    assert page.status_code == 400
    assert "<html" in page.content.decode()


def test_more_file_parts_than_django_accepts_are_400_and_store_nothing(
    me, requester_client, own_ticket
):
    parts = [("file", f"f{n}.txt".encode(), b"x\n") for n in range(101)]

    api = post_raw(me, f"{API}/tickets/{own_ticket.pk}/attachments/", *parts)
    page = post_raw(quiet(requester_client), f"/tickets/{own_ticket.pk}/attachments/", *parts)

    api_error(api, 400)
    assert page.status_code == 400
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--x\r\ngarbage"),
        ("multipart/form-data; boundary=", b"--\r\n"),
        ("multipart/form-data; boundary=abc", b"--abc\r\nContent-Disposition: form-data"),
        ("multipart/form-data; boundary=abc", b"\x00" * 1000),
        ("application/json", b'{"file": "x"}'),
    ],
    ids=["no-boundary", "empty-boundary", "truncated", "binary-noise", "json"],
)
def test_malformed_upload_bodies_are_a_clean_4xx_and_store_nothing(
    me, own_ticket, content_type, body
):
    response = me.generic(
        "POST", f"{API}/tickets/{own_ticket.pk}/attachments/", body, content_type=content_type
    )

    assert response.status_code in (400, 415), response.content
    api_error(response, response.status_code)
    assert_nothing_stored()


# --- 5. Hostile search strings, over HTTP, on both databases ------------------------------------

SECRET_WORD = "xylophonequark"
SECRET_TITLE = "Секретный принтер директора"
SEARCH_ATTACKS = [
    '"',
    'принтер"',
    '"принтер',
    "*",
    "принтер*",
    "*принтер",
    "NEAR(принтер",
    "NEAR(принтер сканер, 2)",
    f"принтер OR {SECRET_WORD}",
    "принтер AND NOT сканер",
    "title:принтер",
    "description:принтер",
    "^принтер",
    "(принтер",
    "принтер)",
    "((((((((",
    "принтер & !сканер",
    f"принтер | {SECRET_WORD}",
    "!!принтер",
    "принтер:*",
    "принтер:*A",
    "принтер <-> сканер",
    "'",
    "' OR '1'='1",
    "принтер' OR 1=1 --",
    '"; DROP TABLE tickets_ticket; --',
    "%",
    "_",
    "\\",
    "принтер\\",
    "\x00",
    "принтер\x00",
    "\x01\x02\x1f\x7f",
    "\u200b\u200d",
    "\ufeffпринтер",
    "\u202eретнирп",
    "🖨️ принтер",
    "𝔭𝔯𝔦𝔫𝔱𝔢𝔯",
    "и в на не",
    "the and of",
    "а" * 10_240,
    "принтер " * 1_500,
    " ".join(f"w{n}" for n in range(2_000)),
]
# Sent as raw query strings: what a browser or a script can put in a URL but a dict cannot.
RAW_SEARCH_ATTACKS = [
    "search=%ED%A0%80",  # a lone surrogate, UTF-8 encoded
    "search=%FF%FE%FD",
    "search=%C0%AF",  # an overlong "/"
    "search=%00",
    "search=a&search=%E2%80%AE",
    "search[]=%D0%BF%D1%80%D0%B8%D0%BD%D1%82%D0%B5%D1%80",
    "search=%25%27%22%3C%3E",
]


@pytest.fixture
def search_world(requester, other_requester):
    mine = [
        TicketFactory(creator=requester, title="Сломался принтер", description="Мнёт бумагу"),
        TicketFactory(creator=requester, title="Не работает сканер", description="Горит лампа"),
    ]
    TicketFactory(
        creator=other_requester,
        title=f"{SECRET_TITLE} {SECRET_WORD}",
        description=f"Только для директора {SECRET_WORD}",
    )
    return {t.pk for t in mine}


def assert_search_answered(api_response, page_response, mine: set[int]) -> None:
    if api_response.status_code == 400:
        api_error(api_response, 400, attr="search")
    else:
        assert api_response.status_code == 200, api_response.content[:300]
        assert {row["id"] for row in api_response.json()["results"]} <= mine
    assert page_response.status_code in (200, 400), page_response.status_code
    # The query may echo the secret word back; the other user's ticket must never show.
    assert SECRET_TITLE.encode() not in api_response.content
    assert escape(SECRET_TITLE) not in page_response.content.decode()
    assert_inert(page_response.content.decode(), "the searched list")


@pytest.mark.parametrize("query", SEARCH_ATTACKS, ids=[repr(q[:20]) for q in SEARCH_ATTACKS])
def test_hostile_search_is_answered_and_finds_only_visible_tickets(
    me, requester_client, search_world, query
):
    api = me.get(f"{API}/tickets/", {"search": query})
    page = quiet(requester_client).get("/tickets/", {"search": query})

    assert_search_answered(api, page, search_world)


@pytest.mark.parametrize("query", RAW_SEARCH_ATTACKS)
def test_hostile_search_bytes_in_the_url_are_answered(me, requester_client, search_world, query):
    api = me.get(f"{API}/tickets/?{query}")
    page = quiet(requester_client).get(f"/tickets/?{query}")

    assert_search_answered(api, page, search_world)


@pytest.mark.parametrize(
    ("query", "status"),
    [("%", 200), ("_", 200), ("\\", 200), ("' OR 1=1 --", 200), ("\x00", 400), ("x" * 151, 400)],
)
def test_user_search_treats_wildcards_as_text(api_client, admin_user, requester, query, status):
    response = quiet(api_client(admin_user)).get(f"{API}/users/", {"search": query})

    if status == 400:
        api_error(response, 400, attr="search")
    else:
        assert response.status_code == 200
        assert response.json()["count"] == 0  # "%" and "_" match themselves, not everyone


# --- 6. Malformed filters, ordering, page and page size -----------------------------------------

# (parameter, value or list of repeated values): answered 400 naming the parameter.
MALFORMED_FILTERS = [
    ("status", ["new", "bogus"]),
    ("priority", "high,urgent"),
    ("category", ["repair", "repair,<script>"]),
    ("ordering", "-password"),
    ("ordering", "creator__password"),
    ("ordering", "title"),
    ("ordering", "description"),
    ("ordering", "--id"),
    ("ordering", "-"),
    ("ordering", ["id", "-password"]),
    ("assignee", "-1"),
    ("assignee", "1.5"),
    ("assignee", "0x10"),
    ("assignee", "9223372036854775808"),
    ("assignee", "me,none"),
    ("assignee", "1 OR 1=1"),
    ("creator", "-5"),
    ("creator", "²"),
    ("created_after", "2024-02-30"),
    ("created_after", "2024-01-01T25:00"),
    ("updated_before", "10000-01-01"),
    ("created_before", "2024-01-01T00:00:00+99:00"),
    ("updated_after", "yesterday"),
    ("created_after", "2024-01-01'; --"),
]


@pytest.mark.parametrize(
    ("name", "value"), MALFORMED_FILTERS, ids=[f"{n}={v}" for n, v in MALFORMED_FILTERS]
)
def test_malformed_filter_is_400_naming_it_on_the_api_and_the_list_page(
    me, requester_client, own_ticket, name, value
):
    api = me.get(f"{API}/tickets/", {name: value})
    page = quiet(requester_client).get("/tickets/", {name: value})

    api_error(api, 400, attr=name)
    assert page.status_code == 400
    assert_inert(page.content.decode(), "the list with a filter error")


@pytest.mark.parametrize(
    "value", ["-1", "0", "1.5", "1e3", "٣", "9" * 13, "0x10", " ", "NaN", ["10", "-1"]]
)
def test_malformed_page_size_is_400_on_the_api_and_ignored_by_the_page(
    me, requester_client, own_ticket, value
):
    api = me.get(f"{API}/tickets/", {"page_size": value})
    page = quiet(requester_client).get("/tickets/", {"page_size": value})

    if value == " ":  # blank counts as absent
        assert api.status_code == 200
    else:
        api_error(api, 400, attr="page_size")
    assert page.status_code == 200
    assert own_ticket.title in page.content.decode()


@pytest.mark.parametrize(
    "value", ["1.5", "1e3", "-5", "99999999999999999999999", "NaN", "last", ["1", "999"]]
)
def test_absurd_page_is_404_json_on_the_api_and_a_valid_page_on_the_list(
    me, requester_client, own_ticket, value
):
    api = me.get(f"{API}/tickets/", {"page": value})
    page = quiet(requester_client).get("/tickets/", {"page": value})

    if value == "last":  # DRF's name for the last page
        assert api.status_code == 200
    else:
        api_error(api, 404, code="not_found")
    assert page.status_code == 200
    assert own_ticket.title in page.content.decode()


@pytest.mark.parametrize("value", ["id,", ",", "-created_at,,id"])
def test_ordering_with_an_empty_item_is_answered_not_a_500(me, requester_client, own_ticket, value):
    api = me.get(f"{API}/tickets/", {"ordering": value})
    page = quiet(requester_client).get("/tickets/", {"ordering": value})

    assert api.status_code in (200, 400), api.content[:200]
    if api.status_code == 400:
        api_error(api, 400, attr="ordering")
    assert page.status_code in (200, 400)


DATE_OVERFLOWS = [
    ("created_before", "9999-12-31"),
    ("created_after", "9999-12-31T23:59:59-23:59"),
    ("created_after", "0001-01-01"),
    ("updated_after", "9999-12-31"),
    ("created_before", "0001-01-01"),
]


@pytest.mark.parametrize(("name", "value"), DATE_OVERFLOWS)
def test_dates_at_the_ends_of_the_calendar_are_answered_not_a_500(
    me, requester_client, own_ticket, name, value
):
    api = me.get(f"{API}/tickets/", {name: value})
    page = quiet(requester_client).get("/tickets/", {name: value})

    assert api.status_code in (200, 400), api.content[:200]
    if api.status_code == 400:
        api_error(api, 400, attr=name)
    assert page.status_code in (200, 400)


# --- 7. Malformed JSON bodies -------------------------------------------------------------------

MALFORMED_JSON = [
    b"[]",
    b'"a string"',
    b"123",
    b"null",
    b"true",
    b"",
    b"   ",
    b'\xef\xbb\xbf{"title": "A", "description": "B"}',
    b'{"title": NaN, "description": "B"}',
    b'{"title": "A", "description": Infinity}',
    '{"title": "A", "description": "B"}'.encode("utf-16"),
    b'{"title": "\xff\xfe", "description": "B"}',
    b'{"title": "A", "description": "B"',
    b'{"title": "A", "description": "B"}}',
    b"{'title': 'A', 'description': 'B'}",
    b'{"title": "A", "description": "B", }',
    b'{"title": "\\ud800", "description": "B"}',
    b'{"title": "A", "description": "\\udfff\\ud800"}',
    b'{"title": "A", "description": "B\\u0000C"}',
    b'{"title": "A", "description": "B", "priority": ' + b"1" * 5000 + b"}",
]


@pytest.mark.parametrize("body", MALFORMED_JSON, ids=[repr(b[:20]) for b in MALFORMED_JSON])
def test_malformed_json_is_400_and_creates_nothing(me, body):
    response = me.generic("POST", f"{API}/tickets/", body, content_type="application/json")

    api_error(response, 400)
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_deeply_nested_json_is_400(me, opening):
    closing = "]" if opening == "[" else "}"
    body = opening * 100_000 + "1" + closing * 100_000

    response = me.generic("POST", f"{API}/tickets/", body, content_type="application/json")

    api_error(response, 400, code="parse_error")


@pytest.mark.parametrize("charset", ["rot13", "zlib", "base64", "hex", "bz2", "uu"])
def test_codec_tricks_in_the_charset_are_refused(me, charset):
    response = me.generic(
        "POST",
        f"{API}/tickets/",
        b'{"title": "A", "description": "B"}',
        content_type=f"application/json; charset={charset}",
    )

    assert response.status_code in (400, 415)
    api_error(response, response.status_code)
    assert not Ticket.objects.exists()


WRONG_TYPES = [
    (field, value)
    for field in ("title", "description")
    for value in ([], {}, True, None, ["a", "b"], {"$ne": None})
] + [
    (field, value)
    for field in ("category", "priority")
    for value in (["repair"], {"value": "repair"}, 1, True, None, "REPAIR", " repair")
]


@pytest.mark.parametrize(
    ("field", "value"), WRONG_TYPES, ids=[f"{f}={v!r}" for f, v in WRONG_TYPES]
)
def test_wrong_json_types_are_400_naming_the_field(me, field, value):
    body = {"title": "Сломался", "description": "Принтер", "category": "repair", field: value}

    response = me.post(f"{API}/tickets/", body)

    api_error(response, 400, attr=field)
    assert not Ticket.objects.exists()


def test_duplicate_json_keys_create_one_ticket_with_the_last_value(me):
    body = b'{"title": "first", "title": "<b>second</b>", "description": "D"}'

    response = me.generic("POST", f"{API}/tickets/", body, content_type="application/json")

    assert response.status_code == 201
    assert list(Ticket.objects.values_list("title", flat=True)) == ["<b>second</b>"]


@pytest.mark.parametrize(
    "raw",
    [
        "1e400",
        "-1e400",
        "99999999999999999999999999",
        "1.5",
        "true",
        '"1"',
        "-1",
        "0",
        "null",
        "[{id}]",
        '{"id": {id}}',
        '"{id} OR 1=1"',
        '"' + "9" * 5000 + '"',
    ],
)
def test_hostile_assignee_values_are_400_and_change_nothing(
    api_client, manager, technician, requester, raw
):
    ticket = TicketFactory(creator=requester)
    body = '{"assignee": ' + raw.replace("{id}", str(technician.pk)) + "}"

    response = quiet(api_client(manager)).generic(
        "POST", f"{API}/tickets/{ticket.pk}/assign/", body, content_type="application/json"
    )

    api_error(response, 400, attr="assignee")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee_id, ticket.version) == ("new", None, 1)


@pytest.mark.parametrize(
    "if_match", ['"9' + "9" * 40 + '"', '"-1"', '"1.5"', 'W/"abc"', '"1", "2"', "1; DROP"]
)
def test_hostile_if_match_is_400_or_412_and_changes_nothing(me, own_ticket, if_match):
    response = me.patch(
        f"{API}/tickets/{own_ticket.pk}/", {"title": "Изменено"}, headers={"If-Match": if_match}
    )

    assert response.status_code in (400, 412), response.content
    api_error(response, response.status_code)
    own_ticket.refresh_from_db()
    assert own_ticket.version == 1
    assert own_ticket.title != "Изменено"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("assignee", "abc"),
        ("assignee", "99999999999999999999999"),
        ("assignee", "-1"),
        ("version", "abc"),
        ("version", "1e400"),
        ("version", "-1"),
        ("version", "99999999999999999999999"),
    ],
)
def test_page_action_with_hostile_input_changes_nothing(
    manager_client, technician, requester, field, value
):
    ticket = TicketFactory(creator=requester)
    data = {"assignee": technician.pk, "version": ticket.version, field: value}

    response = quiet(manager_client).post(f"/tickets/{ticket.pk}/assign/", data)

    assert response.status_code == 302
    assert response["Location"] == f"/tickets/{ticket.pk}/"
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee_id, ticket.version) == ("new", None, 1)


@pytest.mark.parametrize("version", ["abc", "1e400", "-1", "0", "99999999999999999999999"])
def test_page_edit_with_a_hostile_version_changes_nothing(requester_client, own_ticket, version):
    response = quiet(requester_client).post(
        f"/tickets/{own_ticket.pk}/edit/",
        {
            "title": "Изменено",
            "description": "x",
            "category": "repair",
            "priority": "high",
            "version": version,
        },
    )

    assert response.status_code == 400
    own_ticket.refresh_from_db()
    assert (own_ticket.title, own_ticket.version) != ("Изменено", 2)
    assert own_ticket.version == 1


def test_hostile_reason_and_comment_values_are_400(api_client, technician, requester):
    ticket = TicketFactory(creator=requester, status="assigned", assignee=technician)
    client = quiet(api_client(technician))

    for body in (
        b'{"reason": []}',
        b'{"reason": {"x": 1}}',
        b'{"reason": "\\u0000"}',
        b'{"reason": "\\ud800"}',
        b'{"reason": "' + b"x" * 2001 + b'"}',
    ):
        response = client.generic(
            "POST", f"{API}/tickets/{ticket.pk}/decline/", body, content_type="application/json"
        )
        api_error(response, 400, attr="reason")
    for body in (b'{"text": ["a"]}', b'{"text": "a", "internal": "maybe"}', b'{"text": "\\u0000"}'):
        response = client.generic(
            "POST", f"{API}/tickets/{ticket.pk}/comments/", body, content_type="application/json"
        )
        api_error(response, 400)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee_id) == ("assigned", technician.pk)
    assert not Comment.objects.exists()


def test_registration_with_hostile_json_values_creates_no_user(api_client):
    client = quiet(api_client())
    before = User.objects.count()
    bodies = [
        {"username": "a\ud800", "email": "a@example.com", "password": "Winter-Lantern-42"},
        {"username": "eve", "email": "eve@example.com", "password": "Winter\x00Lantern-42"},
        {"username": "eve", "email": ["eve@example.com"], "password": "Winter-Lantern-42"},
        {"username": "eve", "email": "eve@example.com\nBcc: x@evil.example", "password": "W-L-42x"},
        {"username": "eve", "email": "eve@example.com", "password": {"$gt": ""}},
        {"username": "eve", "email": "eve@example.com", "password": "W-L-42-x", "role": "admin"},
    ]

    for body in bodies:
        raw = json.dumps(body)  # ASCII-escaped, so the lone surrogate travels as JSON text
        response = client.generic(
            "POST", f"{API}/auth/register/", raw, content_type="application/json"
        )
        api_error(response, 400)

    assert User.objects.count() == before
    assert not User.objects.filter(role="admin").exists()
