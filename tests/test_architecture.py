"""The package's layers, as its imports show them: no cycle, nothing imports upward.

Every ``import`` in ``inventory_cli`` is read with ``ast`` (at module level,
inside functions, under ``TYPE_CHECKING``: a typing-only cycle is a cycle to
a reader too) and resolved to the module it names. The layers, lowest first,
are below; a module may import its own layer's modules and those of lower
layers, never a higher one. The package root (``inventory_cli/__init__.py``,
the Python API's face) is above them all: it names the public names, and no
module inside the package imports from it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import inventory_cli

PACKAGE = Path(inventory_cli.__file__).parent

#: Lowest first. A module's layer is the longest prefix listed here that matches its name.
LAYERS = [
    # The base every layer may use: the error types, reading the user's files, the version.
    (
        "inventory_cli.version",
        "inventory_cli.errors",
        "inventory_cli.outcome",
        "inventory_cli.files",
        "inventory_cli.record",
        "inventory_cli.json_text",
        "inventory_cli.text",
        "inventory_cli.urls",
    ),
    # Schemes, signing and verifying signatures, diagnosis of bad ones.
    ("inventory_cli.signing",),
    # The event schemas, validation, fresh events, the sample files.
    ("inventory_cli.events",),
    # HTTP: the server, the client pool, the retry policy.
    ("inventory_cli.transport",),
    # The jobs: deliver, receive, replay, audit, check, demo, and their reports.
    ("inventory_cli.workflows",),
    # Finding and reading invwh.toml.
    ("inventory_cli.config",),
    # Ways in: the Python API, the pytest plugin, Locust, the GitHub Action, the inspector's page.
    (
        "inventory_cli.api",
        "inventory_cli.inspector",
        "inventory_cli.pytest_plugin",
        "inventory_cli.load",
        "inventory_cli.github_action",
    ),
    # The command line.
    ("inventory_cli.cli", "inventory_cli.__main__"),
]
#: The package root: the public API's face, above every layer.
ROOT = "inventory_cli"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    if module == ROOT:
        return len(LAYERS)  # matched exactly: a prefix would put every unlisted module here
    matches = [
        (len(prefix), rank)
        for rank, prefixes in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    assert matches, f"{module} is in no layer: add it to LAYERS in {__file__}"
    return max(matches)[1]


def imports_of(module: str, source: str | None = None) -> set[str]:
    """The package's modules that ``module`` imports, wherever in the file (or in ``source``)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    source = path.read_text(encoding="utf-8") if source is None else source
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from . import report` names a module; `from .report import Item` names a thing in one.
            names = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in MODULES]
            names = names or [target]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module and name.startswith("inventory_cli"):
                found.add(name)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_higher_layer(module):
    upward = sorted(name for name in GRAPH[module] if layer_of(name) > layer_of(module))
    assert not upward, f"{module} (layer {layer_of(module)}) imports a higher layer: {upward}"


def test_no_module_imports_the_package_root():
    # `from .. import __version__` would run from a workflow up to the face: the version lives
    # in inventory_cli.version, every other name in the module that defines it.
    importers = sorted(module for module, imported in GRAPH.items() if ROOT in imported)
    assert not importers, f"these import the package root {ROOT}: {importers}"
    assert layer_of(ROOT) > max(layer_of(module) for module in MODULES if module != ROOT)


def test_no_import_cycle():
    # Depth-first search; a module met again while still on the path closes a cycle.
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for name in sorted(GRAPH[module]):
            if state.get(name) == "open":
                cycles.append([*path[path.index(name) :], name])
            elif name not in state:
                visit(name, [*path, name])
        state[module] = "done"

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_core_knows_nothing_of_click_or_rich():
    for module, path in MODULES.items():
        if layer_of(module) >= layer_of("inventory_cli.cli"):
            continue  # the CLI, and the root above it (importing the root loads nothing: test_api)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                named = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                named = [node.module or ""]
            else:
                continue
            for package in ("click", "rich"):
                assert not any(name.split(".")[0] == package for name in named), f"{module} imports {package}"


#: The HTTP clients and parsers: transport/ is the one place that speaks HTTP with them.
HTTP_LIBRARIES = ("requests", "urllib3", "httptools", "http.client")


def http_libraries_imported(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            named = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            module = node.module or ""
            named = [module, *(f"{module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {
            lib for lib in HTTP_LIBRARIES for name in named if name == lib or name.startswith(lib + ".")
        }
    return found


def test_only_transport_imports_an_http_client_or_parser():
    outside = {
        module: sorted(found)
        for module, path in MODULES.items()
        if not module.startswith("inventory_cli.transport")
        and (found := http_libraries_imported(path.read_text(encoding="utf-8")))
    }
    assert outside == {}
    # The walk sees what main had inside Deliverer's methods, and `from http import client`.
    assert http_libraries_imported("def f():\n    import requests\n    import urllib3\n") == {
        "requests",
        "urllib3",
    }
    assert http_libraries_imported("from http import client\nfrom http import server\n") == {"http.client"}


def test_the_graph_sees_imports_at_every_depth():
    # The walk must see function-level and TYPE_CHECKING imports, or the rules above prove little.
    settings = GRAPH["inventory_cli.config.settings"]  # config.load only inside a function
    assert "inventory_cli.config.load" in settings, settings
    # `from .. import x` names the root when x is not a module: the root rule above needs it seen.
    replay = "inventory_cli.workflows.replay"
    assert imports_of(replay, "from .. import __version__") == {ROOT}
    assert imports_of(replay, "from ..version import __version__") == {"inventory_cli.version"}
