"""The Alembic migrations build exactly the schema of tables.py, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from omnihub.adapters.db.engine import create_engine
from omnihub.adapters.db.migrate import alembic_config, current_revision, upgrade
from omnihub.adapters.db.tables import metadata, skus
from omnihub.adapters.db.unit_of_work import SqlUnitOfWork
from omnihub.domain.catalog import Sku
from omnihub.domain.values import Money
from omnihub.services import catalog

pytestmark = pytest.mark.integration


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def _table_names(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def _run(engine: Engine, action: str, revision: str) -> None:
    """Run an Alembic command on one of our connections, the way migrate.upgrade does."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, action)(config, revision)


def test_the_migrations_create_exactly_the_tables_of_the_model(engine: Engine) -> None:
    assert _differences(engine) == []
    assert _table_names(engine) == set(metadata.tables)
    assert current_revision(engine) == _head()


def _skus(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(skus.c.code).order_by(skus.c.code)).scalars())


def test_upgrading_a_database_that_is_at_head_changes_nothing(engine: Engine) -> None:
    catalog.add_sku(SqlUnitOfWork(engine), Sku("TEA-001", "Longjing tea", Money.of("59.00")))
    before = {name: sa.inspect(engine).get_columns(name) for name in _table_names(engine)}

    upgrade(engine)
    upgrade(engine)

    after = {name: sa.inspect(engine).get_columns(name) for name in _table_names(engine)}
    assert repr(after) == repr(before)
    assert current_revision(engine) == _head()
    assert _differences(engine) == []
    assert _skus(engine) == ["TEA-001"]  # the data is untouched
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1


def test_downgrading_to_base_drops_everything_and_upgrading_again_rebuilds_it(
    engine: Engine,
) -> None:
    _run(engine, "downgrade", "base")

    assert _table_names(engine) == set()
    assert current_revision(engine) is None

    _run(engine, "upgrade", "head")

    assert current_revision(engine) == _head()
    assert _table_names(engine) == set(metadata.tables)
    assert _differences(engine) == []


def test_each_migration_can_be_undone_and_redone_on_its_own(engine: Engine) -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    revisions = [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]
    _run(engine, "downgrade", "base")

    for revision in revisions:
        _run(engine, "upgrade", revision)
        tables = _table_names(engine)
        _run(engine, "downgrade", "-1")
        _run(engine, "upgrade", revision)
        assert current_revision(engine) == revision
        assert _table_names(engine) == tables

    assert revisions[-1] == _head()
    assert _differences(engine) == []


def test_the_schema_comparison_notices_a_drift_from_the_model(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_orders_status_id")
        conn.exec_driver_sql("ALTER TABLE skus ADD COLUMN colour VARCHAR(20)")

    found = {
        (diff[0], diff[1].name) if diff[0] == "add_index" else (diff[0], diff[3].name)
        for diff in _differences(engine)
    }

    assert found == {("add_index", "ix_orders_status_id"), ("remove_column", "colour")}


def test_a_brand_new_sqlite_file_is_migrated_to_the_model(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert _differences(engine) == []
        assert current_revision(engine) == _head()
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_full_synchronous_commits(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            journal_mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
            foreign_keys = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
        assert str(journal_mode).lower() == "wal"
        assert synchronous == 2  # 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
        assert foreign_keys == 1
    finally:
        engine.dispose()
