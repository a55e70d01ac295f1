from smsplatform.errors import ApplicationError, Conflict


class ContactExists(Conflict):
    """A phone the account already has. The answer carries the existing contact's id (`contact_id`)."""

    code = "contact_exists"

    def __init__(self, *, phone: str, contact_id):
        super().__init__(f"This account already has a contact with phone {phone}.")
        self.extra = {"contact_id": str(contact_id)}


class GroupExists(Conflict):
    code = "group_exists"

    def __init__(self, name: str):
        super().__init__(f"This account already has a group named '{name}'.")


class ImportTooLarge(ApplicationError):
    status = 413
    code = "request_too_large"

    def __init__(self, max_bytes: int):
        size = f"{max_bytes // 2**20} MB" if max_bytes % 2**20 == 0 else f"{max_bytes:,} bytes"
        super().__init__(f"The import is larger than {size}; split it into smaller files.")


class ImportConflict(Conflict):
    code = "import_conflict"
    message = "Contacts of this account changed while the file was imported; nothing was imported. Try again."
