"""Alembic's environment: migrations run on the connection :mod:`webapp.store.migrate` passes.

Run them with ``burki-dashboard db upgrade`` (or let the server apply them at
start-up); there is no ``alembic.ini``: the dashboard's settings name the database.
"""

from __future__ import annotations

from alembic import context

from webapp.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations with: burki-dashboard db upgrade")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite alters a table by copying it: Alembic's batch mode does that
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
