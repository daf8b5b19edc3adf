"""Full-text search over ticket titles and descriptions (SPEC §4.7): one function, two backends.

- PostgreSQL: a stored generated `tsvector` column (title weight A, description weight B, the
  `russian` configuration, which stems Cyrillic words with the Russian Snowball stemmer and
  Latin words with the English one) with a GIN index; ranked with `ts_rank`.
- SQLite: a contentless FTS5 table filled by triggers with words stemmed in Python by the same
  Snowball stemmers (PyStemmer); ranked with `bm25`.

On both, `ё` and `е` are one letter, case does not matter, every word must match and the last
word also matches as a prefix (`принт` finds `принтер`). User input is reduced to plain words
before it reaches either engine, so quotes, operators, `NEAR(`, NUL bytes or a 10 KB string
can only ever find something or nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer
from django.db import connection
from django.db.models import BooleanField, FloatField, QuerySet, Value
from django.db.models.expressions import RawSQL

FTS_TABLE = "tickets_ticket_fts"
SQLITE_STEM_FUNCTION = "tt_search_stem"
# bm25 weights of the FTS5 columns (title, description): a word in the title counts more.
BM25_WEIGHTS = (10.0, 4.0)
MAX_QUERY_TERMS = 12
MAX_TERM_LENGTH = 64
_WORD = re.compile(r"[^\W_]+")
_CYRILLIC = re.compile(r"[а-я]")

# Words too common to search for. PostgreSQL's `russian` configuration drops such words from a
# query; dropping them here too, before either engine sees the query, makes both databases
# answer alike ("принтер и сканер" must not need an "и" in the text on SQLite).
_STOP_WORDS_TEXT = """
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только
    ее мне было вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни
    быть был него до вас нибудь опять уж вам ведь там потом себя ничего ей может они тут где
    есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже себе под будет ж
    тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы
    нее сейчас были куда зачем всех никогда можно при наконец два об другой хоть после над
    больше тот через эти нас про всего них какая много разве три эту моя впрочем хорошо свою
    этой перед иногда лучше чуть том нельзя такой им более всегда конечно всю между i me my
    myself we our ours ourselves you your yours yourself yourselves he him his himself she
    her hers herself it its itself they them their theirs themselves what which who whom
    this that these those am is are was were be been being have has had having do does did
    doing a an the and but if or because as until while of at by for with about against
    between into through during before after above below to from up down in out on off over
    under again further then once here there when where why how all any both each few more
    most other some such no nor not only own same so than too very s t can will just don
    should now
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

_russian = Stemmer.Stemmer("russian")
_english = Stemmer.Stemmer("english")


def normalize(text: str) -> str:
    """Lower case, with `ё` folded into `е` (Russian readers treat them as one letter)."""
    return text.lower().replace("ё", "е")


