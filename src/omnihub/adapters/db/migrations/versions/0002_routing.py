"""routing: node capacity and priority, review and merge state, decisions, fulfilments, pickup

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("locations") as batch:
        batch.add_column(sa.Column("capacity_per_day", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("cod", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("service_level", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column("reviewed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("merge_group", sa.String(26), nullable=True))
        batch.create_index("ix_orders_merge_group", ["merge_group"], unique=False)
    op.create_table(
        "routing_decisions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.String(26), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_decisions")),
    )
    op.create_index("ix_routing_decisions_order_id", "routing_decisions", ["order_id"])
    op.create_table(
        "fulfilments",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("order_id", sa.String(26), nullable=False),
        sa.Column("location", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("shipment", sa.String(40), nullable=True),
        sa.Column("carrier", sa.String(64), nullable=True),
        sa.Column("tracking_number", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fulfilments")),
    )
    op.create_index("ix_fulfilments_order_id", "fulfilments", ["order_id"])
    op.create_index("ix_fulfilments_location_created_at", "fulfilments", ["location", "created_at"])
    op.create_table(
        "merge_groups",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("merge_key", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merge_groups")),
    )
    op.create_index("ix_merge_groups_merge_key_state", "merge_groups", ["merge_key", "state"])
    op.create_table(
        "pickup_codes",
        sa.Column("order_id", sa.String(26), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_pickup_codes")),
    )

    op.create_table(
        "documents",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_documents")),
    )


def downgrade() -> None:
    op.drop_table("documents")
    op.drop_table("pickup_codes")
    op.drop_index("ix_merge_groups_merge_key_state", table_name="merge_groups")
    op.drop_table("merge_groups")
    op.drop_index("ix_fulfilments_location_created_at", table_name="fulfilments")
    op.drop_index("ix_fulfilments_order_id", table_name="fulfilments")
    op.drop_table("fulfilments")
    op.drop_index("ix_routing_decisions_order_id", table_name="routing_decisions")
    op.drop_table("routing_decisions")
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_merge_group")
        batch.drop_column("merge_group")
        batch.drop_column("reviewed")
        batch.drop_column("service_level")
        batch.drop_column("cod")
    with op.batch_alter_table("locations") as batch:
        batch.drop_column("priority")
        batch.drop_column("capacity_per_day")
