from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response


class Pagination(PageNumberPagination):
    """`?page=` and `?page_size=` (at most 500); the items go under a key that names them."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    items_key = "results"

    @classmethod
    def of(cls, items_key: str) -> type["Pagination"]:
        """The pagination of a list whose items go under `items_key`."""
        return type(f"{items_key.title()}Pagination", (cls,), {"items_key": items_key})

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
                "count": {"type": "integer"},
                "next": {"type": "string", "format": "uri", "nullable": True},
                "previous": {"type": "string", "format": "uri", "nullable": True},
                self.items_key: schema,
            },
        }


def paginated_response(*, view, queryset, serializer_class) -> Response:
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
