from django.core.paginator import Paginator
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response


class PageQueryInputSerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, required=False)
    page_size = serializers.IntegerField(min_value=1, required=False)


class Pagination(PageNumberPagination):
    """`?page=` and `?page_size=` (at most 500); the items go under a key that names them.

    Either one that is not a positive integer is a 400 naming it (DRF's would be a 404 for `page`, and
    the default size for `page_size`); a page past the end is a 404.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    invalid_page_message = "Page {page_number} is past the end of the list."
    items_key = "results"

    @classmethod
    def of(cls, items_key: str) -> type["Pagination"]:
        """The pagination of a list whose items go under `items_key`."""
        return type(f"{items_key.title()}Pagination", (cls,), {"items_key": items_key})

    def paginate_queryset(self, queryset, request, view=None, count: int | None = None):
        """`count`: the list's length, when the caller knows it at less cost than COUNT(*) over the list."""
        # An empty value means the default, as in DRF.
        params = {name: value for name in ("page", "page_size") if (value := request.query_params.get(name))}
        query = PageQueryInputSerializer(data=params)
        query.is_valid(raise_exception=True)
        self.query, self.count = query.validated_data, count
        return super().paginate_queryset(queryset, request, view)

    def django_paginator_class(self, object_list, per_page) -> Paginator:
        """Django's paginator, as DRF makes it, given the count it would otherwise query."""
        paginator = Paginator(object_list, per_page)
        if self.count is not None:
            paginator.count = self.count  # a cached_property: read instead of computed
        return paginator

    def get_page_size(self, request) -> int:
        return min(self.query.get("page_size", self.page_size), self.max_page_size)

    def get_page_number(self, request, paginator) -> int:
        return self.query.get("page", 1)

    def get_paginated_response(self, data) -> Response:
        return Response(
            {
                "count": self.page.paginator.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                self.items_key: data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["count", "next", "previous", self.items_key],
            "properties": {
                # With examples: drf-spectacular builds a page's example from them and an item's.
                "count": {"type": "integer", "example": 1},
                "next": {"type": "string", "format": "uri", "nullable": True, "example": None},
                "previous": {"type": "string", "format": "uri", "nullable": True, "example": None},
                self.items_key: schema,
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
        return parameters


def paginated_response(*, view, queryset, serializer_class, count: int | None = None) -> Response:
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, view.request, view=view, count=count)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
