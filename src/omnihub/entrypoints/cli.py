"""The ``omnihub`` command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from omnihub.config import Settings
from omnihub.ports import DeliveryQueue

app = typer.Typer(
    help="omnihub: one truth for orders, stock, members and money across every channel.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
dlq_app = typer.Typer(
    help="Dead letters: deliveries that failed every attempt.", no_args_is_help=True
)
app.add_typer(dlq_app, name="dlq")
console = Console()


def _settings(database_url: str | None) -> Settings:
    return Settings(database_url=database_url) if database_url else Settings()


DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", help="Overrides OMNIHUB_DATABASE_URL.", show_default=False),
]


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseOption = None) -> None:
    """Apply the migrations up to the newest schema."""
    from omnihub.adapters.db.engine import create_engine
    from omnihub.adapters.db.migrate import current_revision, upgrade

    settings = _settings(database_url)
    engine = create_engine(settings.database_url)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    engine.dispose()
    if before == after:
        console.print(f"schema already at revision {after}")
    else:
        console.print(f"schema upgraded from {before or 'empty'} to {after}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    database_url: DatabaseOption = None,
) -> None:
    """Serve the REST API and run the background workers (reservation sweeper)."""
    import os

    import uvicorn

    from omnihub.adapters.db.engine import create_engine
    from omnihub.adapters.db.migrate import upgrade

    settings = _settings(database_url)
    _check_backends(settings)
    if database_url:
        os.environ["OMNIHUB_DATABASE_URL"] = database_url  # for the worker processes
    if settings.auto_migrate:
        engine = create_engine(settings.database_url)
        upgrade(engine)
        engine.dispose()
    console.print(
        f"omnihub serving on http://{host}:{port} ({workers} worker(s), "
        f"database {settings.database_url.split('@')[-1]}); API docs at /docs"
    )
    uvicorn.run(
        "omnihub.entrypoints.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def _check_backends(settings: Settings) -> None:
    """Refuse to serve with a back-end config that has problems: list them all, exit 2."""
    from omnihub.bootstrap import backend_configs
    from omnihub.entrypoints.api.app import problems_text
    from omnihub.ports import InvalidBackendConfig

    try:
        backend_configs(settings)
    except InvalidBackendConfig as exc:
        typer.echo(problems_text(exc.problems), err=True)
        raise typer.Exit(2) from None


@app.command()
def check(
    repair: Annotated[
        bool, typer.Option("--repair", help="Recompute counters from ledger and reservations.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Verify the books (DESIGN.md §4) on the live database; list every violation."""
    from omnihub.bootstrap import bootstrap
    from omnihub.services import invariants

    hub = bootstrap(_settings(database_url))
    try:
        repaired = invariants.repair_counters(hub.uow(), hub.clock) if repair else []
        report = invariants.check_books(hub.read_uow())
    finally:
        hub.close()
    if as_json:
        print(
            json.dumps(
                {
                    "balanced": report.balanced,
                    "levels_checked": report.levels_checked,
                    "repaired": [v.details for v in repaired],
                    "violations": [
                        {"rule": v.rule, "subject": v.subject, "message": v.message}
                        for v in report.violations
                    ],
                },
                indent=2,
            )
        )
    else:
        for item in repaired:
            d = item.details
            console.print(
                f"[yellow]repaired[/] {item.subject}: on hand {d['on_hand_before']} -> "
                f"{d['on_hand_after']}, reserved {d['reserved_before']} -> {d['reserved_after']}"
            )
        if report.violations:
            table = Table("rule", "subject", "problem", title="Violations")
            for v in report.violations:
                table.add_row(v.rule, v.subject, v.message)
            console.print(table)
        verdict = "[green]books balance[/]" if report.balanced else "[red]books do NOT balance[/]"
        console.print(
            f"{verdict}: {report.levels_checked} stock levels checked, "
            f"{len(report.violations)} violation(s)"
        )
    raise typer.Exit(0 if report.balanced else 1)


