from smsplatform.errors import Conflict, Forbidden


class SenderNotApproved(Forbidden):
    code = "sender_not_approved"

    def __init__(self, sender: str):
        super().__init__(f"Sender ID '{sender}' is not approved for this account.")


class SandboxRecipientNotAllowed(Forbidden):
    code = "sandbox_recipient"
    message = "A sandbox account may send only to its verified tester numbers."


class SenderExists(Conflict):
    code = "sender_exists"

    def __init__(self, name: str):
        super().__init__(f"This account already has a sender ID named '{name}'.")


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was used with a different request body."


class RecipientOptedOut(Forbidden):
    code = "recipient_opted_out"

    def __init__(self, phone: str):
        super().__init__(f"{phone} has opted out of this account's messages; only transactional messages may go to it.")
