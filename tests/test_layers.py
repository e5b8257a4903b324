"""The front ends import neither ``ls_frames.testing`` nor each other's command modules,
save the CLI's one documented seam (its ``demo`` command, imported when it runs)."""

from __future__ import annotations

import ast
from pathlib import Path

import ls_frames

FRONTENDS = Path(ls_frames.__file__).parent / "frontends"


def imports(path: Path) -> list[tuple[str, str | None]]:
    """``(module imported, enclosing function or None)`` for every import in ``path``."""
    tree = ast.parse(path.read_text())
    found: list[tuple[str, str | None]] = []

    def visit(node: ast.AST, func: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            if isinstance(child, ast.Import):
                found.extend((a.name, func) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                found.append((child.module, func))
            visit(child, func)

    visit(tree, None)
    return found


def test_front_ends_reach_testing_only_through_the_demo_command() -> None:
    reached = {
        (str(p.relative_to(FRONTENDS)), func)
        for p in FRONTENDS.rglob("*.py")
        for mod, func in imports(p)
        if mod.startswith("ls_frames.testing")
    }
    assert reached == {("cli/commands.py", "cmd_demo")}


def test_no_front_end_imports_the_cli() -> None:
    users = [
        str(p.relative_to(FRONTENDS))
        for p in FRONTENDS.rglob("*.py")
        if "cli" not in p.relative_to(FRONTENDS).parts
        for mod, _ in imports(p)
        if mod == "ls_frames.frontends.cli" or mod.startswith("ls_frames.frontends.cli.")
    ]
    assert users == []


def test_the_demo_lives_with_the_testing_helpers() -> None:
    from ls_frames.testing.demo import run_demo

    assert not (FRONTENDS / "demo.py").exists()
    assert all(
        not mod.startswith("ls_frames.frontends.cli")
        for mod, _ in imports(Path(run_demo.__code__.co_filename))
    )
