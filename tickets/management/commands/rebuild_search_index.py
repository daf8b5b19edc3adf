"""Rebuild the full-text search index of tickets (SPEC §4.7), e.g. after rows were written
behind the triggers' back or the stemming changed."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from django.db import transaction

from tickets.search import rebuild_index


class Command(BaseCommand):
    help = (
        "Rebuild the ticket search index. SQLite: refill the FTS5 table from the tickets table "
        "with freshly stemmed words. PostgreSQL: refill the search table and rebuild its GIN "
        "index, switching its row triggers back on (repairs an interrupted seed_bench). Writes "
        "to tickets wait until it is done."
    )

    def handle(self, *args, **options):
        started = time.perf_counter()
        # One transaction: searches never see the SQLite index emptied but not yet refilled.
        with transaction.atomic():
            count = rebuild_index()
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(f"Search index rebuilt: {count} tickets indexed in {elapsed:.2f} s.")
        )
