"""longer shipment numbers and routing outcomes

A shipment number is ``<order or merge group id (26)>:<location code (up to 64)>``; 40 characters
cut it off (PostgreSQL refused the release of any order served by a node whose code is longer
than 13 characters). A routing outcome is ``held:<reason>`` and a review rule may name a reason
of up to 48 characters; 32 cut off ``held:`` and any reason longer than 27.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fulfilments", schema=None) as batch_op:
        batch_op.alter_column(
            "shipment",
            existing_type=sa.String(length=40),
            type_=sa.String(length=100),
            existing_nullable=True,
        )
    with op.batch_alter_table("routing_decisions", schema=None) as batch_op:
        batch_op.alter_column(
            "outcome",
            existing_type=sa.String(length=32),
            type_=sa.String(length=64),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("routing_decisions", schema=None) as batch_op:
        batch_op.alter_column(
            "outcome",
            existing_type=sa.String(length=64),
            type_=sa.String(length=32),
            existing_nullable=False,
        )
    with op.batch_alter_table("fulfilments", schema=None) as batch_op:
        batch_op.alter_column(
            "shipment",
            existing_type=sa.String(length=100),
            type_=sa.String(length=40),
            existing_nullable=True,
        )
