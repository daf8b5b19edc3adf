from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination as BasePageNumberPagination

MSG_PAGE_SIZE = _("Enter a whole number from 1; at most 100 rows are returned.")


class PageNumberPagination(BasePageNumberPagination):
    """`page` and `page_size` (default 25, at most 100) → {count, next, previous, results}.

    A `page_size` that is not a positive whole number is refused with 400 (DRF would quietly
    use the default); one above 100 gives 100 rows."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    page_query_description = _("Page number, from 1. A page past the last one answers 404.")
    page_size_query_description = _("Rows per page: default 25; values above 100 give 100.")

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param, "").strip()
        if not raw:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 12) or int(raw) < 1:
            raise ValidationError({self.page_size_query_param: [MSG_PAGE_SIZE]}, code="invalid")
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
        return parameters
