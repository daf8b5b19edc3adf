"""Ticket pages (SPEC §6): thin adapters over the selectors, services and policy that the API
uses too. Parse a form → call one service → redirect with a message, or show the form again."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from accounts.models import Role
from techticket.errors import InvalidTransition, PermissionDenied, StaleVersion, ValidationError
from techticket.pages import DomainErrorsMixin, add_form_errors, flash_error
from tickets import history, policies, selectors, services
from tickets.attachments import too_large
from tickets.downloads import attachment_response
from tickets.filters import TicketFilter
from tickets.forms import ActionForm, CommentForm, TicketCreateForm, TicketEditForm, UploadForm
from tickets.models import Ticket
from tickets.workflow import ACTIONS

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
WORKING = "new,assigned,in_progress,on_hold"

# Quick views: named presets of the list's filters, offered per role. Explicit parameters in
# the URL win over a preset's.
QUICK_VIEWS = {
    "mine": {"creator": "me"},
    "assigned": {"assignee": "me", "status": "assigned,in_progress,on_hold"},
    "unassigned": {"assignee": "none", "status": "new"},
    "open": {"status": f"{WORKING},resolved"},
    "all": {},
}
VIEWS_BY_ROLE = {
    Role.USER: ("mine", "open", "all"),
    Role.TECHNICIAN: ("assigned", "mine", "open", "all"),
    Role.MANAGER: ("unassigned", "open", "all", "mine"),
    Role.ADMIN: ("unassigned", "open", "all", "mine"),
}


def _filter_labels() -> dict[str, str]:
    """The list's filter parameters as the page names them, for error messages."""
    return {
        "search": _("Search"),
        "status": _("Status"),
        "priority": _("Priority"),
        "category": _("Category"),
        "assignee": _("Assignee"),
        "creator": _("Creator"),
        "created_after": _("Created from"),
        "created_before": _("Created until"),
        "updated_after": _("Updated from"),
        "updated_before": _("Updated until"),
        "ordering": _("Sorting"),
    }


def _page_size(value: str | None) -> int:
    try:
        return max(1, min(MAX_PAGE_SIZE, int(value or PAGE_SIZE)))
    except ValueError:
        return PAGE_SIZE


class TicketListView(LoginRequiredMixin, View):
    template_name = "tickets/list.html"

    def get(self, request):
        views = VIEWS_BY_ROLE[request.user.role]
        current = request.GET.get("view")
        if current not in views:
            current = views[0]
        params = request.GET.copy()
        for key, value in QUICK_VIEWS[current].items():
            params.setdefault(key, value)
        filterset = TicketFilter(params, queryset=Ticket.objects.none(), user=request.user)
        errors = None
        try:
            tickets = selectors.ticket_list(user=request.user, filters=params)
        except ValidationError as exc:
            labels = _filter_labels()
            errors = [
                (labels.get(field, field), messages_) for field, messages_ in exc.errors.items()
            ]
            tickets = selectors.ticket_list(user=request.user, filters={}).none()
        paginator = Paginator(tickets, _page_size(request.GET.get("page_size")))
        page = paginator.get_page(request.GET.get("page"))
        page.object_list = selectors.ticket_rows(user=request.user, tickets=page.object_list)
        return render(
            request,
            self.template_name,
            {
                "page": page,
                "filter_form": filterset.form,
                "filter_errors": errors,
                "views": views,
                "current_view": current,
                "query": request.GET.get("search", ""),
                "technicians": selectors.active_technicians() if request.user.is_dispatcher else (),
                "params": params,
            },
            status=400 if errors else 200,
        )


class TicketCreateView(LoginRequiredMixin, DomainErrorsMixin, View):
    template_name = "tickets/form.html"

    def get(self, request):
        return render(request, self.template_name, {"form": TicketCreateForm(), "creating": True})

    def post(self, request):
        form = TicketCreateForm(request.POST, request.FILES)
        if request.oversized_uploads:
            form.add_error(None, str(too_large().message))
        elif form.is_valid():
            data = dict(form.cleaned_data)
            files = data.pop("file")
            try:
                ticket = services.ticket_create(actor=request.user, files=files, **data)
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("Ticket #%(id)d is created.") % {"id": ticket.pk})
                return redirect("tickets:detail", pk=ticket.pk)
        return render(request, self.template_name, {"form": form, "creating": True}, status=400)


def _detail_context(request, ticket, **forms) -> dict:
    user = request.user
    actions = [ACTIONS[name] for name in policies.allowed_actions(user, ticket)]
    action_forms = forms.pop("action_forms", {})
    comments, attachments = selectors.ticket_discussion(user=user, ticket=ticket)
    return {
        "ticket": ticket,
        "actions": [
            (
                action,
                action_forms.get(action.name)
                or ActionForm(action=action, initial={"version": ticket.version}),
            )
            for action in actions
        ],
        "comments": comments,
        "attachments": attachments,
        "deletable_attachments": {
            a.pk for a in attachments if policies.can_delete_attachment(user, a)
        },
        "timeline": history.ticket_timeline(user=user, ticket=ticket),
        "can_edit": policies.can_edit_ticket(user, ticket),
        "can_comment": policies.can_comment(user, ticket),
        "can_upload": policies.can_upload(user, ticket),
        "can_see_internal": policies.can_see_internal(user),
        "comment_form": forms.get("comment_form")
        or CommentForm(can_write_internal=policies.can_write_internal(user, ticket)),
        "upload_form": forms.get("upload_form") or UploadForm(),
    }


