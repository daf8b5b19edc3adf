"""Account pages: log in and out, register, profile, password change (SPEC §6)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from accounts import services
from accounts.forms import LoginForm, PasswordChangeForm, ProfileForm, RegisterForm
from accounts.models import Role, User
from techticket.errors import ValidationError
from techticket.pages import add_form_errors

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def landing_url(user: User) -> str:
    """Each role's most useful list: a technician's own work, a manager's queue."""
    view = {
        Role.TECHNICIAN: "assigned",
        Role.MANAGER: "unassigned",
        Role.ADMIN: "unassigned",
    }.get(user.role, "mine")
    return f"{reverse('tickets:list')}?view={view}"


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return landing_url(self.request.user)


class LogoutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]


class RegisterView(View):
    template_name = "accounts/register.html"

    def get(self, request):
        if request.user.is_authenticated:
            return redirect(landing_url(request.user))
        return render(request, self.template_name, {"form": RegisterForm()})

    def post(self, request):
        form = RegisterForm(request.POST)
        if form.is_valid():
            try:
                user = services.user_register(**form.service_arguments())
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                login(request, user, backend=MODEL_BACKEND)
                messages.success(request, _("Welcome! Your account is ready."))
                return redirect(landing_url(user))
        return render(request, self.template_name, {"form": form}, status=400)


class ProfileView(LoginRequiredMixin, View):
    template_name = "accounts/profile.html"

    def get(self, request):
        user = request.user
        initial = {f: getattr(user, f) for f in ("email", "first_name", "last_name", "department")}
        return render(request, self.template_name, {"form": ProfileForm(initial=initial)})

    def post(self, request):
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                services.user_update(actor=request.user, user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("Your profile is saved."))
                return redirect("accounts:profile")
        return render(request, self.template_name, {"form": form}, status=400)


class PasswordChangeView(LoginRequiredMixin, View):
    template_name = "accounts/password_change.html"

    def get(self, request):
        return render(request, self.template_name, {"form": PasswordChangeForm(request.user)})

    def post(self, request):
        form = PasswordChangeForm(request.user, request.POST)
        if form.is_valid():
            try:
                user = services.user_set_password(
                    actor=request.user, user=request.user, password=form.cleaned_data["password"]
                )
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                # Keeps this session; every other session of the user ends (the hash changed).
                update_session_auth_hash(request, user)
                messages.success(request, _("Your password is changed."))
                return redirect("accounts:profile")
        return render(request, self.template_name, {"form": form}, status=400)
