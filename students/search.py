"""Admin search that finds a guardian's number as staff type it."""

from django.contrib.admin.utils import lookup_spawns_duplicates

from .phones import InvalidPhoneNumber, normalize_phone
from .selectors import sees_full_phone_numbers


class PhoneSearchMixin:
    """Also find ``phone_search_field`` by a number typed as staff write it
    (``0812-3456-7890``, ``+62 812 …``): numbers are stored ``62…``."""

    phone_search_field: str

    def get_search_fields(self, request):
        fields = super().get_search_fields(request)
        if sees_full_phone_numbers(user=request.user):
            return fields
        # Who sees numbers masked finds a whole number, not its digits one search at a
        # time: a part of a number ("62812345") would reveal the masked ones.
        return [field for field in fields if field != self.phone_search_field]

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            phone = normalize_phone(search_term)
        except InvalidPhoneNumber:
            return found, may_have_duplicates
        # ``queryset`` already has the list's filters: the number's match keeps them. A
        # number held by two guardians of one child joins two rows: the changelist then
        # keeps each child once (as for a name matched twice).
        spans = lookup_spawns_duplicates(self.opts, self.phone_search_field)
        return (
            found | queryset.filter(**{self.phone_search_field: phone}),
            may_have_duplicates or spans,
        )
