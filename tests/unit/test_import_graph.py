"""No import circles inside `serving/` or `training/`, and the layers point one way.

Reads the imports a module runs when it is imported (module level, `if`/`try` blocks
included; imports inside functions run later, and a `TYPE_CHECKING` block only serves
annotations) with `ast`, and looks for cycles among the project's own modules.
`from package import module` imports the package's `__init__` too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _module_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements run at import: descends into if/try/with, not into defs."""
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If):
            if not _is_type_checking(node):
                out += _module_level(node.body) + _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            out += _module_level(node.body) + _module_level(node.orelse) + \
                _module_level(node.finalbody)
            for handler in node.handlers:
                out += _module_level(handler.body)
        elif isinstance(node, ast.With):
            out += _module_level(node.body)
        else:
            out.append(node)
    return out


def _imports(path: Path, package: str, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in _module_level(tree.body):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            # the longest known module the name starts with
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != package:
                found.add(name)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def _graph(package: str) -> dict[str, set[str]]:
    paths = [p for p in (ROOT / package).rglob("*.py") if "_gen" not in p.parts
             and "_proto" not in p.parts]
    known = {_module_name(p) for p in paths}
    return {_module_name(p): _imports(p, _module_name(p), known) - {_module_name(p)}
            for p in paths}


@pytest.mark.parametrize("package", ["serving"])  # training: with issue 21
def test_no_import_circle(package: str) -> None:
    graph = _graph(package)
    # A package importing its own submodule (an __init__ re-export) is not a circle
    # unless the submodule imports the package back, which _cycle finds.
    assert _cycle(graph) == [], " -> ".join(_cycle(graph))


def test_the_layers_point_one_way() -> None:
    """protocols -> core -> backends; the core and the backends know no protocol or
    transport; no protocol imports another one."""
    graph = _graph("serving")
    for module, imports in graph.items():
        if module.startswith(("serving.core", "serving.backends")):
            bad = [m for m in imports if m.startswith(("serving.protocols", "serving.rest",
                                                       "serving.grpc"))]
            assert not bad, f"{module} imports {bad}"
        if module.startswith("serving.protocols."):
            room = module.split(".")[2]
            bad = [m for m in imports if m.startswith("serving.protocols.")
                   and m.split(".")[2] != room] + \
                [m for m in imports if m.startswith("serving.backends")]
            assert not bad, f"{module} imports {bad}"
