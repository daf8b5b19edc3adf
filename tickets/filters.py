"""The one FilterSet of SPEC §4.7, shared by the API and the pages."""

from __future__ import annotations

import datetime as dt
import re

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from tickets.models import Category, Priority, Status
from tickets.search import is_ranked, search_tickets

MSG_USER_REF = _("Enter a user id, “me” or “none”.")
MSG_USER_REF_NO_NONE = _("Enter a user id or “me”.")
MSG_DATE = _("Enter a date (YYYY-MM-DD) or a date and time in ISO 8601.")
MSG_DATE_RANGE = _("Enter a date from 1900-01-01 to 9998-12-31.")
MSG_CHOICE = _("Select a valid choice. %(value)s is not one of the available choices.")

# Model field → `ordering` parameter value (django-filter's direction). Priority orders by
# severity and status by workflow order, through the generated rank columns.
ORDERING_FIELDS = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "priority_rank": "priority",
    "status_rank": "status",
    "id": "id",
}
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(9998, 12, 31)
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CommaSeparatedChoiceField(forms.MultipleChoiceField):
    """Accepts the parameter repeated (`status=new&status=assigned`) or as a comma list
    (`status=new,assigned`), or both."""

    def to_python(self, value):
        if isinstance(value, str):  # a plain dict gives one string, a QueryDict a list
            value = [value]
        values = super().to_python(value)
        return [part.strip() for item in values for part in item.split(",") if part.strip()]

    def validate(self, value):
        # An empty list means "no filter"; each given value must be a known choice.
        for item in value:
            if not self.valid_value(item):
                raise forms.ValidationError(
                    MSG_CHOICE, code="invalid_choice", params={"value": item}
                )


class MultiChoiceFilter(django_filters.MultipleChoiceFilter):
    field_class = CommaSeparatedChoiceField

    def __init__(self, *args, **kwargs):
        # One value per ticket: no join can repeat a row, so no DISTINCT (which would turn
        # every count into a subquery).
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)


class UserRefField(forms.CharField):
    """A user id, `me`, or (where allowed) `none`."""

    def __init__(self, *args, allow_none: bool = True, **kwargs):
        self.allow_none = allow_none
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        value = super().to_python(value).strip().lower()
        if value in ("", "me") or (value == "none" and self.allow_none):
            return value
        # isascii: isdigit() alone accepts "²", which int() refuses.
        if value.isascii() and value.isdigit() and len(value) <= 18:
            return int(value)
        raise forms.ValidationError(
            MSG_USER_REF if self.allow_none else MSG_USER_REF_NO_NONE, code="invalid"
        )


class UserRefFilter(django_filters.Filter):
    field_class = UserRefField

    def filter(self, qs, value):
        if value in ("", None):
            return qs
        user = getattr(self.parent, "user", None)
        if value == "me":
            return qs.filter(**{self.field_name: user.pk if user else None})
        if value == "none":
            return qs.filter(**{f"{self.field_name}__isnull": True})
        return qs.filter(**{f"{self.field_name}_id": value})


class IsoDateTimeBoundField(forms.CharField):
    """An ISO date or date-time; returns (aware datetime, whether only a date was given)."""

    def to_python(self, value):
        value = super().to_python(value).strip()
        if not value:
            return None
        try:
            # A bare date must be recognised first: parse_datetime would read it as midnight.
            day = parse_date(value) if _DATE_ONLY.match(value) else None
            moment = None if day else parse_datetime(value)
        except ValueError:
            moment = day = None
        if moment is None and day is None:
            raise forms.ValidationError(MSG_DATE, code="invalid")
        whole_day = moment is None
        if whole_day:
            moment = dt.datetime.combine(day, dt.time.min)
        try:
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
            in_utc = moment.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            in_utc = None
        # The filters add a day to a date and compare in UTC: the ends of the calendar would
        # overflow, and no ticket is that old or that new anyway.
        if in_utc is None or not (EARLIEST_DATE <= in_utc.date() <= LATEST_DATE):
            raise forms.ValidationError(MSG_DATE_RANGE, code="invalid")
        return moment, whole_day


class DateBoundFilter(django_filters.Filter):
    """`…_after` includes the given moment (or the whole day); `…_before` includes the given
    moment (or the whole day)."""

    field_class = IsoDateTimeBoundField

    def __init__(self, *args, bound: str, **kwargs):
        self.bound = bound
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        moment, whole_day = value
        if self.bound == "after":
            return qs.filter(**{f"{self.field_name}__gte": moment})
        if whole_day:
            return qs.filter(**{f"{self.field_name}__lt": moment + dt.timedelta(days=1)})
        return qs.filter(**{f"{self.field_name}__lte": moment})


class OrderingFilter(django_filters.OrderingFilter):
    """Validates `ordering`; TicketFilter.filter_queryset orders, once, after the search (and
    skips empty items: `ordering=id,` is `ordering=id`)."""

    def filter(self, qs, value):
        return qs


class TicketFilter(django_filters.FilterSet):
    # Any text is a valid search (SPEC §4.7): its words are capped, not the text's length.
    search = django_filters.CharFilter(method="filter_search")
    status = MultiChoiceFilter(choices=Status.choices)
    priority = MultiChoiceFilter(choices=Priority.choices)
    category = MultiChoiceFilter(choices=Category.choices)
    assignee = UserRefFilter(field_name="assignee")
    creator = UserRefFilter(field_name="creator", allow_none=False)
    created_after = DateBoundFilter(field_name="created_at", bound="after")
    created_before = DateBoundFilter(field_name="created_at", bound="before")
    updated_after = DateBoundFilter(field_name="updated_at", bound="after")
    updated_before = DateBoundFilter(field_name="updated_at", bound="before")
    ordering = OrderingFilter(fields=ORDERING_FIELDS)

    def __init__(self, data=None, queryset=None, *, request=None, user: User | None = None, **kw):
        super().__init__(data=data, queryset=queryset, request=request, **kw)
        self.user = user or (getattr(request, "user", None) if request is not None else None)

    def filter_search(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs  # applied last, in filter_queryset: it counts what the other filters left

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        query = self.form.cleaned_data.get("search") or ""
        if query.strip():
            queryset = search_tickets(queryset, query)
        params = [p for p in self.form.cleaned_data.get("ordering") or [] if p]
        ordering = [self.filters["ordering"].get_ordering_value(p) for p in params]
        if ordering:
            # A unique tie-breaker keeps pages stable when many rows share a value.
            tiebreak = "id" if ordering[-1].lstrip("-") != "id" else None
            direction = "-" if ordering[-1].startswith("-") else ""
            return queryset.order_by(*ordering, *([direction + tiebreak] if tiebreak else []))
        if is_ranked(queryset):
            return queryset.order_by("-search_rank", "-created_at", "-id")
        return queryset.order_by("-created_at", "-id")
