from django import forms

from messaging.selectors import sender_names_approved
from smsplatform.admin import ServiceForm


class SendForm(ServiceForm):
    to = forms.CharField(max_length=32, help_text="0771234567, +263771234567 or any international number")
    sender = forms.ChoiceField(help_text="Your approved sender IDs; request another under Sender IDs.")
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 5, "cols": 60}), strip=False)
    transactional = forms.BooleanField(
        required=False,
        help_text="An OTP, a receipt or an alert the recipient asked for: sent even if they opted out.",
    )

    def __init__(self, *args, account_id, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sender"].choices = [(name, name) for name in sender_names_approved(account_id=account_id)]
