"""The benchmark's data set (SPEC §9), generated row by row from one seed: the same seed gives
the same tickets, comments and history on SQLite and on PostgreSQL.

Rows go in with `executemany` in chunks inside one transaction per chunk; the search index
follows by itself (PostgreSQL's generated column, SQLite's triggers)."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.vocabulary import ADJECTIVES, FILLER, LATIN, NOUNS, PLACES, VERBS

START = datetime(2023, 12, 1, 6, 0, tzinfo=UTC)
SPAN = timedelta(days=3 * 365)
RARE_WORDS = ("гидрант", "тахограф", "виброизолятор")
RARE_PER_TICKET = 0.0001  # about 100 tickets per million mention a rare word
HEAVY_EVERY = 5000  # every 5000th ticket has a long story: 55 comments, 55 history entries
HEAVY_ENTRIES = 55
STATUSES_OLD = (
    ("closed", 88),
    ("cancelled", 5),
    ("resolved", 3),
    ("on_hold", 1),
    ("in_progress", 1),
    ("assigned", 1),
    ("new", 1),
)
STATUSES_RECENT = (
    ("new", 20),
    ("assigned", 15),
    ("in_progress", 25),
    ("on_hold", 5),
    ("resolved", 15),
    ("closed", 17),
    ("cancelled", 3),
)
PRIORITIES = (("low", 20), ("normal", 55), ("high", 20), ("critical", 5))
CATEGORIES = (("incident", 45), ("repair", 30), ("maintenance", 15), ("request", 10))


class Weighted:
    """Draws from a fixed list with fixed weights in O(log n)."""

    def __init__(self, items, weights):
        self.items = list(items)
        self.totals = list(itertools.accumulate(weights))

    def draw(self, rng: random.Random):
        return self.items[bisect.bisect_right(self.totals, rng.random() * self.totals[-1])]


def zipf(items, s: float) -> Weighted:
    return Weighted(items, [1 / (rank**s) for rank in range(1, len(items) + 1)])


def pairs(table) -> Weighted:
    return Weighted([v for v, _w in table], [w for _v, w in table])


@dataclass
class People:
    users: list[int]
    technicians: list[int]
    managers: list[int]


class Text:
    def __init__(self):
        self.nouns = zipf(NOUNS, 0.6)
        self.verbs = zipf(VERBS, 1.0)
        self.adjectives = zipf(ADJECTIVES, 1.0)

    def _form(self, rng, lemmas: Weighted) -> str:
        forms = lemmas.draw(rng)
        return forms[int(rng.random() ** 2 * len(forms))]  # the first forms are commoner

    def title(self, rng) -> str:
        words = []
        if rng.random() < 0.4:
            words.append(self._form(rng, self.adjectives))
        words.append(self._form(rng, self.nouns))
        words.append(self._form(rng, self.verbs))
        if rng.random() < 0.5:
            words += [rng.choice(("в", "на")), self._form(rng, self.nouns)]
        title = " ".join(words)
        return title[0].upper() + title[1:]

    def sentence(self, rng) -> str:
        words = []
        for _ in range(rng.randint(4, 9)):
            roll = rng.random()
            if roll < 0.25:
                words.append(self._form(rng, self.nouns))
            elif roll < 0.5:
                words.append(self._form(rng, self.verbs))
            elif roll < 0.62:
                words.append(self._form(rng, self.adjectives))
            elif roll < 0.67:
                words.append(rng.choice(LATIN))
            elif roll < 0.72:
                words.append(f"{rng.choice(PLACES)} {rng.randint(1, 12)}")
            else:
                words.append(rng.choice(FILLER))
        text = " ".join(words)
        return text[0].upper() + text[1:] + "."

    def description(self, rng) -> str:
        text = " ".join(self.sentence(rng) for _ in range(rng.randint(1, 2)))
        if rng.random() < RARE_PER_TICKET:
            text += f" Проверить {rng.choice(RARE_WORDS)}."
        return text


def _moment(base: datetime, rng, max_hours: float) -> datetime:
    return base + timedelta(hours=rng.random() * max_hours)


def tickets(count: int, people: People, seed: int) -> Iterator[dict]:
    """The tickets in id order, each with its timestamps consistent with its status."""
    rng = random.Random(seed)  # nosec B311  # reproducible test data, not a secret
    text = Text()
    creators = zipf(people.users, 0.6)
    technicians = zipf(people.technicians, 0.5)
    recent_after = START + SPAN - timedelta(days=30)
    statuses_old, statuses_recent = pairs(STATUSES_OLD), pairs(STATUSES_RECENT)
    priorities, categories = pairs(PRIORITIES), pairs(CATEGORIES)
    step = SPAN / max(count, 1)
    for index in range(count):
        created = START + step * index + timedelta(seconds=rng.random() * step.total_seconds())
        status = (statuses_recent if created > recent_after else statuses_old).draw(rng)
        ticket = {
            "id": index + 1,
            "title": text.title(rng),
            "description": text.description(rng),
            "category": categories.draw(rng),
            "priority": priorities.draw(rng),
            "status": status,
            "creator_id": creators.draw(rng),
            "assignee_id": None,
            "created_at": created,
            "assigned_at": None,
            "accepted_at": None,
            "resolved_at": None,
            "closed_at": None,
            "resolution": "",
            "status_reason": "",
            "version": 1,
        }
        moment = created
        if status not in ("new",) and not (status == "cancelled" and rng.random() < 0.5):
            ticket["assignee_id"] = technicians.draw(rng)
            moment = ticket["assigned_at"] = _moment(moment, rng, 8)
            ticket["version"] += 1
        if status in ("in_progress", "on_hold", "resolved", "closed"):
            moment = ticket["accepted_at"] = _moment(moment, rng, 24)
            ticket["version"] += 1
        if status == "on_hold":
            ticket["status_reason"] = "Ждём запчасти"
            ticket["version"] += 1
        if status in ("resolved", "closed"):
            moment = ticket["resolved_at"] = _moment(moment, rng, 72)
            ticket["resolution"] = "Выполнено: " + text.sentence(rng).lower()
            ticket["version"] += 1
        if status == "closed":
            moment = ticket["closed_at"] = _moment(moment, rng, 48)
            ticket["version"] += 1
        if status == "cancelled":
            moment = _moment(moment, rng, 24)
            ticket["version"] += 1
        ticket["updated_at"] = moment
        yield ticket


def comments_for(ticket: dict, people: People, rng: random.Random, text: Text) -> list[dict]:
    """0–2 comments on most tickets (one on average), 55 on a heavy one."""
    heavy = ticket["id"] % HEAVY_EVERY == 0
    count = HEAVY_ENTRIES if heavy else rng.choice((0, 1, 1, 2))
    rows = []
    moment = ticket["created_at"]
    for _ in range(count):
        moment = _moment(moment, rng, 6)
        staff = ticket["assignee_id"] and rng.random() < 0.5
        rows.append(
            {
                "ticket_id": ticket["id"],
                "author_id": ticket["assignee_id"] if staff else ticket["creator_id"],
                "text": text.sentence(rng),
                "internal": bool(staff and rng.random() < 0.4),
                "created_at": moment,
            }
        )
    return rows
