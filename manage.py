#!/usr/bin/env python3
"""Django's command line. Run as `./manage.py` by a Python without Django (the system's), it runs itself again
with the project's .venv (`make install` makes it)."""

import os
import sys
from pathlib import Path

VENV = Path(__file__).resolve().parent / ".venv"


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsplatform.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError:
        venv_python = VENV / "bin" / "python"
        if venv_python.exists() and Path(sys.prefix).resolve() != VENV.resolve():
            os.execv(venv_python, [str(venv_python), *sys.argv])
        sys.exit(
            f"Django is not installed for {sys.executable}: run `make install`, which makes the project's "
            f"virtualenv ({VENV}), or activate a virtualenv where the project is installed."
        )
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
