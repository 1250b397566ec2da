"""The package's imports point one way: no cycles, no imports of its own modules inside
functions, small modules (read from the source with ``ast``; nothing is imported)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "brian2modelfitting_sbi"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
#: Modules still over the size limit, with their size today: they may shrink, not grow.
LIMIT = 400
OVER_LIMIT = {
    f"{PACKAGE}.features._kernels": 604,  # the numba kernels, kept in one compiled unit
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute name of ``from ... import`` in ``module``."""
    if node.level == 0:
        return node.module or ""
    is_package = MODULES[module].name == "__init__.py"
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(module: str, node: ast.AST) -> list[str]:
    """Modules of this package that an import statement names."""
    found = []
    if isinstance(node, ast.Import):
        found = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        origin = _resolve(module, node)
        for alias in node.names:
            sub = f"{origin}.{alias.name}"
            found.append(sub if sub in MODULES else origin)
    return [name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")]


def _lazy_targets(module: str, node: ast.AST) -> list[str]:
    """Modules a package imports on first use of a name: its ``_LAZY = {name: submodule}``."""
    if not (
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets)
        and isinstance(node.value, ast.Dict)
    ):
        return []
    base = module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]
    return [f"{base}.{v.value}" for v in node.value.values if isinstance(v, ast.Constant)]


def _imports(module: str) -> tuple[set[str], list[tuple[int, str]]]:
    """(module-level imports of the package's modules, (line, name) of those in functions)."""
    tree = ast.parse(MODULES[module].read_text())
    top: set[str] = set()
    nested: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                nested += [(inner.lineno, t) for t in _targets(module, inner)]
    for node in tree.body:
        top.update(t for t in _lazy_targets(module, node) if t != module)
        statements = [node]
        if isinstance(node, ast.If | ast.Try):  # e.g. TYPE_CHECKING blocks, fallbacks
            statements = list(ast.walk(node))
        for stmt in statements:
            top.update(t for t in _targets(module, stmt) if t in MODULES and t != module)
    return top, nested


GRAPH = {name: _imports(name)[0] for name in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_walk_sees_the_package() -> None:
    assert f"{PACKAGE}.inferencer" in MODULES and f"{PACKAGE}.posterior.result" in MODULES
    assert f"{PACKAGE}.posterior.result" in GRAPH[f"{PACKAGE}.inferencer"] or any(
        f"{PACKAGE}.posterior" == t for t in GRAPH[f"{PACKAGE}.inferencer"]
    )


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_lazy_imports_are_edges_of_the_graph() -> None:
    features = f"{PACKAGE}.features"
    assert f"{features}.library" in GRAPH[features]  # EphysFeatures, imported on first use


def test_no_import_cycles() -> None:
    assert _cycles(GRAPH) == []


def test_no_imports_of_the_package_inside_functions() -> None:
    nested = {name: _imports(name)[1] for name in MODULES}
    assert {name: found for name, found in nested.items() if found} == {}


@pytest.mark.parametrize("direction", [
    ("posterior", "inference"), ("posterior", "archive"), ("posterior", "inferencer"),
    ("archive", "inference"), ("archive", "inferencer"), ("backends", "posterior"),
    ("features", "backends"), ("simulation", "features"), ("inference", "inferencer"),
    ("upstream", "inference"), ("upstream", "archive"), ("upstream", "inferencer"),
    ("posterior", "upstream"), ("backends", "upstream"), ("simulation", "upstream"),
    ("modelcheck", "simulation"), ("modelcheck", "problem"), ("arguments", "problem"),
    # the prior distributions sit under the parameter space; measurement noise is simulation
    ("prior_dists", "priors"), ("prior_dists", "simulation"), ("prior_dists", "backends"),
    ("simulation", "priors"), ("simulation.measurement", "posterior"),
    ("simulation.measurement", "inference"), ("priors", "simulation"),
])
def test_layers_import_downwards(direction: tuple[str, str]) -> None:
    """A lower layer never imports a higher one."""
    low, high = (f"{PACKAGE}.{part}" for part in direction)
    offending = {
        name: sorted(t for t in targets if t == high or t.startswith(high + "."))
        for name, targets in GRAPH.items()
        if name == low or name.startswith(low + ".")
    }
    assert {k: v for k, v in offending.items() if v} == {}


@pytest.mark.parametrize("module", ["errors", "threads", "modelcheck", "arguments", "_heap"])
def test_the_bottom_layer_imports_only_the_errors(module: str) -> None:
    """The errors, the thread control, the model check, the argument conversions and the
    collector control sit at the bottom: every module may use them, and they use nothing of
    the package but errors (and the collector control)."""
    assert GRAPH[f"{PACKAGE}.{module}"] <= {f"{PACKAGE}.errors", f"{PACKAGE}._heap"}


def test_modules_are_small() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    too_long = {
        name: n for name, n in sizes.items() if n > OVER_LIMIT.get(name, LIMIT)
    }
    assert too_long == {}, f"split these modules (limit {LIMIT} lines)"
