"""The composition root has layers, not a tangle: no two modules of ``sandbox`` import each other, directly
or around a circle (a package's ``__init__`` re-exporting its own submodules does not count)."""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

ROOT = Path(importlib.util.find_spec("sandbox").submodule_search_locations[0])


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = ("sandbox",) + path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [f"{target}.{alias.name}" for alias in node.names] + [target]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for candidate in candidates:
            if candidate in known and candidate != name and not name.startswith(candidate + "."):
                found.add(candidate)   # a submodule reaching its own package's __init__ is not a layer
    return found


def test_sandbox_has_no_import_circle():
    known = _modules()
    graph = {name: _imports(name, path, known) for name, path in known.items()}
    circles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                circles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not circles, "import circles in sandbox: " + "; ".join(" -> ".join(c) for c in circles)
