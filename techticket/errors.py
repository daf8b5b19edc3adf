"""The one hierarchy of domain errors. Services raise these; the API's exception handler and
the pages' mixin each map them to HTTP in one place."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    """Base of every error the service layer raises on purpose."""

    code = "error"
    default_message = _("The request could not be completed.")
    status_code = 400

    def __init__(self, message=None, *, field: str | None = None):
        self.message = message if message is not None else self.default_message
        self.field = field
        super().__init__(str(self.message))


class NotFound(ApplicationError):
    """The object does not exist for this user (including: exists but is not visible)."""

    code = "not_found"
    default_message = _("Not found.")
    status_code = 404


class PermissionDenied(ApplicationError):
    """The object is visible, but this user may not do this to it."""

    code = "permission_denied"
    default_message = _("You do not have permission to perform this action.")
    status_code = 403


class InvalidTransition(ApplicationError):
    """The workflow does not allow this action from the ticket's current status."""

    code = "invalid_transition"
    default_message = _("This action is not possible in the ticket's current status.")
    status_code = 409


class StaleVersion(ApplicationError):
    """The change was based on an old version of the object; somebody changed it since."""

    code = "stale_version"
    default_message = _("The ticket was changed by someone else. Reload it and try again.")
    status_code = 412

    def __init__(self, message=None, *, current_version: int | None = None, changed_by=None):
        super().__init__(message)
        self.current_version = current_version
        self.changed_by = changed_by


class ValidationError(ApplicationError):
    """Bad input. `errors` maps field names (or None for the whole input) to messages."""

    code = "invalid"
    default_message = _("Invalid input.")
    status_code = 400

    def __init__(self, message=None, *, field: str | None = None, errors=None):
        if field is None and errors:
            field = next(iter(errors))
        super().__init__(message, field=field)
        if errors is None:
            errors = {field: [self.message]}
        self.errors: dict[str | None, list] = {key: list(value) for key, value in errors.items()}

    @classmethod
    def from_django(cls, exc) -> ValidationError:
        """Wrap a django.core.exceptions.ValidationError, keeping its per-field messages."""
        if hasattr(exc, "error_dict"):
            errors = {
                (None if field == "__all__" else field): [m for e in errs for m in e.messages]
                for field, errs in exc.error_dict.items()
            }
        else:
            errors = {None: list(exc.messages)}
        first_field, first_messages = next(iter(errors.items()))
        return cls(first_messages[0], field=first_field, errors=errors)


class AttachmentTooLarge(ValidationError):
    code = "file_too_large"
    default_message = _("The file is too large.")
    status_code = 413


class UnsupportedFileType(ValidationError):
    code = "unsupported_file_type"
    default_message = _("This type of file is not allowed.")
