"""The full-text search index: a generated tsvector column with a GIN index on PostgreSQL,
a contentless FTS5 table kept in step by triggers on SQLite (see tickets/search.py)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from tickets.search import create_index

    create_index(schema_editor)


def backwards(apps, schema_editor):
    from tickets.search import drop_index

    drop_index(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
