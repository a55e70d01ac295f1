import uuid
from collections.abc import Iterator
from dataclasses import asdict

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from messaging.fields import PhoneNumberField
from smsplatform.api.fields import StrictBooleanField, StrictCharField, StrictUUIDField
from smsplatform.api.pagination import Pagination, paginated_response
from smsplatform.api.schema import ERROR_REF
from smsplatform.api.views import AccountApi
from smsplatform.errors import InvalidInput

from .errors import ImportTooLarge
from .importing import ImportRow, csv_rows, json_rows
from .models import NAME_MAX_LENGTH
from .parsers import CsvParser, ImportJsonParser
from .selectors import contact_get, contact_list, group_get, group_list
from .services import (
    contact_create,
    contact_delete,
    contact_update,
    contacts_import,
    group_create,
    group_delete,
    group_members_add,
    group_members_remove,
    group_update,
)

MAX_IDS = 10_000  # ids in one request (contact_ids, group_ids)


def _error(description: str, **properties) -> OpenApiResponse:
    """An error response for the schema: the Error shape, with the keys some errors add."""
    schema = {"allOf": [ERROR_REF, {"type": "object", "properties": properties}]} if properties else ERROR_REF
    return OpenApiResponse(response=schema, description=description)


CONTACT_EXISTS = _error(
    "`contact_exists`: the account has a contact with this phone; `contact_id` is its id.",
    contact_id={"type": "string", "format": "uuid"},
)
GROUP_EXISTS = _error("`group_exists`: the account has a group with this name (in any case).")


def _name_field(**kwargs) -> StrictCharField:
    return StrictCharField(max_length=NAME_MAX_LENGTH, allow_blank=True, **kwargs)


def _id_list_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(child=StrictUUIDField(), max_length=MAX_IDS, **kwargs)


class ContactOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    phone = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    # From the prefetched groups: no query per contact.
    group_ids = serializers.PrimaryKeyRelatedField(
        source="groups", many=True, read_only=True, pk_field=serializers.UUIDField()
    )
    opted_out = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ContactListCreateApi(AccountApi):
    pagination_class = Pagination.of("contacts")

    class ContactListFilterSerializer(serializers.Serializer):
        search = serializers.CharField(required=False, allow_blank=True, max_length=100, trim_whitespace=True)
        # Checked by the selector: a malformed id is a 404 like an unknown one; an empty one filters nothing.
        group_id = serializers.CharField(required=False, allow_blank=True)

    class ContactCreateInputSerializer(serializers.Serializer):
        phone = PhoneNumberField()
        first_name = _name_field(default="")
        last_name = _name_field(default="")
        opted_out = StrictBooleanField(default=False)
        group_ids = _id_list_field(default=list)

    @extend_schema(
        operation_id="contacts_list",
        parameters=[
            OpenApiParameter(
                "search",
                description="Part of a first or last name, or a number as typed (0771…, +263 77…, 1234567).",
            ),
            OpenApiParameter("group_id", OpenApiTypes.UUID, description="Only members of this group."),
        ],
        responses={
            200: ContactOutputSerializer(many=True),
            404: _error("`group_id` is not a group of this account (or not a UUID)."),
        },
    )
    def get(self, request):
        filters = self.ContactListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginated_response(
            view=self,
            queryset=contact_list(account_id=self.account_id, **filters.validated_data),
            serializer_class=ContactOutputSerializer,
        )

    @extend_schema(
        operation_id="contacts_create",
        request=ContactCreateInputSerializer,
        responses={201: ContactOutputSerializer, 409: CONTACT_EXISTS},
    )
    def post(self, request):
        serializer = self.ContactCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contact = contact_create(account_id=self.account_id, **serializer.validated_data)
        contact = contact_get(account_id=self.account_id, contact_id=contact.pk)
        return Response(ContactOutputSerializer(contact).data, status=status.HTTP_201_CREATED)


