"""Each package's migrations and its ``tables.py`` describe the same schema: after migrating a fresh
database, Alembic's autogenerate comparison of the package's metadata with the database finds nothing
to add, drop or change (tables, columns, types, nullability, indexes, unique constraints). So the code's
view of a table cannot drift from what a migration created."""
from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ledger import Database

# (package, module holding its metadata): every package that ships migrations owns these tables.
METADATA = [("ledger", "ledger.tables"), ("wallet", "wallet.tables"), ("stablecoin", "stablecoin.tables"),
            ("exchange", "exchange.tables"), ("card", "card.tables"), ("sandbox", "sandbox.tables"),
            ("sandbox", "sandbox.apikeys"), ("sandbox", "sandbox.events.tables"),
            ("sandbox", "sandbox.webhooks.tables"), ("sandbox", "sandbox.gateway.tables"), ("mining", "mining.tables")]


def _differences(db: Database, metadata) -> list:
    owned = set(metadata.tables)

    def include(obj, name, type_, reflected, compare_to):  # noqa: ANN001
        # Only this package's tables: the others belong to other packages' metadata.
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in owned

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include, "compare_type": True})
        return compare_metadata(context, metadata)


@pytest.mark.parametrize("package, module", METADATA, ids=[m for _, m in METADATA])
def test_a_packages_migrations_create_exactly_its_tables(db_url, package, module):
    db = Database(db_url)
    try:
        db.migrate()
        metadata = importlib.import_module(module).metadata
        assert _differences(db, metadata) == [], f"{module} and {package}'s migrations disagree"
    finally:
        db.dispose()
