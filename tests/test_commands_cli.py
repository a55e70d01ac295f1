"""The README's commands as printed, in a shell where nothing is set: the embedded mode, DEBUG off, no SECRET_KEY."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
# What the platform reads from the environment: none of it is set in a new shell.
PLATFORM_VARIABLES = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE")

pytestmark = pytest.mark.skipif(not VENV_PYTHON.exists(), reason="needs the project's .venv (make install)")


@pytest.fixture
def new_shell(tmp_path) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in PLATFORM_VARIABLES}
    env["VAR_DIR"] = str(tmp_path / "var")
    return env


@pytest.fixture
def python_without_django(tmp_path) -> Path:
    """A python3 that cannot import Django, as the system's: a virtualenv with nothing installed."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", tmp_path / "bare"], check=True)
    return tmp_path / "bare" / "bin"


def test_the_readme_commands_work_with_nothing_set(new_shell, tmp_path):
    passwords = {"DJANGO_SUPERUSER_PASSWORD": "operator password", "DJANGO_OWNER_PASSWORD": "owner password"}
    commands = [
        ["migrate", "--no-input"],
        ["createsuperuser", "--no-input", "--username", "ops", "--email", "ops@example.com"],
        ["createaccount", "Acme", "--credits", "10", "--sender", "Acme"],
        ["topup", "Acme", "5"],
        ["createapikey", "Acme", "--name", "CI"],
        ["reviewsender", "Acme", "Acme", "--approve"],
        ["createowner", "--account", "Acme", "--email", "owner@acme.example", "--no-input"],
    ]

    for command in commands:
        result = subprocess.run(
            [VENV_PYTHON, "manage.py", *command], cwd=ROOT, env=new_shell | passwords, capture_output=True, text=True
        )
        assert result.returncode == 0, f"manage.py {' '.join(command)}:\n{result.stderr}"

    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_dot_slash_manage_py_runs_in_the_projects_virtualenv_whatever_python3_is(new_shell, python_without_django):
    env = new_shell | {"PATH": f"{python_without_django}{os.pathsep}{new_shell['PATH']}"}

    result = subprocess.run(["./manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert "System check identified" in result.stdout


def test_without_django_or_the_virtualenv_manage_py_says_what_to_do(new_shell, python_without_django, tmp_path):
    elsewhere = tmp_path / "checkout"
    elsewhere.mkdir()
    shutil.copy(ROOT / "manage.py", elsewhere)

    result = subprocess.run(
        [python_without_django / "python3", "manage.py", "check"], cwd=elsewhere, env=new_shell, capture_output=True
    )

    assert result.returncode == 1
    assert f"Django is not installed for {python_without_django / 'python3'}: run `make install`" in (
        result.stderr.decode()
    )
