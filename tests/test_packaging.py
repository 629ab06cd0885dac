"""The project's packaging: pyproject.toml and environment.yml agree (names, platform
markers, exactly one TensorFlow on the conda path); the package imports."""

import re
import tomllib

import yaml  # PyYAML, which papermill requires
from packaging.requirements import Requirement

import aecrypt
from aecrypt.config import PROJ_ROOT

# The conda name of a PyPI package where the two differ (none at present; TensorFlow
# comes from pip, see environment.yml).
CONDA_NAMES: dict[str, str] = {}
#: Distributions that each install a TensorFlow (the `tensorflow` package) or conda's part of one.
TENSORFLOWS = {"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tensorflow-macos",
               "tensorflow-base", "tf-nightly", "tf-nightly-cpu", "intel-tensorflow"}
#: Platforms a user might create the environment on: the values pip's markers see.
PLATFORMS = {
    "linux x86-64": {"sys_platform": "linux", "platform_machine": "x86_64", "platform_system": "Linux"},
    "linux arm64": {"sys_platform": "linux", "platform_machine": "aarch64", "platform_system": "Linux"},
    "macOS arm64": {"sys_platform": "darwin", "platform_machine": "arm64", "platform_system": "Darwin"},
    "macOS x86-64": {"sys_platform": "darwin", "platform_machine": "x86_64", "platform_system": "Darwin"},
    "windows x86-64": {"sys_platform": "win32", "platform_machine": "AMD64", "platform_system": "Windows"},
}


def _name(requirement: str) -> str:
    """The bare package name of a requirement string, lower-cased."""
    return re.split(r"[ ;<>=!~\[]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject_requirements() -> list[str]:
    data = tomllib.loads((PROJ_ROOT / "pyproject.toml").read_text())
    return data["project"]["dependencies"] + [r for extra in data["project"]["optional-dependencies"].values() for r in extra]


def _pyproject_names() -> set[str]:
    return {_name(d) for d in _pyproject_requirements()}


def _environment(text: str | None = None) -> tuple[list[str], list[str]]:
    """environment.yml's conda and pip requirement strings (``-e .`` and the like left out)."""
    spec = yaml.safe_load((PROJ_ROOT / "environment.yml").read_text() if text is None else text)
    conda, pip = [], []
    for entry in spec["dependencies"]:
        if isinstance(entry, dict):
            pip += [r for r in entry.get("pip", []) if not r.startswith("-")]
        else:
            conda.append(entry)
    return conda, pip


def _environment_names() -> set[str]:
    conda, pip = _environment()
    names = {CONDA_NAMES.get(_name(c), _name(c)) for c in conda} | {_name(p) for p in pip}
    return names - {"python", "pip"}


def tensorflow_problems(environment_yml: str, pyproject: list[str]) -> list[str]:
    """Why an environment.yml could install a second TensorFlow beside the one that
    ``pip install -e .`` (``pyproject``'s requirements) asks for, or platform markers that
    differ between the two files. Empty when there is none."""
    conda, pip = _environment(environment_yml)
    problems = [f"conda installs {c!r}; TensorFlow must come from pip, as pyproject.toml names it"
                for c in conda if _name(c) in TENSORFLOWS or _name(c).startswith(("tensorflow", "tf-"))]
    ours = {Requirement(r).name.lower(): Requirement(r) for r in pyproject}
    for line in pip:
        req = Requirement(line)
        theirs = ours.get(req.name.lower())
        if theirs is None:
            problems.append(f"pip installs {req.name}, which pyproject.toml does not name")
        elif str(req.marker or "") != str(theirs.marker or "") or req.specifier != theirs.specifier:
            problems.append(f"{req.name}: environment.yml has {line!r}, pyproject.toml {str(theirs)!r}")
    pip_names = {Requirement(r).name.lower() for r in pip}
    problems += [f"{name} carries a platform marker in pyproject.toml but comes from conda in environment.yml, which has none"
                 for name, req in ours.items() if req.marker and name not in pip_names]
    for platform, env in PLATFORMS.items():
        wanted = {Requirement(r) for r in [*pip, *pyproject]}
        installed = {r.name.lower() for r in wanted if r.name.lower() in TENSORFLOWS and (r.marker is None or r.marker.evaluate(env))}
        installed |= {f"{_name(c)} (conda)" for c in conda if _name(c) in TENSORFLOWS}
        if len(installed) != 1:
            problems.append(f"on {platform} pip would install {sorted(installed) or 'no'} TensorFlow(s), not exactly one")
    return problems


def test_every_pyproject_dependency_is_in_environment_yml():
    missing = _pyproject_names() - _environment_names()
    assert not missing, f"environment.yml lacks {sorted(missing)}"


def test_every_environment_yml_dependency_is_in_pyproject():
    extra = _environment_names() - _pyproject_names()
    assert not extra, f"environment.yml lists {sorted(extra)} that pyproject.toml does not"


def test_environment_yml_installs_exactly_one_tensorflow_and_pyprojects_markers():
    text = (PROJ_ROOT / "environment.yml").read_text()
    assert tensorflow_problems(text, _pyproject_requirements()) == []


def test_the_tensorflow_check_catches_a_second_tensorflow_and_a_missing_marker():
    pyproject = _pyproject_requirements()
    conda_tensorflow = "dependencies:\n  - python=3.11\n  - tensorflow>=2.16,<3\n  - pip:\n      - -e .\n"
    problems = tensorflow_problems(conda_tensorflow, pyproject)
    assert any("conda installs 'tensorflow" in p for p in problems)
    unmarked = "dependencies:\n  - pip:\n      - tensorflow-cpu>=2.16,<3\n      - bm3d>=4.0.3,<5\n      - -e .\n"
    problems = tensorflow_problems(unmarked, pyproject)
    assert any(p.startswith("bm3d:") for p in problems) and any(p.startswith("tensorflow-cpu:") for p in problems)
    assert any("macOS arm64 pip would install ['tensorflow', 'tensorflow-cpu']" in p for p in problems)


def test_every_dependency_has_a_lower_bound():
    for dep in _pyproject_requirements():
        assert ">=" in dep, f"{dep!r} has no lower bound"


def test_version_is_set():
    assert re.match(r"^\d+\.\d+\.\d+", aecrypt.__version__)


def test_ci_runs_the_readme_test_command():
    readme = (PROJ_ROOT / "README.md").read_text()
    ci = (PROJ_ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make test" in ci
