"""Account operations (SPEC §3). Every write to a user goes through here: the API, the pages,
the Django admin and the management commands call these functions."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from techticket.errors import PermissionDenied, ValidationError
from techticket.events import publish

MSG_ADMIN_ONLY = _("Only administrators can manage users.")
MSG_OWN_ROLE = _("You cannot change your own role or deactivate yourself.")


def _validate_password(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationError(exc.messages[0], errors={"password": exc.messages}) from None


def _full_clean(user: User, exclude: Iterable[str] = ("password",)) -> None:
    try:
        user.full_clean(exclude=list(exclude))
    except DjangoValidationError as exc:
        raise ValidationError.from_django(exc) from None


def _require_admin(actor: User) -> None:
    if not (actor.is_active and actor.role == Role.ADMIN):
        raise PermissionDenied(MSG_ADMIN_ONLY)


@transaction.atomic
def _create(*, username, email, password, role, actor_id, **profile) -> User:
    user = User(username=username, email=email, role=role, **profile)
    _full_clean(user)
    if password is None:
        user.set_unusable_password()
    else:
        _validate_password(password, user)
        user.set_password(password)
    user.save()
    publish("user.created", actor_id=actor_id or user.pk, user_id=user.pk, role=role)
    return user


def user_register(
    *,
    username: str,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    department: str = "",
) -> User:
    """Self-registration: always role `user`, whatever the client asked for."""
    return _create(
        username=username,
        email=email,
        password=password,
        role=Role.USER,
        actor_id=None,
        first_name=first_name,
        last_name=last_name,
        department=department,
    )


def user_create(
    *,
    actor: User,
    username: str,
    email: str,
    password: str | None,
    role: str = Role.USER,
    first_name: str = "",
    last_name: str = "",
    department: str = "",
    is_active: bool = True,
) -> User:
    """An admin creates a user with any role."""
    _require_admin(actor)
    return _create(
        username=username,
        email=email,
        password=password,
        role=role,
        actor_id=actor.pk,
        first_name=first_name,
        last_name=last_name,
        department=department,
        is_active=is_active,
    )


PROFILE_FIELDS = ("email", "first_name", "last_name", "department")


@transaction.atomic
def user_update(*, actor: User, user: User, **changes) -> User:
    """An admin changes a user's role, activity or profile; a user may change their own profile
    fields but never their own role or activity."""
    allowed = {*PROFILE_FIELDS, "role", "is_active"}
    unknown = set(changes) - allowed
    if unknown:
        field = sorted(unknown)[0]
        raise ValidationError(_("This field cannot be changed."), field=field)
    is_self = actor.pk == user.pk
    if {"role", "is_active"} & set(changes):
        _require_admin(actor)
        if is_self and (
            changes.get("role", user.role) != user.role
            or changes.get("is_active", user.is_active) != user.is_active
        ):
            raise PermissionDenied(MSG_OWN_ROLE)
    elif not is_self:
        _require_admin(actor)

    user = User.objects.select_for_update().get(pk=user.pk)
    before = {field: getattr(user, field) for field in changes}
    for field, value in changes.items():
        setattr(user, field, value)
    changed = [field for field in changes if before[field] != getattr(user, field)]
    if not changed:
        return user
    _full_clean(user)
    user.save(update_fields=changed)
    for field in changed:
        if field == "role":
            publish(
                "user.role_changed",
                actor_id=actor.pk,
                user_id=user.pk,
                old=before["role"],
                new=user.role,
            )
        elif field == "is_active":
            publish(
                "user.activated" if user.is_active else "user.deactivated",
                actor_id=actor.pk,
                user_id=user.pk,
            )
    if set(changed) & set(PROFILE_FIELDS):
        publish(
            "user.updated",
            actor_id=actor.pk,
            user_id=user.pk,
            fields=sorted(set(changed) & set(PROFILE_FIELDS)),
        )
    return user


def user_change_role(*, actor: User, user: User, role: str) -> User:
    """An admin gives a user another role."""
    return user_update(actor=actor, user=user, role=role)


def user_set_active(*, actor: User, users: Iterable[User], active: bool) -> int:
    """An admin activates or deactivates users (never deletes: history keeps its actors).
    Returns how many users changed; the actor's own account is refused."""
    changed = 0
    with transaction.atomic():
        for user in users:
            if user.is_active != active:
                user_update(actor=actor, user=user, is_active=active)
                changed += 1
    return changed


@transaction.atomic
def user_set_password(*, actor: User, user: User, password: str) -> User:
    """A user changes their own password, or an admin resets anybody's."""
    if actor.pk != user.pk:
        _require_admin(actor)
    _validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    publish("user.password_changed", actor_id=actor.pk, user_id=user.pk)
    return user
