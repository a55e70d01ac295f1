from django.contrib import admin

from smsplatform.admin import AccountScopedAdmin

from .models import Transaction


@admin.register(Transaction)
class TransactionAdmin(AccountScopedAdmin):
    """The ledger, read-only: corrections are new rows (the Account list's top-up action, `manage.py topup`)."""

    list_display = ["created_at", "account", "type", "amount", "balance_after", "description", "reference"]
    list_filter = ["type"]
    search_fields = ["reference", "description"]
    list_select_related = ["account"]
    read_only = True
