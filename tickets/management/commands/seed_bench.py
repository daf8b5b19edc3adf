"""Fill the configured database with the benchmark's data set (SPEC §9, bench/README.md).

    manage.py seed_bench --tickets 1000000 [--seed 20261129] [--replace]

Users (2,000 requesters, 50 technicians, 5 managers, one admin; no usable password),
tickets with Russian text and realistic status/priority/category mixes over three years,
about one comment per ticket, a creation record in the history of every ticket and comment,
and every 5,000th ticket with 55 comments and 55 history entries. Rows are written in bulk,
not through the services: a million tickets through the services would take hours. The
search index is filled as the rows go in (SQLite) or once at the end (PostgreSQL)."""

from __future__ import annotations

import random
import time

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connection, transaction

from accounts.models import Role, User
from bench.dataset import HEAVY_ENTRIES, HEAVY_EVERY, People, Text, comments_for, tickets
from tickets import search
from tickets.models import Comment, Ticket

TICKET_COLUMNS = (
    "id", "title", "description", "category", "priority", "status", "creator_id",
    "assignee_id", "created_at", "updated_at", "assigned_at", "accepted_at", "resolved_at",
    "closed_at", "resolution", "status_reason", "version",
)  # fmt: skip
HISTORY_TICKET_COLUMNS = (
    *(c for c in TICKET_COLUMNS),
    "history_date", "history_change_reason", "history_type", "history_user_id",
)  # fmt: skip
COMMENT_COLUMNS = ("id", "ticket_id", "author_id", "text", "internal", "created_at")
HISTORY_COMMENT_COLUMNS = (
    *COMMENT_COLUMNS, "history_date", "history_change_reason", "history_type", "history_user_id",
)  # fmt: skip


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    return f"INSERT INTO {connection.ops.quote_name(table)} ({names}) VALUES ({marks})"  # noqa: S608  # nosec B608


