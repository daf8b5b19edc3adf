"""Seed a throwaway database for the API schema fuzz run (`make fuzz`, scripts/schema_fuzz.sh).

One user per role and a few tickets in every status, with comments, an internal note and
attachments, all made through the services, so the fuzzer meets real objects and not only
404s. Refuses a database that already has users: it is meant for an empty, disposable one.
"""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Role, User
from accounts.services import user_create
from tickets import services
from tickets.models import Category, Priority, Status

TECHNICIANS = ("tech1", "tech2")
SETS = 6


class Command(BaseCommand):
    help = "Fill an empty, throwaway database with users and tickets for the schema fuzz run."

    def add_arguments(self, parser):
        parser.add_argument("--admin-password", required=True)

    def handle(self, *args, admin_password: str, **options):
        if User.objects.exists():
            raise CommandError("The database already has users; seed_fuzz needs an empty one.")
        with transaction.atomic():
            admin = User.objects.create_superuser("fuzz-admin", "admin@example.com", admin_password)
            manager = user_create(
                actor=admin,
                username="manager",
                email="manager@example.com",
                password=None,
                role=Role.MANAGER,
            )
            technicians = [
                user_create(
                    actor=admin,
                    username=name,
                    email=f"{name}@example.com",
                    password=None,
                    role=Role.TECHNICIAN,
                )
                for name in TECHNICIANS
            ]
            requester = user_create(
                actor=admin, username="requester", email="requester@example.com", password=None
            )
            self._tickets(admin, manager, technicians, requester)
        self.stdout.write(self.style.SUCCESS("Seeded the fuzz database."))

    def _tickets(self, admin, manager, technicians, requester) -> None:
        tech = technicians[0]

        def ticket(title: str, *steps: tuple[User, str, dict]):
            created = services.ticket_create(
                actor=requester,
                title=title,
                description=f"{title}: описание для проверки API.",
                category=Category.REPAIR,
                priority=Priority.HIGH,
            )
            for actor, action, extra in steps:
                created = services.ticket_apply_action(
                    actor=actor, ticket=created, action=action, **extra
                )
            return created

        assign = (manager, "assign", {"assignee": tech.pk})
        accept = (tech, "accept", {})
        complete = (tech, "complete", {"resolution": "Заменён картридж."})
        tickets = []
        # Several of each, so that generated ids often name a ticket in each status.
        for _round in range(SETS):
            tickets += [
                ticket("Новая заявка"),
                ticket("Назначена", assign),
                ticket("В работе", assign, accept),
                ticket("Отложена", assign, accept, (tech, "hold", {"reason": "Ждём деталь"})),
                ticket("Выполнена", assign, accept, complete),
                ticket("Закрыта", assign, accept, complete, (manager, "close", {})),
                ticket("Отменена", (manager, "cancel", {"reason": "Дубликат"})),
            ]
        for current in tickets[::2]:
            if current.status in (Status.CLOSED, Status.CANCELLED):
                continue
            comment = services.comment_add(actor=requester, ticket=current, text="Когда будет?")
            services.comment_add(actor=admin, ticket=current, text="Служебная", internal=True)
            services.attachment_add(
                actor=requester,
                ticket=current,
                comment=comment,
                files=[SimpleUploadedFile("error.log", b"paper jam\n", "text/plain")],
            )
            services.attachment_add(
                actor=admin,
                ticket=current,
                files=[SimpleUploadedFile("report.csv", b"a,b\n1,2\n", "text/csv")],
            )
