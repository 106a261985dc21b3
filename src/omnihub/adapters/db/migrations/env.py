"""Alembic environment: runs on the connection or URL handed over by omnihub.adapters.db.migrate."""

from __future__ import annotations

from alembic import context

from omnihub.adapters.db.engine import create_engine
from omnihub.adapters.db.tables import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run_on(conn)
    engine.dispose()


def _run_on(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
