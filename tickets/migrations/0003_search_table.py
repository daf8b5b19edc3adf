"""PostgreSQL: the search documents move from a generated column of the tickets table to a
narrow table of their own (tickets/search.py), so that counting the tickets that contain a
common word reads a third of the pages. SQLite keeps its FTS5 table."""

from django.db import migrations

OLD_POSTGRES_DROP = [
    "DROP INDEX IF EXISTS ticket_search_vector",
    "ALTER TABLE tickets_ticket DROP COLUMN IF EXISTS search_vector",
]
OLD_POSTGRES_CREATE = [
    """ALTER TABLE tickets_ticket ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('russian'::regconfig, translate(title, 'ёЁ', 'еЕ')), 'A') ||
        setweight(to_tsvector('russian'::regconfig, translate(description, 'ёЁ', 'еЕ')), 'B')
    ) STORED""",
    "CREATE INDEX ticket_search_vector ON tickets_ticket USING GIN (search_vector)",
]


def forwards(apps, schema_editor):
    from tickets.search import POSTGRES_CREATE

    if schema_editor.connection.vendor == "postgresql":
        for sql in [*OLD_POSTGRES_DROP, *POSTGRES_CREATE]:
            schema_editor.execute(sql)


def backwards(apps, schema_editor):
    from tickets.search import POSTGRES_DROP

    if schema_editor.connection.vendor == "postgresql":
        for sql in [*POSTGRES_DROP, *OLD_POSTGRES_CREATE]:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0002_search_index")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
