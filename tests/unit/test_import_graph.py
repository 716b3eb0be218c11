"""No import circles inside `serving/` or `training/`, and the layers point one way.

Reads the imports a module runs when it is imported (module level, `if`/`try` blocks
included; imports inside functions run later, and a `TYPE_CHECKING` block only serves
annotations) with `ast`, and looks for cycles among the project's own modules.
`from package import module` imports the package's `__init__` too. `training/` is held to
more: imports inside functions count as well (its old circle, loaders.py <->
loaders_price.py, was one such lazy import); `serving/`'s rooms import their transports
lazily on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
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


def _everywhere(body: list[ast.stmt]) -> list[ast.stmt]:
    """Every statement, inside functions too, except `TYPE_CHECKING` blocks."""
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If) and _is_type_checking(node):
            out += _everywhere(node.orelse)
            continue
        out.append(node)
        for field in ("body", "orelse", "finalbody", "handlers"):
            children = getattr(node, field, None)
            if isinstance(children, list):
                out += _everywhere([c for c in children if isinstance(c, ast.stmt)]
                                   + [s for h in children if isinstance(h, ast.excepthandler)
                                      for s in h.body])
    return out


def _imports(path: Path, package: str, known: set[str], lazy: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in (_everywhere if lazy else _module_level)(tree.body):
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


def _graph(package: str, lazy: bool = False, root: Path = ROOT) -> dict[str, set[str]]:
    paths = [p for p in (root / package).rglob("*.py") if "_gen" not in p.parts
             and "_proto" not in p.parts]
    names = {p: _module_name(p, root) for p in paths}
    known = set(names.values())
    return {names[p]: _imports(p, names[p], known, lazy) - {names[p]} for p in paths}


@pytest.mark.parametrize("package, lazy", [("serving", False), ("training", True)])
def test_no_import_circle(package: str, lazy: bool) -> None:
    graph = _graph(package, lazy)
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


def test_a_lazy_circle_is_found(tmp_path: Path) -> None:
    # The check can fail: two modules that import each other, one of them inside a function.
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import thing\n")
    (pkg / "b.py").write_text("def thing():\n    from pkg.a import other\n")
    assert _cycle(_graph("pkg", lazy=True, root=tmp_path)) == ["pkg.a", "pkg.b", "pkg.a"]
    assert _cycle(_graph("pkg", lazy=False, root=tmp_path)) == []
