"""Create one demo account per role on an empty database (SPEC §8).

Passwords are strong and random, printed once and written to a git-ignored file. On a database
that already has users the command changes nothing, so `make run` can call it every time.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Role, User
from accounts.services import user_create

DEMO_ACCOUNTS = (
    ("admin", Role.ADMIN, "Анна", "Администраторова", "ИТ"),
    ("manager", Role.MANAGER, "Михаил", "Диспетчеров", "Служба эксплуатации"),
    ("technician", Role.TECHNICIAN, "Пётр", "Мастеров", "Служба эксплуатации"),
    ("requester", Role.USER, "Ирина", "Заявкина", "Бухгалтерия"),
)
CREDENTIALS_FILE = ".demo-credentials"


class Command(BaseCommand):
    help = "Create one demo account per role if the database has no users yet."

    def add_arguments(self, parser):
        parser.add_argument(
            "--credentials-file",
            default=str(Path(settings.BASE_DIR) / CREDENTIALS_FILE),
            help="Where to write the generated credentials (default: %(default)s).",
        )

    def handle(self, *args, credentials_file: str, **options):
        with transaction.atomic():
            if User.objects.exists():
                self.stdout.write("Users already exist; demo accounts were not created.")
                return
            created = []
            admin = None
            for username, role, first_name, last_name, department in DEMO_ACCOUNTS:
                password = secrets.token_urlsafe(12)
                profile = {
                    "first_name": first_name,
                    "last_name": last_name,
                    "department": department,
                }
                email = f"{username}@example.com"
                if admin is None:
                    # The first administrator bootstraps the rest, as createsuperuser would.
                    admin = User.objects.create_superuser(username, email, password, **profile)
                else:
                    user_create(
                        actor=admin,
                        username=username,
                        email=email,
                        password=password,
                        role=role,
                        **profile,
                    )
                created.append((username, role, password))

        lines = [f"{username:<12} {role:<11} {password}" for username, role, password in created]
        path = Path(credentials_file)
        path.write_text(
            "# Tech_ticket demo accounts (username, role, password). Keep this file private.\n"
            + "\n".join(lines)
            + "\n",
            encoding="utf-8",
        )
        path.chmod(0o600)
        self.stdout.write(self.style.SUCCESS("Demo accounts created (shown once):"))
        for line in lines:
            self.stdout.write(f"  {line}")
        self.stdout.write(f"Also written to {path}.")
