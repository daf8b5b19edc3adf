"""Full-text search over ticket titles and descriptions (SPEC §4.7): one function, two backends.

- PostgreSQL: a stored generated `tsvector` column on the tickets (title weight A, description
  weight B, the `russian` configuration, which stems Cyrillic words with the Russian Snowball
  stemmer and Latin words with the English one) with a GIN index; ranked with `ts_rank`. A
  narrow copy in a table of its own, kept in step by triggers, counts the matches of an
  unfiltered search reading a third of the pages.
- SQLite: a contentless FTS5 table filled by triggers with words stemmed in Python by the same
  Snowball stemmers (PyStemmer); ranked with `bm25`.

On both, `ё` and `е` are one letter, case does not matter, every word must match and the last
word also matches as a prefix (`принт` finds `принтер`). User input is reduced to plain words
before it reaches either engine, so quotes, operators, `NEAR(`, NUL bytes or a 10 KB string
can only ever find something or nothing.

A search counts its results first, in one query (from the index's own table when nothing else
narrows the list): that number decides between ranking by relevance (up to RANK_LIMIT results)
and the newest first (past it), and answers the pagination's count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import Stemmer
from django.db import connection, connections
from django.db.models import FloatField, QuerySet, Value

FTS_TABLE = "tickets_ticket_fts"  # SQLite
SEARCH_TABLE = "tickets_ticket_search"  # PostgreSQL
SEARCH_INDEX = "ticket_search_document"
COLUMN_INDEX = "ticket_search_vector"  # PostgreSQL: on tickets_ticket.search_vector
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


# Relevance ranking costs work in proportion to the number of results: up to this many they are
# ranked; past it (a word in a tenth of a million tickets says little about relevance anyway)
# the newest come first, which an index serves at once.
RANK_LIMIT = 2000


@dataclass(frozen=True)
class SearchCount:
    """The number of results, counted while the search was built, and the shape of the query
    it was counted for: `TicketQuerySet.count` answers with it while that shape holds."""

    total: int
    shape: tuple


def _shape(query) -> tuple:
    """What a later change to the rows a query returns would have to alter: its conditions
    (their number, how they combine), its joins and extra tables, its grouping, its
    distinctness, a combination with another query, a slice."""
    where = query.where
    return (
        len(where.children),
        where.connector,
        where.negated,
        len(query.alias_map),
        tuple(query.extra_tables),
        query.group_by,
        query.distinct,
        query.combinator,
        query.is_sliced,
    )


class _SQLite:
    """FTS5: the MATCH drives a ranked query (bm25 needs it); a recency query keeps the
    tickets' own indexes in charge (`+id` stops SQLite probing the table once per match)."""

    def count_sql(self, terms):
        expression = sqlite_match_expression(terms)
        return f"SELECT COUNT(*) FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [expression]

    def ranked(self, queryset, terms):
        table = queryset.model._meta.db_table
        weights = ", ".join(str(w) for w in BM25_WEIGHTS)
        return queryset.extra(
            select={"search_rank": f"-bm25({FTS_TABLE}, {weights})"},
            tables=[FTS_TABLE],
            where=[f'{FTS_TABLE}.rowid = "{table}"."id"', f"{FTS_TABLE} MATCH %s"],
            params=[sqlite_match_expression(terms)],
        )

    def recent(self, queryset, terms):
        table = queryset.model._meta.db_table
        return queryset.extra(
            where=[
                f'+"{table}"."id" IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s)'
            ],
            params=[sqlite_match_expression(terms)],
        )


class _PostgreSQL:
    """The generated `search_vector` column of the tickets and its GIN index for filtering and
    ranking, where the other conditions read the ticket row anyway; the narrow search table
    for counting the matches of an unfiltered search, which reads a third of the pages."""

    def _condition(self, table):
        return f'"{table}"."search_vector" @@ to_tsquery(\'russian\', %s)'

    def count_sql(self, terms):
        match = f"{SEARCH_TABLE}.document @@ to_tsquery('russian', %s)"
        return f"SELECT COUNT(*) FROM {SEARCH_TABLE} WHERE {match}", [postgres_tsquery(terms)]

    def ranked(self, queryset, terms):
        table = queryset.model._meta.db_table
        tsquery = postgres_tsquery(terms)
        return queryset.extra(
            select={
                "search_rank": f'ts_rank("{table}"."search_vector", to_tsquery(\'russian\', %s))'
            },
            select_params=[tsquery],
            where=[self._condition(table)],
            params=[tsquery],
        )

    def recent(self, queryset, terms):
        table = queryset.model._meta.db_table
        return queryset.extra(where=[self._condition(table)], params=[postgres_tsquery(terms)])


