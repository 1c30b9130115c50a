"""The written layer rules, checked on the source: the domain knows nothing of Buffer,
`bridge` never imports `tasks`, adapters never import each other, the version is one."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import bridge

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ["week.py", "schedules.py", "schedule_grammar.py", "timetable.py", "posting/slots.py"]
ADAPTERS = ("bridge.api", "bridge.hooks", "bridge.ui")


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_domain_imports_nothing_of_buffer():
    for name in DOMAIN:
        bad = {m for m in imports(ROOT / "bridge" / name) if m.startswith("bridge.buffer")}
        assert not bad, f"bridge/{name} imports {bad}"


# `bridge worker` and `bridge beat` start the tasks' Celery app: the one door
ENTRY_POINTS = {ROOT / "bridge" / "cli" / "run.py"}


def test_bridge_never_imports_tasks():
    for path in set((ROOT / "bridge").rglob("*.py")) - ENTRY_POINTS:
        bad = {m for m in imports(path) if m == "tasks" or m.startswith("tasks.")}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_adapters_never_import_each_other():
    for adapter in ADAPTERS:
        folder = ROOT / adapter.replace(".", "/")
        others = [a for a in ADAPTERS if a != adapter]
        for path in folder.rglob("*.py"):
            bad = {m for m in imports(path) if m.startswith(tuple(others))}
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_the_version_is_pyprojects():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert bridge.__version__ == project["version"]
    assert "__version__ =" not in (ROOT / "bridge" / "__init__.py").read_text().replace(
        "__version__ = metadata", ""
    ).replace('__version__ = "0+unknown"', "")


LONG = 400  # lines; a longer module says why in its docstring (issue 22)


def test_long_modules_say_why():
    for path in sorted((ROOT / "bridge").rglob("*.py")):
        if "migrations" in path.parts or len(path.read_text().splitlines()) <= LONG:
            continue
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert f"Past {LONG} lines on purpose:" in docstring, (
            f"{path.relative_to(ROOT)} is over {LONG} lines: split it, or say why in its docstring"
        )


def test_adapters_read_through_the_service_layer():
    """REST, hooks and the dashboard open no database session and build no query: each
    list and lookup is a service function they share (issue 22)."""
    for adapter in ADAPTERS:
        for path in (ROOT / adapter.replace(".", "/")).rglob("*.py"):
            text = path.read_text()
            for needle in ("select(", ".session()"):
                assert needle not in text, f"{path.relative_to(ROOT)} has {needle}"


def test_test_modules_never_import_each_other():
    """Tests share helpers through conftest files and bridge/harness, never by importing
    another test module (issue 21/22): a test file can move or go without breaking others."""
    for path in (ROOT / "tests").rglob("test_*.py"):
        bad = {m for m in imports(path) if m.split(".")[-1].startswith("test_")}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
