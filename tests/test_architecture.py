"""The package's layers: no module imports from a wing above its own.

From the bottom up: the core modules (``aecrypt/*.py``), the method, the data, the
experiments, the study and the command line. Every import counts, including those inside
functions (kept there to stay light, they are dependencies all the same).
"""

import ast
from pathlib import Path

import pytest

import aecrypt

PACKAGE = Path(aecrypt.__file__).parent
#: The wings from the bottom up; a module may import from its own wing and those below it.
WINGS = ("core", "method", "data", "experiments", "study", "cli")
#: Upward imports known and left for now, as (importing module, imported module): none.
KNOWN_EXCEPTIONS: frozenset[tuple[str, str]] = frozenset()
MODULES = sorted(PACKAGE.rglob("*.py"))


def module_name(path: Path) -> str:
    """The dotted name of a module file of the package (a package's ``__init__`` is the package)."""
    parts = ("aecrypt", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def wing_of(module: str) -> str:
    """The wing a dotted name under ``aecrypt`` belongs to ("core" for the top-level modules)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in WINGS[1:] else "core"


def imported_modules(module: str, source: str, is_package: bool = False) -> set[str]:
    """Every ``aecrypt`` name a module's source imports, anywhere in it: each module, and for
    ``from X import Y`` both X and X.Y (Y may be a sub-module)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: climb from the module's own package
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = ".".join(package[: len(package) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "aecrypt" or name.startswith("aecrypt.")}


def upward_imports(module: str, source: str, is_package: bool = False) -> list[str]:
    """The names a module imports from wings above its own, sorted."""
    rank = WINGS.index(wing_of(module))
    return sorted(
        name for name in imported_modules(module, source, is_package)
        if WINGS.index(wing_of(name)) > rank and (module, name) not in KNOWN_EXCEPTIONS
    )


@pytest.mark.parametrize("path", MODULES, ids=lambda path: module_name(path))
def test_no_module_imports_from_a_wing_above_its_own(path):
    module = module_name(path)
    upward = upward_imports(module, path.read_text(), is_package=path.name == "__init__.py")
    assert not upward, f"{module} ({wing_of(module)}) imports from a wing above it: {', '.join(upward)}"


def test_every_sub_package_is_a_wing():
    folders = {path.relative_to(PACKAGE).parts[0] for path in MODULES if len(path.relative_to(PACKAGE).parts) > 1}
    assert folders <= set(WINGS[1:]), f"sub-packages outside the wings: {sorted(folders - set(WINGS))}"


def test_an_upward_import_is_found_wherever_it_hides():
    inside_a_function = "def f():\n    from aecrypt.data.shards import ShardedImages\n"
    assert upward_imports("aecrypt.method.training", inside_a_function) == ["aecrypt.data.shards", "aecrypt.data.shards.ShardedImages"]
    relative = "from ..study import runs\n"
    assert upward_imports("aecrypt.data.loader", relative) == ["aecrypt.study", "aecrypt.study.runs"]
    assert upward_imports("aecrypt.data", "from ..cli import main\n", is_package=True) == ["aecrypt.cli", "aecrypt.cli.main"]
    plain = "import aecrypt.experiments.timing\nfrom aecrypt import study\n"
    assert upward_imports("aecrypt.config", plain) == ["aecrypt.experiments.timing", "aecrypt.study"]
    assert upward_imports("aecrypt.cli.main", plain) == []
