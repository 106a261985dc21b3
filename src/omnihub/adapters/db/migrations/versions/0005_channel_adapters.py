"""channel adapters: credentials, replay protection, pull cursors, stock re-pushes

``stock_sync.repushes`` counts the full compare's re-sends of a (channel, SKU): a re-push is
a new delivery (``stock:<sku>:<version>:r<n>``), which the (endpoint, event id) key would
otherwise drop as the push already made.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credentials", sa.JSON(), nullable=True))
    with op.batch_alter_table("stock_sync", schema=None) as batch_op:
        batch_op.add_column(sa.Column("repushes", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "channel_messages",
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "message_id", name=op.f("pk_channel_messages")),
    )
    op.create_table(
        "channel_cursors",
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("cursor_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pulled", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_pull_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_channel_cursors")),
    )


def downgrade() -> None:
    op.drop_table("channel_cursors")
    op.drop_table("channel_messages")
    with op.batch_alter_table("stock_sync", schema=None) as batch_op:
        batch_op.drop_column("repushes")
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("credentials")
