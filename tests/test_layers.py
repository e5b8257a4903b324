"""The house drawn from the code: every import in the library follows the layer order the
package docstring draws, no module-level import circle, and rooms of a readable size.

Two stacks, network and data, meet in media and the services above it::

    network:  transport -> exports
    data:     reading -> tables -> geometry -> evaluation -> drawing -> training -> writing
    both:     media -> pipeline -> sync -> testing -> frontends (cli | widgets)

A package may import the ground floor (the top-level modules such as ``errors``) and the
packages listed below it, never one above it or beside it. Imports inside functions count
too (a lazy import is still a dependency); imports under ``if TYPE_CHECKING:`` do not.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import ls_frames

ROOT = Path(ls_frames.__file__).parent

NETWORK = ("transport", "exports")
DATA = ("reading", "tables", "geometry", "evaluation", "drawing", "training", "writing")
TOP = ("media", "pipeline", "sync", "testing", "frontends")

#: What each package may import, besides the ground floor and itself.
ALLOWED: dict[str, set[str]] = {}
for stack in (NETWORK, DATA):
    for i, name in enumerate(stack):
        ALLOWED[name] = set(stack[:i])
for i, name in enumerate(TOP):
    ALLOWED[name] = set(NETWORK) | set(DATA) | set(TOP[:i])

#: The library's hot loops, exempt from the function-size rule: the flattener's inner loop
#: and the chunker's byte scanner (one function each so the interpreter keeps locals local).
HOT_LOOPS = {("reading/flatten.py", "flatten_tasks"), ("reading/chunker.py", "iter_chunks")}
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(["ls_frames", *parts]), path


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id.endswith("TYPE_CHECKING")) or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str) -> list[tuple[str, bool]]:
    """``(module imported, at module level)`` for each ls_frames import in ``path``."""
    tree = ast.parse(path.read_text())
    found: list[tuple[str, bool]] = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def target(node: ast.ImportFrom) -> str:
        if node.level:
            base = package.split(".")
            base = base[: len(base) - node.level + 1]
            return ".".join([*base, node.module] if node.module else base)
        return node.module or ""

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other, top)
                continue
            inner = top and not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            if isinstance(child, ast.Import):
                found.extend((a.name, top) for a in child.names if a.name.startswith("ls_frames"))
            elif isinstance(child, ast.ImportFrom):
                name = target(child)
                if name.startswith("ls_frames"):
                    for alias in child.names:
                        sub = f"{name}.{alias.name}"
                        found.append((sub if sub in MODULES else name, top))
            visit(child, inner)

    visit(tree, True)
    return found


MODULES = {name: path for name, path in _modules()}


def _package(module: str) -> str | None:
    """The layer a module belongs to, or None for the ground floor and the root."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    if (ROOT / parts[1]).is_dir():
        return parts[1]
    return None


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(ALLOWED)


def test_every_import_follows_the_layer_order() -> None:
    wrong = []
    for module, path in MODULES.items():
        layer = _package(module)
        if layer is None:
            # the ground floor imports nothing of the library; the root only lazily
            if module != "ls_frames":
                wrong += [f"{module} -> {m}" for m, _ in _imports(path, module)]
            continue
        for imported, _ in _imports(path, module):
            other = _package(imported)
            if other is None or other == layer or other in ALLOWED[layer]:
                if imported == "ls_frames":
                    wrong.append(f"{module} -> ls_frames (the root)")
                continue
            wrong.append(f"{module} -> {imported}")
    assert wrong == []


def test_front_ends_do_not_import_each_other() -> None:
    sideways = []
    for module, path in MODULES.items():
        if not module.startswith("ls_frames.frontends."):
            continue
        mine = module.split(".")[2]
        for imported, _ in _imports(path, module):
            parts = imported.split(".")
            if parts[:2] == ["ls_frames", "frontends"] and len(parts) > 2 and parts[2] != mine:
                sideways.append(f"{module} -> {imported}")
    assert sideways == []


def test_front_ends_reach_testing_only_through_the_demo_command() -> None:
    reached = set()
    for module, path in MODULES.items():
        if module.startswith("ls_frames.frontends"):
            for imported, top in _imports(path, module):
                if imported.startswith("ls_frames.testing"):
                    reached.add((module, top))
    # only function-level imports (the CLI's demo command), never at import time
    assert reached and all(not top for _, top in reached)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph`` (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
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

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return cycles


def test_no_import_circle() -> None:
    # every import counts, inside functions too: an import moved into a function to get
    # past a circle leaves the circle in place
    graph = {
        module: {m for m, _ in _imports(path, module) if m in MODULES and m != module}
        for module, path in MODULES.items()
    }
    assert _cycles(graph) == []


def test_the_check_sees_a_circle_through_a_function_level_import(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    a.write_text("from ls_frames.geometry import masks\n")
    b = tmp_path / "b.py"
    b.write_text("def f():\n    from ls_frames.geometry import shapes\n")
    graph = {
        "ls_frames.geometry.shapes": {m for m, _ in _imports(a, "ls_frames.geometry.shapes")},
        "ls_frames.geometry.masks": {m for m, _ in _imports(b, "ls_frames.geometry.masks")},
    }
    assert graph["ls_frames.geometry.masks"] == {"ls_frames.geometry.shapes"}
    assert _cycles(graph) == [["ls_frames.geometry.masks", "ls_frames.geometry.shapes"]]


def _function_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    first = body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
        and len(body) > 1
    ):
        first = body[1]
    return (node.end_lineno or node.lineno) - first.lineno + 1


def test_rooms_of_a_readable_size() -> None:
    big_modules = []
    big_functions = []
    for _, path in MODULES.items():
        rel = str(path.relative_to(ROOT))
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            big_modules.append(f"{rel}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = _function_lines(node)
                if n > MAX_FUNCTION_LINES and (rel, node.name) not in HOT_LOOPS:
                    big_functions.append(f"{rel}:{node.name}: {n} lines")
    assert big_modules == []
    assert big_functions == []


def test_no_private_httpx_names() -> None:
    users = [
        str(path.relative_to(ROOT)) for _, path in MODULES.items() if "httpx._" in path.read_text()
    ]
    assert users == []


def test_one_docstring_style() -> None:
    """numpy sections (``Parameters`` over a line of dashes), never Google's ``Args:``."""
    google = [
        f"{path.relative_to(ROOT)}:{number}"
        for _, path in MODULES.items()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if line.strip() in {"Args:", "Arguments:", "Returns:", "Raises:", "Yields:", "Parameters:"}
    ]
    assert google == []
