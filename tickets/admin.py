"""Tickets, comments and attachments in the administrator's panel (SPEC §6), with their
simple-history records. Every change made here goes through tickets.services, so it is
validated, recorded with the admin as actor and published like any other."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from tickets import services
from tickets.models import Attachment, Comment, Ticket

READONLY_TICKET_FIELDS = services.WORKFLOW_OWNED


class CommentInline(admin.TabularInline):
    model = Comment
    fields = ("created_at", "author", "internal", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class AttachmentInline(admin.TabularInline):
    model = Attachment
    fields = ("created_at", "name", "content_type", "size", "uploaded_by")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(SimpleHistoryAdmin):
    list_display = (
        "id",
        "title",
        "status",
        "priority",
        "category",
        "creator",
        "assignee",
        "created_at",
    )
    list_display_links = ("id", "title")
    list_filter = ("status", "priority", "category", "created_at")
    search_fields = ("title", "creator__username", "assignee__username")
    list_select_related = ("creator", "assignee")
    show_full_result_count = False
    date_hierarchy = "created_at"
    fields = (*services.EDITABLE_FIELDS, *READONLY_TICKET_FIELDS)
    readonly_fields = READONLY_TICKET_FIELDS
    inlines = (CommentInline, AttachmentInline)
    history_list_display = ("status", "priority", "assignee")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_finished:
            # Closed and cancelled tickets are no longer edited (SPEC §4.2); reopen first.
            return self.fields
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            changes = {f: form.cleaned_data[f] for f in form.changed_data}
            if changes:
                services.ticket_update(actor=request.user, ticket=obj.pk, **changes)
        else:
            created = services.ticket_create(actor=request.user, **form.cleaned_data)
            obj.pk = created.pk
            obj._state.adding = False

    def delete_model(self, request, obj):
        services.ticket_delete(actor=request.user, ticket=obj)

    def delete_queryset(self, request, queryset):
        for ticket in queryset:
            services.ticket_delete(actor=request.user, ticket=ticket)


@admin.register(Comment)
class CommentAdmin(SimpleHistoryAdmin):
    list_display = ("id", "ticket", "author", "internal", "created_at")
    list_filter = ("internal", "created_at")
    search_fields = ("text", "author__username")
    list_select_related = ("ticket", "author")
    raw_id_fields = ("ticket",)
    fields = ("ticket", "author", "created_at", "internal", "text")
    readonly_fields = ("ticket", "author", "created_at")
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        services.comment_admin_edit(
            actor=request.user,
            comment=obj,
            text=form.cleaned_data["text"],
            internal=form.cleaned_data["internal"],
        )

    def delete_model(self, request, obj):
        services.comment_admin_delete(actor=request.user, comment=obj)

    def delete_queryset(self, request, queryset):
        for comment in queryset:
            services.comment_admin_delete(actor=request.user, comment=comment)


@admin.register(Attachment)
class AttachmentAdmin(SimpleHistoryAdmin):
    list_display = ("id", "name", "ticket", "content_type", "size", "uploaded_by", "created_at")
    list_filter = ("content_type", "created_at")
    search_fields = ("name", "sha256")
    list_select_related = ("ticket", "uploaded_by")
    readonly_fields = (
        "ticket",
        "comment",
        "name",
        "path",
        "size",
        "content_type",
        "sha256",
        "uploaded_by",
        "created_at",
    )
    fields = readonly_fields
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Viewing is allowed through the view permission; files are never edited.
        return False

    def delete_model(self, request, obj):
        services.attachment_delete(actor=request.user, attachment=obj)

    def delete_queryset(self, request, queryset):
        for attachment in queryset:
            services.attachment_delete(actor=request.user, attachment=attachment)


admin.site.empty_value_display = _("—")
