"""The layers import only downward (docs/ARCHITECTURE.md): read from every module's imports.

The order, from the bottom: `words` and `testing` (the scripted server, which imports nothing else
of dlngraph), spec, graph, data, llm, engine, dln, runs, report, bench, cli. The package's own
`__init__` is the public face and may import from any layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dlngraph"
LAYERS = ["words", "testing", "spec", "graph", "data", "llm", "engine", "dln", "runs", "report", "bench", "cli"]
ISOLATED = {"testing"}
"""Layers that import no other layer, not even lower ones."""


def _layer(module: str) -> str:
    return module.split(".")[1]


def _imports(path: Path) -> set[str]:
    """The dlngraph modules a file imports, at any depth (lazy imports in functions count)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("dlngraph.")}


def _violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":
            continue
        layer = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for module in sorted(_imports(path)):
            target = _layer(module)
            upward = LAYERS.index(target) > LAYERS.index(layer)
            if upward or (layer in ISOLATED and target != layer):
                found.append(f"{path.relative_to(PACKAGE.parent)} ({layer}) imports {module} ({target})")
    return found


def test_every_module_belongs_to_a_layer() -> None:
    names = {path.relative_to(PACKAGE).parts[0].removesuffix(".py") for path in PACKAGE.rglob("*.py")}
    assert names - {"__init__"} <= set(LAYERS)


def test_imports_point_down() -> None:
    assert _violations() == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The reader of imports finds lazy ones too, or the test above could not fail."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from dlngraph.cli.main import main\n    import dlngraph.runs.train\n")
    assert _imports(module) == {"dlngraph.cli.main", "dlngraph.runs.train"}
