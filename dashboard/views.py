"""The dashboard's own pages: what an owner does that is not a model's list or form."""

from django.contrib import admin, messages
from django.http import JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from campaigns.models import Campaign
from messaging.models import Message
from messaging.segments import MAX_SEGMENTS, text_quote
from messaging.services import message_send
from smsplatform.admin import owner_account_id, owner_account_id_required
from smsplatform.errors import ApplicationError

from .forms import SendForm


def send(request):
    """Send one SMS, by the API's rules (the same service): charged, routed, and its errors word for word."""
    account_id = owner_account_id_required(request)
    form = SendForm(request.POST or None, account_id=account_id)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            receipt, _replayed = message_send(
                account_id=account_id,
                to=data["to"],
                sender=data["sender"],
                text=data["message"],
                transactional=data["transactional"],
            )
        except ApplicationError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request,
                f"Message to {receipt['recipient']} {receipt['status']}: {receipt['segments']} segment(s), "
                f"{receipt['credits_used']} credit(s); {receipt['sms_credits']} credits left.",
            )
            return redirect(reverse("admin:messaging_message_change", args=[receipt["message_id"]]))
    context = admin.site.each_context(request) | {"title": "Send an SMS", "form": form, "max_segments": MAX_SEGMENTS}
    return TemplateResponse(request, "dashboard/send.html", context)


def reference(request, reference):
    """What a ledger row paid for or refunded: its message or its campaign, in the caller's account."""
    account_id = owner_account_id(request)
    if account_id is not None or request.user.is_superuser:
        for model in (Message, Campaign):
            found = model.objects.filter(pk=reference)
            if account_id is not None:
                found = found.filter(account_id=account_id)
            if found.exists():
                name = f"admin:{model._meta.app_label}_{model._meta.model_name}_change"
                return redirect(reverse(name, args=[reference]))
    messages.warning(request, f"No message or campaign of yours has the reference {reference}.")
    return redirect(reverse("admin:billing_transaction_changelist"))


@require_GET
def quote(request):
    """The segment and credit count of a text as the sender types it (the quote endpoint's logic)."""
    quote = text_quote(request.GET.get("message", ""))
    return JsonResponse(quote | {"too_long": quote["segments"] > MAX_SEGMENTS})
