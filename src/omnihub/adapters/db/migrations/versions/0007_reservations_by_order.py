"""reservations of an order looked up by (order_id, state)

``for_order`` asks for an order's active reservations. With only ``order_id`` and
``(state, expires_at)`` indexed, SQLite's planner (no statistics) picked the state index and
scanned every active reservation; the pair index answers from the order alone. It covers the
lookups by ``order_id`` alone too, so it replaces the single-column index.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index("ix_reservations_order_id_state", ["order_id", "state"], unique=False)
        batch_op.drop_index("ix_reservations_order_id")


def downgrade() -> None:
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index("ix_reservations_order_id", ["order_id"], unique=False)
        batch_op.drop_index("ix_reservations_order_id_state")