class ContactDetailApi(AccountApi):
    class ContactUpdateInputSerializer(serializers.Serializer):
        """PUT replaces the contact: names and groups left out are emptied. `opted_out` changes only when
        given, so that no update re-subscribes someone who opted out."""

        phone = PhoneNumberField()
        first_name = _name_field(default="")
        last_name = _name_field(default="")
        opted_out = StrictBooleanField(required=False)
        group_ids = _id_list_field(default=list)

    @extend_schema(operation_id="contacts_retrieve", responses=ContactOutputSerializer)
    def get(self, request, contact_id):
        return Response(ContactOutputSerializer(contact_get(account_id=self.account_id, contact_id=contact_id)).data)

    def _update(self, request, contact_id, *, partial: bool) -> Response:
        contact = contact_get(account_id=self.account_id, contact_id=contact_id)
        serializer = self.ContactUpdateInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        contact_update(contact=contact, **serializer.validated_data)
        contact = contact_get(account_id=self.account_id, contact_id=contact.pk)
        return Response(ContactOutputSerializer(contact).data)

    @extend_schema(
        operation_id="contacts_update",
        request=ContactUpdateInputSerializer,
        responses={200: ContactOutputSerializer, 409: CONTACT_EXISTS},
    )
    def put(self, request, contact_id):
        return self._update(request, contact_id, partial=False)

    @extend_schema(
        operation_id="contacts_partial_update",
        request=ContactUpdateInputSerializer,
        responses={200: ContactOutputSerializer, 409: CONTACT_EXISTS},
    )
    def patch(self, request, contact_id):
        return self._update(request, contact_id, partial=True)

    @extend_schema(operation_id="contacts_destroy", responses={204: None})
    def delete(self, request, contact_id):
        contact_delete(contact=contact_get(account_id=self.account_id, contact_id=contact_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    contact_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class GroupListCreateApi(AccountApi):
    class GroupCreateInputSerializer(serializers.Serializer):
        name = StrictCharField(max_length=100)
        description = StrictCharField(max_length=255, allow_blank=True, default="")

    @extend_schema(
        operation_id="contacts_groups_list",
        responses=inline_serializer("GroupList", {"groups": GroupOutputSerializer(many=True)}),
    )
    def get(self, request):
        return Response({"groups": GroupOutputSerializer(group_list(account_id=self.account_id), many=True).data})

    @extend_schema(
        operation_id="contacts_groups_create",
        request=GroupCreateInputSerializer,
        responses={201: GroupOutputSerializer, 409: GROUP_EXISTS},
    )
    def post(self, request):
        serializer = self.GroupCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        group = group_create(account_id=self.account_id, **serializer.validated_data)
        group.contact_count = 0
        return Response(GroupOutputSerializer(group).data, status=status.HTTP_201_CREATED)


class GroupDetailApi(AccountApi):
    class GroupUpdateInputSerializer(serializers.Serializer):
        name = StrictCharField(max_length=100, required=False)
        description = StrictCharField(max_length=255, allow_blank=True, required=False)

    @extend_schema(operation_id="contacts_groups_retrieve", responses=GroupOutputSerializer)
    def get(self, request, group_id):
        group = group_get(account_id=self.account_id, group_id=group_id, with_count=True)
        return Response(GroupOutputSerializer(group).data)

    @extend_schema(
        operation_id="contacts_groups_partial_update",
        request=GroupUpdateInputSerializer,
        responses={200: GroupOutputSerializer, 409: GROUP_EXISTS},
    )
    def patch(self, request, group_id):
        group = group_get(account_id=self.account_id, group_id=group_id, with_count=True)
        serializer = self.GroupUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        group = group_update(group=group, **serializer.validated_data)
        return Response(GroupOutputSerializer(group).data)

    @extend_schema(operation_id="contacts_groups_destroy", responses={204: None})
    def delete(self, request, group_id):
        group_delete(group=group_get(account_id=self.account_id, group_id=group_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupMembersApi(AccountApi):
    class GroupMembersInputSerializer(serializers.Serializer):
        contact_ids = _id_list_field(allow_empty=False)

    def _contact_ids(self, request) -> list:
        serializer = self.GroupMembersInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data["contact_ids"]

    @extend_schema(
        operation_id="contacts_groups_members_add",
        request=GroupMembersInputSerializer,
        responses=inline_serializer("GroupMembersAdded", {"added": serializers.IntegerField()}),
    )
    def post(self, request, group_id):
        group = group_get(account_id=self.account_id, group_id=group_id)
        return Response({"added": group_members_add(group=group, contact_ids=self._contact_ids(request))})

    @extend_schema(
        operation_id="contacts_groups_members_remove",
        request=GroupMembersInputSerializer,
        responses=inline_serializer("GroupMembersRemoved", {"removed": serializers.IntegerField()}),
    )
    def delete(self, request, group_id):
        group = group_get(account_id=self.account_id, group_id=group_id)
        return Response({"removed": group_members_remove(group=group, contact_ids=self._contact_ids(request))})


class ContactImportRowSerializer(serializers.Serializer):
    phone = serializers.CharField()
    first_name = serializers.CharField(required=False)
    last_name = serializers.CharField(required=False)


@extend_schema_field(ContactImportRowSerializer(many=True))
class ImportRowsField(serializers.ListField):
    """The rows, unchecked here: each is checked on its own, and a bad row never stops the others."""


class ContactImportApi(AccountApi):
    parser_classes = [MultiPartParser, CsvParser, ImportJsonParser]

    class ContactImportJsonInputSerializer(serializers.Serializer):
        contacts = ImportRowsField()
        group_id = StrictUUIDField(required=False)

    class ContactImportFileInputSerializer(serializers.Serializer):
        file = serializers.FileField()
        group_id = StrictUUIDField(required=False)

    class ContactImportQuerySerializer(serializers.Serializer):
        group_id = StrictUUIDField(required=False)

    @extend_schema(
        operation_id="contacts_import",
        parameters=[
            OpenApiParameter("group_id", OpenApiTypes.UUID, description="Add every imported contact to this group.")
        ],
        request={
            "multipart/form-data": ContactImportFileInputSerializer,
            "text/csv": OpenApiTypes.BINARY,
            "application/json": ContactImportJsonInputSerializer,
        },
        responses={
            200: inline_serializer(
                "ContactImportResult",
                {
                    "created": serializers.IntegerField(),
                    "updated": serializers.IntegerField(),
                    "failed": serializers.IntegerField(),
                    "errors": inline_serializer(
                        "ContactImportError",
                        {"row": serializers.IntegerField(), "error": serializers.CharField()},
                        many=True,
                    ),
                },
            ),
            409: _error("`import_conflict`: the group was deleted during the import; nothing was imported."),
            413: _error("`request_too_large`: the body is over CONTACTS_IMPORT_MAX_BYTES (20 MB)."),
            415: _error("`unsupported_media_type`: send multipart/form-data, text/csv or application/json."),
        },
    )
    def post(self, request):
        # Before the body is read: a request over the limit costs nothing.
        max_bytes = settings.CONTACTS_IMPORT_MAX_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > max_bytes:
            raise ImportTooLarge(max_bytes)
        rows, group_id = self._rows(request)
        return Response(asdict(contacts_import(account_id=self.account_id, rows=rows, group_id=group_id)))

    def _rows(self, request) -> tuple[Iterator[ImportRow], uuid.UUID | None]:
        """The rows and the group, from a multipart file, a CSV body or JSON (the body's group_id first)."""
        query = self.ContactImportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        group_id = query.validated_data.get("group_id")
        media_type = request.content_type.split(";")[0].strip().lower()
        if media_type == "multipart/form-data":
            form = self.ContactImportFileInputSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            return csv_rows(form.validated_data["file"]), form.validated_data.get("group_id", group_id)
        if media_type == CsvParser.media_type:
            if isinstance(request.data, dict):  # no body at all
                raise InvalidInput({"file": ["The file is empty."]})
            return csv_rows(request.data), group_id
        body = self.ContactImportJsonInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return json_rows(body.validated_data["contacts"]), body.validated_data.get("group_id", group_id)
