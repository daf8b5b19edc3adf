"""Users and roles (SPEC §3)."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    USER = "user", _("Requester")
    TECHNICIAN = "technician", _("Technician")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Administrator")


MSG_EMAIL_TAKEN = _("A user with this email address already exists.")
EMAIL_TAKEN_CODE = "email_taken"
STAFF_ROLES = frozenset({Role.TECHNICIAN, Role.MANAGER, Role.ADMIN})
DISPATCH_ROLES = frozenset({Role.MANAGER, Role.ADMIN})


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, username, email, password, **extra_fields):
        if not username:
            raise ValueError("The username must be set.")
        # Admin rights follow the role alone; Django's flags are not fields of this model.
        extra_fields.pop("is_staff", None)
        extra_fields.pop("is_superuser", None)
        user = self.model(
            username=self.model.normalize_username(username),
            email=self.normalize_email(email or ""),
            **extra_fields,
        )
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.USER)
        return self._create_user(username, email, password, **extra_fields)

    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields["role"] = Role.ADMIN
        return self._create_user(username, email, password, **extra_fields)

    def get_by_natural_key(self, username):
        return self.get(username=username)


class User(AbstractBaseUser):
    """A member of staff. The role alone decides what they may see and do, including access
    to the Django admin; it is read from the database on every request, never from a token."""

    username_validator = UnicodeUsernameValidator()

    username = models.CharField(
        _("username"),
        max_length=150,
        unique=True,
        help_text=_("150 characters or fewer. Letters, digits and @/./+/-/_ only."),
        validators=[username_validator],
        error_messages={"unique": _("A user with that username already exists.")},
    )
    email = models.EmailField(_("email address"))
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.USER)
    department = models.CharField(_("department"), max_length=150, blank=True)
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Inactive users cannot log in. Deactivate instead of deleting."),
    )
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_ci_unique",
                violation_error_code=EMAIL_TAKEN_CODE,
                violation_error_message=MSG_EMAIL_TAKEN,
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=[choice.value for choice in Role]),
                name="accounts_user_role_valid",
            ),
        ]
        indexes = [models.Index(fields=["role", "is_active"], name="accounts_user_role_active")]

    def __str__(self) -> str:
        return self.full_name

    def clean(self) -> None:
        super().clean()
        self.email = type(self).objects.normalize_email(self.email)

    def validate_constraints(self, exclude=None) -> None:
        # The case-insensitive email constraint is on an expression, so Django reports it for
        # the whole form; report it on the email field, where the user can fix it.
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict({})
            general = errors.pop(NON_FIELD_ERRORS, [])
            for error in general:
                key = "email" if error.code == EMAIL_TAKEN_CODE else NON_FIELD_ERRORS
                errors.setdefault(key, []).append(error)
            raise ValidationError(errors) from None

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name

    @property
    def full_name(self) -> str:
        return self.get_full_name() or self.username

    # --- Role-derived rights. Django's admin and DRF read these; nothing stores them. ---
    @property
    def is_staff(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_superuser(self) -> bool:
        return self.role == Role.ADMIN

    def has_perm(self, perm: str, obj=None) -> bool:
        return self.is_active and self.role == Role.ADMIN

    def has_perms(self, perm_list, obj=None) -> bool:
        return all(self.has_perm(perm, obj) for perm in perm_list)

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_active and self.role == Role.ADMIN

    @property
    def is_requester(self) -> bool:
        return self.role == Role.USER

    @property
    def is_technician(self) -> bool:
        return self.role == Role.TECHNICIAN

    @property
    def is_dispatcher(self) -> bool:
        """Managers and admins: see every ticket, assign, close, reopen."""
        return self.role in DISPATCH_ROLES

    @property
    def is_staff_member(self) -> bool:
        """Technicians, managers and admins: may read and write internal notes."""
        return self.role in STAFF_ROLES
