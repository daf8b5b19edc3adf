"""The full-text search index as first built: a generated tsvector column with a GIN index on
PostgreSQL, a contentless FTS5 table kept in step by triggers on SQLite (see tickets/search.py).
Written out here as it was built (a migration must not change with tickets/search.py); the
SQLite triggers call `tt_search_stem`, which tickets/search.py registers on every connection.
0003 replaces the PostgreSQL part with a table of its own."""

from django.db import migrations

POSTGRES_CREATE = [
    """ALTER TABLE tickets_ticket ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('russian'::regconfig, translate(title, 'ёЁ', 'еЕ')), 'A') ||
        setweight(to_tsvector('russian'::regconfig, translate(description, 'ёЁ', 'еЕ')), 'B')
    ) STORED""",
    "CREATE INDEX ticket_search_vector ON tickets_ticket USING GIN (search_vector)",
]
SQLITE_CREATE = [
    """CREATE VIRTUAL TABLE tickets_ticket_fts USING fts5(title, description, content='', tokenize='unicode61 remove_diacritics 0')""",
    """CREATE TRIGGER tickets_ticket_fts_insert AFTER INSERT ON tickets_ticket BEGIN
        INSERT INTO tickets_ticket_fts(rowid, title, description)
        VALUES (new.id, tt_search_stem(new.title),
                tt_search_stem(new.description));
    END""",
    """CREATE TRIGGER tickets_ticket_fts_delete AFTER DELETE ON tickets_ticket BEGIN
        INSERT INTO tickets_ticket_fts(tickets_ticket_fts, rowid, title, description)
        VALUES ('delete', old.id, tt_search_stem(old.title),
                tt_search_stem(old.description));
    END""",
    """CREATE TRIGGER tickets_ticket_fts_update AFTER UPDATE OF title, description ON tickets_ticket
    BEGIN
        INSERT INTO tickets_ticket_fts(tickets_ticket_fts, rowid, title, description)
        VALUES ('delete', old.id, tt_search_stem(old.title),
                tt_search_stem(old.description));
        INSERT INTO tickets_ticket_fts(rowid, title, description)
        VALUES (new.id, tt_search_stem(new.title),
                tt_search_stem(new.description));
    END""",
]
SQLITE_DROP = [
    """DROP TRIGGER IF EXISTS tickets_ticket_fts_update""",
    """DROP TRIGGER IF EXISTS tickets_ticket_fts_delete""",
    """DROP TRIGGER IF EXISTS tickets_ticket_fts_insert""",
    """DROP TABLE IF EXISTS tickets_ticket_fts""",
]
POSTGRES_DROP = [
    "DROP INDEX IF EXISTS ticket_search_vector",
    "ALTER TABLE tickets_ticket DROP COLUMN IF EXISTS search_vector",
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in POSTGRES_CREATE if vendor == "postgresql" else SQLITE_CREATE:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in POSTGRES_DROP if vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
