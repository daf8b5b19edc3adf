"""Full-text search (SPEC §4.7) on whichever database the run uses: SQLite's FTS5 index with
Python stemming, or PostgreSQL's tsvector column. Both must answer alike."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from accounts.tests.factories import UserFactory
from tickets import search
from tickets.models import Ticket
from tickets.search import (
    MAX_QUERY_TERMS,
    MAX_TERM_LENGTH,
    is_ranked,
    postgres_tsquery,
    query_words,
    search_tickets,
    sqlite_match_expression,
    stem,
    words,
)
from tickets.tests.factories import TicketFactory

on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite FTS5 index only")
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL tsvector index only"
)


@pytest.fixture
def creator(db):
    return UserFactory()


@pytest.fixture
def make_ticket(creator):
    def make(title: str, description: str = "Подробности в заявке.", **kwargs) -> Ticket:
        kwargs.setdefault("creator", creator)
        return TicketFactory(title=title, description=description, **kwargs)

    return make


@pytest.fixture
def unrelated_tickets(make_ticket):
    """Tickets without the searched words, so that every searched word is rare, as in real
    data (bm25 gives words found in most documents almost no weight)."""
    return [
        make_ticket("Не включается монитор", "Экран чёрный после обновления."),
        make_ticket("Нужен доступ к папке", "Прошу выдать права на общую папку отдела."),
        make_ticket("Медленный интернет", "Страницы открываются по минуте."),
    ]


def found_ids(query: str, queryset=None) -> list[int]:
    """Ids of the tickets the search finds, most relevant first."""
    queryset = Ticket.objects.all() if queryset is None else queryset
    return list(
        search_tickets(queryset, query).order_by("-search_rank", "id").values_list("id", flat=True)
    )


# --- Language: morphology, case, ё/е ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["принтер", "принтера", "принтеров", "ПРИНТЕРОМ", "Принтеры"])
def test_russian_word_forms_find_the_ticket(make_ticket, unrelated_tickets, query):
    ticket = make_ticket("Сломался принтер")

    assert found_ids(query) == [ticket.pk]


@pytest.mark.django_db
def test_russian_word_form_matches_by_stem_when_not_the_last_word(make_ticket):
    # "принтеров" is no prefix of "принтер": only stemming can find it, and as a non-last word
    # it gets no prefix help either.
    ticket = make_ticket("Сломался принтер")

    assert found_ids("принтеров сломался") == [ticket.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["картриджа", "картриджей", "Замятие бумаги"])
def test_words_of_the_description_are_found(make_ticket, unrelated_tickets, query):
    ticket = make_ticket("Сломался принтер", "Нужна замена картриджа, замятие бумаги.")

    assert found_ids(query) == [ticket.pk]


@pytest.mark.django_db
def test_english_plural_query_finds_singular_word(make_ticket, unrelated_tickets):
    ticket = make_ticket("Office printer is offline")

    assert found_ids("printers") == [ticket.pk]
    assert found_ids("printers office") == [ticket.pk]


@pytest.mark.django_db
def test_english_singular_capitalised_query_finds_plural_word(make_ticket, unrelated_tickets):
    ticket = make_ticket("All printers are offline")

    assert found_ids("Printer") == [ticket.pk]
    assert found_ids("Printer offline") == [ticket.pk]


@pytest.mark.django_db
def test_yo_in_query_finds_ye_in_text(make_ticket, unrelated_tickets):
    ticket = make_ticket("Украсить елка в холле")

    assert found_ids("ёлка") == [ticket.pk]
    assert found_ids("ЁЛКА холле") == [ticket.pk]


@pytest.mark.django_db
def test_ye_in_query_finds_yo_in_text(make_ticket, unrelated_tickets):
    ticket = make_ticket("Украсить ёлку в холле", "Ёлка стоит у входа.")

    assert found_ids("елка") == [ticket.pk]
    assert found_ids("елку холле") == [ticket.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("title", "query"),
    [
        ("СЛОМАЛСЯ ПРИНТЕР", "сломался принтер"),
        ("сломался принтер", "СЛОМАЛСЯ ПРИНТЕР"),
        ("Сломался Принтер", "сЛоМаЛсЯ пРиНтЕр"),
    ],
)
def test_cyrillic_case_does_not_matter(make_ticket, unrelated_tickets, title, query):
    ticket = make_ticket(title)

    assert found_ids(query) == [ticket.pk]


# --- Query semantics ------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_word_of_the_query_must_match(make_ticket, unrelated_tickets):
    printer_only = make_ticket("Сломался принтер", "Не печатает.")
    both = make_ticket("Сломался принтер", "Закончился картридж.")

    assert found_ids("принтер картридж") == [both.pk]
    assert printer_only.pk in found_ids("принтер")


@pytest.mark.django_db
def test_last_word_matches_as_a_prefix(make_ticket, unrelated_tickets):
    ticket = make_ticket("Сломался принтер")

    assert found_ids("принт") == [ticket.pk]
    assert found_ids("сломался прин") == [ticket.pk]


@pytest.mark.django_db
def test_only_the_last_word_matches_as_a_prefix(make_ticket, unrelated_tickets):
    make_ticket("Сломался принтер")

    assert found_ids("принт сломался") == []


@pytest.mark.django_db
def test_stop_words_in_the_query_are_ignored(make_ticket, unrelated_tickets):
    russian = make_ticket("Принтер, сканер", "Оба устройства не отвечают.")
    english = make_ticket("Printer, scanner", "Both devices are offline.")

    assert found_ids("принтер и сканер") == [russian.pk]
    assert found_ids("the printer and the scanner") == [english.pk]


@pytest.mark.django_db
def test_query_of_stop_words_only_finds_nothing(make_ticket):
    make_ticket("Принтер и сканер в кабинете", "Не работает ни то, ни другое.")

    assert found_ids("и в не") == []


# --- Ranking -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_word_in_title_ranks_above_word_in_description(make_ticket, unrelated_tickets):
    in_description = make_ticket("Не печатает отчёт", "Сломался принтер в бухгалтерии.")
    in_title = make_ticket("Сломался принтер", "Не печатает отчёт в бухгалтерии.")

    assert found_ids("принтер") == [in_title.pk, in_description.pk]


@pytest.mark.django_db
def test_ticket_mentioning_the_word_more_often_ranks_higher(make_ticket, unrelated_tickets):
    once = make_ticket("Заявка из бухгалтерии", "Принтер сканер монитор клавиатура.")
    thrice = make_ticket("Заявка из бухгалтерии", "Принтер принтеры принтера клавиатура.")

    ranked = list(search_tickets(Ticket.objects.all(), "принтер").order_by("-search_rank"))

    assert [t.pk for t in ranked] == [thrice.pk, once.pk]
    assert ranked[0].search_rank > ranked[1].search_rank > 0


# --- Hostile input ---------------------------------------------------------------------------

# (query, whether the printer ticket is found): operators and punctuation are plain text, so
# only the words in a query decide what it finds.
HOSTILE_QUERIES = [
    ('"', False),
    ('"принтер"', True),
    ('принтер"', True),
    ("'", False),
    ("'принтер", True),
    ("принтер'", True),
    ("-", False),
    ("-принтер", True),
    ("принтер -картридж", True),
    (":", False),
    ("title:принтер", False),
    ("+", False),
    ("+принтер", True),
    ("*", False),
    ("*принтер*", True),
    ("принтер:*", True),
    ("NEAR(", False),
    ("NEAR(принтер картридж, 2)", False),
    ("AND OR NOT", False),
    ("NOT принтер", True),
    ("принтер OR сканер", False),
    ("принтер | сканер", False),
    ("принтер & !картридж", True),
    ("принтер <-> картридж", True),
    ("(", False),
    (")", False),
    ("(принтер)", True),
    ("\\", False),
    ("принтер\\", True),
    ("%", False),
    ("%принтер%", True),
    ("_", False),
    ("принтер_картридж", True),
    ("а" * 10_240, False),
    ("принтер " * 1_280, True),
    ("\x00", False),
    ("принтер\x00", True),
    ("!?.,;:…—«»()[]{}<>@#$^&~`|/", False),
    ("", False),
    ("   \t\n ", False),
    ("😀", False),
    ("принтер 😀", True),
    ("'; DROP TABLE tickets_ticket; --", False),
    ("принтер'; DROP TABLE tickets_ticket; --", False),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "finds_printer"), HOSTILE_QUERIES)
def test_hostile_query_is_treated_as_plain_words(make_ticket, query, finds_printer):
    printer = make_ticket("Сломался принтер", "Закончился картридж.")
    scanner = make_ticket("Не работает сканер", "Горит красная лампа.")

    result = found_ids(query)

    assert set(result) <= {printer.pk, scanner.pk}
    assert (printer.pk in result) is finds_printer
    assert Ticket.objects.count() == 2


# --- The index follows the table -------------------------------------------------------------


@pytest.mark.django_db
def test_changed_title_is_searched_by_its_new_words_only(make_ticket, unrelated_tickets):
    ticket = make_ticket("Сломался принтер", "Не печатает.")
    assert found_ids("принтер") == [ticket.pk]

    ticket.title = "Сломался сканер"
    ticket.save()

    assert found_ids("принтер") == []
    assert found_ids("сканер") == [ticket.pk]


@pytest.mark.django_db
def test_changed_description_is_searched_by_its_new_words_only(make_ticket, unrelated_tickets):
    ticket = make_ticket("Неисправность", "Сломался принтер.")

    ticket.description = "Сломался проектор."
    ticket.save(update_fields=["description"])

    assert found_ids("принтер") == []
    assert found_ids("проектор") == [ticket.pk]


@pytest.mark.django_db
def test_deleted_ticket_is_no_longer_found(make_ticket, unrelated_tickets):
    ticket = make_ticket("Сломался принтер", "Не печатает.")
    kept = make_ticket("Сломался второй принтер", "Тоже не печатает.")

    ticket.delete()

    assert found_ids("принтер") == [kept.pk]
    assert found_ids("печатает") == [kept.pk]


@pytest.mark.django_db
def test_search_respects_other_filters_of_the_queryset(make_ticket):
    mine = make_ticket("Сломался принтер")
    someone_else = UserFactory()
    theirs = make_ticket("Сломался принтер", creator=someone_else)

    assert found_ids("принтер", Ticket.objects.filter(creator=mine.creator)) == [mine.pk]
    assert found_ids("принтер", Ticket.objects.filter(creator=someone_else)) == [theirs.pk]
    assert found_ids("принтер", Ticket.objects.filter(pk=-1)) == []
    assert found_ids("принтер", Ticket.objects.none()) == []


# --- Many matches: newest first, counted once ---------------------------------------------


@pytest.fixture
def printer_tickets(make_ticket, unrelated_tickets):
    """Three printer tickets, the best match (the word twice in the title) the oldest."""
    best = make_ticket("Принтер: принтер не печатает", "Принтер сломался, принтер гудит.")
    middle = make_ticket("Сломался принтер", "Не печатает.")
    newest = make_ticket("Заявка", "Где-то в описании упомянут принтер.")
    return best, middle, newest


@pytest.mark.django_db
def test_few_matches_are_ranked_by_relevance(printer_tickets):
    best, middle, newest = printer_tickets

    results = search_tickets(Ticket.objects.all(), "принтер")

    assert is_ranked(results)
    assert found_ids("принтер") == [best.pk, middle.pk, newest.pk]


@pytest.mark.django_db
def test_past_the_rank_limit_results_are_the_same_tickets_newest_first(
    printer_tickets, monkeypatch
):
    best, middle, newest = printer_tickets
    monkeypatch.setattr(search, "RANK_LIMIT", 2)

    results = search_tickets(Ticket.objects.all(), "принтер")

    assert not is_ranked(results)
    assert list(results.order_by("-created_at", "-id").values_list("id", flat=True)) == [
        newest.pk,
        middle.pk,
        best.pk,
    ]


@pytest.mark.django_db
def test_ranking_depends_on_the_visible_results_only(printer_tickets, make_ticket, monkeypatch):
    """Whether the results are ranked must tell nothing about tickets the user cannot see:
    the same two visible matches are ranked however many hidden tickets match too."""
    monkeypatch.setattr(search, "RANK_LIMIT", 2)
    someone_else = UserFactory()
    mine = [make_ticket("Принтер", creator=someone_else) for _ in range(2)]
    theirs = Ticket.objects.filter(creator=someone_else)

    assert is_ranked(search_tickets(theirs, "принтер"))
    for _ in range(5):
        make_ticket("Ещё один принтер")  # hidden from someone_else
    assert is_ranked(search_tickets(theirs, "принтер"))
    assert sorted(search_tickets(theirs, "принтер").values_list("id", flat=True)) == sorted(
        t.pk for t in mine
    )
    assert not is_ranked(search_tickets(Ticket.objects.all(), "принтер")), "all 10 are many"


@pytest.mark.django_db
@pytest.mark.parametrize("limit", [1000, 0])
def test_the_count_is_taken_while_searching_and_not_repeated(
    printer_tickets, django_assert_num_queries, monkeypatch, limit
):
    monkeypatch.setattr(search, "RANK_LIMIT", limit)
    with django_assert_num_queries(1):
        results = search_tickets(Ticket.objects.all(), "принтер").order_by("-id").only("pk")
    with django_assert_num_queries(0):
        assert results.count() == 3
    with django_assert_num_queries(1):
        assert len(results[:2]) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("limit", [1000, 0])
def test_the_count_of_a_narrowed_search_counts_only_what_the_filters_leave(
    printer_tickets, make_ticket, django_assert_num_queries, monkeypatch, limit
):
    monkeypatch.setattr(search, "RANK_LIMIT", limit)
    someone_else = UserFactory()
    theirs = make_ticket("Сломался принтер", creator=someone_else)

    with django_assert_num_queries(1):
        results = search_tickets(Ticket.objects.filter(creator=someone_else), "принтер")
    with django_assert_num_queries(0):
        assert results.count() == 1
    assert list(results.values_list("id", flat=True)) == [theirs.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("limit", [1000, 0])
def test_a_filter_added_after_the_search_is_counted_again(
    printer_tickets, django_assert_num_queries, monkeypatch, limit
):
    monkeypatch.setattr(search, "RANK_LIMIT", limit)
    middle = printer_tickets[1]
    results = search_tickets(Ticket.objects.all(), "принтер")

    with django_assert_num_queries(1):
        assert results.filter(pk=middle.pk).count() == 1
    with django_assert_num_queries(1):
        assert results.exclude(pk=middle.pk).count() == 2
    assert results.none().count() == 0
    with django_assert_num_queries(1):
        assert results[:1].count() == 1
    if limit == 0:  # (SQLite's MATCH cannot sit under an OR: only the newest-first form)
        with django_assert_num_queries(1):  # an OR keeps the number of conditions
            assert (results | Ticket.objects.filter(pk=middle.pk)).count() == 3
    with django_assert_num_queries(1):  # a join to many rows
        assert results.values("comments__id").count() == 3
    with django_assert_num_queries(1):  # grouped
        assert results.values("status").annotate(n=Count("id")).count() == 1


# --- rebuild_search_index ------------------------------------------------------------------


def rebuild_search_index() -> str:
    out = StringIO()
    call_command("rebuild_search_index", stdout=out)
    return out.getvalue()


@on_sqlite
@pytest.mark.django_db
def test_rebuild_command_restores_a_wiped_sqlite_index(make_ticket, unrelated_tickets):
    ticket = make_ticket("Сломался принтер", "Закончился картридж.")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO tickets_ticket_fts(tickets_ticket_fts) VALUES ('delete-all')")
    assert found_ids("принтер") == []

    output = rebuild_search_index()

    assert "4 tickets indexed" in output
    assert found_ids("принтер") == [ticket.pk]
    assert found_ids("картриджа") == [ticket.pk]
    assert found_ids("монитор") == [unrelated_tickets[0].pk]


@on_postgresql
@pytest.mark.django_db
def test_rebuild_command_reindexes_postgresql_and_search_still_works(
    make_ticket, unrelated_tickets
):
    ticket = make_ticket("Сломался принтер", "Закончился картридж.")

    output = rebuild_search_index()

    assert "4 tickets indexed" in output
    assert found_ids("принтер") == [ticket.pk]
    assert found_ids("картриджа") == [ticket.pk]


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_rebuild_command_repairs_an_interrupted_bulk_load_on_postgresql(make_ticket):
    """seed_bench switches the row triggers off and drops the GIN indexes while it loads;
    killed halfway, it leaves them so. The rebuild puts them back."""
    before = make_ticket("Сломался принтер")
    with connection.cursor() as cursor:
        for trigger in search.POSTGRES_ROW_TRIGGERS:
            cursor.execute(f"ALTER TABLE tickets_ticket DISABLE TRIGGER {trigger}")
        cursor.execute(f"DROP INDEX {search.SEARCH_INDEX}")
        cursor.execute(f"DROP INDEX {search.COLUMN_INDEX}")
    during = make_ticket("Сломался второй принтер")
    assert search_tickets(Ticket.objects.all(), "принтер").count() == 1, "the search table lags"

    rebuild_search_index()

    assert search_tickets(Ticket.objects.all(), "принтер").count() == 2
    assert sorted(found_ids("принтер")) == sorted([before.pk, during.pk])
    after = make_ticket("Третий принтер")
    assert after.pk in found_ids("принтер"), "the row triggers are on again"
    with connection.cursor() as cursor:
        for index in (search.SEARCH_INDEX, search.COLUMN_INDEX):
            cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [index])
            assert cursor.fetchone() == (1,), index


# --- Pure helpers --------------------------------------------------------------------------


def test_words_are_lower_case_runs_of_letters_and_digits_with_yo_folded():
    assert words("Ёлка-палка, Printer_2000! «Сканер»") == [
        "елка",
        "палка",
        "printer",
        "2000",
        "сканер",
    ]
    assert words("!?.,;:") == []


def test_words_are_cut_to_max_term_length():
    assert words("я" * (MAX_TERM_LENGTH + 10)) == ["я" * MAX_TERM_LENGTH]


def test_stem_uses_russian_for_cyrillic_and_english_for_latin():
    assert stem("принтеров") == stem("принтер") == stem("принтером")
    assert stem("printers") == stem("printer") == "printer"
    assert stem("running") == "run"


def test_query_words_dedupes_keeping_order():
    assert query_words("Принтер сканер ПРИНТЕР принтер") == ["принтер", "сканер"]


def test_query_words_drops_stop_words_and_nul_bytes():
    assert query_words("принтер и\x00сканер the printer") == ["принтер", "сканер", "printer"]
    assert query_words("и в не the and") == []


def test_query_words_keeps_at_most_max_query_terms():
    query = " ".join(f"слово{n}" for n in range(MAX_QUERY_TERMS + 5))

    assert query_words(query) == [f"слово{n}" for n in range(MAX_QUERY_TERMS)]


def test_sqlite_match_expression_quotes_stems_and_prefixes_the_last():
    assert sqlite_match_expression(["принтеров", "картридж"]) == '"принтер" AND "картридж"*'
    assert sqlite_match_expression(["near"]) == '"near"*'


def test_postgres_tsquery_quotes_terms_and_prefixes_the_last():
    assert postgres_tsquery(["принтеров", "картридж"]) == "'принтеров' & 'картридж':*"
    assert postgres_tsquery(["not"]) == "'not':*"
