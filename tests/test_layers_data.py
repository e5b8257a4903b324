"""The data stack has no import circle and imports only downwards.

Layers, lowest first: ``reading`` -> ``tables`` -> ``geometry`` -> ``evaluation`` ->
``training``. A module may import its own layer and those below it, never one above,
whether the import is at the top of the module, under ``TYPE_CHECKING`` or inside a
function (an import hidden in a function is still a dependency). Nor does the data stack
import the network stack or what sits above both stacks (transport, exports, media, sync,
pipeline, front ends, testing). Between the modules of the data stack, the graph of every
import (module level and function level alike) has no circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ls_frames

ROOT = Path(ls_frames.__file__).parent
LAYERS = ("reading", "tables", "geometry", "evaluation", "training")
OUTSIDE = ("transport", "exports", "media", "sync", "pipeline", "frontends", "testing")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for layer in LAYERS for p in sorted((ROOT / layer).rglob("*.py"))}


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, int]]:
    """``(module imported, line)`` for every ``ls_frames`` import in the module, wherever
    it stands; ``from package import submodule`` names the submodule."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((a.name, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            for alias in node.names:
                child = f"{module}.{alias.name}"
                found.append((child if child in MODULES else module, node.lineno))
    return [(m, line) for m, line in found if m == "ls_frames" or m.startswith("ls_frames.")]


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _graph() -> dict[str, set[str]]:
    return {
        name: {m for m, _ in _imports(name, path) if m in MODULES and m != name}
        for name, path in MODULES.items()
    }


def test_the_walk_sees_every_data_layer() -> None:
    assert {_layer(m) for m in MODULES} == set(LAYERS)
    assert "ls_frames.reading.controls" in MODULES
    # the walk finds imports inside functions too
    splits = _imports("ls_frames.training.splits", MODULES["ls_frames.training.splits"])
    assert "ls_frames.evaluation.agreement" in {m for m, _ in splits}


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_itself_and_the_layers_below(layer: str) -> None:
    rank = LAYERS.index(layer)
    wrong = sorted(
        f"{name}:{line} imports {module}"
        for name, path in MODULES.items()
        if _layer(name) == layer
        for module, line in _imports(name, path)
        if (_layer(module) in LAYERS and LAYERS.index(str(_layer(module))) > rank)
        or _layer(module) in OUTSIDE
    )
    assert wrong == []


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The circles a depth-first walk of ``graph`` meets (each as its path of modules)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                circles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return circles


def test_the_data_stack_has_no_import_circle() -> None:
    assert _circles(_graph()) == []


def test_the_check_finds_a_circle_through_a_function_level_import(tmp_path: Path) -> None:
    module = tmp_path / "shapes.py"
    module.write_text(
        "from ls_frames.geometry.pixels import to_pixels\n\n\n"
        "def to_coco():\n    from ls_frames.geometry.coco import segmentations\n"
    )
    found = {m for m, _ in _imports("ls_frames.geometry.shapes", module)}
    assert found == {"ls_frames.geometry.pixels", "ls_frames.geometry.coco"}
    graph = {
        "ls_frames.geometry.shapes": found,
        "ls_frames.geometry.coco": {"ls_frames.geometry.shapes"},
    }
    assert _circles(graph) == [
        ["ls_frames.geometry.coco", "ls_frames.geometry.shapes", "ls_frames.geometry.coco"]
    ]
