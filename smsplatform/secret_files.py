"""Secrets the embedded mode keeps in files (the settings' key, the demo account's API key): mode 0600."""

import contextlib
import os
from collections.abc import Callable
from pathlib import Path


def secret_file_write(*, path: Path, secret: str) -> None:
    """Write `secret` to `path`, readable and writable by its owner only, replacing what it held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret + "\n")
    os.chmod(path, 0o600)  # also when the file existed with a wider mode


def secret_file_get_or_create(*, path: Path, generate: Callable[[], str]) -> str:
    """The secret kept in `path`, generated and written by the first process that asks.

    Processes starting together (web, worker, beat) must end up with the same secret: each writes its own
    draft and links it into place, which only the first can do; the others read the winner's.
    """
    if not path.exists():
        draft = path.with_name(f"{path.name}.{os.getpid()}.draft")
        secret_file_write(path=draft, secret=generate())
        try:
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
        finally:
            draft.unlink()
    return path.read_text().strip()
