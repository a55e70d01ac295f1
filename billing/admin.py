import uuid

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from smsplatform.admin import AccountScopedAdmin, DateRangeFilter

from .models import Transaction


@admin.register(Transaction)
class TransactionAdmin(AccountScopedAdmin):
    """The ledger, read-only: corrections are new rows (the Account list's top-up action, `manage.py topup`)."""

    list_display = ["created_at", "account", "type", "amount", "balance_after", "description", "reference_link"]
    list_filter = [("created_at", DateRangeFilter), "type"]
    search_fields = ["reference", "description"]
    list_select_related = ["account"]
    read_only = True

    @admin.display(description="reference", ordering="reference")
    def reference_link(self, transaction):
        """A message's or campaign's id opens what it paid for (the dashboard's `reference` page finds which)."""
        try:
            uuid.UUID(transaction.reference)
        except ValueError:
            return transaction.reference
        url = reverse("admin:reference", args=[transaction.reference])
        return format_html('<a href="{}">{}</a>', url, transaction.reference)
