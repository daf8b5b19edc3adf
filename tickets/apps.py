from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        from tickets.search import register_sqlite_functions

        connection_created.connect(register_sqlite_functions, dispatch_uid="tickets_search_fns")
