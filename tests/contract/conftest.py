"""Units of work and integration stores for the contract suites: the fakes, a real SQLite
file, a real PostgreSQL.

Each contract is an abstract class whose tests take a ``uow_factory`` (or ``world``) fixture;
every backend subclasses it and provides that fixture from one of these.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from contract_world import IntegrationWorld
from sqlalchemy.engine import Connection, Engine

from fakes import FakeDatabase, FakeUnitOfWork
from fakes_integration import FakeIntegrationStores
from omnihub.adapters.db.engine import create_engine
from omnihub.adapters.db.integration import SqlIntegrationStores
from omnihub.adapters.db.migrate import upgrade
from omnihub.adapters.db.unit_of_work import SqlUnitOfWork
from omnihub.ports import UnitOfWork

UowFactory = Callable[[], UnitOfWork]


@pytest.fixture
def fake_uow_factory() -> UowFactory:
    database = FakeDatabase()
    return lambda: FakeUnitOfWork(database)


def _sql_factory(url: str) -> Iterator[UowFactory]:
    engine = create_engine(url)
    yield lambda: SqlUnitOfWork(engine)
    engine.dispose()


@pytest.fixture
def sqlite_uow_factory(sqlite_url: str) -> Iterator[UowFactory]:
    yield from _sql_factory(sqlite_url)


@pytest.fixture(scope="session")
def contract_postgres_url(postgres_admin: Engine) -> Iterator[str]:
    """One migrated PostgreSQL database for every contract test, emptied before each.

    The shared ``postgres_url`` creates, migrates and drops a database per test (about 1.8 s
    each); the contract suites run dozens of short tests, so they pay that once per session.
    """
    name = f"omnihub_contract_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = postgres_admin.url.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with postgres_admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _referencing_first(conn: Connection) -> list[str]:
    tables = {
        name
        for (name,) in conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )
    }
    references = list(
        conn.exec_driver_sql(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
        )
    )
    ordered: list[str] = []
    while tables:
        referenced = {parent for child, parent in references if child in tables and child != parent}
        ready = sorted(tables - referenced) or sorted(tables)
        ordered.extend(ready)
        tables -= set(ready)
    return ordered


@pytest.fixture
def postgres_engine(contract_postgres_url: str) -> Iterator[Engine]:
    """The contract database, emptied."""
    engine = create_engine(contract_postgres_url)
    with engine.begin() as conn:
        # DELETE is much quicker than TRUNCATE on tables this small; referencing tables first.
        for table in _referencing_first(conn):
            conn.exec_driver_sql(f'DELETE FROM "{table}"')
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_uow_factory(postgres_engine: Engine) -> UowFactory:
    return lambda: SqlUnitOfWork(postgres_engine)


# -- the integration stores ---------------------------------------------------------------------


@pytest.fixture
def fake_world() -> IntegrationWorld:
    database = FakeDatabase()
    return IntegrationWorld(lambda: FakeUnitOfWork(database), FakeIntegrationStores.on(database))


def _sql_world(engine: Engine) -> IntegrationWorld:
    return IntegrationWorld(lambda: SqlUnitOfWork(engine), SqlIntegrationStores.on(engine))


@pytest.fixture
def sqlite_world(sqlite_url: str) -> Iterator[IntegrationWorld]:
    engine = create_engine(sqlite_url)
    yield _sql_world(engine)
    engine.dispose()


@pytest.fixture
def postgres_world(postgres_engine: Engine) -> IntegrationWorld:
    return _sql_world(postgres_engine)
