"""Reads of the ticket domain (tickets.selectors) and the one FilterSet behind them (SPEC §4.1,
§4.4, §4.5, §4.7): visibility, per-user counts, filters, ordering, search and query counts.

Data is written with the factories (rows only): these tests are about reads."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.http import QueryDict

from accounts.tests.factories import TechnicianFactory, UserFactory
from techticket.errors import NotFound, ValidationError
from tickets.filters import MSG_DATE, MSG_USER_REF, MSG_USER_REF_NO_NONE
from tickets.models import Category, Priority, Status
from tickets.selectors import (
    active_technicians,
    attachment_get,
    ticket_attachments,
    ticket_comments,
    ticket_get,
    ticket_list,
    ticket_rows,
)
from tickets.tests.factories import AttachmentFactory, CommentFactory, TicketFactory

MSK = ZoneInfo("Europe/Moscow")
UTC = dt.UTC
# A fixed day far from "now", so that no test depends on the clock.
BASE = dt.datetime(2026, 3, 10, 12, 0, tzinfo=MSK)


def at(hours: float) -> dt.datetime:
    """BASE shifted by `hours`: a distinct, ordered timestamp per ticket."""
    return BASE + dt.timedelta(hours=hours)


def ids(queryset) -> list[int]:
    return [ticket.pk for ticket in queryset]


def listed(user, filters=None) -> list[int]:
    return ids(ticket_list(user=user, filters=filters))


def q(query_string: str) -> QueryDict:
    """Filters as the API and the pages receive them."""
    return QueryDict(query_string)


def filter_error(user, filters) -> ValidationError:
    with pytest.raises(ValidationError) as excinfo:
        list(ticket_list(user=user, filters=filters))
    return excinfo.value


def make_ticket(creator, *, status=Status.NEW, assignee=None, **kwargs):
    """A ticket in `status`; statuses other than new/cancelled carry an assignee."""
    if assignee is not None:
        kwargs.setdefault("assigned_at", kwargs.get("created_at", BASE))
    return TicketFactory(creator=creator, status=status, assignee=assignee, **kwargs)


# --- Visibility (SPEC §4.1) ----------------------------------------------------------------


@pytest.fixture
def world(requester, other_requester, technician, other_technician, manager, admin_user):
    """One ticket per relation to the personas, newest last."""
    return {
        "requester_own": make_ticket(requester, created_at=at(0)),
        "requester_assigned": make_ticket(
            requester, status=Status.IN_PROGRESS, assignee=technician, created_at=at(1)
        ),
        "other_to_technician": make_ticket(
            other_requester, status=Status.ASSIGNED, assignee=technician, created_at=at(2)
        ),
        "other_to_other_technician": make_ticket(
            other_requester, status=Status.ON_HOLD, assignee=other_technician, created_at=at(3)
        ),
        "technician_created": make_ticket(technician, created_at=at(4)),
        "other_requester_new": make_ticket(other_requester, created_at=at(5)),
    }


@pytest.mark.django_db
def test_requester_lists_only_tickets_they_created(world, requester, other_requester):
    assert listed(requester) == [world["requester_assigned"].pk, world["requester_own"].pk]
    assert listed(other_requester) == [
        world["other_requester_new"].pk,
        world["other_to_other_technician"].pk,
        world["other_to_technician"].pk,
    ]


@pytest.mark.django_db
def test_technician_lists_tickets_assigned_to_them_and_tickets_they_created(
    world, technician, other_technician
):
    assert listed(technician) == [
        world["technician_created"].pk,
        world["other_to_technician"].pk,
        world["requester_assigned"].pk,
    ]
    assert listed(other_technician) == [world["other_to_other_technician"].pk]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["manager", "admin_user"])
def test_manager_and_admin_list_every_ticket_newest_first(world, request, persona):
    user = request.getfixturevalue(persona)

    assert listed(user) == [
        world[name].pk
        for name in (
            "other_requester_new",
            "technician_created",
            "other_to_other_technician",
            "other_to_technician",
            "requester_assigned",
            "requester_own",
        )
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["requester", "technician", "manager", "admin_user"])
def test_inactive_user_sees_no_ticket_at_all(world, request, persona):
    user = request.getfixturevalue(persona)
    user.is_active = False
    user.save(update_fields=["is_active"])

    assert listed(user) == []
    with pytest.raises(NotFound):
        ticket_get(user=user, ticket_id=world["requester_assigned"].pk)


@pytest.mark.django_db
def test_ticket_get_returns_a_visible_ticket_with_its_people(world, requester, technician):
    ticket = ticket_get(user=requester, ticket_id=world["requester_assigned"].pk)

    assert ticket.pk == world["requester_assigned"].pk
    assert ticket.creator == requester
    assert ticket.assignee == technician
    # A string id, as it arrives from a URL, works too.
    assert ticket_get(user=technician, ticket_id=str(ticket.pk)).pk == ticket.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "invisible"),
    [
        ("requester", "other_requester_new"),
        ("requester", "other_to_technician"),
        ("requester", "technician_created"),
        ("technician", "other_to_other_technician"),
        ("technician", "requester_own"),
        ("other_technician", "other_to_technician"),
    ],
)
def test_ticket_get_of_an_invisible_ticket_raises_not_found(world, request, persona, invisible):
    user = request.getfixturevalue(persona)

    with pytest.raises(NotFound):
        ticket_get(user=user, ticket_id=world[invisible].pk)


@pytest.mark.django_db
@pytest.mark.parametrize("ticket_id", ["abc", "1; DROP TABLE x", "", None, "1.5", 10**9])
def test_ticket_get_of_a_malformed_or_missing_id_raises_not_found(world, manager, ticket_id):
    with pytest.raises(NotFound):
        ticket_get(user=manager, ticket_id=ticket_id)


@pytest.mark.django_db
def test_manager_gets_any_ticket(world, manager):
    for ticket in world.values():
        assert ticket_get(user=manager, ticket_id=ticket.pk).pk == ticket.pk


# --- Attachments and comments visibility ---------------------------------------------------


@pytest.fixture
def discussed_ticket(requester, technician):
    """A ticket of `requester` worked on by `technician`, with public and internal comments
    and attachments on the ticket, on a public comment and on an internal note."""
    ticket = make_ticket(
        requester, status=Status.IN_PROGRESS, assignee=technician, created_at=at(0)
    )
    public_first = CommentFactory(ticket=ticket, author=requester, created_at=at(1))
    internal = CommentFactory(ticket=ticket, author=technician, internal=True, created_at=at(2))
    public_second = CommentFactory(ticket=ticket, author=technician, created_at=at(3))
    on_ticket = AttachmentFactory(ticket=ticket, uploaded_by=requester, created_at=at(1.5))
    on_public = AttachmentFactory(
        ticket=ticket, comment=public_second, uploaded_by=technician, created_at=at(3)
    )
    on_internal = [
        AttachmentFactory(
            ticket=ticket, comment=internal, uploaded_by=technician, created_at=at(2)
        ),
        AttachmentFactory(
            ticket=ticket, comment=internal, uploaded_by=technician, created_at=at(2.5)
        ),
    ]
    return {
        "ticket": ticket,
        "public_first": public_first,
        "internal": internal,
        "public_second": public_second,
        "on_ticket": on_ticket,
        "on_public": on_public,
        "on_internal": on_internal,
    }


@pytest.mark.django_db
def test_requester_counts_exclude_internal_comments_and_their_attachments(
    discussed_ticket, requester
):
    (row,) = ticket_rows(user=requester, tickets=ticket_list(user=requester))
    got = ticket_get(user=requester, ticket_id=discussed_ticket["ticket"].pk)

    assert (row.comments_count, row.attachments_count) == (2, 2)
    assert (got.comments_count, got.attachments_count) == (2, 2)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["technician", "manager", "admin_user"])
def test_staff_counts_include_internal_comments_and_their_attachments(
    discussed_ticket, request, persona
):
    user = request.getfixturevalue(persona)

    (row,) = ticket_rows(user=user, tickets=ticket_list(user=user))
    got = ticket_get(user=user, ticket_id=discussed_ticket["ticket"].pk)

    assert (row.comments_count, row.attachments_count) == (3, 4)
    assert (got.comments_count, got.attachments_count) == (3, 4)


@pytest.mark.django_db
def test_ticket_without_comments_or_attachments_counts_zero(requester):
    make_ticket(requester)

    (row,) = ticket_rows(user=requester, tickets=ticket_list(user=requester))

    assert (row.comments_count, row.attachments_count) == (0, 0)


@pytest.mark.django_db
def test_counts_belong_to_each_ticket_separately(discussed_ticket, requester, manager):
    quiet = make_ticket(requester, created_at=at(10))
    CommentFactory(ticket=quiet, author=requester)

    rows = {row.pk: row for row in ticket_rows(user=manager, tickets=ticket_list(user=manager))}

    assert (rows[quiet.pk].comments_count, rows[quiet.pk].attachments_count) == (1, 0)
    ticket_pk = discussed_ticket["ticket"].pk
    assert (rows[ticket_pk].comments_count, rows[ticket_pk].attachments_count) == (3, 4)


@pytest.mark.django_db
def test_requester_comments_exclude_internal_notes_oldest_first(discussed_ticket, requester):
    comments = ticket_comments(user=requester, ticket=discussed_ticket["ticket"])

    assert ids(comments) == [
        discussed_ticket["public_first"].pk,
        discussed_ticket["public_second"].pk,
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["technician", "manager"])
def test_staff_comments_include_internal_notes_oldest_first(discussed_ticket, request, persona):
    user = request.getfixturevalue(persona)

    comments = list(ticket_comments(user=user, ticket=discussed_ticket["ticket"]))

    assert ids(comments) == [
        discussed_ticket["public_first"].pk,
        discussed_ticket["internal"].pk,
        discussed_ticket["public_second"].pk,
    ]
    assert ids(comments[1].attachments.all()) == ids(discussed_ticket["on_internal"])


@pytest.mark.django_db
def test_comments_created_at_the_same_moment_keep_insertion_order(requester):
    ticket = make_ticket(requester)
    same_time = [CommentFactory(ticket=ticket, author=requester, created_at=BASE) for _ in "abc"]
    earlier = CommentFactory(ticket=ticket, author=requester, created_at=at(-1))

    assert ids(ticket_comments(user=requester, ticket=ticket)) == [earlier.pk, *ids(same_time)]


@pytest.mark.django_db
def test_requester_attachments_exclude_those_on_internal_notes(discussed_ticket, requester):
    attachments = ticket_attachments(user=requester, ticket=discussed_ticket["ticket"])

    assert ids(attachments) == [discussed_ticket["on_ticket"].pk, discussed_ticket["on_public"].pk]


@pytest.mark.django_db
def test_staff_attachments_include_those_on_internal_notes_oldest_first(
    discussed_ticket, technician
):
    attachments = ticket_attachments(user=technician, ticket=discussed_ticket["ticket"])

    assert ids(attachments) == [
        discussed_ticket["on_ticket"].pk,
        discussed_ticket["on_internal"][0].pk,
        discussed_ticket["on_internal"][1].pk,
        discussed_ticket["on_public"].pk,
    ]


@pytest.mark.django_db
def test_requester_gets_public_attachments_of_own_ticket(discussed_ticket, requester):
    for name in ("on_ticket", "on_public"):
        attachment = discussed_ticket[name]
        assert attachment_get(user=requester, attachment_id=attachment.pk).pk == attachment.pk
    assert attachment_get(user=requester, attachment_id=str(attachment.pk)).pk == attachment.pk


@pytest.mark.django_db
def test_requester_gets_not_found_for_attachment_of_internal_note(discussed_ticket, requester):
    for attachment in discussed_ticket["on_internal"]:
        with pytest.raises(NotFound):
            attachment_get(user=requester, attachment_id=attachment.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["technician", "manager", "admin_user"])
def test_staff_gets_attachment_of_internal_note(discussed_ticket, request, persona):
    user = request.getfixturevalue(persona)
    attachment = discussed_ticket["on_internal"][0]

    assert attachment_get(user=user, attachment_id=attachment.pk).pk == attachment.pk


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["other_requester", "other_technician"])
def test_attachment_of_an_invisible_ticket_is_not_found(discussed_ticket, request, persona):
    user = request.getfixturevalue(persona)

    for name in ("on_ticket", "on_public"):
        with pytest.raises(NotFound):
            attachment_get(user=user, attachment_id=discussed_ticket[name].pk)


@pytest.mark.django_db
@pytest.mark.parametrize("attachment_id", ["abc", "", None, "1e3", 10**9])
def test_attachment_get_of_a_malformed_or_missing_id_raises_not_found(
    discussed_ticket, manager, attachment_id
):
    with pytest.raises(NotFound):
        attachment_get(user=manager, attachment_id=attachment_id)


# --- Filters (SPEC §4.7) -------------------------------------------------------------------


@pytest.fixture
def by_status(requester, technician):
    """One ticket in each status, created in workflow order (newest = cancelled)."""
    return {
        status: make_ticket(
            requester,
            status=status,
            assignee=None if status in (Status.NEW, Status.CANCELLED) else technician,
            created_at=at(index),
        )
        for index, status in enumerate(Status)
    }


def pks(tickets_by_key, *keys) -> list[int]:
    return [tickets_by_key[key].pk for key in keys]


@pytest.mark.django_db
def test_status_filter_with_one_value(by_status, manager):
    assert listed(manager, q("status=assigned")) == pks(by_status, Status.ASSIGNED)


@pytest.mark.django_db
def test_status_filter_with_a_comma_list(by_status, manager):
    expected = pks(by_status, Status.ASSIGNED, Status.NEW)

    assert listed(manager, q("status=new,assigned")) == expected
    assert listed(manager, q("status=new%2C%20assigned")) == expected


@pytest.mark.django_db
def test_status_filter_with_a_repeated_parameter(by_status, manager):
    assert listed(manager, q("status=new&status=assigned")) == pks(
        by_status, Status.ASSIGNED, Status.NEW
    )


@pytest.mark.django_db
def test_status_filter_mixing_comma_list_and_repeated_parameter(by_status, manager):
    assert listed(manager, q("status=new,on_hold&status=cancelled")) == pks(
        by_status, Status.CANCELLED, Status.ON_HOLD, Status.NEW
    )


@pytest.mark.django_db
def test_status_filter_given_as_a_list_in_a_plain_dict(by_status, manager):
    assert listed(manager, {"status": ["closed", "resolved"]}) == pks(
        by_status, Status.CLOSED, Status.RESOLVED
    )


@pytest.mark.django_db
def test_status_filter_given_as_a_string_in_a_plain_dict(by_status, manager):
    assert listed(manager, {"status": "new,assigned"}) == pks(
        by_status, Status.ASSIGNED, Status.NEW
    )


@pytest.mark.django_db
def test_empty_status_filter_means_no_filter(by_status, manager):
    assert listed(manager, q("status=")) == listed(manager)
    assert len(listed(manager)) == len(Status)


@pytest.mark.django_db
def test_filters_never_widen_visibility(by_status, other_requester, technician):
    assert listed(other_requester, q("status=new,assigned")) == []
    # The technician sees only what is assigned to them: not the new/cancelled ones.
    assert listed(technician, q("status=new,cancelled,assigned")) == pks(by_status, Status.ASSIGNED)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", ["status=bogus", "status=new,bogus", "status=new&status=NEW", "status=new;assigned"]
)
def test_unknown_status_is_a_validation_error_on_status(by_status, manager, query):
    error = filter_error(manager, q(query))

    assert error.field == "status"
    assert set(error.errors) == {"status"}


@pytest.fixture
def by_priority(requester):
    return {
        priority: make_ticket(requester, priority=priority, created_at=at(index))
        for index, priority in enumerate(Priority)
    }


@pytest.mark.django_db
def test_priority_filter_one_value_comma_list_and_repeated(by_priority, manager):
    assert listed(manager, q("priority=high")) == pks(by_priority, Priority.HIGH)
    assert listed(manager, q("priority=high,critical")) == pks(
        by_priority, Priority.CRITICAL, Priority.HIGH
    )
    assert listed(manager, q("priority=low&priority=critical")) == pks(
        by_priority, Priority.CRITICAL, Priority.LOW
    )
    assert listed(manager, q("priority=low,normal&priority=high")) == pks(
        by_priority, Priority.HIGH, Priority.NORMAL, Priority.LOW
    )


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["priority=urgent", "priority=high,urgent", "priority=1"])
def test_unknown_priority_is_a_validation_error_on_priority(by_priority, manager, query):
    error = filter_error(manager, q(query))

    assert error.field == "priority"
    assert set(error.errors) == {"priority"}


@pytest.mark.django_db
def test_category_filter(requester, manager):
    tickets = {
        category: make_ticket(requester, category=category, created_at=at(index))
        for index, category in enumerate(Category)
    }

    assert listed(manager, q("category=repair")) == pks(tickets, Category.REPAIR)
    assert listed(manager, q("category=incident,request")) == pks(
        tickets, Category.REQUEST, Category.INCIDENT
    )
    error = filter_error(manager, q("category=hardware"))
    assert set(error.errors) == {"category"}


@pytest.fixture
def by_assignee(requester, technician, other_technician):
    return {
        "unassigned": make_ticket(requester, created_at=at(0)),
        "technician": make_ticket(
            requester, status=Status.ASSIGNED, assignee=technician, created_at=at(1)
        ),
        "other_technician": make_ticket(
            requester, status=Status.ASSIGNED, assignee=other_technician, created_at=at(2)
        ),
        "technician_own": make_ticket(technician, created_at=at(3)),
    }


@pytest.mark.django_db
def test_assignee_me_lists_tickets_assigned_to_the_current_user(by_assignee, technician):
    assert listed(technician, q("assignee=me")) == pks(by_assignee, "technician")
    assert listed(technician, q("assignee=ME")) == pks(by_assignee, "technician")


@pytest.mark.django_db
def test_assignee_none_lists_unassigned_tickets(by_assignee, manager):
    assert listed(manager, q("assignee=none")) == pks(by_assignee, "technician_own", "unassigned")


@pytest.mark.django_db
def test_assignee_id_lists_tickets_of_that_user(by_assignee, manager, other_technician):
    assert listed(manager, q(f"assignee={other_technician.pk}")) == pks(
        by_assignee, "other_technician"
    )
    assert listed(manager, q("assignee=999999999")) == []


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["nobody", "-1", "1.5", "1,2", "9" * 30, "мне"])
def test_malformed_assignee_is_a_validation_error_on_assignee(by_assignee, manager, value):
    error = filter_error(manager, {"assignee": value})

    assert error.field == "assignee"
    assert error.errors == {"assignee": [str(MSG_USER_REF)]}


@pytest.mark.django_db
def test_creator_me_and_creator_id(by_assignee, requester, technician, manager):
    assert listed(technician, q("creator=me")) == pks(by_assignee, "technician_own")
    assert listed(manager, q(f"creator={requester.pk}")) == pks(
        by_assignee, "other_technician", "technician", "unassigned"
    )
    # Combined with visibility: a technician filtering by another creator sees only what is
    # assigned to them.
    assert listed(technician, q(f"creator={requester.pk}")) == pks(by_assignee, "technician")


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["none", "nobody", "-3"])
def test_creator_none_or_garbage_is_a_validation_error_on_creator(by_assignee, manager, value):
    error = filter_error(manager, {"creator": value})

    assert error.field == "creator"
    assert error.errors == {"creator": [str(MSG_USER_REF_NO_NONE)]}


@pytest.mark.django_db
def test_several_filters_combine(by_status, manager, technician):
    ticket = make_ticket(
        manager,
        status=Status.ASSIGNED,
        assignee=technician,
        priority=Priority.CRITICAL,
        created_at=at(20),
    )

    assert listed(manager, q(f"status=assigned&priority=critical&assignee={technician.pk}")) == [
        ticket.pk
    ]
    assert listed(manager, q("status=assigned&creator=me")) == [ticket.pk]


# --- Date bounds -----------------------------------------------------------------------------


@pytest.fixture
def moscow(settings):
    settings.TIME_ZONE = "Europe/Moscow"


@pytest.fixture
def by_day(moscow, requester):
    """Tickets around 10 March 2026 in Moscow (UTC+3). `early_10th` is 01:00 on the 10th in
    Moscow but still 22:00 on the 9th in UTC; `late_10th` is 23:00 on the 10th in Moscow."""
    moments = {
        "noon_9th": dt.datetime(2026, 3, 9, 12, 0, tzinfo=MSK),
        "early_10th": dt.datetime(2026, 3, 10, 1, 0, tzinfo=MSK),
        "noon_10th": dt.datetime(2026, 3, 10, 12, 0, tzinfo=MSK),
        "late_10th": dt.datetime(2026, 3, 10, 23, 0, tzinfo=MSK),
        "noon_11th": dt.datetime(2026, 3, 11, 12, 0, tzinfo=MSK),
    }
    return {
        name: make_ticket(requester, created_at=moment, updated_at=moment + dt.timedelta(days=5))
        for name, moment in moments.items()
    }


@pytest.mark.django_db
def test_created_after_a_date_includes_that_whole_day(by_day, manager):
    assert listed(manager, {"created_after": "2026-03-10"}) == pks(
        by_day, "noon_11th", "late_10th", "noon_10th", "early_10th"
    )


@pytest.mark.django_db
def test_created_before_a_date_includes_that_whole_day(by_day, manager):
    assert listed(manager, {"created_before": "2026-03-10"}) == pks(
        by_day, "late_10th", "noon_10th", "early_10th", "noon_9th"
    )


@pytest.mark.django_db
def test_created_after_and_before_the_same_date_is_that_day_in_local_time(by_day, manager):
    assert listed(manager, q("created_after=2026-03-10&created_before=2026-03-10")) == pks(
        by_day, "late_10th", "noon_10th", "early_10th"
    )


@pytest.mark.django_db
def test_created_before_a_date_excludes_the_next_day(by_day, manager):
    # Holds with or without the whole-day bug: the 11th is outside either way.
    assert pks(by_day, "noon_11th")[0] not in listed(manager, {"created_before": "2026-03-10"})


@pytest.mark.django_db
def test_created_after_a_date_uses_the_local_day_not_the_utc_day(by_day, manager):
    # 01:00 Moscow on the 10th is 22:00 UTC on the 9th: it belongs to the 10th.
    assert pks(by_day, "early_10th")[0] in listed(manager, {"created_after": "2026-03-10"})
    assert pks(by_day, "noon_9th")[0] not in listed(manager, {"created_after": "2026-03-10"})


@pytest.mark.django_db
@pytest.mark.parametrize(
    "moment",
    [
        "2026-03-10T01:00:00+03:00",
        "2026-03-09T22:00:00Z",
        "2026-03-09T22:00:00+00:00",
        "2026-03-10T01:00:00",  # naive: the project's time zone (Moscow)
        "2026-03-10 01:00",
    ],
)
def test_created_bounds_with_a_datetime_are_inclusive_moments(by_day, manager, moment):
    assert listed(manager, {"created_after": moment}) == pks(
        by_day, "noon_11th", "late_10th", "noon_10th", "early_10th"
    )
    assert listed(manager, {"created_before": moment}) == pks(by_day, "early_10th", "noon_9th")


@pytest.mark.django_db
def test_created_bounds_with_datetimes_select_a_window(by_day, manager):
    filters = {"created_after": "2026-03-10T06:00:00+03:00", "created_before": "2026-03-10T20:00Z"}

    assert listed(manager, filters) == pks(by_day, "late_10th", "noon_10th")


@pytest.mark.django_db
def test_updated_bounds_filter_on_updated_at(by_day, manager):
    # updated_at is created_at + 5 days: 14th-16th March.
    assert listed(manager, {"updated_after": "2026-03-15"}) == pks(
        by_day, "noon_11th", "late_10th", "noon_10th", "early_10th"
    )
    assert listed(manager, {"updated_before": "2026-03-15T00:30:00+03:00"}) == pks(
        by_day, "noon_9th"
    )
    assert listed(
        manager,
        {"updated_after": "2026-03-15T06:00:00+03:00", "updated_before": "2026-03-15T22:00:00"},
    ) == pks(by_day, "noon_10th")
    # The created_* bounds do not look at updated_at.
    assert listed(manager, {"created_after": "2026-03-15"}) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field", ["created_after", "created_before", "updated_after", "updated_before"]
)
@pytest.mark.parametrize(
    "value", ["2026-13-45", "2026-02-30", "yesterday", "10.03.2026", "2026-03-10T25:00", "😀"]
)
def test_malformed_date_is_a_validation_error_naming_the_field(by_day, manager, field, value):
    error = filter_error(manager, {field: value})

    assert error.field == field
    assert error.errors == {field: [str(MSG_DATE)]}


@pytest.mark.django_db
def test_every_malformed_filter_is_reported_at_once(by_day, manager):
    error = filter_error(
        manager, q("status=bogus&priority=urgent&assignee=x&created_after=later&ordering=title")
    )

    assert set(error.errors) == {"status", "priority", "assignee", "created_after", "ordering"}


# --- Ordering ------------------------------------------------------------------------------


@pytest.fixture
def mixed(requester, technician):
    """Tickets whose creation, update, priority and status orders all differ."""
    rows = [
        # (priority, status, created hour, updated hour)
        (Priority.HIGH, Status.RESOLVED, 0, 30),
        (Priority.LOW, Status.NEW, 1, 10),
        (Priority.CRITICAL, Status.CANCELLED, 2, 20),
        (Priority.NORMAL, Status.IN_PROGRESS, 3, 50),
        (Priority.LOW, Status.CLOSED, 4, 40),
        (Priority.CRITICAL, Status.ASSIGNED, 5, 60),
        (Priority.NORMAL, Status.ON_HOLD, 6, 0),
    ]
    return [
        make_ticket(
            requester,
            priority=priority,
            status=status,
            assignee=None if status in (Status.NEW, Status.CANCELLED) else technician,
            created_at=at(created),
            updated_at=at(updated),
        )
        for priority, status, created, updated in rows
    ]


def positions(tickets, *indexes) -> list[int]:
    return [tickets[index].pk for index in indexes]


@pytest.mark.django_db
def test_default_ordering_is_newest_created_first(mixed, manager):
    assert listed(manager) == positions(mixed, 6, 5, 4, 3, 2, 1, 0)
    assert listed(manager, q("ordering=")) == positions(mixed, 6, 5, 4, 3, 2, 1, 0)


@pytest.mark.django_db
def test_ordering_by_created_at_ascending(mixed, manager):
    assert listed(manager, q("ordering=created_at")) == positions(mixed, 0, 1, 2, 3, 4, 5, 6)


@pytest.mark.django_db
def test_ordering_by_updated_at_both_ways(mixed, manager):
    assert listed(manager, q("ordering=updated_at")) == positions(mixed, 6, 1, 2, 0, 4, 3, 5)
    assert listed(manager, q("ordering=-updated_at")) == positions(mixed, 5, 3, 4, 0, 2, 1, 6)


@pytest.mark.django_db
def test_ordering_by_id_both_ways(mixed, manager):
    by_id = sorted(ticket.pk for ticket in mixed)

    assert listed(manager, q("ordering=id")) == by_id
    assert listed(manager, q("ordering=-id")) == by_id[::-1]


@pytest.mark.django_db
def test_ordering_by_priority_follows_severity_not_the_alphabet(mixed, manager):
    # low: 1, 4 · normal: 3, 6 · high: 0 · critical: 2, 5 — ties by id.
    assert listed(manager, q("ordering=priority")) == positions(mixed, 1, 4, 3, 6, 0, 2, 5)


@pytest.mark.django_db
def test_ordering_by_descending_priority_puts_critical_first(mixed, manager):
    assert listed(manager, q("ordering=-priority")) == positions(mixed, 5, 2, 0, 6, 3, 4, 1)


@pytest.mark.django_db
def test_ordering_by_status_follows_the_workflow(mixed, manager):
    # new, assigned, in_progress, on_hold, resolved, closed, cancelled
    assert listed(manager, q("ordering=status")) == positions(mixed, 1, 5, 3, 6, 0, 4, 2)
    assert listed(manager, q("ordering=-status")) == positions(mixed, 2, 4, 0, 6, 3, 5, 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value", ["title", "priority_rank_x", "-", "created", "id;DROP", "creator__password"]
)
def test_unknown_ordering_is_a_validation_error_on_ordering(mixed, manager, value):
    error = filter_error(manager, {"ordering": value})

    assert error.field == "ordering"
    assert set(error.errors) == {"ordering"}


@pytest.mark.django_db
def test_ordering_ties_are_broken_by_id_in_the_same_direction(requester, manager):
    same_moment = [make_ticket(requester, created_at=BASE, updated_at=BASE) for _ in range(4)]
    later = make_ticket(requester, created_at=BASE, updated_at=at(1))
    tied = ids(same_moment)

    assert listed(manager, q("ordering=updated_at")) == [*tied, later.pk]
    assert listed(manager, q("ordering=-updated_at")) == [later.pk, *tied[::-1]]
    assert listed(manager, q("ordering=created_at")) == [*tied, later.pk]
    # The default (newest first) breaks ties newest id first.
    assert listed(manager) == [later.pk, *tied[::-1]]


# --- Search through the filter ---------------------------------------------------------------


@pytest.fixture
def searchable(requester, other_requester):
    """Printer tickets and unrelated ones (so the searched word is rare, as in real data).
    The title match is older and has the lower id than the description-only match."""
    return {
        "in_title": make_ticket(
            requester,
            title="Сломался принтер",
            description="Не печатает отчёт в бухгалтерии.",
            created_at=at(0),
        ),
        "in_description": make_ticket(
            requester,
            title="Не печатает отчёт",
            description="Сломался принтер в бухгалтерии.",
            created_at=at(1),
        ),
        "others_printer": make_ticket(
            other_requester,
            title="Принтер зажевал бумагу",
            description="Принтер в приёмной.",
            created_at=at(2),
        ),
        "unrelated": [
            make_ticket(requester, title=title, description=description, created_at=at(3 + n))
            for n, (title, description) in enumerate(
                [
                    ("Не включается монитор", "Экран чёрный после обновления."),
                    ("Нужен доступ к папке", "Прошу выдать права на общую папку отдела."),
                    ("Медленный интернет", "Страницы открываются по минуте."),
                ]
            )
        ],
    }


@pytest.mark.django_db
def test_search_finds_word_forms_ranked_by_relevance(searchable, requester):
    assert listed(requester, {"search": "принтеров"}) == pks(
        searchable, "in_title", "in_description"
    )


@pytest.mark.django_db
def test_search_with_explicit_ordering_ignores_relevance(searchable, requester):
    assert listed(requester, q("search=принтеров&ordering=-id")) == pks(
        searchable, "in_description", "in_title"
    )
    assert listed(requester, q("search=принтеров&ordering=created_at")) == pks(
        searchable, "in_title", "in_description"
    )


@pytest.mark.django_db
def test_search_never_finds_another_users_ticket(searchable, requester, other_requester):
    assert listed(requester, {"search": "принтер зажевал бумагу"}) == []
    assert listed(other_requester, {"search": "принтер"}) == pks(searchable, "others_printer")


@pytest.mark.django_db
def test_manager_search_finds_everyones_matches(searchable, manager):
    found = listed(manager, {"search": "принтер"})

    assert found[0] == searchable["others_printer"].pk  # the word twice, once in the title
    assert sorted(found) == sorted(pks(searchable, "in_title", "in_description", "others_printer"))


@pytest.mark.django_db
def test_search_combines_with_other_filters(searchable, requester, manager, technician):
    assigned = make_ticket(
        requester,
        status=Status.ASSIGNED,
        assignee=technician,
        title="Принтер не видит сеть",
        description="Нет подключения.",
        created_at=at(10),
    )

    assert listed(manager, q("search=принтер&status=assigned")) == [assigned.pk]
    assert listed(technician, q("search=принтер")) == [assigned.pk]
    assert listed(requester, q("search=принтер&status=new&ordering=-created_at")) == pks(
        searchable, "in_description", "in_title"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["   ", ""])
def test_blank_search_is_no_filter(searchable, requester, query):
    assert listed(requester, {"search": query}) == listed(requester)


@pytest.mark.django_db
def test_search_of_punctuation_only_finds_nothing(searchable, manager):
    assert listed(manager, {"search": "!?&|"}) == []


# --- Query counts --------------------------------------------------------------------------


@pytest.fixture
def busy_tickets(requester, technician):
    """120 tickets of `requester` (half assigned), each with a public comment, an internal
    note, an attachment on the ticket and one on the note."""
    tickets = []
    for n in range(120):
        ticket = make_ticket(
            requester,
            status=Status.ASSIGNED if n % 2 else Status.NEW,
            assignee=technician if n % 2 else None,
            created_at=at(n),
        )
        CommentFactory(ticket=ticket, author=requester)
        note = CommentFactory(ticket=ticket, author=technician, internal=True)
        AttachmentFactory(ticket=ticket, uploaded_by=requester)
        AttachmentFactory(ticket=ticket, comment=note, uploaded_by=technician)
        tickets.append(ticket)
    return tickets


def touch_every_row(rows) -> list:
    return [
        (
            row.creator.username,
            row.assignee.username if row.assignee else None,
            row.comments_count,
            row.attachments_count,
        )
        for row in rows
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("persona", "counts"), [("requester", (1, 1)), ("manager", (2, 2))])
@pytest.mark.parametrize("page_size", [10, 100])
def test_a_page_of_the_list_is_two_queries_whatever_its_size(
    busy_tickets, request, django_assert_num_queries, persona, counts, page_size
):
    user = request.getfixturevalue(persona)
    queryset = ticket_list(user=user, filters=q("ordering=-updated_at"))

    # One query for the page's ids, one for their full rows.
    with django_assert_num_queries(2):
        touched = touch_every_row(ticket_rows(user=user, tickets=queryset[:page_size]))

    assert len(touched) == page_size
    assert {(comments, attachments) for _, _, comments, attachments in touched} == {counts}
    assert {creator for creator, _, _, _ in touched} == {"requester"}
    assert {assignee for _, assignee, _, _ in touched} == {None, "technician"}


@pytest.mark.django_db
def test_a_searched_and_filtered_page_is_two_queries(
    busy_tickets, manager, django_assert_num_queries
):
    queryset = ticket_list(user=manager, filters=q("search=принтер&status=new,assigned"))

    with django_assert_num_queries(2):
        touched = touch_every_row(ticket_rows(user=manager, tickets=queryset[:100]))

    assert len(touched) == 100


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["requester", "technician", "manager"])
def test_ticket_get_is_one_query(busy_tickets, request, django_assert_num_queries, persona):
    user = request.getfixturevalue(persona)
    ticket_id = busy_tickets[1].pk

    with django_assert_num_queries(1):
        ticket = ticket_get(user=user, ticket_id=ticket_id)
        touch_every_row([ticket])


@pytest.mark.django_db
@pytest.mark.parametrize("comment_count", [2, 12])
def test_ticket_comments_with_attachments_and_authors_is_two_queries(
    requester, technician, django_assert_num_queries, comment_count
):
    ticket = make_ticket(requester, status=Status.IN_PROGRESS, assignee=technician)
    for n in range(comment_count):
        author = UserFactory() if n % 3 == 0 else technician
        comment = CommentFactory(ticket=ticket, author=author, internal=n % 2 == 1)
        AttachmentFactory(ticket=ticket, comment=comment, uploaded_by=author)
        AttachmentFactory(ticket=ticket, comment=comment, uploaded_by=requester)

    with django_assert_num_queries(2):
        touched = [
            (
                comment.author.username,
                [(a.name, a.uploaded_by.username) for a in comment.attachments.all()],
            )
            for comment in ticket_comments(user=technician, ticket=ticket)
        ]

    assert len(touched) == comment_count
    assert all(len(attachments) == 2 for _, attachments in touched)


# --- Technicians ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_active_technicians_lists_only_active_technicians_by_name(requester, manager, admin_user):
    zhukov = TechnicianFactory(last_name="Жуков", first_name="Борис")
    antonov_boris = TechnicianFactory(last_name="Антонов", first_name="Борис")
    antonov_anna = TechnicianFactory(last_name="Антонова", first_name="Анна")
    antonov_alexey = TechnicianFactory(last_name="Антонов", first_name="Алексей")
    TechnicianFactory(last_name="Бывший", first_name="Уволен", is_active=False)

    assert ids(active_technicians()) == [
        antonov_alexey.pk,
        antonov_boris.pk,
        antonov_anna.pk,
        zhukov.pk,
    ]
