"""PostgreSQL: a narrow copy of the search documents in a table of their own (ticket id and
tsvector), kept in step by triggers, so that counting the tickets that contain a common word
reads a third of the pages the tickets table would need (tickets/search.py). The generated
column on the tickets stays: filtered searches and ranking use it. SQLite: nothing to do. The
SQL is written out here, as a migration's must be; tickets/search.py keeps what seed_bench and
rebuild_index run."""

from django.db import migrations

POSTGRES_CREATE = [
    """CREATE TABLE tickets_ticket_search (ticket_id bigint PRIMARY KEY, document tsvector NOT NULL)""",
    """CREATE FUNCTION tickets_ticket_search_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO tickets_ticket_search (ticket_id, document)
        VALUES (NEW.id, setweight(to_tsvector('russian'::regconfig, translate(NEW.title, 'ёЁ', 'еЕ')), 'A') || setweight(to_tsvector('russian'::regconfig, translate(NEW.description, 'ёЁ', 'еЕ')), 'B'))
        ON CONFLICT (ticket_id) DO UPDATE SET document = EXCLUDED.document;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION tickets_ticket_search_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM tickets_ticket_search WHERE ticket_id = OLD.id;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION tickets_ticket_search_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE tickets_ticket_search;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER tickets_ticket_search_insert AFTER INSERT ON tickets_ticket
        FOR EACH ROW EXECUTE FUNCTION tickets_ticket_search_write()""",
    """CREATE TRIGGER tickets_ticket_search_update AFTER UPDATE OF title, description ON tickets_ticket
        FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title
                           OR OLD.description IS DISTINCT FROM NEW.description)
        EXECUTE FUNCTION tickets_ticket_search_write()""",
    """CREATE TRIGGER tickets_ticket_search_delete AFTER DELETE ON tickets_ticket
        FOR EACH ROW EXECUTE FUNCTION tickets_ticket_search_delete()""",
    """CREATE TRIGGER tickets_ticket_search_truncate AFTER TRUNCATE ON tickets_ticket
        FOR EACH STATEMENT EXECUTE FUNCTION tickets_ticket_search_truncate()""",
    """INSERT INTO tickets_ticket_search (ticket_id, document) SELECT id, setweight(to_tsvector('russian'::regconfig, translate(title, 'ёЁ', 'еЕ')), 'A') || setweight(to_tsvector('russian'::regconfig, translate(description, 'ёЁ', 'еЕ')), 'B') FROM tickets_ticket""",
    """CREATE INDEX ticket_search_document ON tickets_ticket_search USING GIN (document)""",
    """ANALYZE tickets_ticket_search""",
]
POSTGRES_DROP = [
    """DROP TRIGGER IF EXISTS tickets_ticket_search_truncate ON tickets_ticket""",
    """DROP TRIGGER IF EXISTS tickets_ticket_search_delete ON tickets_ticket""",
    """DROP TRIGGER IF EXISTS tickets_ticket_search_update ON tickets_ticket""",
    """DROP TRIGGER IF EXISTS tickets_ticket_search_insert ON tickets_ticket""",
    """DROP FUNCTION IF EXISTS tickets_ticket_search_truncate()""",
    """DROP FUNCTION IF EXISTS tickets_ticket_search_delete()""",
    """DROP FUNCTION IF EXISTS tickets_ticket_search_write()""",
    """DROP TABLE IF EXISTS tickets_ticket_search""",
]
def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in POSTGRES_CREATE:
            schema_editor.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in POSTGRES_DROP:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0002_search_index")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