class Command(BaseCommand):
    help = "Fill the configured database with the benchmark data set (see bench/README.md)."

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=1_000_000)
        parser.add_argument("--seed", type=int, default=20261129)
        parser.add_argument("--batch", type=int, default=5000)
        parser.add_argument(
            "--replace", action="store_true", help="Delete existing tickets and bench users first."
        )

    def handle(self, *args, tickets: int, seed: int, batch: int, replace: bool, **options):
        if tickets < 1:
            raise CommandError("--tickets must be at least 1.")
        if Ticket.objects.exists() and not replace:
            raise CommandError("The database already has tickets; use --replace to start over.")
        started = time.monotonic()
        if replace:
            self._wipe()
        people = self._people()
        self.stdout.write(f"Users ready in {time.monotonic() - started:.1f} s.")
        self._before_bulk_load()
        try:
            counts = self._tickets(tickets, people, seed, batch)
        finally:
            self._finish()  # also after a failure: the search index and triggers come back
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {counts['tickets']:,} tickets, {counts['comments']:,} comments, "
                f"{counts['history']:,} history records on {connection.vendor} "
                f"in {elapsed:.0f} s."
            )
        )

    def _wipe(self) -> None:
        with connection.cursor() as cursor:
            for table in (
                "tickets_historicalattachment",
                "tickets_historicalcomment",
                "tickets_historicalticket",
                "tickets_attachment",
                "tickets_comment",
                "tickets_ticket",
            ):
                cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names  # nosec B608
        User.objects.filter(username__startswith="bench_").delete()

    def _people(self) -> People:
        # No usable password: the benchmark signs its users in without one, and a data set
        # seeded by mistake into a real database must not bring an admin with a known password.
        password = make_password(None)
        wanted = [("bench_admin", Role.ADMIN)]
        wanted += [(f"bench_manager_{i}", Role.MANAGER) for i in range(1, 6)]
        wanted += [(f"bench_tech_{i:02d}", Role.TECHNICIAN) for i in range(1, 51)]
        wanted += [(f"bench_user_{i:04d}", Role.USER) for i in range(1, 2001)]
        existing = set(
            User.objects.filter(username__startswith="bench_").values_list("username", flat=True)
        )
        User.objects.bulk_create(
            [
                User(
                    username=name,
                    email=f"{name}@bench.example.com",
                    password=password,
                    role=role,
                    first_name=name.split("_")[1].capitalize(),
                    last_name=name.rsplit("_", 1)[1],
                    department="Бенчмарк",
                )
                for name, role in wanted
                if name not in existing
            ],
            batch_size=1000,
        )
        by_role: dict[str, list[int]] = {}
        for pk, role in User.objects.filter(username__startswith="bench_").values_list(
            "pk", "role"
        ):
            by_role.setdefault(role, []).append(pk)
        return People(
            users=sorted(by_role[Role.USER]),
            technicians=sorted(by_role[Role.TECHNICIAN]),
            managers=sorted(by_role[Role.MANAGER]),
        )

    def _tickets(self, count: int, people: People, seed: int, batch: int) -> dict[str, int]:
        rng = random.Random(seed + 1)  # nosec B311  # reproducible test data, not a secret
        text = Text()
        totals = {"tickets": 0, "comments": 0, "history": 0}
        comment_id = 0
        ticket_sql = _insert_sql("tickets_ticket", TICKET_COLUMNS)
        history_sql = _insert_sql("tickets_historicalticket", HISTORY_TICKET_COLUMNS)
        comment_sql = _insert_sql("tickets_comment", COMMENT_COLUMNS)
        comment_history_sql = _insert_sql("tickets_historicalcomment", HISTORY_COMMENT_COLUMNS)
        generator = tickets(count, people, seed)
        last_report = time.monotonic()
        while True:
            chunk = [t for _, t in zip(range(batch), generator, strict=False)]
            if not chunk:
                break
            ticket_rows, history_rows, comment_rows, comment_history_rows = [], [], [], []
            for ticket in chunk:
                ticket_rows.append(tuple(ticket[c] for c in TICKET_COLUMNS))
                history_rows.append(self._history_row(ticket, ticket["created_at"], "created", "+"))
                if ticket["id"] % HEAVY_EVERY == 0:
                    history_rows += self._long_story(ticket, people, rng)
                for comment in comments_for(ticket, people, rng, text):
                    comment_id += 1
                    row = (comment_id, *(comment[c] for c in COMMENT_COLUMNS[1:]))
                    comment_rows.append(row)
                    comment_history_rows.append(
                        (*row, comment["created_at"], "commented", "+", comment["author_id"])
                    )
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(ticket_sql, ticket_rows)
                cursor.executemany(history_sql, history_rows)
                cursor.executemany(comment_sql, comment_rows)
                cursor.executemany(comment_history_sql, comment_history_rows)
            totals["tickets"] += len(ticket_rows)
            totals["comments"] += len(comment_rows)
            totals["history"] += len(history_rows) + len(comment_history_rows)
            if time.monotonic() - last_report > 15:
                last_report = time.monotonic()
                self.stdout.write(f"  {totals['tickets']:,} tickets…")
        return totals

    @staticmethod
    def _history_row(ticket: dict, at, reason: str, kind: str, user_id=None) -> tuple:
        return (
            *(ticket[c] for c in TICKET_COLUMNS),
            at,
            reason,
            kind,
            user_id or ticket["creator_id"],
        )

    def _long_story(self, ticket: dict, people: People, rng: random.Random) -> list[tuple]:
        """54 edits after the creation record: the priority going back and forth."""
        rows = []
        moment = ticket["created_at"]
        story = dict(ticket)
        for step in range(HEAVY_ENTRIES - 1):
            moment = moment + (ticket["updated_at"] - ticket["created_at"]) / HEAVY_ENTRIES
            story["priority"] = ("high", "normal")[step % 2]
            rows.append(
                self._history_row(story, moment, "updated", "~", rng.choice(people.managers))
            )
        return rows

    def _before_bulk_load(self) -> None:
        """PostgreSQL: the search table is far cheaper to fill, and the GIN indexes to build,
        once at the end than row by row."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit = off")
                for trigger in search.POSTGRES_ROW_TRIGGERS:
                    cursor.execute(f"ALTER TABLE tickets_ticket DISABLE TRIGGER {trigger}")
                cursor.execute(f"DROP INDEX IF EXISTS {search.SEARCH_INDEX}")
                cursor.execute(f"DROP INDEX IF EXISTS {search.COLUMN_INDEX}")

    def _finish(self) -> None:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                started = time.monotonic()
                cursor.execute("SET maintenance_work_mem = '512MB'")
                cursor.execute(search.POSTGRES_CLEAR)
                cursor.execute(search.POSTGRES_FILL)
                cursor.execute(search.POSTGRES_CREATE_INDEX)
                cursor.execute(search.POSTGRES_CREATE_COLUMN_INDEX)
                for trigger in search.POSTGRES_ROW_TRIGGERS:
                    cursor.execute(f"ALTER TABLE tickets_ticket ENABLE TRIGGER {trigger}")
                self.stdout.write(f"Search indexes built in {time.monotonic() - started:.0f} s.")
            for sql in connection.ops.sequence_reset_sql(no_style(), [Ticket, Comment]):
                cursor.execute(sql)
            if connection.vendor == "postgresql":
                # As autovacuum would soon: statistics for the planner and the visibility map
                # that lets counts and deep pages use index-only scans.
                cursor.execute("VACUUM ANALYZE")
            else:
                cursor.execute("ANALYZE")
                cursor.execute("PRAGMA optimize")
