"""The mining package is domain code: it imports only ``ledger`` (and the standard library and
SQLAlchemy for its tables), reads no clock and does no I/O of its own."""
from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

ROOT = Path(importlib.util.find_spec("mining").submodule_search_locations[0])
ALLOWED = {"ledger", "mining", "sqlalchemy", "alembic", "__future__"} | set(sys.stdlib_module_names)
FORBIDDEN_STDLIB = {"os", "socket", "subprocess", "urllib", "http", "time", "random"}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found


def test_mining_imports_only_ledger_and_reads_no_clock():
    for path in sorted(ROOT.rglob("*.py")):
        imported = _imports(path)
        assert imported <= ALLOWED, f"{path.name} imports {sorted(imported - ALLOWED)}"
        assert not imported & FORBIDDEN_STDLIB, f"{path.name} imports {sorted(imported & FORBIDDEN_STDLIB)}"
        source = path.read_text(encoding="utf-8")
        assert "datetime.now" not in source and "utcnow" not in source and "open(" not in source, path.name
