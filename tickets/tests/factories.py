"""Factories for ticket-domain rows. They write rows directly (fast set-up for tests of reads);
tests of behaviour create their data through the services instead."""

import factory
from django.utils import timezone

from accounts.tests.factories import TechnicianFactory, UserFactory
from tickets.models import Attachment, Comment, Status, Ticket


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    title = factory.Sequence(lambda n: f"Не работает принтер в кабинете {n}")
    description = "Принтер HP LaserJet не печатает, на экране ошибка замятия бумаги."
    creator = factory.SubFactory(UserFactory)
    status = Status.NEW

    class Params:
        in_work = factory.Trait(
            assignee=factory.SubFactory(TechnicianFactory),
            assigned_at=factory.LazyFunction(timezone.now),
        )


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    ticket = factory.SubFactory(TicketFactory)
    author = factory.SelfAttribute("ticket.creator")
    text = factory.Sequence(lambda n: f"Комментарий {n}")
    internal = False


class AttachmentFactory(factory.django.DjangoModelFactory):
    """A row only; tests that need the file on disk go through the attachment service."""

    class Meta:
        model = Attachment

    ticket = factory.SubFactory(TicketFactory)
    uploaded_by = factory.SelfAttribute("ticket.creator")
    path = factory.Sequence(lambda n: f"attachments/2026/01/{n:032x}.txt")
    name = factory.Sequence(lambda n: f"file{n}.txt")
    size = 5
    content_type = "text/plain"
    sha256 = "0" * 64
