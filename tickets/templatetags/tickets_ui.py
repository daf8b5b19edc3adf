"""Template helpers for the ticket pages: badges, search highlighting, sortable columns,
links that keep the list's state, and human-readable history entries."""

from __future__ import annotations

import re

from django import template
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from tickets import search
from tickets.models import Category, Priority, Status, Ticket

register = template.Library()

STATUS_COLOURS = {
    Status.NEW: "primary",
    Status.ASSIGNED: "info",
    Status.IN_PROGRESS: "warning",
    Status.ON_HOLD: "secondary",
    Status.RESOLVED: "success",
    Status.CLOSED: "dark",
    Status.CANCELLED: "light",
}
PRIORITY_COLOURS = {
    Priority.LOW: "secondary",
    Priority.NORMAL: "primary",
    Priority.HIGH: "warning",
    Priority.CRITICAL: "danger",
}
_TOKEN = re.compile(r"([^\W_]+)")


@register.simple_tag
def status_badge(value: str) -> str:
    colour = STATUS_COLOURS.get(value, "secondary")
    text_class = " text-dark border" if colour in ("light", "warning", "info") else ""
    return format_html(
        '<span class="badge text-bg-{}{}">{}</span>', colour, text_class, Status(value).label
    )


@register.simple_tag
def priority_badge(value: str) -> str:
    colour = PRIORITY_COLOURS.get(value, "secondary")
    text_class = " text-dark" if colour == "warning" else ""
    return format_html(
        '<span class="badge text-bg-{}{}">{}</span>', colour, text_class, Priority(value).label
    )


@register.filter(expects_localtime=True)
def stamp(value) -> str:
    """A moment as the pages show it (`d.m.Y H:i`, local time): the same text as the `date`
    filter with that format, without its format parser — a card shows a couple of hundred."""
    return value.strftime("%d.%m.%Y %H:%M") if value else ""


@register.filter(expects_localtime=True)
def iso(value) -> str:
    """A moment in ISO 8601 with its offset, for `<time datetime>`."""
    return value.isoformat() if value else ""


@register.filter
def category_label(value: str) -> str:
    return Category(value).label


@register.filter
def highlight(text: str, query: str) -> str:
    """`text`, escaped, with the words that the search matched wrapped in <mark>."""
    terms = search.query_words(query or "")
    if not terms or not text:
        return escape(text)
    stems = {search.stem(term) for term in terms}
    prefix = search.stem(terms[-1])
    parts = []
    for piece in _TOKEN.split(str(text)):
        if piece and _TOKEN.fullmatch(piece):
            word = search.normalize(piece)
            if search.stem(word) in stems or search.stem(word).startswith(prefix):
                parts.append(f"<mark>{escape(piece)}</mark>")
                continue
        parts.append(escape(piece))
    return mark_safe("".join(parts))  # noqa: S308 - every piece is escaped above  # nosec B308 B703


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current list URL's query string with some parameters replaced (None removes)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    if "page" not in changes:
        params.pop("page", None)
    return "?" + params.urlencode()


@register.simple_tag(takes_context=True)
def sort_query(context, field: str) -> str:
    """The query string that sorts by `field`, or reverses it when it is already the order."""
    current = context["request"].GET.get("ordering", "")
    target = f"-{field}" if current == field else field
    return query_with(context, ordering=target)


@register.simple_tag(takes_context=True)
def sort_indicator(context, field: str) -> str:
    current = context["request"].GET.get("ordering", "")
    if current == field:
        return "▲"
    if current == f"-{field}":
        return "▼"
    return ""


FIELD_LABELS = {
    "title": Ticket._meta.get_field("title").verbose_name,
    "description": Ticket._meta.get_field("description").verbose_name,
    "category": Ticket._meta.get_field("category").verbose_name,
    "priority": Ticket._meta.get_field("priority").verbose_name,
    "status": Ticket._meta.get_field("status").verbose_name,
    "assignee": Ticket._meta.get_field("assignee").verbose_name,
    "resolution": Ticket._meta.get_field("resolution").verbose_name,
}
CHOICES = {"category": Category, "priority": Priority, "status": Status}


def _display_value(field: str, value, users) -> str:
    if value in (None, ""):
        return "—"
    if field in CHOICES:
        return str(CHOICES[field](value).label)
    if field == "assignee":
        user = users.get(value)
        return user.full_name if user else f"#{value}"
    return str(value)


@register.simple_tag
def change_lines(entry, users) -> list[str]:
    """'priority: normal → high' for each change, translated; long texts only as 'changed'."""
    lines = []
    for change in entry.changes:
        if change.field in ("status", "assignee") and entry.event != "updated":
            continue  # the sentence already says it
        label = FIELD_LABELS.get(change.field, change.field)
        if change.field in ("description", "resolution"):
            lines.append(_("%(field)s changed") % {"field": label})
            continue
        lines.append(
            _("%(field)s: %(old)s → %(new)s")
            % {
                "field": label,
                "old": _display_value(change.field, change.old, users),
                "new": _display_value(change.field, change.new, users),
            }
        )
    return lines