def _deliveries(database_url: str | None) -> DeliveryQueue:
    from omnihub.adapters.db.engine import create_engine
    from omnihub.adapters.db.integration import SqlIntegrationStores

    engine = create_engine(_settings(database_url).database_url)
    return SqlIntegrationStores.on(engine).deliveries


@dlq_app.command("list")
def dlq_list(
    endpoint: Annotated[str | None, typer.Option(help="Only this endpoint.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Dead letters, newest first, with their last error."""
    from omnihub.ports import DEAD

    items = _deliveries(database_url).recent(status=DEAD, endpoint=endpoint, limit=200)
    table = Table("id", "endpoint", "event", "attempts", "last error", title="Dead letters")
    for d in items:
        table.add_row(
            str(d.id), d.endpoint, d.event_type, str(d.attempts), (d.last_error or "")[:80]
        )
    console.print(table)
    console.print(f"{len(items)} dead letter(s)")


@dlq_app.command("show")
def dlq_show(delivery_id: int, database_url: DatabaseOption = None) -> None:
    """One delivery in full: where, what, how often tried and why it failed."""
    item = _deliveries(database_url).get(delivery_id)
    if item is None:
        console.print(f"[red]delivery {delivery_id} does not exist[/]")
        raise typer.Exit(1)
    from dataclasses import asdict

    fields = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in asdict(item).items()}
    print(json.dumps(fields, indent=2, ensure_ascii=False))


@dlq_app.command("replay")
def dlq_replay(
    delivery_id: Annotated[int | None, typer.Argument(help="One dead letter.")] = None,
    endpoint: Annotated[str | None, typer.Option(help="Every dead letter of it.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Put dead letters back in the queue after fixing the cause (one, or all of an endpoint)."""
    from datetime import UTC, datetime

    if delivery_id is None and endpoint is None:
        console.print("[red]give a delivery id or --endpoint[/]")
        raise typer.Exit(2)
    n = _deliveries(database_url).replay(
        datetime.now(UTC), delivery_id=delivery_id, endpoint=endpoint
    )
    console.print(f"{n} dead letter(s) queued again")


@dlq_app.command("discard")
def dlq_discard(delivery_id: int, database_url: DatabaseOption = None) -> None:
    """Give up on a dead letter for good (it stays listed as discarded)."""
    from datetime import UTC, datetime

    if not _deliveries(database_url).discard(delivery_id, datetime.now(UTC)):
        console.print(f"[red]delivery {delivery_id} is not a dead letter[/]")
        raise typer.Exit(1)
    console.print(f"delivery {delivery_id} discarded")


@app.command()
def sweep(database_url: DatabaseOption = None) -> None:
    """Release expired reservations once (the server also does this every few seconds)."""
    from omnihub.bootstrap import bootstrap
    from omnihub.services.routing import expire_reservations

    hub = bootstrap(_settings(database_url))
    try:
        total = 0
        while True:
            n = expire_reservations(hub.uow(), hub.clock)
            total += n
            if n == 0:
                break
    finally:
        hub.close()
    console.print(f"released {total} expired reservation(s)")


@app.command()
def demo(
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds and print the summary.")
    ] = None,
    port: Annotated[int, typer.Option(help="Port of the hub's API.")] = 8000,
    rate: Annotated[float, typer.Option(help="Orders per second across all channels.")] = 8.0,
    database: Annotated[
        Path, typer.Option(help="SQLite file for the demo (recreated at each run).")
    ] = Path("omnihub-demo.db"),
    seed: Annotated[int, typer.Option(help="Random seed of the simulated day.")] = 7,
) -> None:
    """Run a demo retailer: seed it, serve the hub, stream a multi-channel day of orders."""
    from omnihub.entrypoints.demo.runner import run_demo

    ok = run_demo(
        duration=duration, port=port, rate=rate, database=database, seed=seed, console=console
    )
    raise typer.Exit(0 if ok else 1)


@app.command()
def bench(
    suite: Annotated[
        list[str] | None,
        typer.Option(
            "--suite",
            help="Suite to run (repeatable): ingest, flash-sale, routing, "
            "fan-out, relay; all if unset.",
        ),
    ] = None,
    db: Annotated[
        str, typer.Option("--db", help="Database of the hub under load: sqlite or postgresql.")
    ] = "sqlite",
    bus: Annotated[str, typer.Option("--bus", help="Event bus: memory or nats.")] = "memory",
    quick: Annotated[
        bool, typer.Option("--quick", help="Smaller loads, one run each (under 3 minutes).")
    ] = False,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the results here.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Server processes of the hub (default: cores)."),
    ] = None,
    postgres_url: Annotated[
        str | None,
        typer.Option(
            "--postgres-url",
            show_default=False,
            help="PostgreSQL admin URL; each suite creates and drops a database there "
            "(default OMNIHUB_BENCH_POSTGRES_URL or postgres@127.0.0.1:5432).",
        ),
    ] = None,
    nats_url: Annotated[
        str | None,
        typer.Option(
            "--nats-url",
            show_default=False,
            help="NATS JetStream URL (default OMNIHUB_BENCH_NATS_URL or "
            "nats://127.0.0.1:4222); streams are namespaced and deleted afterwards.",
        ),
    ] = None,
) -> None:
    """Run the benchmarks against real server processes on 127.0.0.1; print a table of each
    figure next to the same machine's floor measured in the same run; optionally write JSON."""
    import os
    import sys
    import tempfile
    import time
    from datetime import UTC, datetime

    from omnihub.entrypoints import bench as benchmarks

    chosen = suite or list(benchmarks.SUITES)
    unknown = [name for name in chosen if name not in benchmarks.SUITES]
    problems = [f"unknown suite(s): {', '.join(unknown)}"] if unknown else []
    if db not in ("sqlite", "postgresql"):
        problems.append(f"--db must be sqlite or postgresql, not {db!r}")
    if bus not in ("memory", "nats"):
        problems.append(f"--bus must be memory or nats, not {bus!r}")
    if problems:
        console.print(f"[red]{'; '.join(problems)}[/]; suites are: {', '.join(benchmarks.SUITES)}")
        raise typer.Exit(2)
    results: dict[str, dict[str, object]] = {}
    failed: list[str] = []
    started = datetime.now(UTC)
    console.print(
        f"omnihub bench {started:%Y-%m-%d %H:%M} UTC: {', '.join(chosen)} on {db} + {bus}, "
        f"{'quick' if quick else 'full'}, {os.cpu_count()} core(s); "
        f"command: {' '.join(['omnihub', *sys.argv[1:]])}"
    )
    with tempfile.TemporaryDirectory(prefix="omnihub-bench-") as workdir:
        for name in chosen:
            began = time.monotonic()
            with console.status(f"{name}...") as status:
                ctx = benchmarks.BenchContext(
                    workdir=Path(workdir),
                    sizes=benchmarks.QUICK if quick else benchmarks.FULL,
                    db=db,  # type: ignore[arg-type]
                    bus=bus,  # type: ignore[arg-type]
                    progress=status.update,
                )
                if workers:
                    ctx.server_workers = workers
                if postgres_url:
                    ctx.postgres_admin_url = postgres_url
                if nats_url:
                    ctx.nats_url = nats_url
                try:
                    results.update(benchmarks.suite(name)(ctx))
                except benchmarks.BenchFailure as exc:
                    failed.append(name)
                    console.print(f"[red]{name} failed:[/] {exc}")
                    continue
                except Exception:  # a broken suite must not hide the others' figures
                    failed.append(name)
                    console.print(f"[red]{name} failed with an error:[/]")
                    console.print_exception(max_frames=8)
                    continue
            console.print(f"{name}: done in {time.monotonic() - began:.0f} s")
    table = Table("measure", "value", "unit", "baseline", "ratio", title="omnihub bench")
    for measure, row in results.items():
        table.add_row(measure, *(str(row[k]) for k in ("value", "unit", "baseline", "ratio")))
    console.print(table)
    if json_path is not None:
        json_path.write_text(json.dumps(results, indent=2))
        console.print(f"results written to {json_path}")
    if failed:
        console.print(f"[red]failed: {', '.join(failed)}[/]")
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
