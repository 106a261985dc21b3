"""back ends: rider tasks and their track, full stock compares

The back ends' document ids are bound in ``external_refs`` (channel ``backend:<code>``), their
message ids kept in ``channel_messages`` and their poll cursors in ``channel_cursors`` under the
same prefix: no new table for those.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 09:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rider_tasks",
        sa.Column("reference", sa.String(length=26), nullable=False),
        sa.Column("backend", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=26), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("native_status", sa.Integer(), nullable=True),
        sa.Column("state_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("rider", sa.JSON(), nullable=True),
        sa.Column("fee_cents", sa.BigInteger(), nullable=True),
        sa.Column("distance_m", sa.Integer(), nullable=True),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        sa.Column("cancelled_by", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_rider_tasks")),
    )
    with op.batch_alter_table("rider_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_rider_tasks_order_id", ["order_id"], unique=False)
        batch_op.create_index("ix_rider_tasks_backend_state", ["backend", "state"], unique=False)
    op.create_table(
        "rider_track",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=26), nullable=False),
        sa.Column("order_id", sa.String(length=26), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rider_track")),
    )
    with op.batch_alter_table("rider_track", schema=None) as batch_op:
        batch_op.create_index("ix_rider_track_order_id", ["order_id"], unique=False)
    op.create_table(
        "stock_compares",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("backend", sa.String(length=64), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("compared", sa.Integer(), nullable=False),
        sa.Column("differences", sa.JSON(), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.Column("unmapped", sa.JSON(), nullable=False),
        sa.Column("corrected", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_compares")),
    )
    with op.batch_alter_table("stock_compares", schema=None) as batch_op:
        batch_op.create_index("ix_stock_compares_backend_id", ["backend", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stock_compares", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_compares_backend_id")
    op.drop_table("stock_compares")
    with op.batch_alter_table("rider_track", schema=None) as batch_op:
        batch_op.drop_index("ix_rider_track_order_id")
    op.drop_table("rider_track")
    with op.batch_alter_table("rider_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_rider_tasks_backend_state")
        batch_op.drop_index("ix_rider_tasks_order_id")
    op.drop_table("rider_tasks")