def words(text: str) -> list[str]:
    """The words of `text`: runs of letters and digits, normalised."""
    return [w[:MAX_TERM_LENGTH] for w in _WORD.findall(normalize(text))]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Snowball stem of one normalised word: Russian for Cyrillic, English otherwise."""
    stemmer = _russian if _CYRILLIC.search(word) else _english
    return stemmer.stemWord(word)


def stem_text(text: str | None) -> str:
    """The document as the SQLite index stores it: stems separated by spaces."""
    if not text:
        return ""
    return " ".join(stem(w) for w in words(text))


def query_words(query: str) -> list[str]:
    """The distinct words of a user's query, in order, without stop words, at most
    MAX_QUERY_TERMS of them."""
    seen: dict[str, None] = {}
    for word in words(query.replace("\x00", " ")):
        if word in STOP_WORDS:
            continue
        seen.setdefault(word, None)
        if len(seen) == MAX_QUERY_TERMS:
            break
    return list(seen)


def sqlite_match_expression(terms: list[str]) -> str:
    """An FTS5 query in which every term is a quoted string, so nothing in it is an operator;
    all terms must match, the last one as a prefix."""
    parts = [f'"{stem(term)}"' for term in terms]
    parts[-1] += "*"
    return " AND ".join(parts)


def postgres_tsquery(terms: list[str]) -> str:
    """A `to_tsquery` input in which every term is a quoted lexeme (PostgreSQL stems it);
    all terms must match, the last one as a prefix."""
    parts = [f"'{term}'" for term in terms]
    parts[-1] += ":*"
    return " & ".join(parts)


def search_tickets(queryset: QuerySet, query: str) -> QuerySet:
    """Filter `queryset` (of tickets) to those matching `query` and annotate `search_rank`
    (higher is more relevant). A query with no words matches nothing."""
    terms = query_words(query)
    if not terms:
        # Annotated all the same, so a caller may order by `search_rank` whatever the query.
        return queryset.none().annotate(search_rank=Value(0.0, output_field=FloatField()))
    table = queryset.model._meta.db_table
    if connection.vendor == "postgresql":
        tsquery = postgres_tsquery(terms)
        matches = RawSQL(
            f'"{table}"."search_vector" @@ to_tsquery(\'russian\', %s)',
            [tsquery],
            output_field=BooleanField(),
        )
        rank = RawSQL(
            f'ts_rank("{table}"."search_vector", to_tsquery(\'russian\', %s))',
            [tsquery],
            output_field=FloatField(),
        )
        return queryset.filter(matches).annotate(search_rank=rank)

    # One join with the FTS table: the MATCH drives the query, bm25 is computed once per
    # matching row. (A correlated subquery per ticket would run the MATCH again for each.)
    expression = sqlite_match_expression(terms)
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    return queryset.extra(
        select={"search_rank": f"-bm25({FTS_TABLE}, {weights})"},
        tables=[FTS_TABLE],
        where=[f'{FTS_TABLE}.rowid = "{table}"."id"', f"{FTS_TABLE} MATCH %s"],
        params=[expression],
    )


def is_searched(queryset: QuerySet) -> bool:
    """Whether `search_tickets` filtered this queryset (it then has a `search_rank`)."""
    return "search_rank" in queryset.query.annotations or "search_rank" in queryset.query.extra


# --- Index maintenance ---------------------------------------------------------------------

SQLITE_CREATE = [
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
    "title, description, content='', tokenize='unicode61 remove_diacritics 0')",
    f"""CREATE TRIGGER {FTS_TABLE}_insert AFTER INSERT ON tickets_ticket BEGIN
        INSERT INTO {FTS_TABLE}(rowid, title, description)
        VALUES (new.id, {SQLITE_STEM_FUNCTION}(new.title),
                {SQLITE_STEM_FUNCTION}(new.description));
    END""",
    f"""CREATE TRIGGER {FTS_TABLE}_delete AFTER DELETE ON tickets_ticket BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, description)
        VALUES ('delete', old.id, {SQLITE_STEM_FUNCTION}(old.title),
                {SQLITE_STEM_FUNCTION}(old.description));
    END""",
    f"""CREATE TRIGGER {FTS_TABLE}_update AFTER UPDATE OF title, description ON tickets_ticket
    BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, description)
        VALUES ('delete', old.id, {SQLITE_STEM_FUNCTION}(old.title),
                {SQLITE_STEM_FUNCTION}(old.description));
        INSERT INTO {FTS_TABLE}(rowid, title, description)
        VALUES (new.id, {SQLITE_STEM_FUNCTION}(new.title),
                {SQLITE_STEM_FUNCTION}(new.description));
    END""",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_update",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_delete",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_insert",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]
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


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: gives every SQLite connection the stemming function the
    FTS triggers call."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            SQLITE_STEM_FUNCTION, 1, stem_text, deterministic=True
        )


def create_index(schema_editor) -> None:
    statements = POSTGRES_CREATE if schema_editor.connection.vendor == "postgresql" else []
    if schema_editor.connection.vendor == "sqlite":
        statements = SQLITE_CREATE
    for sql in statements:
        schema_editor.execute(sql)


def drop_index(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for sql in POSTGRES_DROP if vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(sql)


def rebuild_index() -> int:
    """Refill the search index from the tickets table; returns the number of tickets indexed.
    On PostgreSQL the column is generated by the database, so only the GIN index is rebuilt."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("REINDEX INDEX ticket_search_vector")
        else:
            cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('delete-all')")
            cursor.execute(
                f"INSERT INTO {FTS_TABLE}(rowid, title, description) "
                f"SELECT id, {SQLITE_STEM_FUNCTION}(title), {SQLITE_STEM_FUNCTION}(description) "
                "FROM tickets_ticket"
            )
            cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')")
        cursor.execute("SELECT COUNT(*) FROM tickets_ticket")
        return cursor.fetchone()[0]
