#!/usr/bin/env python3
"""Load run of Tech_ticket against a real server (issue 7: reliability under load and faults).

Creates a throwaway installation (a temporary directory with the media and log folders, and a
SQLite file there or a fresh PostgreSQL database), migrates it, creates the accounts through
the account services, starts gunicorn with several workers on loopback (DEBUG=0) and lets N
clients drive the whole workflow through the REST API with JWT for D seconds: open a ticket,
assign, decline and reassign, accept, comment, upload and download files, edit, hold and
resume, complete, reopen, close, cancel, a stale If-Match now and then, and two conflicting
actions fired at the same moment (exactly one may apply). Each client records what it did.

At the end it checks, and exits non-zero if anything fails:
- no 5xx, no dropped connection, no unexpected status (client side and gunicorn's access log);
- no "database is locked", traceback or error in the server's output and app.log;
- through the API: every requester's ticket count, the manager's total, each ticket's history;
- in the database: the tickets the clients created and no other; each ticket's status and
  version are the last ones a client saw; its simple-history records are exactly one per
  successful write (version, status and event); comments and attachments (rows, history,
  files with their size and SHA-256) match; no file without a row, nothing left in .incoming;
  events.log has one event per write.

    .venv/bin/python scripts/stress.py                      # 16 clients, 60 s, SQLite
    .venv/bin/python scripts/stress.py --seconds 10 --clients 8
    .venv/bin/python scripts/stress.py --database-url postgres://postgres@127.0.0.1:5432/tt_stress

With --database-url the database named in the URL is a prefix: the run creates
`<name>_<random>` on that server and drops it at the end (--keep keeps it and the temporary
directory). The fault scenarios (a server killed during uploads, a full disk) are in
scripts/fault_uploads.py and can be started from here with --scenario.
"""

# Pseudo-random choices make the load; nothing here is a secret (S311). The subprocesses are
# the project's own programs from its virtual environment (S603).
# ruff: noqa: S311, S603

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import struct
import subprocess  # nosec B404  # runs our own programs
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zlib
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1"
HTTP_TIMEOUT = 60  # seconds, every request
SUBPROCESS_TIMEOUT = 600  # seconds, every management command or helper
SERVER_START_TIMEOUT = 60
SERVER_STOP_TIMEOUT = 20
MAX_SECONDS = 780  # a run ends well before the access tokens taken at its start expire
ACCESS_LOG_FORMAT = "%(s)s %(L)s %(m)s %(U)s"
# What must never appear in the server's output or app.log.
LOG_PROBLEMS = (
    "database is locked",
    "Traceback",
    " ERROR ",
    "[ERROR]",
    " CRITICAL ",
    "[CRITICAL]",
    "WORKER TIMEOUT",
)
# action → (status it leads to, history event)
WORKFLOW = {
    "assign": ("assigned", "assigned"),
    "accept": ("in_progress", "accepted"),
    "decline": ("new", "declined"),
    "hold": ("on_hold", "held"),
    "resume": ("in_progress", "resumed"),
    "complete": ("resolved", "completed"),
    "close": ("closed", "closed"),
    "reopen": ("in_progress", "reopened"),
    "cancel": ("cancelled", "cancelled"),
}
TITLES = (
    "Не печатает принтер в кабинете {n}",
    "Течёт кран на {n} этаже",
    "Printer jams in room {n}",
    "Не работает проектор в переговорной {n}",
    "Замена картриджа, кабинет {n}",
)


def out(line: str = "") -> None:
    print(line, flush=True)


# --- A throwaway installation ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_parts(url: str) -> tuple[dict, str]:
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit(f"--database-url must be a postgres:// URL, not {parts.scheme}://")
    # A prefix short enough for PostgreSQL's 63-character names once the suffix is added.
    name = (unquote(parts.path.lstrip("/")) or "tt_stress")[:50]
    connect = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password) if parts.password else None,
        # The maintenance database, only to create and drop the run's own database.
        "dbname": "postgres",
        "connect_timeout": 10,
    }
    return connect, name


