"""The relational schema (SQLAlchemy Core). Alembic migrations must match it (a test checks)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite keeps no offset of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

skus = sa.Table(
    "skus",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("barcode", sa.String(64), nullable=True, index=True),
    sa.Column("price_cents", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# Bindings of external ids (a channel's order id, a channel's product id) to ours.
external_refs = sa.Table(
    "external_refs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("external_id", sa.String(128), nullable=False),
    sa.Column("internal_id", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("channel", "kind", "external_id"),
    sa.Index("ix_external_refs_kind_internal_id", "kind", "internal_id"),
)

locations = sa.Table(
    "locations",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("services", sa.JSON, nullable=False),
    sa.Column("channels", sa.JSON, nullable=False),
    sa.Column("capacity_per_day", sa.Integer, nullable=True),
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

stock_levels = sa.Table(
    "stock_levels",
    metadata,
    sa.Column("location", sa.String(64), sa.ForeignKey("locations.code"), primary_key=True),
    sa.Column("sku", sa.String(64), sa.ForeignKey("skus.code"), primary_key=True),
    sa.Column("on_hand", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("reserved", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("safety", sa.BigInteger, nullable=False, server_default="0"),
    sa.CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
    sa.CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    sa.CheckConstraint("safety >= 0", name="safety_not_negative"),
    sa.Index("ix_stock_levels_sku", "sku"),
)

stock_ledger = sa.Table(
    "stock_ledger",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("location", sa.String(64), nullable=False),
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("qty", sa.BigInteger, nullable=False),
    sa.Column("reference", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_stock_ledger_sku_location", "sku", "location"),
    # A movement is recorded once: the ERP resending a receipt changes nothing.
    sa.UniqueConstraint("location", "sku", "kind", "reference"),
)

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    sa.Column("location", sa.String(64), nullable=False),
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("qty", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("order_id", sa.String(26), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("ended_at", UtcDateTime, nullable=True),
    sa.CheckConstraint("qty > 0", name="qty_positive"),
    sa.Index("ix_reservations_state_expires_at", "state", "expires_at"),
    sa.Index("ix_reservations_order_id_state", "order_id", "state"),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("delivery", sa.String(16), nullable=False),
    sa.Column("pickup_location", sa.String(64), nullable=True),
    sa.Column("buyer", sa.JSON, nullable=False),
    sa.Column("ship_to", sa.JSON, nullable=False),
    sa.Column("shipping_fee_cents", sa.BigInteger, nullable=False),
    sa.Column("total_cents", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("payment", sa.JSON, nullable=True),
    sa.Column("remark", sa.Text, nullable=False),
    sa.Column("hold_reason", sa.String(64), nullable=True),
    sa.Column("held_from", sa.String(16), nullable=True),
    sa.Column("cod", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("service_level", sa.String(32), nullable=True),
    sa.Column("reviewed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("merge_group", sa.String(26), nullable=True),
    sa.Column("channel_created_at", UtcDateTime, nullable=False),
    sa.Column("channel_updated_at", UtcDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_orders_channel_id", "channel", "id"),
    sa.Index("ix_orders_status_id", "status", "id"),
    sa.Index("ix_orders_merge_group", "merge_group"),
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("order_id", sa.String(26), sa.ForeignKey("orders.id"), primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True),
    sa.Column("channel_sku", sa.String(128), nullable=False),
    sa.Column("sku", sa.String(64), nullable=True),
    sa.Column("qty", sa.Integer, nullable=False),
    sa.Column("unit_price_cents", sa.BigInteger, nullable=False),
    sa.Column("discount_cents", sa.BigInteger, nullable=False),
    sa.Index("ix_order_lines_channel_sku", "channel_sku"),
)

order_transitions = sa.Table(
    "order_transitions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.String(26), sa.ForeignKey("orders.id"), nullable=False),
    sa.Column("from_status", sa.String(16), nullable=True),
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("cause", sa.String(500), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_order_transitions_order_id", "order_id"),
)

inbound_log = sa.Table(
    "inbound_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("body_sha256", sa.String(64), nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("result", sa.String(16), nullable=False),
    sa.Column("order_id", sa.String(26), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_inbound_log_result_id", "result", "id"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_audit_log_subject", "subject"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(26), nullable=False, unique=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("aggregate_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("delivered_at", UtcDateTime, nullable=True),
    sa.Index("ix_outbox_delivered_at_id", "delivered_at", "id"),
)

# Why each order went where it went (or was held): candidates, rejections, the plan and its cost.
routing_decisions = sa.Table(
    "routing_decisions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.String(26), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("outcome", sa.String(64), nullable=False),  # "allocated" or "held:<reason>"
    sa.Column("explanation", sa.JSON, nullable=False),
    sa.Index("ix_routing_decisions_order_id", "order_id"),
)

# One shipment per node under an order (a split order has several).
fulfilments = sa.Table(
    "fulfilments",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    sa.Column("order_id", sa.String(26), nullable=False),
    sa.Column("location", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("lines", sa.JSON, nullable=False),
    sa.Column("shipment", sa.String(100), nullable=True),  # <group or order id>:<location>
    sa.Column("carrier", sa.String(64), nullable=True),
    sa.Column("tracking_number", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_fulfilments_order_id", "order_id"),
    sa.Index("ix_fulfilments_location_created_at", "location", "created_at"),
)

# Orders of one buyer to one address fulfilled together (合单) until unmerged or released.
merge_groups = sa.Table(
    "merge_groups",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    sa.Column("merge_key", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_merge_groups_merge_key_state", "merge_key", "state"),
)

# Store pickup codes (BOPIS): only a hash is kept; wrong tries are counted.
pickup_codes = sa.Table(
    "pickup_codes",
    metadata,
    sa.Column("order_id", sa.String(26), primary_key=True),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("used_at", UtcDateTime, nullable=True),
)

# Documents a person edits at run time (the review rules), shared by every worker.
documents = sa.Table(
    "documents",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Generic webhook subscriptions: any system can receive the hub's events.
webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("events", sa.JSON, nullable=False),
    sa.Column("secret", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# Sales channels the hub pushes stock and order status to.
channels = sa.Table(
    "channels",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("adapter", sa.String(32), nullable=False),
    sa.Column("endpoint", sa.String(2000), nullable=True),
    sa.Column("secret", sa.String(200), nullable=True),
    sa.Column("allocation_ratio", sa.Float, nullable=False, server_default="1"),
    sa.Column("buffer", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locations", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("credentials", sa.JSON, nullable=True),
)

# Message ids a channel signed and the hub accepted: the same id again is a replay.
channel_messages = sa.Table(
    "channel_messages",
    metadata,
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("message_id", sa.String(128), primary_key=True),
    sa.Column("received_at", UtcDateTime, nullable=False),
)

# How far each pulled channel's orders have been read (modified-time cursor), and who pulls.
channel_cursors = sa.Table(
    "channel_cursors",
    metadata,
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("cursor_at", UtcDateTime, nullable=False),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("pulled", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rejected", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_pull_at", UtcDateTime, nullable=True),
)

# Outbound deliveries (webhooks, channel pushes): attempts, backoff and dead letters.
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("endpoint", sa.String(100), nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("event_id", sa.String(80), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("endpoint", "event_id"),
    sa.Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
)

# What each channel should show per SKU, what was sent, and what it acknowledged.
stock_sync = sa.Table(
    "stock_sync",
    metadata,
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("wanted", sa.BigInteger, nullable=False),
    sa.Column("wanted_version", sa.BigInteger, nullable=False),
    sa.Column("wanted_at", UtcDateTime, nullable=False),
    sa.Column("queued_version", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("acked", sa.BigInteger, nullable=True),
    sa.Column("acked_version", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("acked_at", UtcDateTime, nullable=True),
    sa.Column("lag_ms", sa.Float, nullable=True),
    sa.Column("repushes", sa.Integer, nullable=False, server_default="0"),
)

# -- back ends (ERP, WMS, instant delivery) -------------------------------------------------------
# Bindings of a back end's document ids to ours live in external_refs (channel =
# "backend:<code>"), its message ids in channel_messages and its poll cursors in channel_cursors
# under the same prefix; these tables hold what has no home there.

# Rider tasks of an instant-delivery provider, one per store fulfilment handed to it: the state
# last applied (with the provider's time of it, to refuse late callbacks), rider and fee.
rider_tasks = sa.Table(
    "rider_tasks",
    metadata,
    sa.Column("reference", sa.String(26), primary_key=True),  # our fulfilment id
    sa.Column("backend", sa.String(64), nullable=False),
    sa.Column("order_id", sa.String(26), nullable=False),
    sa.Column("location", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("native_status", sa.Integer, nullable=True),
    sa.Column("state_at", UtcDateTime, nullable=True),
    sa.Column("external_id", sa.String(64), nullable=True),
    sa.Column("rider", sa.JSON, nullable=True),
    sa.Column("fee_cents", sa.BigInteger, nullable=True),
    sa.Column("distance_m", sa.Integer, nullable=True),
    sa.Column("cancel_reason", sa.String(200), nullable=True),
    sa.Column("cancelled_by", sa.String(16), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_rider_tasks_order_id", "order_id"),
    sa.Index("ix_rider_tasks_backend_state", "backend", "state"),
)

# Where a rider was, as the provider reported it: the track shown on the order.
rider_track = sa.Table(
    "rider_track",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(26), nullable=False),
    sa.Column("order_id", sa.String(26), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Index("ix_rider_track_order_id", "order_id"),
)

# Full compares of the hub's stock with a back end's snapshot: what differed, what was skipped
# (stock on its way out), what was corrected by rule.
stock_compares = sa.Table(
    "stock_compares",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("backend", sa.String(64), nullable=False),
    sa.Column("taken_at", UtcDateTime, nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("compared", sa.Integer, nullable=False),
    sa.Column("differences", sa.JSON, nullable=False),
    sa.Column("skipped", sa.JSON, nullable=False),
    sa.Column("unmapped", sa.JSON, nullable=False),
    sa.Column("corrected", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_stock_compares_backend_id", "backend", "id"),
)
