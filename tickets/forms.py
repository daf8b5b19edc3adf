"""Page forms for tickets (SPEC §6). They use the API's field names and validate input only;
the views call tickets.services, which own every rule and every write."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tickets.attachments import ALLOWED_EXTENSIONS, MAX_FILES_PER_UPLOAD
from tickets.models import (
    COMMENT_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    REASON_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Category,
    Priority,
)
from tickets.selectors import active_technicians
from tickets.workflow import Action, Need

# Offered by the file picker; on a phone, `image/*` also offers the camera.
ACCEPT = ",".join([*(f".{ext}" for ext in ALLOWED_EXTENSIONS), "image/*"])


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name (`file`), as the API takes them."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ACCEPT}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if len(files) > MAX_FILES_PER_UPLOAD:
            raise forms.ValidationError(
                _("At most %(limit)d files can be uploaded at once."),
                params={"limit": MAX_FILES_PER_UPLOAD},
            )
        single = super().clean
        return [single(item, initial) for item in files]


class TicketForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX_LENGTH)
    description = forms.CharField(
        label=_("Description"),
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What happened, where, since when; error messages as they are."),
    )
    category = forms.ChoiceField(
        label=_("Category"), choices=Category.choices, initial=Category.INCIDENT
    )
    priority = forms.ChoiceField(
        label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL
    )


class TicketCreateForm(TicketForm):
    file = MultipleFileField(
        label=_("Files"),
        help_text=_("Photos or documents, up to %(limit)d at once.")
        % {"limit": MAX_FILES_PER_UPLOAD},
    )


class TicketEditForm(TicketForm):
    # The version the user started editing; a newer one in the database means someone else
    # changed the ticket meanwhile (SPEC §4.2).
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class CommentForm(forms.Form):
    text = forms.CharField(
        label=_("Comment"),
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    internal = forms.BooleanField(
        label=_("Internal note (staff only)"),
        required=False,
    )
    file = MultipleFileField(label=_("Files"))

    def __init__(self, *args, can_write_internal: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_write_internal:
            del self.fields["internal"]


class UploadForm(forms.Form):
    file = MultipleFileField(label=_("Files"), required=True)


class ActionForm(forms.Form):
    """The input of one workflow action, built from its row in the workflow table."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)

    def __init__(self, *args, action: Action, **kwargs):
        super().__init__(*args, **kwargs)
        self.action = action
        if action.needs_assignee:
            self.fields["assignee"] = forms.ModelChoiceField(
                label=_("Technician"),
                queryset=active_technicians(),
                empty_label=_("— choose —"),
            )
            self.fields["assignee"].label_from_instance = lambda user: user.full_name
        if action.reason is not Need.NONE:
            self.fields["reason"] = forms.CharField(
                label=_("Reason"),
                max_length=REASON_MAX_LENGTH,
                required=action.reason is Need.REQUIRED,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
        if action.resolution is not Need.NONE:
            self.fields["resolution"] = forms.CharField(
                label=_("What was done"),
                max_length=DESCRIPTION_MAX_LENGTH,
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}),
            )

    def service_arguments(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k != "version"}
        return data