class TicketDetailView(LoginRequiredMixin, DomainErrorsMixin, View):
    template_name = "tickets/detail.html"

    def get(self, request, pk):
        ticket = selectors.ticket_get(user=request.user, ticket_id=pk)
        return render(request, self.template_name, _detail_context(request, ticket))


class TicketEditView(LoginRequiredMixin, DomainErrorsMixin, View):
    template_name = "tickets/form.html"

    def _ticket(self, request, pk):
        ticket = selectors.ticket_get(user=request.user, ticket_id=pk)
        if not policies.can_edit_ticket(request.user, ticket):
            raise PermissionDenied()
        return ticket

    def get(self, request, pk):
        ticket = self._ticket(request, pk)
        initial = {f: getattr(ticket, f) for f in ("title", "description", "category", "priority")}
        form = TicketEditForm(initial={**initial, "version": ticket.version})
        return render(request, self.template_name, {"form": form, "ticket": ticket})

    def post(self, request, pk):
        ticket = self._ticket(request, pk)
        form = TicketEditForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            version = data.pop("version")
            try:
                services.ticket_update(
                    actor=request.user, ticket=ticket.pk, expected_version=version, **data
                )
            except StaleVersion as exc:
                who = exc.changed_by.full_name if exc.changed_by else _("someone")
                form.add_error(
                    None,
                    _(
                        "%(who)s changed this ticket while you were editing it. Your text is "
                        "kept below; compare it with the current ticket and save again."
                    )
                    % {"who": who},
                )
                # The next save is checked against the version the user has now seen.
                form.data = form.data.copy()
                form.data["version"] = exc.current_version
                ticket.refresh_from_db()
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("The ticket is saved."))
                return redirect("tickets:detail", pk=ticket.pk)
        return render(
            request, self.template_name, {"form": form, "ticket": ticket, "stale": True}, status=400
        )


class TicketActionView(LoginRequiredMixin, DomainErrorsMixin, View):
    """POST /tickets/<id>/<action>/: one workflow action."""

    def post(self, request, pk, action):
        spec = ACTIONS.get(action)
        if spec is None:
            raise Http404
        ticket = selectors.ticket_get(user=request.user, ticket_id=pk)
        form = ActionForm(request.POST, action=spec)
        if not form.is_valid():
            for name, errors in form.errors.items():
                label = form.fields[name].label if name in form.fields else ""
                for error in errors:
                    messages.error(
                        request,
                        _("%(action)s: %(field)s — %(error)s")
                        % {"action": spec.label, "field": label, "error": error},
                    )
            return redirect("tickets:detail", pk=ticket.pk)
        try:
            updated = services.ticket_apply_action(
                actor=request.user,
                ticket=ticket.pk,
                action=spec.name,
                expected_version=form.cleaned_data.get("version"),
                **form.service_arguments(),
            )
        except (InvalidTransition, StaleVersion, ValidationError) as exc:
            flash_error(request, exc)
            return redirect("tickets:detail", pk=ticket.pk)
        messages.success(request, _("Done: %(action)s.") % {"action": spec.label})
        if not policies.can_view_ticket(request.user, updated):
            # A technician who declined the ticket no longer sees it.
            return redirect(reverse("tickets:list"))
        return redirect("tickets:detail", pk=ticket.pk)


class CommentCreateView(LoginRequiredMixin, DomainErrorsMixin, View):
    def post(self, request, pk):
        ticket = selectors.ticket_get(user=request.user, ticket_id=pk)
        form = CommentForm(
            request.POST,
            request.FILES,
            can_write_internal=policies.can_write_internal(request.user, ticket),
        )
        if request.oversized_uploads:
            form.add_error(None, str(too_large().message))
        elif form.is_valid():
            try:
                comment = services.comment_add(
                    actor=request.user,
                    ticket=ticket.pk,
                    text=form.cleaned_data["text"],
                    internal=form.cleaned_data.get("internal", False),
                    files=form.cleaned_data["file"] or (),
                )
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("Your comment is added."))
                return redirect(
                    f"{reverse('tickets:detail', args=[ticket.pk])}#comment-{comment.pk}"
                )
        context = _detail_context(request, ticket, comment_form=form)
        return render(request, "tickets/detail.html", context, status=400)


class AttachmentUploadView(LoginRequiredMixin, DomainErrorsMixin, View):
    def post(self, request, pk):
        ticket = selectors.ticket_get(user=request.user, ticket_id=pk)
        form = UploadForm(request.POST, request.FILES)
        if request.oversized_uploads:
            form.add_error("file", str(too_large().message))
        elif form.is_valid():
            try:
                created = services.attachment_add(
                    actor=request.user, ticket=ticket.pk, files=form.cleaned_data["file"]
                )
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("Files attached: %(count)d.") % {"count": len(created)})
                return redirect(f"{reverse('tickets:detail', args=[ticket.pk])}#attachments")
        context = _detail_context(request, ticket, upload_form=form)
        return render(request, "tickets/detail.html", context, status=400)


class AttachmentDownloadView(LoginRequiredMixin, DomainErrorsMixin, View):
    def get(self, request, pk):
        return attachment_response(selectors.attachment_get(user=request.user, attachment_id=pk))


class AttachmentDeleteView(LoginRequiredMixin, DomainErrorsMixin, View):
    def post(self, request, pk):
        attachment = selectors.attachment_get(user=request.user, attachment_id=pk)
        services.attachment_delete(actor=request.user, attachment=attachment)
        messages.success(request, _("The file %(name)s is removed.") % {"name": attachment.name})
        return redirect(f"{reverse('tickets:detail', args=[attachment.ticket_id])}#attachments")
