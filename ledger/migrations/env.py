"""Alembic environment: always run programmatically by ``ledger.db.Database.migrate``.

The caller hands over a live connection (``config.attributes["connection"]``) so
that migrations run in the caller's transaction and on the caller's engine
(SQLite file or a PostgreSQL schema).
"""
from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the CLI path is not supported
    raise RuntimeError("run migrations through ledger.Database.migrate(), not the alembic CLI")
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
