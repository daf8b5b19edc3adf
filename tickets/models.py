"""Tickets, comments and attachments (SPEC §4). Fields, choices, constraints and indexes only:
the rules live in workflow.py and policies.py, the writes in services.py."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator, MinLengthValidator
from django.db import models
from django.db.models import Case, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from tickets.search import known_count

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 20_000
COMMENT_MAX_LENGTH = 10_000
REASON_MAX_LENGTH = 2_000


class Category(models.TextChoices):
    INCIDENT = "incident", _("Incident")
    REPAIR = "repair", _("Repair")
    MAINTENANCE = "maintenance", _("Maintenance")
    REQUEST = "request", _("Request")


class Priority(models.TextChoices):
    # Declared in order of severity: the rank used for ordering follows this order.
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class Status(models.TextChoices):
    # Declared in workflow order: the rank used for ordering follows this order.
    NEW = "new", _("New")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    ON_HOLD = "on_hold", _("On hold")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


FINISHED_STATUSES = frozenset({Status.CLOSED, Status.CANCELLED})


def _rank_of(field: str, choices: type[models.TextChoices]) -> Case:
    return Case(
        *(When(**{field: value}, then=Value(rank)) for rank, value in enumerate(choices.values)),
        default=Value(0),
        output_field=models.SmallIntegerField(),
    )


class TicketQuerySet(models.QuerySet):
    def count(self) -> int:
        # A search counts its results as it is built (tickets/search.py); counting them again
        # would repeat the most expensive part of a search for a common word.
        known = known_count(self) if self._result_cache is None else None
        return super().count() if known is None else known


class Ticket(models.Model):
    title = models.CharField(
        _("title"),
        max_length=TITLE_MAX_LENGTH,
        validators=[MinLengthValidator(1)],
    )
    description = models.TextField(
        _("description"), validators=[MaxLengthValidator(DESCRIPTION_MAX_LENGTH)]
    )
    category = models.CharField(
        _("category"), max_length=16, choices=Category.choices, default=Category.INCIDENT
    )
    priority = models.CharField(
        _("priority"), max_length=16, choices=Priority.choices, default=Priority.NORMAL
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.NEW, editable=False
    )
    # Ranks are computed by the database, so ordering by severity or workflow order uses an
    # index instead of a CASE expression evaluated for every row.
    priority_rank = models.GeneratedField(
        expression=_rank_of("priority", Priority),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )
    status_rank = models.GeneratedField(
        expression=_rank_of("status", Status),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("creator"),
        on_delete=models.PROTECT,
        related_name="created_tickets",
        editable=False,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.PROTECT,
        related_name="assigned_tickets",
        null=True,
        blank=True,
        editable=False,
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)
    assigned_at = models.DateTimeField(_("assigned"), null=True, blank=True, editable=False)
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True, editable=False)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True, editable=False)
    resolution = models.TextField(
        _("resolution"),
        blank=True,
        validators=[MaxLengthValidator(DESCRIPTION_MAX_LENGTH)],
        editable=False,
    )
    # The reason given with the last workflow action that takes one (decline, hold, reopen,
    # cancel); empty after actions without a reason. History keeps every earlier one.
    status_reason = models.TextField(
        _("reason"),
        blank=True,
        validators=[MaxLengthValidator(REASON_MAX_LENGTH)],
        editable=False,
    )
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    objects = TicketQuerySet.as_manager()

    history = HistoricalRecords(
        excluded_fields=["priority_rank", "status_rank"],
        cascade_delete_history=False,
    )

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="tickets_ticket_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(priority__in=Priority.values), name="tickets_ticket_priority_valid"
            ),
            models.CheckConstraint(
                condition=Q(category__in=Category.values), name="tickets_ticket_category_valid"
            ),
            models.CheckConstraint(
                condition=Q(assignee__isnull=False) | Q(status__in=[Status.NEW, Status.CANCELLED]),
                name="tickets_ticket_assignee_when_in_work",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="tickets_ticket_version"),
        ]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="ticket_created"),
            models.Index(fields=["status", "-created_at"], name="ticket_status_created"),
            models.Index(
                fields=["assignee", "status", "-created_at"], name="ticket_assignee_status"
            ),
            models.Index(fields=["creator", "-created_at"], name="ticket_creator_created"),
            models.Index(fields=["-updated_at"], name="ticket_updated"),
            models.Index(fields=["priority_rank", "-created_at"], name="ticket_priority_rank"),
            models.Index(fields=["status_rank", "-created_at"], name="ticket_status_rank"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class Comment(models.Model):
    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="comments",
    )
    text = models.TextField(
        _("text"), validators=[MinLengthValidator(1), MaxLengthValidator(COMMENT_MAX_LENGTH)]
    )
    internal = models.BooleanField(
        _("internal note"),
        default=False,
        help_text=_("Seen only by technicians, managers and administrators."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    history = HistoricalRecords(cascade_delete_history=False)

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "created_at", "id"], name="comment_ticket_created"),
        ]

    def __str__(self) -> str:
        return f"#{self.ticket_id}: {self.text[:50]}"


class Attachment(models.Model):
    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="attachments"
    )
    comment = models.ForeignKey(
        Comment,
        verbose_name=_("comment"),
        on_delete=models.CASCADE,
        related_name="attachments",
        null=True,
        blank=True,
    )
    # Relative to MEDIA_ROOT: attachments/YYYY/MM/<uuid>.<ext>. Never served directly.
    path = models.CharField(_("stored path"), max_length=255, unique=True, editable=False)
    name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size"))
    content_type = models.CharField(_("content type"), max_length=100)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.PROTECT,
        related_name="attachments",
    )
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now, editable=False)

    history = HistoricalRecords(cascade_delete_history=False)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "created_at", "id"], name="attachment_ticket"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
