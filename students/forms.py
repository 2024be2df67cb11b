from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Guardian, Student
from .phones import InvalidPhoneNumber, normalize_phone


class StudentForm(forms.ModelForm):
    class Meta:
        model = Student
        fields = ["nis", "full_name", "classroom"]


class GuardianForm(forms.ModelForm):
    """Stores a guardian's number in one form (6281234567890) or refuses it with the reason."""

    class Meta:
        model = Guardian
        fields = ["relation", "name", "phone", "receives_messages"]

    def clean_phone(self):
        raw = self.cleaned_data["phone"].strip()
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

    def clean(self):
        cleaned_data = super().clean()
        # A guardian is someone to name or a number to send to: with neither, the list
        # and the send would count a guardian without a number who is nobody.
        if not cleaned_data.get("name") and not cleaned_data.get("phone") and not self.errors:
            raise forms.ValidationError(
                _("Give the guardian's name or WhatsApp number."), code="empty_guardian"
            )
        return cleaned_data