class Stack:
    """A temporary directory (media, logs, temporary files), a fresh database and the
    environment the server, the management commands and the helpers run with."""

    def __init__(self, *, database_url: str | None, keep: bool, label: str):
        self.keep = keep
        self.workdir = Path(tempfile.mkdtemp(prefix=f"techticket-{label}-"))
        self.media = self.workdir / "media"
        self.logs = self.workdir / "logs"
        self.tmp = self.workdir / "tmp"
        for folder in (self.media, self.logs, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        self.pg: tuple[dict, str] | None = None
        if database_url:
            connect, prefix = _pg_parts(database_url)
            name = f"{prefix}_{secrets.token_hex(4)}"
            try:
                self._pg_execute(connect, f'CREATE DATABASE "{name}"')
            except BaseException:
                shutil.rmtree(self.workdir, ignore_errors=True)
                raise
            self.pg = (connect, name)
            parts = urlsplit(database_url)
            self.database_url = urlunsplit(parts._replace(path=f"/{name}"))
            self.vendor = "PostgreSQL"
        else:
            self.database_url = f"sqlite:///{self.workdir / 'stress.sqlite3'}"
            self.vendor = "SQLite"
        self.env = {
            key: value
            for key, value in os.environ.items()
            # Never let a parent's coverage run (pytest-cov) follow into the server.
            if not key.startswith(("COV_CORE_", "COVERAGE_"))
        }
        self.env.update(
            DEBUG="0",
            SECRET_KEY=secrets.token_urlsafe(50),
            DATABASE_URL=self.database_url,
            MEDIA_ROOT=str(self.media),
            LOG_DIR=str(self.logs),
            ALLOWED_HOSTS="127.0.0.1,localhost",
            LANGUAGE_CODE="en",
            TMPDIR=str(self.tmp),
            PYTHONUNBUFFERED="1",
            # The defaults, whatever the calling shell says.
            ATTACHMENT_MAX_BYTES=str(10 * 1024 * 1024),
            SECURE_SSL_REDIRECT="0",
        )

    @staticmethod
    def _pg_execute(connect: dict, sql: str) -> None:
        import psycopg

        with psycopg.connect(**connect, autocommit=True) as connection:
            connection.execute(sql)

    def manage(self, *args: str, timeout: float = SUBPROCESS_TIMEOUT) -> str:
        result = subprocess.run(  # nosec B603  # our own programs, fixed argv, no shell
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result.stdout

    def django(self, helper: str, payload: dict | None = None, timeout: float = 600) -> dict:
        """Run one of HELPERS below in a child process set up like the server."""
        result = subprocess.run(  # nosec B603  # our own programs, fixed argv, no shell
            [sys.executable, str(Path(__file__).resolve()), "_django", helper],
            cwd=ROOT,
            env=self.env,
            input=json.dumps(payload or {}),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"helper {helper} failed:\n{result.stdout}\n{result.stderr}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def close(self) -> None:
        if self.keep:
            out(f"Kept: {self.workdir} and {self.database_url}")
            return
        if self.pg:
            connect, name = self.pg
            try:
                self._pg_execute(connect, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:
                out(f"warning: could not drop the database {name}: {exc}")
        shutil.rmtree(self.workdir, ignore_errors=True)


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGKILL when this script dies, however it dies, so a
    crashed or killed run never leaves a server behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


class Server:
    """gunicorn on a free loopback port, in its own process group (so that it and all its
    workers can be killed at once), its output and access log in the stack's directory."""

    def __init__(self, stack: Stack, *, workers: int = 3, env: dict | None = None):
        self.stack = stack
        self.workers = workers
        self.env = env or stack.env
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.starts = 0
        self.output = stack.workdir / "gunicorn.out"
        self.access_log = stack.workdir / "access.log"

    def start(self) -> None:
        gunicorn = Path(sys.executable).parent / "gunicorn"
        if not gunicorn.exists():
            gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
        self.port = free_port()
        self.starts += 1
        with self.output.open("ab") as output:
            output.write(f"=== start {self.starts} on port {self.port}\n".encode())
            output.flush()
            self.process = subprocess.Popen(  # nosec B603  # our own programs, fixed argv, no shell
                [
                    str(gunicorn),
                    "techticket.wsgi",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(self.workers),
                    "--timeout",
                    "60",
                    "--graceful-timeout",
                    "10",
                    "--access-logfile",
                    str(self.access_log),
                    "--access-logformat",
                    ACCESS_LOG_FORMAT,
                ],
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited at start:\n{self.output.read_text()[-4000:]}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", f"{API}/users/me/")
                if connection.getresponse().status == 401:
                    connection.close()
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {SERVER_START_TIMEOUT} s")

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once: no clean-up code runs."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=SERVER_STOP_TIMEOUT)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=SERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait(timeout=SERVER_STOP_TIMEOUT)
        # Workers left behind by a master that died first.
        self._signal_group(signal.SIGKILL)
        self.process = None

    def access_statuses(self) -> tuple[Counter, list[float]]:
        """(count of each status, server times in ms) from gunicorn's access log."""
        statuses: Counter = Counter()
        times = []
        if self.access_log.exists():
            for line in self.access_log.read_text(errors="replace").splitlines():
                status, seconds, *_rest = [*line.split(" ", 3), "", ""]
                if status.isdigit():
                    statuses[int(status)] += 1
                    with contextlib.suppress(ValueError):
                        times.append(float(seconds) * 1000)
        return statuses, times


def log_problems(stack: Stack, server: Server, allowed: tuple[str, ...] = ()) -> list[str]:
    """Lines of the server's output and app.log that show a failure (except `allowed` ones)."""
    found = []
    for path in [server.output, *sorted(stack.logs.glob("app.log*"))]:
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if any(text in line for text in allowed):
                continue
            if any(marker.lower() in line.lower() for marker in LOG_PROBLEMS):
                found.append(f"{path.name}:{number}: {line[:300]}")
    return found


# --- HTTP ---------------------------------------------------------------------------------


@dataclass
class Response:
    status: int  # 0: no answer (connection refused, reset, timed out)
    headers: dict
    body: bytes
    error: str = ""

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def brief(self) -> str:
        text = self.error or self.body[:300].decode(errors="replace")
        return f"{self.status} {text}"


class Http:
    """One connection to the server that records (kind, status, ms) of every request.
    gunicorn's sync workers close the connection after each answer; http.client then opens a
    new one by itself."""

    def __init__(self, port: int, samples: list | None = None):
        self.port = port
        self.samples = [] if samples is None else samples
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)

    def call(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body=None,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: dict | None = None,
        chunk_delay: float = 0.0,
    ) -> Response:
        sent = {"Accept-Language": "en", **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            content_type = "application/json"
        if content_type:
            sent["Content-Type"] = content_type
        started = time.perf_counter()
        try:
            if chunk_delay and body:
                # A slow client: the body trickles in, so the server spends its time receiving.
                self.connection.putrequest(method, path)
                for name, value in {**sent, "Content-Length": str(len(body))}.items():
                    self.connection.putheader(name, value)
                self.connection.endheaders()
                for start in range(0, len(body), 256 * 1024):
                    self.connection.send(body[start : start + 256 * 1024])
                    time.sleep(chunk_delay)
            else:
                self.connection.request(method, path, body=body, headers=sent)
            answer = self.connection.getresponse()
            data = answer.read()
            response = Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)
        except (OSError, http.client.HTTPException) as exc:
            self.connection.close()
            self.connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=HTTP_TIMEOUT
            )
            response = Response(0, {}, b"", error=f"{type(exc).__name__}: {exc}")
        self.samples.append((kind, response.status, (time.perf_counter() - started) * 1000))
        return response

    def close(self) -> None:
        self.connection.close()


def obtain_token(http: Http, username: str, password: str) -> tuple[str, str]:
    response = http.call(
        "login",
        "POST",
        f"{API}/auth/token/",
        json_body={"username": username, "password": password},
    )
    if response.status != 200:
        raise RuntimeError(f"login of {username} failed: {response.brief()}")
    data = response.json()
    return data["access"], data["refresh"]


def multipart(files: list[tuple[str, bytes]], fields: dict | None = None) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in (fields or {}).items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    for filename, content in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def png_file(rng: random.Random, width: int = 48, height: int = 32) -> bytes:
    """A small valid PNG (Pillow verifies every uploaded image)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def text_file(rng: random.Random, size: int) -> bytes:
    """Plain UTF-8 text of about `size` bytes that looks like a device log."""
    lines = []
    total = 0
    while total < size:
        line = (
            f"2026-05-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} "
            f"printer-{rng.randint(100, 999)} error 0x{rng.getrandbits(16):04x} "
            f"замятие бумаги, лоток {rng.randint(1, 4)}\n"
        )
        lines.append(line)
        total += len(line.encode())
    return "".join(lines).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- The load clients -----------------------------------------------------------------------


@dataclass
class TicketLedger:
    """What one client did to one ticket, as the server confirmed it."""

    id: int
    writes: list = field(default_factory=list)  # [version, status, history event], in order
    comments: int = 0
    internal: int = 0  # of the comments, staff notes (a requester never counts them)
    attachments: dict = field(default_factory=dict)  # id → {"sha256", "size", "token"}
    added: int = 0
    removed: int = 0

    @property
    def version(self) -> int:
        return self.writes[-1][0]

    @property
    def status(self) -> str:
        return self.writes[-1][1]


class Stop(Exception):
    """The run's time is up."""


class Abandon(Exception):
    """Something unexpected happened to this ticket (already recorded as a problem)."""


@dataclass
class Accounts:
    password: str
    manager: tuple[int, str, str]  # id, username, access token
    technicians: list[tuple[int, str, str]]
    requesters: list[tuple[int, str]]  # id, username (each client signs in itself)


class LoadClient(threading.Thread):
    def __init__(self, index: int, port: int, accounts: Accounts, deadline: float, seed: int):
        super().__init__(name=f"client-{index}", daemon=True)
        self.index = index
        self.port = port
        self.rng = random.Random(seed * 1000 + index)  # nosec B311  # load pattern, not a secret
        self.deadline = deadline
        self.http = Http(port)
        self.samples = self.http.samples
        self.requester_id, self.requester_name = accounts.requesters[index]
        self.password = accounts.password
        self.manager = accounts.manager[2]
        technician = accounts.technicians[index % len(accounts.technicians)]
        self.technician_id, self.technician = technician[0], technician[2]
        self.requester = ""
        self.refresh = ""
        self.tickets: list[TicketLedger] = []
        self.problems: list[str] = []
        self.expected_refusals: Counter = Counter()
        self.races: Counter = Counter()
        self.counter = 0

    # Plumbing

    def problem(self, text: str) -> None:
        self.problems.append(f"client {self.index}: {text}")

    def call(self, kind: str, method: str, path: str, **kwargs) -> Response:
        if time.monotonic() >= self.deadline:
            raise Stop
        return self.http.call(kind, method, path, **kwargs)

    def expect(self, response: Response, status: int, what: str) -> Response:
        if response.status != status:
            self.problem(f"{what}: expected {status}, got {response.brief()}")
            raise Abandon
        return response

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def run(self) -> None:
        try:
            self.requester, self.refresh = obtain_token(
                self.http, self.requester_name, self.password
            )
            while time.monotonic() < self.deadline:
                try:
                    self.one_ticket()
                except Abandon:
                    continue
                if len(self.tickets) == 2:
                    self.rotate_refresh_token()
        except Stop:
            pass
        except Exception:
            self.problem("crashed:\n" + traceback.format_exc())
        finally:
            self.http.close()

    # Steps

    def rotate_refresh_token(self) -> None:
        old = self.refresh
        response = self.expect(
            self.call("refresh", "POST", f"{API}/auth/token/refresh/", json_body={"refresh": old}),
            200,
            "token refresh",
        )
        self.requester, self.refresh = response.json()["access"], response.json()["refresh"]
        again = self.call(
            "refresh", "POST", f"{API}/auth/token/refresh/", json_body={"refresh": old}
        )
        if again.status != 401:
            self.problem(f"a rotated refresh token still works: {again.brief()}")
        self.expected_refusals[401] += 1

    def create(self) -> TicketLedger:
        self.counter += 1
        title = self.rng.choice(TITLES).format(n=f"{self.index}-{self.counter}")
        body = {
            "title": title,
            "description": f"Клиент {self.index}, заявка {self.counter}: проверка под нагрузкой.",
            "category": self.rng.choice(["incident", "repair", "maintenance", "request"]),
            "priority": self.rng.choice(["low", "normal", "high", "critical"]),
        }
        response = self.expect(
            self.call("create", "POST", f"{API}/tickets/", token=self.requester, json_body=body),
            201,
            "create",
        )
        data = response.json()
        if (data["status"], data["version"], data["title"]) != ("new", 1, title):
            self.problem(f"created ticket looks wrong: {data}")
        ticket = TicketLedger(id=data["id"], writes=[[1, "new", "created"]])
        self.tickets.append(ticket)
        return ticket

    def act(self, ticket: TicketLedger, action: str, token: str, body: dict | None = None):
        headers = {"If-Match": f'"{ticket.version}"'} if self.chance(0.7) else {}
        response = self.expect(
            self.call(
                f"action:{action}",
                "POST",
                f"{API}/tickets/{ticket.id}/{action}/",
                token=token,
                json_body=body or {},
                headers=headers,
            ),
            200,
            f"{action} #{ticket.id} from {ticket.status}",
        )
        self.record(ticket, response, action)

    def record(self, ticket: TicketLedger, response: Response, action: str) -> None:
        data = response.json()
        target, event = WORKFLOW.get(action, (ticket.status, "updated"))
        expected = (target, ticket.version + 1, f'"{ticket.version + 1}"')
        got = (data["status"], data["version"], response.headers.get("etag"))
        if got != expected:
            self.problem(f"{action} #{ticket.id}: expected {expected}, got {got}")
        ticket.writes.append([data["version"], data["status"], event])

    def edit(self, ticket: TicketLedger) -> None:
        title = f"Уточнено {self.rng.randint(1, 10**6)}: {self.rng.choice(TITLES).format(n=1)}"
        response = self.expect(
            self.call(
                "edit",
                "PATCH",
                f"{API}/tickets/{ticket.id}/",
                token=self.requester,
                json_body={"title": title, "priority": self.rng.choice(["low", "high"])},
                headers={"If-Match": f'"{ticket.version}"'},
            ),
            200,
            f"edit #{ticket.id}",
        )
        self.record(ticket, response, "edit")

    def stale_edit(self, ticket: TicketLedger) -> None:
        """An edit on an old version is refused with 412 and changes nothing."""
        response = self.call(
            "edit",
            "PATCH",
            f"{API}/tickets/{ticket.id}/",
            token=self.requester,
            json_body={"title": "Не должно сохраниться"},
            headers={"If-Match": f'"{ticket.version - 1}"'},
        )
        self.expect(response, 412, f"stale edit #{ticket.id}")
        self.expected_refusals[412] += 1
        self.check_detail(ticket)

    def check_detail(self, ticket: TicketLedger) -> dict:
        """The ticket as its requester reads it (internal notes not counted)."""
        response = self.expect(
            self.call("detail", "GET", f"{API}/tickets/{ticket.id}/", token=self.requester),
            200,
            f"detail #{ticket.id}",
        )
        data = response.json()
        if (data["status"], data["version"]) != (ticket.status, ticket.version):
            self.problem(
                f"#{ticket.id} reads {data['status']} v{data['version']}, "
                f"expected {ticket.status} v{ticket.version}"
            )
        counts = (data["comments_count"], data["attachments_count"])
        expected = (ticket.comments - ticket.internal, len(ticket.attachments))
        if counts != expected:
            self.problem(f"#{ticket.id} counts (comments, files) {counts}, expected {expected}")
        return data

    def comment(self, ticket: TicketLedger, token: str, text: str, internal=False) -> int:
        response = self.expect(
            self.call(
                "comment",
                "POST",
                f"{API}/tickets/{ticket.id}/comments/",
                token=token,
                json_body={"text": text, "internal": internal},
            ),
            201,
            f"comment on #{ticket.id}",
        )
        ticket.comments += 1
        ticket.internal += int(internal)
        return response.json()["id"]

    def upload(self, ticket: TicketLedger, token: str, comment: int | None = None) -> None:
        files = []
        for _ in range(self.rng.choice([1, 1, 1, 2])):
            self.counter += 1
            if self.chance(0.5):
                files.append((f"фото-{self.counter}.png", png_file(self.rng)))
            else:
                size = self.rng.randint(200, 40_000)
                files.append((f"log-{self.counter}.txt", text_file(self.rng, size)))
        body, content_type = multipart(files, {"comment": comment} if comment else None)
        response = self.expect(
            self.call(
                "upload",
                "POST",
                f"{API}/tickets/{ticket.id}/attachments/",
                token=token,
                body=body,
                content_type=content_type,
            ),
            201,
            f"upload to #{ticket.id}",
        )
        created = response.json()
        if [(a["name"], a["size"]) for a in created] != [(n, len(c)) for n, c in files]:
            self.problem(f"upload to #{ticket.id} answered {created}")
        for attachment, (_name, content) in zip(created, files, strict=False):
            ticket.attachments[attachment["id"]] = {
                "sha256": sha256(content),
                "size": len(content),
                "token": token,
            }
            ticket.added += 1

    def download(self, ticket: TicketLedger) -> None:
        attachment_id = self.rng.choice(sorted(ticket.attachments))
        response = self.expect(
            self.call(
                "download",
                "GET",
                f"{API}/attachments/{attachment_id}/download/",
                token=self.requester,
            ),
            200,
            f"download {attachment_id}",
        )
        if sha256(response.body) != ticket.attachments[attachment_id]["sha256"]:
            self.problem(f"download {attachment_id} of #{ticket.id}: other bytes than uploaded")

    def delete_attachment(self, ticket: TicketLedger) -> None:
        attachment_id = self.rng.choice(sorted(ticket.attachments))
        token = ticket.attachments[attachment_id]["token"]
        self.expect(
            self.call("delete_file", "DELETE", f"{API}/attachments/{attachment_id}/", token=token),
            204,
            f"delete attachment {attachment_id}",
        )
        del ticket.attachments[attachment_id]
        ticket.removed += 1

    def race(self, ticket: TicketLedger) -> str:
        """The technician completes while the manager puts on hold, at the same moment, both
        from the same version: exactly one applies; the other gets 412 (with If-Match) or
        409 (without). Returns the action that won."""
        if time.monotonic() >= self.deadline:
            raise Stop
        with_version = self.chance(0.5)
        headers = {"If-Match": f'"{ticket.version}"'} if with_version else {}
        contenders = {
            "complete": (self.technician, {"resolution": "Заменён ролик подачи."}, self.http),
            "hold": (self.manager, {"reason": "Ждём запчасть."}, Http(self.port, self.samples)),
        }
        barrier = threading.Barrier(2)
        results: dict[str, Response] = {}

        def fire(action: str) -> None:
            token, body, http = contenders[action]
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=10)
            results[action] = http.call(
                "race",
                "POST",
                f"{API}/tickets/{ticket.id}/{action}/",
                token=token,
                json_body=body,
                headers=headers,
            )

        other = threading.Thread(target=fire, args=("hold",), daemon=True)
        other.start()
        fire("complete")
        other.join(HTTP_TIMEOUT + 15)
        contenders["hold"][2].close()
        statuses = {action: response.status for action, response in results.items()}
        winners = [action for action, status in statuses.items() if status == 200]
        refusal = 412 if with_version else 409
        if len(winners) != 1 or sorted(statuses.values()) != sorted([200, refusal]):
            self.problem(f"race on #{ticket.id} (If-Match: {with_version}): {statuses}")
            if len(winners) != 1:
                raise Abandon
        self.expected_refusals[refusal] += 1
        self.races[winners[0]] += 1
        self.record(ticket, results[winners[0]], winners[0])
        return winners[0]

    def one_ticket(self) -> None:
        """One ticket through the workflow, with the detours a real desk sees."""
        ticket = self.create()
        if self.chance(0.06):
            self.act(ticket, "cancel", self.requester, {"reason": "Сам починил."})
            return
        self.act(ticket, "assign", self.manager, {"assignee": self.technician_id})
        if self.chance(0.12):
            self.act(ticket, "decline", self.technician, {"reason": "Не мой профиль."})
            self.act(ticket, "assign", self.manager, {"assignee": self.technician_id})
        self.act(ticket, "accept", self.technician)
        comment = self.comment(ticket, self.requester, "Принтер в кабинете, ключ у охраны.")
        if self.chance(0.3):
            self.comment(ticket, self.technician, "Нужен ролик подачи.", internal=True)
        self.upload(ticket, self.technician, comment if self.chance(0.3) else None)
        if self.chance(0.3):
            self.upload(ticket, self.requester)
        if self.chance(0.2):
            self.edit(ticket)
        if self.chance(0.1):
            self.stale_edit(ticket)
        if self.chance(0.15):
            self.act(ticket, "hold", self.technician, {"reason": "Ждём запчасть."})
            self.act(ticket, "resume", self.manager)
        if self.chance(0.05):
            self.act(ticket, "cancel", self.manager, {"reason": "Дубль."})
            return
        if self.chance(0.25):
            if self.race(ticket) == "hold":
                self.act(ticket, "resume", self.technician)
                self.act(ticket, "complete", self.technician, {"resolution": "Готово."})
        else:
            self.act(ticket, "complete", self.technician, {"resolution": "Готово."})
        # The requester checks the work.
        self.check_detail(ticket)
        if self.chance(0.3):
            self.download(ticket)
        if self.chance(0.1) and ticket.attachments:
            self.delete_attachment(ticket)
        self.comment(ticket, self.requester, "Проверила, работает. Спасибо!")
        if self.chance(0.12):
            self.act(ticket, "reopen", self.manager, {"reason": "Снова зажёвывает."})
            self.act(ticket, "complete", self.technician, {"resolution": "Заменён лоток."})
        self.act(ticket, "close", self.manager)
        if self.chance(0.2):
            self.expect(
                self.call(
                    "list",
                    "GET",
                    f"{API}/tickets/?status=in_progress,on_hold&assignee=me&page_size=10",
                    token=self.technician,
                ),
                200,
                "technician's list",
            )
        if self.chance(0.1):
            self.expect(
                self.call(
                    "list",
                    "GET",
                    f"{API}/tickets/?search={quote('принтера')}",
                    token=self.requester,
                ),
                200,
                "search",
            )


# --- Checks through the API -------------------------------------------------------------------


def expected_timeline(ticket: TicketLedger) -> Counter:
    events = Counter(write[2] for write in ticket.writes)
    events["commented"] += ticket.comments
    events["attachment_added"] += ticket.added
    events["attachment_removed"] += ticket.removed
    return +events


def api_checks(port: int, accounts: Accounts, clients: list[LoadClient], limit: int) -> list[str]:
    """Counts seen by each requester and the manager, and the history of (up to `limit`)
    tickets as the API serves it."""
    problems = []
    http = Http(port)
    manager = accounts.manager[2]
    total = sum(len(client.tickets) for client in clients)
    response = http.call("list", "GET", f"{API}/tickets/?page_size=1", token=manager)
    if response.status != 200 or response.json()["count"] != total:
        problems.append(f"manager's ticket count: {response.brief()[:80]}, clients created {total}")
    for client in clients:
        if not client.requester:
            continue
        response = http.call("list", "GET", f"{API}/tickets/?page_size=1", token=client.requester)
        count = response.json()["count"] if response.status == 200 else response.brief()
        if count != len(client.tickets):
            problems.append(
                f"client {client.index}: sees {count} tickets, created {len(client.tickets)}"
            )
    tickets = [ticket for client in clients for ticket in client.tickets]
    for ticket in random.Random(7).sample(tickets, min(limit, len(tickets))):  # nosec B311  # sample, not a secret
        response = http.call("history", "GET", f"{API}/tickets/{ticket.id}/history/", token=manager)
        if response.status != 200:
            problems.append(f"history of #{ticket.id}: {response.brief()}")
            continue
        entries = response.json()
        got = Counter(entry["event"] for entry in entries)
        if got != expected_timeline(ticket):
            problems.append(
                f"history of #{ticket.id}: {dict(got)}, expected {dict(expected_timeline(ticket))}"
            )
        times = [entry["at"] for entry in entries]
        if times != sorted(times):
            problems.append(f"history of #{ticket.id} is not in chronological order")
    http.close()
    return problems


# --- Report -------------------------------------------------------------------------------


def summary_table(samples: list[tuple[str, int, float]], seconds: float) -> list[str]:
    by_kind: dict[str, list] = defaultdict(list)
    for kind, status, ms in samples:
        by_kind[kind].append((status, ms))
    lines = [
        f"{'request':<18} {'count':>7} {'2xx':>7} {'other statuses':<24} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'max ms':>8}"
    ]
    rows = sorted(by_kind.items(), key=lambda item: -len(item[1]))
    rows.append(("total", [(status, ms) for _kind, status, ms in samples]))
    for kind, values in rows:
        times = [ms for _status, ms in values]
        statuses = Counter(status for status, _ms in values)
        ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
        other = ", ".join(f"{s}×{n}" for s, n in sorted(statuses.items()) if not 200 <= s < 300)
        lines.append(
            f"{kind:<18} {len(values):>7} {ok:>7} {other or '-':<24} "
            f"{percentile(times, 0.5):>8.1f} {percentile(times, 0.95):>8.1f} "
            f"{max(times, default=0):>8.1f}"
        )
    lines.append(
        f"{len(samples)} requests in {seconds:.1f} s = {len(samples) / max(seconds, 0.001):.1f} rps"
    )
    return lines


def run_load(args) -> int:
    stack = Stack(database_url=args.database_url, keep=args.keep, label="stress")
    server = Server(stack, workers=args.workers)
    failures: list[str] = []
    try:
        out(
            f"Load run: {stack.vendor}, gunicorn {args.workers} workers, {args.clients} clients, "
            f"{args.seconds} s (seed {args.seed}); work dir {stack.workdir}"
        )
        stack.manage("migrate", "--no-input", "-v", "0")
        password = secrets.token_urlsafe(16)
        created = stack.django(
            "setup_users",
            {"requesters": args.clients, "technicians": args.technicians, "password": password},
        )
        server.start()
        http = Http(server.port)
        manager = (created["manager"][0], created["manager"][1])
        accounts = Accounts(
            password=password,
            manager=(*manager, obtain_token(http, manager[1], password)[0]),
            technicians=[
                (pk, name, obtain_token(http, name, password)[0])
                for pk, name in created["technicians"]
            ],
            requesters=[tuple(item) for item in created["requesters"]],
        )
        http.close()
        started = time.monotonic()
        clients = [
            LoadClient(index, server.port, accounts, started + args.seconds, args.seed)
            for index in range(args.clients)
        ]
        for client in clients:
            client.start()
        join_by = started + args.seconds + HTTP_TIMEOUT * 3
        for client in clients:
            client.join(max(0.0, join_by - time.monotonic()))
            if client.is_alive():
                failures.append(f"client {client.index} did not finish in time")
        elapsed = time.monotonic() - started
        samples = [sample for client in clients for sample in client.samples]
        for client in clients:
            failures.extend(client.problems)

        failures.extend(api_checks(server.port, accounts, clients, args.history_checks))
        server.stop()

        ledger = [
            asdict(t) | {"attachments": {str(k): v["sha256"] for k, v in t.attachments.items()}}
            for client in clients
            for t in client.tickets
        ]
        verdict = stack.django("verify_load", {"tickets": ledger})
        failures.extend(verdict["failures"])
        failures.extend(f"server log: {line}" for line in log_problems(stack, server))
        statuses, server_times = server.access_statuses()
        server_errors = sum(n for status, n in statuses.items() if status >= 500)
        if server_errors:
            failures.append(
                f"gunicorn's access log has {server_errors} answers 5xx: {dict(statuses)}"
            )
        client_errors = Counter(s for _k, s, _ms in samples if s >= 500 or s == 0)
        if client_errors:
            failures.append(f"clients saw 5xx or dropped connections: {dict(client_errors)}")

        out()
        for line in summary_table(samples, elapsed):
            out(line)
        out(
            f"server time (gunicorn access log): p50 {percentile(server_times, 0.5):.1f} ms, "
            f"p95 {percentile(server_times, 0.95):.1f} ms over {len(server_times)} requests"
        )
        tickets = [t for client in clients for t in client.tickets]
        finals = Counter(t.status for t in tickets)
        refusals = sum((client.expected_refusals for client in clients), Counter())
        races = sum((client.races for client in clients), Counter())
        out(
            f"tickets: {len(tickets)} ({', '.join(f'{s} {n}' for s, n in finals.most_common())}); "
            f"writes {sum(len(t.writes) for t in tickets)}, "
            f"comments {sum(t.comments for t in tickets)}, "
            f"files {sum(t.added for t in tickets)} (removed {sum(t.removed for t in tickets)})"
        )
        out(
            f"races: {sum(races.values())} (won by {dict(races)}); "
            f"expected refusals {dict(refusals)}"
        )
        out(f"database: {verdict['stats']}")
    except Exception:
        failures.append("the run failed:\n" + traceback.format_exc())
    finally:
        server.stop()
        if failures:
            stack.keep = stack.keep or args.keep_on_failure
        stack.close()
    return report(failures)


def report(failures: list[str]) -> int:
    out()
    if failures:
        out(f"FAILED: {len(failures)} problems")
        for failure in failures[:100]:
            out(f"  - {failure}")
        if len(failures) > 100:
            out(f"  … and {len(failures) - 100} more")
        return 1
    out("OK: every check passed")
    return 0


# --- Helpers that run inside Django (a child process with the server's settings) ------------


def helper_setup_users(payload: dict) -> dict:
    """The run's accounts: an administrator, a manager, technicians and requesters, created
    through the account services."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import Role, User
    from accounts.services import user_create

    admin = User.objects.create_superuser("stress-admin", "stress-admin@example.com", None)

    def create(username: str, role: str) -> list:
        user = user_create(
            actor=admin,
            username=username,
            email=f"{username}@example.com",
            password=None,
            role=role,
            first_name="Нагрузка",
            last_name=username,
        )
        return [user.pk, user.username]

    result = {
        "manager": create("stress-manager", Role.MANAGER),
        "technicians": [
            create(f"stress-tech-{n}", Role.TECHNICIAN) for n in range(payload["technicians"])
        ],
        "requesters": [create(f"stress-user-{n}", Role.USER) for n in range(payload["requesters"])],
    }
    # One hash for every account: a password hash takes a third of a second here.
    User.objects.exclude(pk=admin.pk).update(password=make_password(payload["password"]))
    return result


def _events() -> Counter:
    from django.conf import settings

    counts: Counter = Counter()
    for path in sorted(Path(settings.LOG_DIR).glob("events.log*")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                event = json.loads(line)
                counts[(event.get("ticket_id"), event["event"])] += 1
    return counts


def files_and_rows() -> dict:
    """Every file under MEDIA_ROOT/attachments against every Attachment row: rows without their
    file (or with another size or SHA-256), files without a row, files left in .incoming."""
    from django.conf import settings

    from tickets.models import Attachment

    media = Path(settings.MEDIA_ROOT)
    on_disk = {
        path.relative_to(media).as_posix(): path
        for path in (media / "attachments").rglob("*")
        if path.is_file() or path.is_symlink()
    }
    rows = list(Attachment.objects.values_list("pk", "path", "size", "sha256"))
    broken = []
    for pk, path, size, digest in rows:
        file = on_disk.get(path)
        if file is None:
            broken.append(f"attachment {pk}: no file at {path}")
        elif file.stat().st_size != size or sha256(file.read_bytes()) != digest:
            broken.append(f"attachment {pk}: the file at {path} is not the one uploaded")
    referenced = {path for _pk, path, _size, _digest in rows}
    incoming = sorted(p for p in on_disk if p.startswith("attachments/.incoming/"))
    orphans = sorted(p for p in on_disk if p not in referenced and p not in incoming)
    return {
        "rows": len(rows),
        "sha256": {str(pk): digest for pk, _path, _size, digest in rows},
        "rows_without_file": broken,
        "files_without_row": orphans,
        "incoming": incoming,
        "files": len(on_disk),
    }


def helper_files(payload: dict) -> dict:
    return files_and_rows()


def helper_verify_load(payload: dict) -> dict:
    """The database and the files against what the clients did."""
    from django.db.models import Count

    from tickets.models import Attachment, Comment, Ticket

    failures = []
    ledger = {t["id"]: t for t in payload["tickets"]}
    rows = {
        pk: (status, version)
        for pk, status, version in Ticket.objects.values_list("pk", "status", "version")
    }
    if set(rows) != set(ledger):
        failures.append(
            f"{len(rows)} tickets in the database, the clients created {len(ledger)}: "
            f"unknown {sorted(set(rows) - set(ledger))[:10]}, "
            f"lost {sorted(set(ledger) - set(rows))[:10]}"
        )
    history = defaultdict(list)
    for pk, version, status, reason in Ticket.history.order_by("history_id").values_list(
        "id", "version", "status", "history_change_reason"
    ):
        history[pk].append([version, status, reason])
    comments = dict(Comment.objects.values_list("ticket_id").annotate(n=Count("id")))
    comment_records = dict(
        Comment.history.filter(history_type="+")
        .values_list("ticket_id")
        .annotate(n=Count("history_id"))
    )
    attachments = defaultdict(dict)
    for pk, ticket_id, digest in Attachment.objects.values_list("pk", "ticket_id", "sha256"):
        attachments[ticket_id][str(pk)] = digest
    attachment_records = Counter()
    for ticket_id, kind in Attachment.history.values_list("ticket_id", "history_type"):
        attachment_records[(ticket_id, kind)] += 1
    events = _events()
    for pk, ticket in ledger.items():
        writes = ticket["writes"]
        if pk in rows and rows[pk] != (writes[-1][1], writes[-1][0]):
            failures.append(f"#{pk} is {rows[pk]}, the last write the client saw: {writes[-1]}")
        if history[pk] != writes:
            failures.append(f"history of #{pk}: {history[pk]}; the client's writes: {writes}")
        if (
            comments.get(pk, 0) != ticket["comments"]
            or comment_records.get(pk, 0) != ticket["comments"]
        ):
            failures.append(
                f"#{pk}: {comments.get(pk, 0)} comments and {comment_records.get(pk, 0)} "
                f"history records, the client added {ticket['comments']}"
            )
        if attachments.get(pk, {}) != ticket["attachments"]:
            failures.append(
                f"#{pk}: attachments {attachments.get(pk)}, expected {ticket['attachments']}"
            )
        records = (attachment_records[(pk, "+")], attachment_records[(pk, "-")])
        if records != (ticket["added"], ticket["removed"]):
            failures.append(
                f"#{pk}: attachment history (+, -) {records}, "
                f"expected ({ticket['added']}, {ticket['removed']})"
            )
        expected_events = Counter({"ticket.created": 1})
        for _version, _status, event in writes[1:]:
            expected_events[f"ticket.{event}"] += 1
        expected_events["comment.added"] += ticket["comments"]
        expected_events["attachment.added"] += ticket["added"]
        expected_events["attachment.removed"] += ticket["removed"]
        got_events = Counter(
            {name: n for (ticket_id, name), n in events.items() if ticket_id == pk}
        )
        if got_events != +expected_events:
            failures.append(
                f"events.log for #{pk}: {dict(got_events)}, expected {dict(+expected_events)}"
            )
    files = files_and_rows()
    failures.extend(files["rows_without_file"])
    failures.extend(f"file without a row: {path}" for path in files["files_without_row"])
    failures.extend(f"left in .incoming: {path}" for path in files["incoming"])
    stats = {
        "tickets": len(rows),
        "ticket_history": sum(len(v) for v in history.values()),
        "comments": sum(comments.values()),
        "attachments": files["rows"],
        "files": files["files"],
        "events": sum(events.values()),
    }
    return {"failures": failures[:200], "stats": stats}


HELPERS = {
    "setup_users": helper_setup_users,
    "verify_load": helper_verify_load,
    "files": helper_files,
}


def run_helper(name: str) -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "techticket.settings")
    import django

    django.setup()
    payload = json.loads(sys.stdin.read() or "{}")
    print(json.dumps(HELPERS[name](payload), default=str))
    return 0


# --- Command line ---------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scenario",
        choices=["load", "kill-during-upload", "full-disk"],
        default="load",
        help="load (default); the other two are scripts/fault_uploads.py (see its --help)",
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (default 3)")
    parser.add_argument("--technicians", type=int, default=4)
    parser.add_argument(
        "--database-url",
        default=None,
        help="postgres://user@host:port/prefix: run on a fresh PostgreSQL database "
        "<prefix>_<random> (dropped at the end); default: a SQLite file in a temporary folder",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--history-checks",
        type=int,
        default=300,
        help="tickets whose history is compared through the API at the end (default 300)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary files and database")
    parser.add_argument(
        "--keep-on-failure", action="store_true", help="keep them only when a check fails"
    )
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = secrets.randbelow(10**6)
    if args.clients < 1 or args.seconds <= 0 or args.workers < 1 or args.technicians < 1:
        parser.error("--clients, --seconds, --workers and --technicians must be positive")
    if args.seconds > MAX_SECONDS:
        # The accounts' access tokens are taken once and live 15 minutes.
        parser.error(f"--seconds is at most {MAX_SECONDS}")
    return args


def scenario_of(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--scenario", default="load")
    return parser.parse_known_args(argv)[0].scenario


def main(argv: list[str]) -> int:
    if argv[:1] == ["_django"]:
        return run_helper(argv[1])
    # Stop on SIGTERM like on Ctrl-C, so that the finally blocks stop the server.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if scenario_of(argv) != "load":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import fault_uploads

        return fault_uploads.main(argv)
    return run_load(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
