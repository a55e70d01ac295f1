import uuid
from collections.abc import Iterator
from dataclasses import asdict

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
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
from smsplatform.api.schema import DeleteWithBodySchema, error_response
from smsplatform.api.views import AccountApi
from smsplatform.errors import InvalidInput

from .errors import ImportTooLarge
from .importing import ImportRow, csv_rows, json_rows
from .models import NAME_MAX_LENGTH
from .parsers import CsvParser, ImportJsonParser
from .selectors import contact_get, contact_list, contact_list_count, group_get, group_list
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


CONTACT_EXISTS = error_response(
    "`contact_exists`: the account has a contact with this phone; `contact_id` is its id.",
    contact_id={"type": "string", "format": "uuid"},
)
GROUP_EXISTS = error_response("`group_exists`: the account has a group with this name (in any case).")

CONTACT_ID_EXAMPLE = "3f2b8c1d-6e4a-4b7c-9d8e-1a2b3c4d5e6f"
GROUP_ID_EXAMPLE = "6a1f4e2b-9c3d-4e5f-8a7b-0c1d2e3f4a5b"
CONTACT_INPUT_EXAMPLE = {"phone": "0771234567", "first_name": "John", "last_name": "Doe"}
CONTACT_EXAMPLE = {
    "id": CONTACT_ID_EXAMPLE,
    "phone": "+263771234567",
    "first_name": "John",
    "last_name": "Doe",
    "group_ids": [GROUP_ID_EXAMPLE],
    "opted_out": False,
    "created_at": "2026-11-24T14:16:30Z",
    "updated_at": "2026-11-24T14:16:30Z",
}
CONTACT_EXISTS_EXAMPLE = OpenApiExample(
    "Phone taken",
    value={
        "error": "This account already has a contact with phone +263771234567.",
        "code": "contact_exists",
        "contact_id": CONTACT_ID_EXAMPLE,
    },
    response_only=True,
    status_codes=["409"],
)
GROUP_INPUT_EXAMPLE = {"name": "VIP customers", "description": "Spent over $500 this year"}
GROUP_EXAMPLE = {
    "id": GROUP_ID_EXAMPLE,
    **GROUP_INPUT_EXAMPLE,
    "contact_count": 250,
    "created_at": "2026-11-24T14:16:30Z",
}
CSV_EXAMPLE = "phone,first_name,last_name\n0771234567,John,Doe\n0772345678,Jane,\n12345,,\n"
MEMBERS_EXAMPLE = OpenApiExample("Contacts", value={"contact_ids": [CONTACT_ID_EXAMPLE]}, request_only=True)


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
            OpenApiParameter(
                "group_id",
                # Empty filters nothing, like no group_id at all.
                {"type": "string", "anyOf": [{"format": "uuid"}, {"maxLength": 0}]},
                description="Only members of this group.",
            ),
        ],
        summary="List contacts",
        description="The account's contacts, newest first, paginated; `?search=` matches names and numbers, "
        "`?group_id=` keeps a group's members.",
        responses={
            200: ContactOutputSerializer(many=True),
            404: error_response("`group_id` is not a group of this account, or not a UUID."),
        },
        examples=[OpenApiExample("Contact", value=CONTACT_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        filters = self.ContactListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        # First: it answers 404 for a group that is not the account's (or not a UUID), which the count trusts.
        contacts = contact_list(account_id=self.account_id, **filters.validated_data)
        return paginated_response(
            view=self,
            queryset=contacts,
            serializer_class=ContactOutputSerializer,
            count=contact_list_count(account_id=self.account_id, **filters.validated_data),
        )

    @extend_schema(
        operation_id="contacts_create",
        summary="Create a contact",
        description="`phone` is stored in E.164. One contact per phone and account.",
        request=ContactCreateInputSerializer,
        responses={201: ContactOutputSerializer, 409: CONTACT_EXISTS},
        examples=[
            OpenApiExample("Contact", value=CONTACT_INPUT_EXAMPLE, request_only=True),
            OpenApiExample("Created", value=CONTACT_EXAMPLE, response_only=True, status_codes=["201"]),
            CONTACT_EXISTS_EXAMPLE,
        ],
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

    @extend_schema(
        operation_id="contacts_retrieve",
        summary="Get a contact",
        description="One contact of the account, with its groups.",
        responses=ContactOutputSerializer,
        examples=[OpenApiExample("Contact", value=CONTACT_EXAMPLE, response_only=True)],
    )
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
        summary="Replace a contact",
        description="Names and groups left out are emptied; `opted_out` changes only when given.",
        request=ContactUpdateInputSerializer,
        responses={200: ContactOutputSerializer, 409: CONTACT_EXISTS},
        examples=[
            OpenApiExample(
                "Contact", value=CONTACT_INPUT_EXAMPLE | {"group_ids": [GROUP_ID_EXAMPLE]}, request_only=True
            ),
            OpenApiExample("Replaced", value=CONTACT_EXAMPLE, response_only=True),
            CONTACT_EXISTS_EXAMPLE,
        ],
    )
    def put(self, request, contact_id):
        return self._update(request, contact_id, partial=False)

    @extend_schema(
        operation_id="contacts_partial_update",
        summary="Change a contact",
        description="Changes the fields given; `group_ids`, when given, replaces the contact's groups.",
        request=ContactUpdateInputSerializer,
        responses={200: ContactOutputSerializer, 409: CONTACT_EXISTS},
        examples=[
            OpenApiExample("Opt out", value={"opted_out": True}, request_only=True),
            OpenApiExample("Opted out", value=CONTACT_EXAMPLE | {"opted_out": True}, response_only=True),
            CONTACT_EXISTS_EXAMPLE,
        ],
    )
    def patch(self, request, contact_id):
        return self._update(request, contact_id, partial=True)

    @extend_schema(
        operation_id="contacts_destroy",
        summary="Delete a contact",
        description="Its group memberships go with it; the groups stay.",
        responses={204: None},
    )
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
        summary="List groups",
        description="The account's groups, newest first, with their member counts.",
        responses=inline_serializer("GroupList", {"groups": GroupOutputSerializer(many=True)}),
        examples=[OpenApiExample("Groups", value={"groups": [GROUP_EXAMPLE]}, response_only=True)],
    )
    def get(self, request):
        return Response({"groups": GroupOutputSerializer(group_list(account_id=self.account_id), many=True).data})

    @extend_schema(
        operation_id="contacts_groups_create",
        summary="Create a group",
        description="Group names are unique per account, in any case.",
        request=GroupCreateInputSerializer,
        responses={201: GroupOutputSerializer, 409: GROUP_EXISTS},
        examples=[
            OpenApiExample("Group", value=GROUP_INPUT_EXAMPLE, request_only=True),
            OpenApiExample(
                "Created", value=GROUP_EXAMPLE | {"contact_count": 0}, response_only=True, status_codes=["201"]
            ),
        ],
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

    @extend_schema(
        operation_id="contacts_groups_retrieve",
        summary="Get a group",
        description="One group of the account, with its member count.",
        responses=GroupOutputSerializer,
        examples=[OpenApiExample("Group", value=GROUP_EXAMPLE, response_only=True)],
    )
    def get(self, request, group_id):
        group = group_get(account_id=self.account_id, group_id=group_id, with_count=True)
        return Response(GroupOutputSerializer(group).data)

    @extend_schema(
        operation_id="contacts_groups_partial_update",
        summary="Change a group",
        description="Changes `name` and/or `description`.",
        request=GroupUpdateInputSerializer,
        responses={200: GroupOutputSerializer, 409: GROUP_EXISTS},
        examples=[
            OpenApiExample("Rename", value={"name": "Gold customers"}, request_only=True),
            OpenApiExample("Renamed", value=GROUP_EXAMPLE | {"name": "Gold customers"}, response_only=True),
        ],
    )
    def patch(self, request, group_id):
        group = group_get(account_id=self.account_id, group_id=group_id, with_count=True)
        serializer = self.GroupUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        group = group_update(group=group, **serializer.validated_data)
        return Response(GroupOutputSerializer(group).data)

    @extend_schema(
        operation_id="contacts_groups_destroy",
        summary="Delete a group",
        description="Its contacts stay; only the memberships go.",
        responses={204: None},
    )
    def delete(self, request, group_id):
        group_delete(group=group_get(account_id=self.account_id, group_id=group_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupMembersApi(AccountApi):
    schema = DeleteWithBodySchema()

    class GroupMembersInputSerializer(serializers.Serializer):
        contact_ids = _id_list_field(allow_empty=False)

    def _contact_ids(self, request) -> list:
        serializer = self.GroupMembersInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data["contact_ids"]

    @extend_schema(
        operation_id="contacts_groups_members_add",
        summary="Add contacts to a group",
        description="`added` counts the contacts that were not members yet. An id that is not a contact of the "
        "account refuses the whole request.",
        request=GroupMembersInputSerializer,
        responses=inline_serializer("GroupMembersAdded", {"added": serializers.IntegerField()}),
        examples=[MEMBERS_EXAMPLE, OpenApiExample("Added", value={"added": 1}, response_only=True)],
    )
    def post(self, request, group_id):
        group = group_get(account_id=self.account_id, group_id=group_id)
        return Response({"added": group_members_add(group=group, contact_ids=self._contact_ids(request))})

    @extend_schema(
        operation_id="contacts_groups_members_remove",
        summary="Remove contacts from a group",
        description="The contacts stay. `removed` counts those that were members. An id that is not a contact of "
        "the account refuses the whole request.",
        request=GroupMembersInputSerializer,
        responses={200: inline_serializer("GroupMembersRemoved", {"removed": serializers.IntegerField()})},
        examples=[MEMBERS_EXAMPLE, OpenApiExample("Removed", value={"removed": 1}, response_only=True)],
    )
    def delete(self, request, group_id):
        group = group_get(account_id=self.account_id, group_id=group_id)
        return Response({"removed": group_members_remove(group=group, contact_ids=self._contact_ids(request))})


class ContactImportRowSerializer(serializers.Serializer):
    # As loose as the import: a row without a valid phone is reported in `errors`, and the others are imported.
    phone = serializers.CharField(required=False, allow_blank=True)
    first_name = serializers.CharField(required=False, allow_blank=True)
    last_name = serializers.CharField(required=False, allow_blank=True)


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
        summary="Import contacts",
        description="A CSV file (multipart field `file`, or a `text/csv` body) with a header row naming `phone`, "
        '`first_name` and `last_name`, or JSON `{"contacts": [...]}`; up to 100,000 rows. A row whose phone '
        "exists updates that contact; bad rows are reported in `errors` (the first 100) and never stop the others.",
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
            409: error_response("`import_conflict`: the group was deleted during the import; nothing was imported."),
            413: error_response("`request_too_large`: the body is over CONTACTS_IMPORT_MAX_BYTES (20 MB)."),
            415: error_response("`unsupported_media_type`: send multipart/form-data, text/csv or application/json."),
        },
        examples=[
            OpenApiExample(
                "JSON",
                value={
                    "contacts": [
                        CONTACT_INPUT_EXAMPLE,
                        {"phone": "0772345678", "first_name": "Jane"},
                        {"phone": "12345"},
                    ]
                },
                request_only=True,
                media_type="application/json",
            ),
            OpenApiExample("CSV", value=CSV_EXAMPLE, request_only=True, media_type="text/csv"),
            OpenApiExample(
                "CSV file",
                value={"file": CSV_EXAMPLE, "group_id": GROUP_ID_EXAMPLE},
                request_only=True,
                media_type="multipart/form-data",
            ),
            OpenApiExample(
                "Imported",
                value={
                    "created": 2,
                    "updated": 0,
                    "failed": 1,
                    "errors": [{"row": 3, "error": "Invalid phone: Enter a valid phone number."}],
                },
                response_only=True,
            ),
        ],
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
