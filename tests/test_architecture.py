"""The package's layers, read from the source: no import cycle, imports only go down, and no
module uses another module's private names.

Layers, lowest first (a module may import from its own layer and the ones below):

0. ``units``, ``options``               — the unit registry, process-wide options
1. ``physics``, ``variables``           — array kernels (numpy only; dask where a kernel must map
                                          blocks) and the catalogue of names (which may read a
                                          kernel's code list)
2. records (``hardware``, ``models``, ``systems``, ``infra``), ``registry``, ``grid``, ``result``,
   ``reduce``, ``specs``                — data, arguments, results, numba reductions
3. ``optimize``                         — the search over any Result
4. ``solvers``                          — the resolvers (thin facades)
5. ``sweep``, ``validation``, ``calibrate``, ``plot`` — specs, summaries, studies, fits, figures
6. ``cli`` and the package itself       — the command line and the public names
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mlsysim_vec"

LAYERS = {
    "units": 0,
    "options": 0,
    "variables": 1,
    "physics": 1,
    "hardware": 2,
    "models": 2,
    "systems": 2,
    "infra": 2,
    "data": 2,
    "registry": 2,
    "grid": 2,
    "result": 2,
    "io": 2,
    "reduce": 2,
    "specs": 2,
    "optimize": 3,
    "solvers": 4,
    "sweep": 5,
    "validation": 5,
    "calibrate": 5,
    "plot": 5,
    "cli": 6,
    "__init__": 6,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _imports(name: str) -> list[tuple[str, str, int]]:
    """(imported module, imported name or '', line) of every import in a module, including
    imports inside functions."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, "", node.lineno) for alias in node.names if alias.name.startswith("mlsysim_vec")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                target = _resolve(name, is_package, node.level, node.module)
            elif (node.module or "").startswith("mlsysim_vec"):
                target = node.module
            else:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.append((sub, "", node.lineno) if sub in MODULES else (target, alias.name, node.lineno))
    return out


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS["__init__"] if len(parts) == 1 else LAYERS[parts[1]]


def _edges() -> dict[str, set[str]]:
    graph = {m: set() for m in MODULES}
    for name in MODULES:
        for target, _, _ in _imports(name):
            if target in MODULES and target != name:
                graph[name].add(target)
    return graph


def test_every_module_has_a_layer():
    assert all(_layer(m) is not None for m in MODULES)


def test_no_import_cycle():
    """Tarjan's strongly connected components of the import graph are all single modules.
    A package's ``__init__`` is left out: it only collects names from below."""
    graph = {m: {t for t in ts if t != "mlsysim_vec.solvers"} for m, ts in _edges().items() if m != "mlsysim_vec"}
    graph = {m: ts for m, ts in graph.items() if m != "mlsysim_vec.solvers"}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
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
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_imports_only_go_down():
    upward = []
    for name in MODULES:
        for target, _, line in _imports(name):
            if target in MODULES and _layer(target) > _layer(name):
                upward.append(f"{MODULES[name].relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_physics_imports_nothing_but_numpy_and_physics():
    """Kernels depend on numpy and the standard library (and dask, lazily, to map a kernel over
    blocks; numba, lazily, for the fused loops of physics/fused.py), never on the grid, the
    catalogue or units."""
    bad = []
    for name, path in MODULES.items():
        if not name.startswith("mlsysim_vec.physics"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                bad += [
                    f"{name}: import {a.name}"
                    for a in node.names
                    if a.name.split(".")[0] not in ("numpy", "math", "dask", "numba")
                ]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                if (node.module or "").split(".")[0] not in ("numpy", "dask", "numba", *sys.stdlib_module_names):
                    bad.append(f"{name}: from {node.module} import ...")
            elif isinstance(node, ast.ImportFrom) and node.level:
                target = _resolve(name, path.name == "__init__.py", node.level, node.module)
                if not target.startswith("mlsysim_vec.physics"):
                    bad.append(f"{name}: from {target} import ...")
    assert not bad, "\n".join(bad)


def test_no_private_names_across_modules():
    """``from x import _y`` and ``x._y`` for another module ``x`` of the package."""
    bad = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {}
        for target, imported, line in _imports(name):
            if imported.startswith("_") and not imported.startswith("__") and target != name:
                bad.append(f"{name}:{line} imports {target}.{imported}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = _resolve(name, path.name == "__init__.py", node.level, node.module)
                for alias in node.names:
                    if f"{base}.{alias.name}" in MODULES:
                        aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("mlsysim_vec") and alias.asname:
                        aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                bad.append(f"{name}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert not bad, "private names used across modules:\n" + "\n".join(bad)


def test_layer_table_covers_the_top_level():
    tops = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    missing = sorted(t for t in tops if t not in LAYERS)
    assert not missing, f"modules without a layer in tests/test_architecture.py: {missing}"
