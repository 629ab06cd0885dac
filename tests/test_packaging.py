"""The project's packaging: pyproject.toml and environment.yml agree; the package imports."""

import re
import tomllib

import aecrypt
from aecrypt.config import PROJ_ROOT

# The conda name of a PyPI package where the two differ.
CONDA_NAMES = {"tensorflow-cpu": "tensorflow"}


def _name(requirement: str) -> str:
    """The bare package name of a requirement string, lower-cased."""
    return re.split(r"[ ;<>=!~\[]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject_names() -> set[str]:
    data = tomllib.loads((PROJ_ROOT / "pyproject.toml").read_text())
    deps = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["dev"]
    return {CONDA_NAMES.get(_name(d), _name(d)) for d in deps}


def _environment_names() -> set[str]:
    names = set()
    text = (PROJ_ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        match = re.match(r"^\s+- ([A-Za-z0-9_.][A-Za-z0-9_.\-]*)", line)  # conda and pip entries, not "-e ."
        if match and match.group(1) not in {"python", "pip"}:
            names.add(_name(match.group(1)))
    return names


def test_every_pyproject_dependency_is_in_environment_yml():
    missing = _pyproject_names() - _environment_names()
    assert not missing, f"environment.yml lacks {sorted(missing)}"


def test_every_environment_yml_dependency_is_in_pyproject():
    extra = _environment_names() - _pyproject_names()
    assert not extra, f"environment.yml lists {sorted(extra)} that pyproject.toml does not"


def test_every_dependency_has_a_lower_bound():
    data = tomllib.loads((PROJ_ROOT / "pyproject.toml").read_text())
    for dep in data["project"]["dependencies"] + data["project"]["optional-dependencies"]["dev"]:
        assert ">=" in dep, f"{dep!r} has no lower bound"


def test_version_is_set():
    assert re.match(r"^\d+\.\d+\.\d+", aecrypt.__version__)


def test_ci_runs_the_readme_test_command():
    readme = (PROJ_ROOT / "README.md").read_text()
    ci = (PROJ_ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make test" in ci
