from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Student
from .phones import InvalidPhoneNumber, normalize_phone


class StudentForm(forms.ModelForm):
    """Stores the parent's number in one form (6281234567890) or refuses it with the reason."""

    class Meta:
        model = Student
        fields = ["nis", "full_name", "classroom", "parent_name", "parent_phone"]

    def clean_parent_phone(self):
        raw = self.cleaned_data["parent_phone"].strip()
        if not raw:
            return ""
        try:
            return normalize_phone(raw)
        except InvalidPhoneNumber as err:
            raise forms.ValidationError(
                _("Invalid WhatsApp number: %(reason)s"),
                code="invalid_phone",
                params={"reason": err.reason},
            ) from err