EVENT_SENTENCES = {
    "created": gettext_lazy("%(actor)s created the ticket"),
    "updated": gettext_lazy("%(actor)s edited the ticket"),
    "assigned": gettext_lazy("%(actor)s assigned the technician %(assignee)s"),
    "accepted": gettext_lazy("%(actor)s accepted the ticket"),
    "declined": gettext_lazy("%(actor)s declined the ticket"),
    "held": gettext_lazy("%(actor)s put the work on hold"),
    "resumed": gettext_lazy("%(actor)s resumed the work"),
    "completed": gettext_lazy("%(actor)s completed the work"),
    "closed": gettext_lazy("%(actor)s verified and closed the ticket"),
    "reopened": gettext_lazy("%(actor)s returned the ticket to work"),
    "cancelled": gettext_lazy("%(actor)s cancelled the ticket"),
    "commented": gettext_lazy("%(actor)s commented"),
    "internal_note": gettext_lazy("%(actor)s wrote an internal note"),
    "attachment_added": gettext_lazy("%(actor)s attached %(name)s"),
    "attachment_removed": gettext_lazy("%(actor)s removed %(name)s"),
}

# The same sentences for an actor whose name reads as a woman's: Russian past-tense verbs
# agree with the actor ("Ирина создала заявку").
EVENT_SENTENCES_FEMININE = {
    "created": pgettext_lazy("feminine", "%(actor)s created the ticket"),
    "updated": pgettext_lazy("feminine", "%(actor)s edited the ticket"),
    "assigned": pgettext_lazy("feminine", "%(actor)s assigned the technician %(assignee)s"),
    "accepted": pgettext_lazy("feminine", "%(actor)s accepted the ticket"),
    "declined": pgettext_lazy("feminine", "%(actor)s declined the ticket"),
    "held": pgettext_lazy("feminine", "%(actor)s put the work on hold"),
    "resumed": pgettext_lazy("feminine", "%(actor)s resumed the work"),
    "completed": pgettext_lazy("feminine", "%(actor)s completed the work"),
    "closed": pgettext_lazy("feminine", "%(actor)s verified and closed the ticket"),
    "reopened": pgettext_lazy("feminine", "%(actor)s returned the ticket to work"),
    "cancelled": pgettext_lazy("feminine", "%(actor)s cancelled the ticket"),
    "commented": pgettext_lazy("feminine", "%(actor)s commented"),
    "internal_note": pgettext_lazy("feminine", "%(actor)s wrote an internal note"),
    "attachment_added": pgettext_lazy("feminine", "%(actor)s attached %(name)s"),
    "attachment_removed": pgettext_lazy("feminine", "%(actor)s removed %(name)s"),
}


# Russian surnames and first names that read as a woman's. Users have no gender field, so
# the verb's agreement follows the name; anything unclear keeps the masculine form.
_FEMININE_SURNAME = re.compile(r"(?:ова|ева|ёва|ина|ына|ая|яя)$")
_MASCULINE_FIRST_NAMES = frozenset(
    {"никита", "илья", "кузьма", "фома", "лука", "савва", "данила", "гаврила", "фока"}
)


def reads_feminine(user) -> bool:
    if user is None:
        return False
    last_name = (user.last_name or "").strip().lower()
    if last_name:
        return bool(_FEMININE_SURNAME.search(last_name))
    first_name = (user.first_name or "").strip().lower()
    return first_name.endswith(("а", "я")) and first_name not in _MASCULINE_FIRST_NAMES


@register.simple_tag
def describe(entry, users) -> str:
    """One sentence for a timeline entry, e.g. 'Иванов назначил исполнителя Петров'."""
    key = "internal_note" if entry.event == "commented" and entry.internal else entry.event
    assignee = next((c.new for c in entry.changes if c.field == "assignee"), None)
    sentences = EVENT_SENTENCES_FEMININE if reads_feminine(entry.actor) else EVENT_SENTENCES
    return str(sentences[key]) % {
        "actor": entry.actor.full_name if entry.actor else _("System"),
        "assignee": _display_value("assignee", assignee, users),
        "name": entry.attachment_name,
    }


@register.simple_tag
def timeline_entries(timeline) -> str:
    """The `<li>` of every timeline entry: time, sentence, changes, reason. Built here rather
    than in a template loop: a busy ticket has a hundred entries and more, and the template
    engine's per-tag work was most of the card's time."""
    users = timeline.users
    items = []
    for entry in timeline.entries:
        at = timezone.localtime(entry.at)
        lines = change_lines(entry, users)
        items.append(
            format_html(
                '<li class="timeline-entry mb-2 pb-2 border-bottom{}" data-event="{}">'
                '<time class="text-body-secondary d-block" datetime="{}">{}</time>'
                "<span>{}</span>{}{}</li>",
                " internal-note" if entry.internal else "",
                entry.event,
                at.isoformat(),
                at.strftime("%d.%m.%Y %H:%M"),
                describe(entry, users),
                format_html(
                    '<ul class="mb-0 ps-3">{}</ul>',
                    format_html_join("", "<li>{}</li>", ((line,) for line in lines)),
                )
                if lines
                else "",
                format_html('<div class="text-body-secondary text-break">«{}»</div>', entry.reason)
                if entry.reason
                else "",
            )
        )
    return format_html_join("", "{}", ((item,) for item in items))
