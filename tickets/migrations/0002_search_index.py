"""The full-text search index as first built: a generated tsvector column with a GIN index on
PostgreSQL, a contentless FTS5 table kept in step by triggers on SQLite (see tickets/search.py).
The PostgreSQL part is written out here, as it was: 0003 replaces it with a table of its own."""

from django.db import migrations

POSTGRES_CREATE = [
    """ALTER TABLE tickets_ticket ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('russian'::regconfig, translate(title, 'ёЁ', 'еЕ')), 'A') ||
        setweight(to_tsvector('russian'::regconfig, translate(description, 'ёЁ', 'еЕ')), 'B')
    ) STORED""",
    "CREATE INDEX ticket_search_vector ON tickets_ticket USING GIN (search_vector)",
]
POSTGRES_DROP = [
    "DROP INDEX IF EXISTS ticket_search_vector",
    "ALTER TABLE tickets_ticket DROP COLUMN IF EXISTS search_vector",
]


def forwards(apps, schema_editor):
    from tickets.search import SQLITE_CREATE

    vendor = schema_editor.connection.vendor
    for sql in POSTGRES_CREATE if vendor == "postgresql" else SQLITE_CREATE:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    from tickets.search import SQLITE_DROP

    vendor = schema_editor.connection.vendor
    for sql in POSTGRES_DROP if vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
