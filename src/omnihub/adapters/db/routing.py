"""Routing persistence: decisions with their explanation, fulfilments, merges, pickup codes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from omnihub.adapters.db.tables import (
    audit_log,
    documents,
    fulfilments,
    merge_groups,
    orders,
    pickup_codes,
    routing_decisions,
)
from omnihub.domain.routing.fulfilment import (
    Fulfilment,
    FulfilmentStatus,
    MergeGroup,
    MergeState,
)
from omnihub.ports import PickupCodeRecord, RoutingRepository

F = fulfilments
M = merge_groups
P = pickup_codes

# Statements of the routing of every order, built once (see repositories.py).
_INSERT_DECISION = sa.insert(routing_decisions)
_INSERT_FULFILMENT = sa.insert(F)
_UPDATE_FULFILMENT = sa.update(F).where(F.c.id == sa.bindparam("b_id"))
_FULFILMENTS_OF = (
    sa.select(F).where(F.c.order_id == sa.bindparam("order_id")).order_by(F.c.location, F.c.id)
)
_FULFILMENTS_PER_NODE_SINCE = (
    sa.select(F.c.location, sa.func.count())
    .where(
        F.c.location.in_(sa.bindparam("locations", expanding=True)),
        F.c.created_at >= sa.bindparam("since"),
        F.c.status != str(FulfilmentStatus.CANCELLED),
    )
    .group_by(F.c.location)
)
_GROUP_MEMBERS = (
    sa.select(orders.c.id)
    .where(orders.c.merge_group == sa.bindparam("group_id"))
    .order_by(orders.c.id)
)
_OPEN_MERGE_GROUP = (
    sa.select(M)
    .where(
        M.c.merge_key == sa.bindparam("merge_key"),
        M.c.state == str(MergeState.OPEN),
        M.c.created_at >= sa.bindparam("since"),
    )
    .order_by(M.c.created_at, M.c.id)
    .limit(1)
)
_INSERT_MERGE_GROUP = sa.insert(M)


def _fulfilment(row: Any) -> Fulfilment:
    return Fulfilment(
        id=row.id,
        order_id=row.order_id,
        location=row.location,
        status=FulfilmentStatus(row.status),
        lines=list(row.lines),
        created_at=row.created_at,
        updated_at=row.updated_at,
        shipment=row.shipment,
        carrier=row.carrier,
        tracking_number=row.tracking_number,
    )


class SqlRoutingRepository(RoutingRepository):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add_decision(
        self, order_id: str, at: datetime, outcome: str, explanation: dict[str, Any]
    ) -> None:
        self.conn.execute(
            _INSERT_DECISION,
            {"order_id": order_id, "at": at, "outcome": outcome, "explanation": explanation},
        )

    def decisions(self, order_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            sa.select(routing_decisions)
            .where(routing_decisions.c.order_id == order_id)
            .order_by(routing_decisions.c.id)
        )
        return [
            {"at": r.at.isoformat(), "outcome": r.outcome, "explanation": r.explanation}
            for r in rows
        ]

    def add_fulfilment(self, fulfilment: Fulfilment) -> None:
        self.conn.execute(
            _INSERT_FULFILMENT,
            {
                **self._row(fulfilment),
                "id": fulfilment.id,
                "order_id": fulfilment.order_id,
                "location": fulfilment.location,
                "created_at": fulfilment.created_at,
            },
        )

    def save_fulfilment(self, fulfilment: Fulfilment) -> None:
        self.conn.execute(_UPDATE_FULFILMENT, {**self._row(fulfilment), "b_id": fulfilment.id})

    @staticmethod
    def _row(f: Fulfilment) -> dict[str, Any]:
        return {
            "status": str(f.status),
            "lines": f.lines,
            "shipment": f.shipment,
            "carrier": f.carrier,
            "tracking_number": f.tracking_number,
            "updated_at": f.updated_at,
        }

    def get_fulfilment(self, fulfilment_id: str) -> Fulfilment | None:
        row = self.conn.execute(sa.select(F).where(F.c.id == fulfilment_id)).first()
        return None if row is None else _fulfilment(row)

    def fulfilments(self, order_id: str) -> list[Fulfilment]:
        rows = self.conn.execute(_FULFILMENTS_OF, {"order_id": order_id})
        return [_fulfilment(r) for r in rows]

    def fulfilments_per_node_since(
        self, since: datetime, locations: Sequence[str]
    ) -> dict[str, int]:
        if not locations:
            return {}
        rows = self.conn.execute(
            _FULFILMENTS_PER_NODE_SINCE, {"since": since, "locations": list(locations)}
        )
        return {loc: int(n) for loc, n in rows}

    def _group(self, row: Any) -> MergeGroup:
        members = self.conn.execute(_GROUP_MEMBERS, {"group_id": row.id})
        return MergeGroup(
            row.id,
            row.merge_key,
            MergeState(row.state),
            row.created_at,
            row.updated_at,
            [m for (m,) in members],
        )

    def open_merge_group(self, merge_key: str, since: datetime) -> MergeGroup | None:
        row = self.conn.execute(_OPEN_MERGE_GROUP, {"merge_key": merge_key, "since": since}).first()
        return None if row is None else self._group(row)

    def get_merge_group(self, group_id: str) -> MergeGroup | None:
        row = self.conn.execute(sa.select(M).where(M.c.id == group_id)).first()
        return None if row is None else self._group(row)

    def add_merge_group(self, group: MergeGroup) -> None:
        self.conn.execute(
            _INSERT_MERGE_GROUP,
            {
                "id": group.id,
                "merge_key": group.merge_key,
                "state": str(group.state),
                "created_at": group.created_at,
                "updated_at": group.updated_at,
            },
        )

    def set_merge_state(self, group_id: str, state: MergeState, at: datetime) -> None:
        self.conn.execute(
            sa.update(M).where(M.c.id == group_id).values(state=str(state), updated_at=at)
        )

    def groups_due(self, before: datetime, limit: int) -> list[MergeGroup]:
        rows = self.conn.execute(
            sa.select(M)
            .where(M.c.state == str(MergeState.OPEN), M.c.created_at <= before)
            .order_by(M.c.created_at, M.c.id)
            .limit(limit)
        )
        return [self._group(r) for r in rows]

    def put_pickup_code(self, order_id: str, code_hash: str, at: datetime) -> None:
        self.conn.execute(sa.delete(P).where(P.c.order_id == order_id))
        self.conn.execute(
            sa.insert(P).values(order_id=order_id, code_hash=code_hash, attempts=0, issued_at=at)
        )

    def pickup_code(self, order_id: str) -> PickupCodeRecord | None:
        row = self.conn.execute(sa.select(P).where(P.c.order_id == order_id)).first()
        if row is None:
            return None
        return PickupCodeRecord(
            row.order_id, row.code_hash, row.attempts, row.issued_at, row.used_at
        )

    def count_pickup_attempt(self, order_id: str) -> int:
        self.conn.execute(
            sa.update(P).where(P.c.order_id == order_id).values(attempts=P.c.attempts + 1)
        )
        row = self.conn.execute(sa.select(P.c.attempts).where(P.c.order_id == order_id)).one()
        return int(row.attempts)

    def use_pickup_code(self, order_id: str, at: datetime) -> bool:
        return (
            self.conn.execute(
                sa.update(P)
                .where(P.c.order_id == order_id, P.c.used_at.is_(None))
                .values(used_at=at)
            ).rowcount
            == 1
        )

    def stats(self) -> dict[str, int]:
        per_order = (
            sa.select(F.c.order_id, sa.func.count(sa.distinct(F.c.location)).label("nodes"))
            .group_by(F.c.order_id)
            .subquery()
        )
        split = self.conn.execute(
            sa.select(sa.func.count()).select_from(per_order).where(per_order.c.nodes > 1)
        ).scalar_one()
        sizes = (
            sa.select(orders.c.merge_group, sa.func.count().label("n"))
            .where(orders.c.merge_group.is_not(None))
            .group_by(orders.c.merge_group)
            .subquery()
        )
        merged = self.conn.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sizes.c.n), 0)).where(
                sizes.c.n > 1
            )
        ).one()
        used = self.conn.execute(
            sa.select(sa.func.count()).select_from(P).where(P.c.used_at.is_not(None))
        ).scalar_one()
        expired = self.conn.execute(
            sa.select(sa.func.count())
            .select_from(audit_log)
            .where(audit_log.c.action == "order.pickup_expired")
        ).scalar_one()
        return {
            "split_orders": int(split),
            "merged_groups": int(merged[0]),
            "merged_orders": int(merged[1]),
            "picked_up_with_code": int(used),
            "pickup_expired": int(expired),
        }

    def document(self, name: str) -> tuple[int, str] | None:
        row = self.conn.execute(sa.select(documents).where(documents.c.name == name)).first()
        return None if row is None else (int(row.version), row.body)

    def save_document(self, name: str, body: str, at: datetime) -> int:
        # The row is made if missing, then locked: two people saving at once get versions n+1
        # and n+2, never both n+1 (a worker holding the losing body under the stored version
        # would never pick the winner up).
        insert: sa.Insert
        if self.conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            insert = pg_insert(documents).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            insert = sqlite_insert(documents).on_conflict_do_nothing()
        self.conn.execute(insert.values(name=name, body="", version=0, updated_at=at))
        current = self.conn.execute(
            sa.select(documents.c.version).where(documents.c.name == name).with_for_update()
        ).scalar_one()
        version = int(current) + 1
        self.conn.execute(
            sa.update(documents)
            .where(documents.c.name == name)
            .values(body=body, version=version, updated_at=at)
        )
        return version
