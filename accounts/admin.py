"""The administrator's panel for users (SPEC §6). Writes go through accounts.services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User
from accounts.services import user_create, user_set_active, user_update

admin.site.site_header = "Tech_ticket"
admin.site.site_title = "Tech_ticket"
admin.site.index_title = _("Administration")

EDITABLE_FIELDS = ("email", "first_name", "last_name", "department", "role", "is_active")


class UserCreationAdminForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "email", "role", "department")


class UserChangeAdminForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    list_display = (
        "username",
        "full_name",
        "email",
        "role",
        "department",
        "is_active",
        "last_login",
    )
    list_filter = ("role", "is_active", "department")
    search_fields = ("username", "first_name", "last_name", "email", "department")
    ordering = ("username",)
    filter_horizontal = ()
    actions = ("activate_users", "deactivate_users")
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email", "department")}),
        (_("Role and access"), {"fields": ("role", "is_active")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "email",
                    "role",
                    "department",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )

    @admin.display(description=_("full name"))
    def full_name(self, obj: User) -> str:
        return obj.get_full_name()

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("username")
            if obj.pk == request.user.pk:
                # An admin cannot lock themselves out or drop their own admin role.
                fields += ["role", "is_active"]
        return fields

    def has_delete_permission(self, request, obj=None):
        # Users are deactivated, never deleted, so that history keeps its actors (SPEC §3).
        return False

    def save_model(self, request, obj, form, change):
        if change:
            changes = {f: form.cleaned_data[f] for f in form.changed_data if f in EDITABLE_FIELDS}
            if changes:
                user_update(actor=request.user, user=obj, **changes)
            return
        password = (
            form.cleaned_data.get("password1")
            if form.cleaned_data.get("usable_password", "true") != "false"
            else None
        )
        created = user_create(
            actor=request.user,
            username=obj.username,
            email=obj.email,
            password=password,
            role=obj.role,
            department=obj.department,
        )
        obj.pk = created.pk
        obj.password = created.password
        obj._state.adding = False
        obj._state.db = created._state.db

    @admin.action(description=_("Activate selected users"))
    def activate_users(self, request, queryset):
        self._set_active(request, queryset, active=True)

    @admin.action(description=_("Deactivate selected users"))
    def deactivate_users(self, request, queryset):
        self._set_active(request, queryset, active=False)

    def _set_active(self, request, queryset, *, active: bool) -> None:
        own = queryset.filter(pk=request.user.pk).exists()
        users = list(queryset.exclude(pk=request.user.pk))
        changed = user_set_active(actor=request.user, users=users, active=active)
        message = (
            ngettext("%(count)d user activated.", "%(count)d users activated.", changed)
            if active
            else ngettext("%(count)d user deactivated.", "%(count)d users deactivated.", changed)
        )
        self.message_user(request, message % {"count": changed}, messages.SUCCESS)
        if own:
            self.message_user(request, _("Your own account was left unchanged."), messages.WARNING)
