"""A fresh, migrated database per suite: a SQLite file in the bench's work folder, or a
PostgreSQL database created on the local server and dropped afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from omnihub.adapters.db.engine import create_engine
from omnihub.adapters.db.migrate import upgrade
from omnihub.entrypoints.bench.context import BenchContext, BenchFailure


@contextlib.contextmanager
def provisioned(ctx: BenchContext, name: str) -> Iterator[str]:
    """Yields the URL of an empty database at the newest schema; removes it afterwards."""
    if ctx.db == "sqlite":
        path = ctx.workdir / f"{name}-{uuid.uuid4().hex[:8]}.db"
        url = f"sqlite:///{path}"
        _migrate(url)
        try:
            yield url
        finally:
            for suffix in ("", "-wal", "-shm", ".relay.lock", ".writers.lock"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
        return
    admin = create_engine(ctx.postgres_admin_url)
    database = f"omnihub_bench_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        raise BenchFailure(
            f"PostgreSQL is not reachable at {make_url(ctx.postgres_admin_url)!r}: {exc.orig}"
        ) from exc
    url = admin.url.set(database=database).render_as_string(hide_password=False)
    try:
        _migrate(url)
        yield url
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.dispose()


def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def raw_dsn(url: str) -> tuple[str, str]:
    """(dialect, what sqlite3.connect or psycopg.connect takes) for a database URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return "sqlite", parsed.database or ""
    return "postgresql", parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def create_bucket_tables(url: str) -> None:
    """The harness's split stock level: ``stock_levels``'s columns and checks plus a bucket
    number in the key, and the reservation and event rows a reservation writes beside it."""
    timestamp = "TEXT" if url.startswith("sqlite") else "TIMESTAMPTZ"
    json_type = "TEXT" if url.startswith("sqlite") else "JSON"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in (
                "CREATE TABLE IF NOT EXISTS bench_stock_buckets ("
                " location VARCHAR(64) NOT NULL, sku VARCHAR(64) NOT NULL,"
                " bucket INTEGER NOT NULL, on_hand BIGINT NOT NULL DEFAULT 0,"
                " reserved BIGINT NOT NULL DEFAULT 0, safety BIGINT NOT NULL DEFAULT 0,"
                " CHECK (on_hand >= 0), CHECK (reserved >= 0), CHECK (safety >= 0),"
                " PRIMARY KEY (location, sku, bucket))",
                "CREATE TABLE IF NOT EXISTS bench_reservations ("
                " id VARCHAR(32) PRIMARY KEY, location VARCHAR(64) NOT NULL,"
                " sku VARCHAR(64) NOT NULL, bucket INTEGER NOT NULL, qty BIGINT NOT NULL,"
                f" state VARCHAR(16) NOT NULL, created_at {timestamp} NOT NULL,"
                f" expires_at {timestamp}, CHECK (qty > 0))",
                "CREATE TABLE IF NOT EXISTS bench_events ("
                " id INTEGER PRIMARY KEY, event_id VARCHAR(32) NOT NULL UNIQUE,"
                " type VARCHAR(64) NOT NULL, aggregate_id VARCHAR(64) NOT NULL,"
                f" version INTEGER NOT NULL, occurred_at {timestamp} NOT NULL,"
                f" data {json_type} NOT NULL, delivered_at {timestamp})",
            ):
                if not url.startswith("sqlite"):
                    statement = statement.replace(
                        "id INTEGER PRIMARY KEY", "id BIGSERIAL PRIMARY KEY"
                    )
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def split_stock(url: str, location: str, sku: str, units: int, buckets: int) -> None:
    """``units`` of a SKU at a location spread as evenly as can be over ``buckets`` rows."""
    share, rest = divmod(units, buckets)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for bucket in range(buckets):
                conn.execute(
                    sa.text(
                        "INSERT INTO bench_stock_buckets (location, sku, bucket, on_hand, "
                        "reserved, safety) VALUES (:location, :sku, :bucket, :on_hand, 0, 0)"
                    ),
                    {
                        "location": location,
                        "sku": sku,
                        "bucket": bucket,
                        "on_hand": share + (1 if bucket < rest else 0),
                    },
                )
    finally:
        engine.dispose()


def bucket_books(url: str, location: str, sku: str) -> dict[str, int]:
    """What a split stock level holds after a sale: units, reserved, reservations, oversold."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            levels = list(
                conn.execute(
                    sa.text(
                        "SELECT on_hand, reserved FROM bench_stock_buckets "
                        "WHERE location = :location AND sku = :sku"
                    ),
                    {"location": location, "sku": sku},
                )
            )
            holds = conn.execute(
                sa.text(
                    "SELECT count(*), coalesce(sum(qty), 0) FROM bench_reservations "
                    "WHERE location = :location AND sku = :sku"
                ),
                {"location": location, "sku": sku},
            ).one()
    finally:
        engine.dispose()
    return {
        "buckets": len(levels),
        "on_hand": sum(int(r.on_hand) for r in levels),
        "reserved": sum(int(r.reserved) for r in levels),
        "reservations": int(holds[0]),
        "reserved_by_reservations": int(holds[1]),
        "oversold": sum(max(0, int(r.reserved) - int(r.on_hand)) for r in levels),
    }


def level_books(url: str) -> dict[str, int]:
    """The stock half of the books, straight from the tables, in one pass whatever the number
    of orders: levels whose reserved differs from their active reservations, levels promising
    more than they hold, and the units held by active reservations."""
    engine = create_engine(url)
    try:
        with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            rows = list(
                conn.execute(
                    sa.text(
                        "SELECT l.on_hand, l.reserved, l.safety, coalesce(r.held, 0) AS held "
                        "FROM stock_levels l LEFT JOIN (SELECT location, sku, sum(qty) AS held "
                        "FROM reservations WHERE state = 'active' GROUP BY location, sku) r "
                        "ON r.location = l.location AND r.sku = l.sku"
                    )
                )
            )
    finally:
        engine.dispose()
    return {
        "levels": len(rows),
        "reserved_mismatches": sum(1 for r in rows if int(r.reserved) != int(r.held)),
        "oversold": sum(1 for r in rows if int(r.reserved) + int(r.safety) > int(r.on_hand)),
        "units_held": sum(int(r.held) for r in rows),
    }