def search_tickets(queryset: QuerySet, query: str) -> QuerySet:
    """Filter `queryset` (of tickets, already narrowed by every other filter) to those
    matching `query`. Ranked by relevance (a `search_rank` annotation, higher is more relevant)
    when there are at most RANK_LIMIT results, otherwise left to the caller's recency
    ordering. Runs one query, which counts the results, so the pagination that follows needs
    no count of its own. A query with no words matches nothing."""
    terms = query_words(query)
    if not terms or queryset.query.is_empty():
        # Annotated all the same, so a caller may order by `search_rank` whatever the query.
        return queryset.none().annotate(search_rank=Value(0.0, output_field=FloatField()))
    database = connections[queryset.db]
    engine = _PostgreSQL() if database.vendor == "postgresql" else _SQLite()
    recent = engine.recent(queryset, terms)
    if queryset.query.where:  # visibility or filters: count what they leave
        total = recent.count()
    else:  # everything visible: the index alone knows how many tickets contain the words
        with database.cursor() as cursor:
            cursor.execute(*engine.count_sql(terms))
            total = cursor.fetchone()[0]
    # Decided on the results this user gets, never on all matches: the order must not tell
    # anything about tickets the user cannot see.
    result = engine.ranked(queryset, terms) if total <= RANK_LIMIT else recent
    result.query.search_count = SearchCount(total, _shape(result.query))
    return result


def known_count(queryset: QuerySet) -> int | None:
    """The number of results `search_tickets` counted for this queryset, if nothing that
    changes it was added since; None otherwise."""
    counted = getattr(queryset.query, "search_count", None)
    if counted is None or queryset.query.is_empty() or counted.shape != _shape(queryset.query):
        return None
    return counted.total


def is_ranked(queryset: QuerySet) -> bool:
    """Whether `search_tickets` ranked this queryset (it then has a `search_rank`)."""
    return "search_rank" in queryset.query.annotations or "search_rank" in queryset.query.extra


# --- Index maintenance ---------------------------------------------------------------------
# The index tables and the triggers that keep them in step with the tickets are created by the
# migrations: 0002 (SQLite's FTS5 table, PostgreSQL's generated column), 0003 (PostgreSQL's
# search table).

# The document of one ticket: title (weight A) and description (weight B), `ё` read as `е`.
_POSTGRES_DOCUMENT = (
    "setweight(to_tsvector('russian'::regconfig, translate({title}, 'ёЁ', 'еЕ')), 'A') || "
    "setweight(to_tsvector('russian'::regconfig, translate({description}, 'ёЁ', 'еЕ')), 'B')"
)
POSTGRES_CLEAR = f"DELETE FROM {SEARCH_TABLE}"
POSTGRES_FILL = (
    f"INSERT INTO {SEARCH_TABLE} (ticket_id, document) SELECT id, "
    + _POSTGRES_DOCUMENT.format(title="title", description="description")
    + " FROM tickets_ticket"
)
POSTGRES_CREATE_INDEX = f"CREATE INDEX {SEARCH_INDEX} ON {SEARCH_TABLE} USING GIN (document)"
POSTGRES_CREATE_COLUMN_INDEX = (
    f"CREATE INDEX {COLUMN_INDEX} ON tickets_ticket USING GIN (search_vector)"
)
# Bulk loads (seed_bench) drop both GIN indexes and switch the search table's row triggers off,
# then fill the table and build the indexes once, which is far cheaper than row by row.
POSTGRES_ROW_TRIGGERS = (f"{SEARCH_TABLE}_insert", f"{SEARCH_TABLE}_update")


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: gives every SQLite connection the stemming function the
    FTS triggers call."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            SQLITE_STEM_FUNCTION, 1, stem_text, deterministic=True
        )


def rebuild_index() -> int:
    """Refill the search index from the tickets table; returns the number of tickets indexed.
    Writes to tickets wait meanwhile. On PostgreSQL this also repairs what an interrupted bulk
    load (seed_bench) may have left: the row triggers switched off, the GIN indexes missing."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("LOCK TABLE tickets_ticket IN SHARE MODE")
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'tickets_ticket'::regclass "
                "AND tgenabled = 'D' AND tgname = ANY(%s)",
                [list(POSTGRES_ROW_TRIGGERS)],
            )
            for (trigger,) in cursor.fetchall():
                cursor.execute(f"ALTER TABLE tickets_ticket ENABLE TRIGGER {trigger}")
            cursor.execute(f"DROP INDEX IF EXISTS {SEARCH_INDEX}")
            cursor.execute(POSTGRES_CLEAR)
            cursor.execute(POSTGRES_FILL)
            cursor.execute(POSTGRES_CREATE_INDEX)
            cursor.execute(f"ANALYZE {SEARCH_TABLE}")
            cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [COLUMN_INDEX])
            if cursor.fetchone():
                cursor.execute(f"REINDEX INDEX {COLUMN_INDEX}")
            else:
                cursor.execute(POSTGRES_CREATE_COLUMN_INDEX)
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
