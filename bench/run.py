"""The benchmark of SPEC §9: `make bench` (DATABASE_URL chooses the database).

Seeds the configured database if it has no tickets (BENCH_TICKETS, default 1,000,000), then:
1. each request of SPEC §9 through the real URL stack (middleware, authentication, views,
   serializers, templates) in this process, as the role named: median and p95 server time over
   BENCH_RUNS runs after BENCH_WARMUP warm-up runs, and the number of SQL queries;
2. throughput of the API list and the page list under gunicorn with 2 workers, driven by a
   concurrent HTTP load generator on loopback;
3. on SQLite, 8 clients creating tickets at once through the API: errors and lost writes.
Prints one table and writes it to bench/results/<database>.md with the machine described.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import socket
import statistics
import subprocess  # nosec B404  # starts our own gunicorn: fixed argv, no shell
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "techticket.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402

from accounts.models import Role, User  # noqa: E402
from bench.dataset import HEAVY_EVERY, RARE_WORDS  # noqa: E402
from tickets.models import Ticket  # noqa: E402
from tickets.search import search_tickets  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TICKETS = int(os.environ.get("BENCH_TICKETS", "1000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "20"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
LOAD_SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "10"))
LOAD_CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "8"))
CREATES_PER_CLIENT = int(os.environ.get("BENCH_CREATES_PER_CLIENT", "25"))
# BENCH_LOAD=0 skips the gunicorn part (throughput and concurrent creates).
LOAD = os.environ.get("BENCH_LOAD", "1") == "1"
COMMON_WORD = os.environ.get("BENCH_COMMON_WORD", "кран")
TWO_WORDS = os.environ.get("BENCH_TWO_WORDS", "принтер картридж")


@dataclass
class Row:
    name: str
    target: str
    median_ms: float
    p95_ms: float
    queries: int
    status: int


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(client: Client, url: str, name: str, target: str, **headers) -> Row:
    for _ in range(WARMUP):
        client.get(url, headers=headers)
    times = []
    queries = 0
    status = 0
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
            times.append((time.perf_counter() - started) * 1000)
        queries = len(captured.captured_queries)
        status = response.status_code
    return Row(name, target, statistics.median(times), _percentile(times, 0.95), queries, status)


def in_process_rows(manager: User, technician: User) -> list[Row]:
    api = Client(HTTP_HOST="localhost")
    bearer = {"Authorization": f"Bearer {AccessToken.for_user(manager)}"}
    pages = Client(HTTP_HOST="localhost")
    pages.force_login(manager)
    heavy = (
        HEAVY_EVERY
        if Ticket.objects.filter(pk=HEAVY_EVERY).exists()
        else Ticket.objects.order_by("pk").values_list("pk", flat=True).first()
    )
    rare = RARE_WORDS[0]
    filtered = f"status=in_progress&assignee={technician.pk}"
    deep_page = min(1000, max(1, Ticket.objects.count() // 25))
    rows = []
    plan = [
        ("API list, page 1, manager, no filter", "/api/v1/tickets/", "≤ 100 ms"),
        ("page list, page 1, manager, no filter", "/tickets/?view=all", "≤ 100 ms"),
        ("API list, status + assignee", f"/api/v1/tickets/?{filtered}", "≤ 30 ms"),
        ("page list, status + assignee", f"/tickets/?view=all&{filtered}", "≤ 30 ms"),
        (f"API list, page {deep_page}", f"/api/v1/tickets/?page={deep_page}", "≤ 100 ms"),
        (f"page list, page {deep_page}", f"/tickets/?view=all&page={deep_page}", "≤ 100 ms"),
        (f"API search, rare word «{rare}»", f"/api/v1/tickets/?search={quote(rare)}", "≤ 30 ms"),
        (
            f"API search, common word «{COMMON_WORD}»",
            f"/api/v1/tickets/?search={quote(COMMON_WORD)}",
            "≤ 150 ms",
        ),
        (
            f"API search, two words «{TWO_WORDS}»",
            f"/api/v1/tickets/?search={quote(TWO_WORDS)}",
            "≤ 100 ms",
        ),
        (
            f"page search, common word «{COMMON_WORD}»",
            f"/tickets/?view=all&search={quote(COMMON_WORD)}",
            "≤ 150 ms",
        ),
        (
            f"API detail, ticket {heavy} (55 comments, 55 history)",
            f"/api/v1/tickets/{heavy}/",
            "≤ 30 ms",
        ),
        (f"API history, ticket {heavy}", f"/api/v1/tickets/{heavy}/history/", "≤ 30 ms"),
        (f"API comments, ticket {heavy}", f"/api/v1/tickets/{heavy}/comments/", "≤ 30 ms"),
        (f"page card, ticket {heavy}", f"/tickets/{heavy}/", "≤ 30 ms"),
        ("API list, page_size=10", "/api/v1/tickets/?page_size=10", "queries ≤ 6"),
        (
            "API list, page_size=100",
            "/api/v1/tickets/?page_size=100",
            "queries ≤ 6, = page_size 10",
        ),
    ]
    for name, url, target in plan:
        client, headers = (api, bearer) if url.startswith("/api/") else (pages, {})
        rows.append(measure(client, url, name, target, **headers))
        print(f"  {rows[-1].name}: {rows[-1].median_ms:.1f} ms", flush=True)
    return rows


# --- Under gunicorn ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self):
        self.port = _free_port()
        self.process = None

    def __enter__(self):
        env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1,localhost"}
        self.process = subprocess.Popen(  # noqa: S603 - our own gunicorn from the venv  # nosec B603
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "techticket.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--timeout",
                "120",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)


def _request(conn, method, path, headers, body=None):
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


def load(port: int, path: str, headers: dict) -> dict:
    """LOAD_CLIENTS keep-alive clients requesting `path` for LOAD_SECONDS."""
    stop = time.monotonic() + LOAD_SECONDS
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                status = _request(conn, "GET", path, headers)
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            mine.append((time.perf_counter() - started) * 1000)
            if status != 200:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(LOAD_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / LOAD_SECONDS,
        "median_ms": statistics.median(latencies) if latencies else 0.0,
        "errors": errors[0],
    }


def _session_cookie(user: User) -> str:
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def concurrent_creates(port: int, users: list[User]) -> dict:
    """8 clients, each creating CREATES_PER_CLIENT tickets through the API at once."""
    before = Ticket.objects.count()
    errors = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(len(users))

    def client(user):
        headers = {
            "Authorization": f"Bearer {AccessToken.for_user(user)}",
            "Content-Type": "application/json",
        }
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        barrier.wait()
        for index in range(CREATES_PER_CLIENT):
            body = json.dumps(
                {"title": f"Нагрузка {user.pk}-{index}", "description": "Параллельное создание"}
            )
            try:
                status = _request(conn, "POST", "/api/v1/tickets/", headers, body)
            except (OSError, http.client.HTTPException):
                status = 0
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            if status != 201:
                with lock:
                    errors[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    created = Ticket.objects.count() - before
    expected = len(users) * CREATES_PER_CLIENT
    return {"expected": expected, "created": created, "errors": errors[0], "seconds": elapsed}


# --- Report -------------------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {cursor.fetchone()[0]}"
        else:
            cursor.execute("select sqlite_version()")
            database = f"SQLite {cursor.fetchone()[0]} (WAL)"
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, Django {django.get_version()}; {database}"
    )


def report(rows, throughput, creates, sizes) -> str:
    lines = [
        f"# Benchmark — {connection.vendor}",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {machine()}",
        f"- data: {sizes}",
        f"- method: in-process Django test client through the whole URL stack; "
        f"{WARMUP} warm-up + {RUNS} measured runs per request; times are server times",
        "",
        "| request | target | median ms | p95 ms | SQL queries | status |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.name} | {row.target} | {row.median_ms:.1f} | {row.p95_ms:.1f} | "
            f"{row.queries} | {row.status} |"
        )
    lines += [
        "",
        f"Throughput under gunicorn (2 workers), {LOAD_CLIENTS} keep-alive clients on loopback "
        f"for {LOAD_SECONDS:.0f} s:",
        "",
        "| endpoint | requests/s | median ms | errors |",
        "|---|---:|---:|---:|",
    ]
    for name, result in throughput.items():
        lines.append(
            f"| {name} | {result['rps']:.1f} | {result['median_ms']:.1f} | {result['errors']} |"
        )
    if creates:
        lines += [
            "",
            f"Concurrent creates (8 clients × {CREATES_PER_CLIENT}, SQLite, gunicorn 2 workers): "
            f"{creates['created']} of {creates['expected']} created, {creates['errors']} errors, "
            f"{creates['seconds']:.1f} s.",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    call_command("migrate", verbosity=0)
    if not Ticket.objects.exists():
        print(f"Seeding {TICKETS:,} tickets…", flush=True)
        call_command("seed_bench", tickets=TICKETS)
    manager = User.objects.filter(role=Role.MANAGER, username__startswith="bench_").first()
    technician = User.objects.filter(role=Role.TECHNICIAN, username__startswith="bench_").first()
    total = Ticket.objects.count()
    common = search_tickets(Ticket.objects.all(), COMMON_WORD).count()
    sizes = (
        f"{total:,} tickets; «{COMMON_WORD}» in {100 * common / total:.1f} % of them; "
        f"{Ticket.comments.rel.related_model.objects.count():,} comments"
    )
    print(f"Measuring on {connection.vendor}: {sizes}", flush=True)
    rows = in_process_rows(manager, technician)

    throughput = {}
    creates = None
    if LOAD:
        with Server() as server:
            api_headers = {"Authorization": f"Bearer {AccessToken.for_user(manager)}"}
            throughput["GET /api/v1/tickets/ (manager)"] = load(
                server.port, "/api/v1/tickets/", api_headers
            )
            throughput["GET /tickets/?view=all (manager)"] = load(
                server.port, "/tickets/?view=all", {"Cookie": _session_cookie(manager)}
            )
            if connection.vendor == "sqlite":
                writers = list(
                    User.objects.filter(role=Role.USER, username__startswith="bench_")[:8]
                )
                creates = concurrent_creates(server.port, writers)

    text = report(rows, throughput, creates, sizes)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "postgresql" if connection.vendor == "postgresql" else "sqlite"
    if os.environ.get("BENCH_WRITE", "1") == "1":
        (RESULTS / f"{name}.md").write_text(text, encoding="utf-8")
    if creates and (creates["errors"] or creates["created"] != creates["expected"]):
        print("Concurrent creates lost writes or failed.", file=sys.stderr)
        return 1
    if any(row.status != 200 for row in rows):
        print("A measured request did not answer 200.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
