"""The package layout as a contract: one import name, one owner per module name, no import circle."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]


def modules() -> dict[str, Path]:
    """Every module of the installed packages by dotted name (packages by their ``__init__``)."""
    found = {}
    for package, folder in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[0] in FOLDERS.values() and package == "kinefake":
                continue
            name = ".".join([package, *parts]).removesuffix(".__init__")
            if not name.endswith(".__main__"):
                found[name] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """The kinefake modules ``path`` imports, at any depth (function-level imports count too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return {n for n in names if n in known}


def test_every_module_sits_under_the_one_import_name_and_no_old_name_is_imported():
    found = modules()
    assert len(found) > 80
    old = {"synth", "pipelines", "schemas", "corpus"}
    for path in [*found.values(), *ROOT.glob("tests/**/*.py"), *ROOT.glob("bench/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            named = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                named = [node.module]
            assert not [n for n in named if n.split(".")[0] in old], f"{path}: imports {named}"


def test_no_two_modules_share_a_file_name():
    names = Counter(path.name for path in modules().values() if path.name != "__init__.py")
    assert [name for name, count in names.items() if count > 1] == []


def test_the_import_graph_has_no_circle():
    found = modules()
    graph = {name: imports(path, set(found)) - {name} for name, path in found.items()}
    # a package's __init__ is imported with its modules, so a module importing its own package is no edge
    graph = {name: {d for d in deps if not name.startswith(d + ".")} for name, deps in graph.items()}
    assert sum(len(d) for d in graph.values()) > 150  # the graph was read, not empty
    done, path = set(), []

    def visit(name):
        if name in path:
            raise AssertionError("import circle: " + " -> ".join([*path[path.index(name) :], name]))
        if name in done:
            return
        path.append(name)
        for dep in sorted(graph[name]):
            visit(dep)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_each_module_imports_alone():
    def alone(name):
        done = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, cwd="/")
        return name, done.returncode, done.stderr[-400:]

    with ThreadPoolExecutor(2) as pool:
        failed = [r for r in pool.map(alone, sorted(modules())) if r[1] != 0]
    assert failed == []


def test_version_is_printed():
    done = subprocess.run([sys.executable, "-m", "kinefake", "--version"], capture_output=True, text=True, check=True)
    from kinefake import __version__

    assert done.stdout == f"kinefake {__version__}\n" and __version__.count(".") == 2
