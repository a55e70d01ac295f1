"""Dashboard scoping shared by every app's admin.

Superusers see every account. An account owner (a staff user with an `account`,
not a superuser) sees and manages only that account's rows, without needing
Django model permissions: the account is the permission.
"""

import datetime

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from .errors import ApplicationError, InvalidInput


def owner_account_id(request):
    """The account a non-superuser staff member manages, or None."""
    user = request.user
    if user.is_active and user.is_staff and not user.is_superuser:
        return user.account_id
    return None


def owner_account_id_required(request):
    """The caller's account, for a page that acts for an account (sending, a campaign's preview): an operator,
    who has none, is refused (403)."""
    account_id = owner_account_id(request)
    if account_id is None:
        raise PermissionDenied("Only an account owner does this in the dashboard: log in as one.")
    return account_id


class ServiceForm(forms.Form):
    """A dashboard form whose submission calls a service: the service's errors show as the API words them,
    under the field they name."""

    # The service's names of fields that this form names otherwise ({"group_id": "group"}).
    service_fields: dict[str, str] = {}

    def add_service_error(self, error: ApplicationError) -> None:
        if isinstance(error, InvalidInput):
            for field, messages in error.fields.items():
                name = self.service_fields.get(field, field)
                self.add_error(name if name in self.fields else None, messages)
        else:
            self.add_error(None, error.message)


class AccountScopedForm(forms.ModelForm):
    """A dashboard form that knows whose row it checks, also when an owner's form has no account field."""

    # Set by AccountScopedAdmin.get_form for an owner: their form has no account field.
    owner_account_id = None

    def account_id_being_saved(self):
        """The account the row will belong to: the one picked, the owner's, or the row's own."""
        account = self.cleaned_data.get("account")
        return account.pk if account else self.owner_account_id or self.instance.account_id


class AccountScopedAdmin(admin.ModelAdmin):
    # The lookup from this model to its Account ("account", or "pk" for Account itself).
    account_field = "account"
    owner_can_add = True
    owner_can_change = True
    owner_can_delete = False
    # A record (the ledger, sent messages): nobody adds, changes or deletes it here, superusers neither.
    read_only = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        account_id = owner_account_id(request)
        if account_id is None:
            return queryset.none()
        return queryset.filter(**{self.account_field: account_id})

    def _is_owner(self, request) -> bool:
        return owner_account_id(request) is not None

    def has_module_permission(self, request):
        return request.user.is_superuser or self._is_owner(request)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or self._is_owner(request)

    def has_add_permission(self, request):
        if self.read_only:
            return False
        return super().has_add_permission(request) or (self.owner_can_add and self._is_owner(request))

    def has_change_permission(self, request, obj=None):
        if self.read_only:
            return False
        return super().has_change_permission(request, obj) or (self.owner_can_change and self._is_owner(request))

    def has_delete_permission(self, request, obj=None):
        if self.read_only:
            return False
        return super().has_delete_permission(request, obj) or (self.owner_can_delete and self._is_owner(request))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if issubclass(form, AccountScopedForm):
            form.owner_account_id = owner_account_id(request)
        return form

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self._is_owner(request) and self.account_field == "account":
            return [field for field in fields if field != "account"]  # always their own: set in save_model
        return fields

    def save_model(self, request, obj, form, change):
        if self._is_owner(request) and self.account_field == "account":
            obj.account_id = owner_account_id(request)
        super().save_model(request, obj, form, change)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _scope_choices(self, db_field, request, kwargs):
        """An owner picks related rows (groups, senders…) only from their own account."""
        account_id = owner_account_id(request)
        related = db_field.related_model
        if account_id is not None and any(field.name == "account" for field in related._meta.fields):
            kwargs["queryset"] = related._default_manager.filter(account_id=account_id)

    def get_list_display(self, request):
        columns = super().get_list_display(request)
        if self._is_owner(request):
            return [column for column in columns if column != "account"]  # an owner has the one
        return columns

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if self._is_owner(request):
            return [f for f in filters if (f[0] if isinstance(f, tuple) else f) != "account"]
        return filters


class DateRangeFilter(admin.FieldListFilter):
    """From and to dates (both included, in the site's time zone) on a date-time field: `<field>__gte` and
    `<field>__lt` the day after, so the URL of a filtered list says what it shows."""

    template = "admin/date_range_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.from_param, self.to_param = f"{field_path}_from", f"{field_path}_to"
        super().__init__(field, request, params, model, model_admin, field_path)
        self.values = {}
        for param in (self.from_param, self.to_param):
            value = self.used_parameters.get(param) or ""  # taken from `params` by FieldListFilter
            value = value[-1] if isinstance(value, list) else value
            try:
                self.values[param] = datetime.date.fromisoformat(value) if value else None
            except ValueError:
                raise IncorrectLookupParameters(f"{param}: use a date such as 2026-12-01") from None

    def expected_parameters(self):
        return [self.from_param, self.to_param]

    def has_output(self):
        return True

    def queryset(self, request, queryset):
        start, end = self.values[self.from_param], self.values[self.to_param]
        if start:
            queryset = queryset.filter(**{f"{self.field_path}__gte": _day_start(start)})
        if end:
            queryset = queryset.filter(**{f"{self.field_path}__lt": _day_start(end + datetime.timedelta(days=1))})
        return queryset

    def choices(self, changelist):
        # One "choice": the form. The template reads the current values and the other parameters to keep.
        yield {
            "from_param": self.from_param,
            "to_param": self.to_param,
            "from_value": self.values[self.from_param] or "",
            "to_value": self.values[self.to_param] or "",
            "other_params": [
                (key, value)
                for key, values in changelist.params.items()
                if key not in (self.from_param, self.to_param, "p")  # a new range starts at its first page
                for value in (values if isinstance(values, list) else [values])
            ],
            "reset_query": changelist.get_query_string(remove=[self.from_param, self.to_param]),
        }


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class AccountRelatedFilter(admin.SimpleListFilter):
    """Filter by a related object of the caller's own account (a campaign, a group): an owner never sees
    another account's names in the list, as a plain related-field filter would show them."""

    related_model = None  # set by subclasses, with title, parameter_name and lookup
    lookup = ""

    def lookups(self, request, model_admin):
        related = self.related_model._default_manager.all()
        account_id = owner_account_id(request)
        if account_id is not None:
            related = related.filter(account_id=account_id)
        return [(str(pk), name) for pk, name in related.order_by("-created_at").values_list("pk", "name")[:200]]

    def queryset(self, request, queryset):
        if self.value():
            try:
                return queryset.filter(**{self.lookup: self.value()})
            except (ValueError, ValidationError):
                raise IncorrectLookupParameters(f"{self.parameter_name}: no such {self.title}") from None
        return queryset
