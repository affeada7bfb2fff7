"""The layout's rules that code review alone would let slip: the pure modules import no Django (nor anything of
the apps outside the pure packages), so the offline evaluator and the maths run anywhere; and the apps depend
one way only: evaluation builds on annotator, the demo on both, never the other way round."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PURE_PACKAGES = ("annotator.core", "evaluation.core")
# Besides the pure packages, what a pure module may load of this repository: the apps' empty package files and
# the offline evaluator's command.
PURE_ENTRY_POINTS = ("evaluation.evaluate",)
OWN_TOP_LEVEL = {"annotator", "evaluation", "config", "demo", "bench", "scripts", "tests"}
FORBIDDEN_THIRD_PARTY = {"django", "rest_framework", "drf_spectacular", "celery", "kombu", "psycopg2", "axes"}


def pure_modules() -> list[str]:
    names = [*PURE_PACKAGES, *PURE_ENTRY_POINTS]
    for package in PURE_PACKAGES:
        folder = REPO / package.replace(".", "/")
        names += [info.name for info in pkgutil.walk_packages([str(folder)], prefix=f"{package}.")]
    return sorted(names)


def test_every_pure_module_imports_without_django_or_the_apps() -> None:
    """Each module is imported in turn in one fresh interpreter without Django settings; after each, nothing of
    Django (or DRF, Celery, the database driver) and nothing of the apps outside the pure packages is loaded."""
    script = (
        "import importlib, json, sys\n"
        "report = {}\n"
        f"for name in {pure_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "    report[name] = sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{sorted(FORBIDDEN_THIRD_PARTY | OWN_TOP_LEVEL)!r})\n"
        "print(json.dumps(report))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "RELABEL", "DATABASE"))}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert len(report) >= 25  # every pure module was found (a wrong path would find none and pass)
    offenders = {name: [m for m in loaded if not _pure(m)] for name, loaded in report.items()}
    assert {name: loaded for name, loaded in offenders.items() if loaded} == {}


def _pure(module: str) -> bool:
    """An app's empty package file, a pure package or one of its modules, or a pure entry point."""
    in_package = any(module == p or module.startswith(f"{p}.") for p in PURE_PACKAGES)
    return module in ("annotator", "evaluation", *PURE_ENTRY_POINTS) or in_package


# Which app may not import which: evaluation reads the annotator's models and calls its services, and the demo
# loads data through both apps' services.
NEVER_IMPORTS = {"annotator": ("evaluation", "demo"), "evaluation": ("demo",)}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (and dotted names in strings, such as a lazy import or an
    include() of a URL module, which are imports too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.update([node.module, *(f"{node.module}.{alias.name}" for alias in node.names)])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _dotted(node.value):
            names.add(node.value)
    return names


@pytest.mark.parametrize("app", sorted(NEVER_IMPORTS))
def test_an_app_never_imports_the_apps_built_on_it(app: str) -> None:
    files = sorted((REPO / app).rglob("*.py"))
    assert len(files) > 20
    offending = {
        str(path.relative_to(REPO)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] in NEVER_IMPORTS[app]
        )
        for path in files
    }
    assert {path: names for path, names in offending.items() if names} == {}


def _dotted(text: str) -> bool:
    return "." in text and all(part.isidentifier() for part in text.split("."))


# Code that migrations import is frozen (config/frozen/__init__.py): an edit would make a fresh database differ
# from one migrated earlier. A change is a new versioned module, with its own line here.
FROZEN = {
    "config/frozen/append_only_v1.py": "9cd7ac590e5ab343c232402f5fe957f76597cf1bce5e04e1ba530a6acbb8393e",
}


def test_frozen_modules_that_migrations_import_are_never_edited() -> None:
    digests = {path: hashlib.sha256((REPO / path).read_bytes()).hexdigest() for path in FROZEN}
    assert digests == FROZEN
    assert {str(p.relative_to(REPO)) for p in (REPO / "config/frozen").glob("*_v*.py")} == set(FROZEN)
