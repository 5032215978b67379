"""Which Alembic revisions the code ships that the database has not applied (for /readyz)."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import ledger
from ledger.db import KNOWN_PACKAGES, _versions_dir


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    """Every package's migrations installed with the code, read once per process."""
    locations = [str(p) for p in (_versions_dir(n) for n in KNOWN_PACKAGES) if p is not None]
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(ledger.__file__).parent / "migrations"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(locations))
    return ScriptDirectory.from_config(cfg)


def missing_migrations(conn) -> set[str]:
    """Revisions the code ships that ``conn``'s database has not applied (empty when ready)."""
    script = _scripts()
    applied: set[str] = set()
    for head in MigrationContext.configure(conn).get_current_heads():
        applied.update(rev.revision for rev in script.iterate_revisions(head, "base"))
    return {rev.revision for rev in script.walk_revisions()} - applied
