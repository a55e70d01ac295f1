"""requirements.lock, what the Docker image installs, agrees with pyproject.toml (else: `make lock`)."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+) \\$", re.MULTILINE)


def locked() -> dict[str, str]:
    """Package name → the version requirements.lock pins."""
    pins = PIN.finditer(ROOT.joinpath("requirements.lock").read_text())
    return {canonicalize_name(pin["name"]): pin["version"] for pin in pins}


def test_every_dependency_is_locked_at_a_version_pyproject_allows():
    pins = locked()
    dependencies = tomllib.loads(ROOT.joinpath("pyproject.toml").read_text())["project"]["dependencies"]

    for dependency in map(Requirement, dependencies):
        name = canonicalize_name(dependency.name)
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        assert dependency.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is locked but pyproject.toml asks for {dependency.specifier}: run `make lock`"
        )


def test_every_locked_version_carries_the_hashes_of_its_files():
    blocks = re.split(r"\n(?=\S)", ROOT.joinpath("requirements.lock").read_text())  # a pin and its indented lines
    pinned = [block for block in blocks if "==" in block]

    assert len(pinned) == len(locked())
    assert all("--hash=sha256:" in block for block in pinned)
