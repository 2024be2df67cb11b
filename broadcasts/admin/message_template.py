"""The parents' message text, edited and previewed by the school."""

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from ..messages import (
    DEFAULT_TEMPLATE,
    PLACEHOLDERS,
    message_preview,
    message_template_get_or_create,
    template_errors,
)
from ..models import MessageTemplate


class MessageTemplateForm(forms.ModelForm):
    #: The "Preview" button's name (admin/broadcasts/messagetemplate/submit_line.html).
    PREVIEW = "_preview"
    #: The "Default text" button's: the default text in the form, previewed, not saved.
    DEFAULT = "_default"

    class Meta:
        model = MessageTemplate
        fields = ["text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 16, "cols": 80})}

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and self.DEFAULT in data:
            # The row is never deleted: going back to the default is this, then "Simpan".
            data = data.copy()
            data["text"] = DEFAULT_TEMPLATE
        super().__init__(data, *args, **kwargs)

    def clean_text(self):
        text = self.cleaned_data["text"]
        errors = template_errors(text)
        if errors:
            raise forms.ValidationError(
                [forms.ValidationError(error, code="invalid_template") for error in errors]
            )
        return text

    def clean(self):
        cleaned_data = super().clean()
        if self.has_error("text"):
            # No preview of the saved wording beside a posted text that is not it.
            self.instance.text = ""
        return cleaned_data

    @property
    def previewing(self) -> bool:
        return self.is_bound and (self.PREVIEW in self.data or self.DEFAULT in self.data)

    def is_valid(self):
        # The admin saves a form that is valid and re-renders one that is not: a preview is
        # validated like a save, then shown (MessageTemplateAdmin.preview reads the posted
        # text from the instance) and never saved. It adds no error, so none is shown.
        return super().is_valid() and not self.previewing


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    """The parents' message, editable by the school; a typo in a placeholder is a form error."""

    form = MessageTemplateForm
    list_display = ["__str__", "updated_at", "updated_by"]
    readonly_fields = ["placeholders", "preview", "updated_at", "updated_by"]
    fields = ["text", "placeholders", "preview", "updated_at", "updated_by"]

    def has_add_permission(self, request):
        # The text in use is always the one row (message_template_get_or_create): it is
        # edited, never added beside, never deleted.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if self.has_view_or_change_permission(request):
            message_template_get_or_create()
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if object_id == str(MessageTemplate.SCHOOL_PK) and self.has_view_or_change_permission(
            request
        ):
            message_template_get_or_create()
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description=_("placeholders"))
    def placeholders(self, obj):
        return format_html_join(
            "", "<code>{{{}}}</code>: {}<br>", ((name, text) for name, text in PLACEHOLDERS.items())
        )

    @admin.display(description=_("preview"))
    def preview(self, obj):
        """The text on the instance (the saved one, or the one posted with "Preview")."""
        if obj is None or not obj.text:
            return _("Press “Preview” to see the message above for a real guardian, unsaved.")
        preview = message_preview(obj.text)
        if preview is None:
            return _("No guardian with a WhatsApp number who receives messages yet.")
        text, guardian = preview
        return format_html(
            '<p>{}</p><pre style="white-space: pre-wrap">{}</pre>',
            _("As %(guardian)s, guardian of %(child)s, will read it:")
            % {"guardian": guardian, "child": guardian.student.full_name},
            text,
        )
