"""A small retailer for the service tests: two warehouses and a store, three SKUs, stock."""

from __future__ import annotations

from datetime import datetime, timedelta

from fakes import SINGLES_DAY, FakeUnitOfWork, FrozenClock
from omnihub.domain.catalog import ChannelMapping, Sku
from omnihub.domain.inventory import MovementKind, StockLevel
from omnihub.domain.locations import DeliveryMode, Location, LocationType, Service
from omnihub.domain.orders import Address, Buyer, IncomingLine, IngestOrder, OrderStatus, Payment
from omnihub.domain.values import Money
from omnihub.services import catalog, locations
from omnihub.services.inventory import RecordMovement, record_movement

TEE, MUG, CAP = "TEE-WHITE-M", "MUG-CLASSIC", "CAP-RED"
SH_WH, HZ_WH, SH_STORE = "SH-WH", "HZ-WH", "SH-PEOPLES-SQ"
#: Stock received when the retailer is set up.
RECEIVED = {(SH_WH, TEE): 10, (HZ_WH, MUG): 4, (SH_STORE, TEE): 3}
PRICES = {"TM-TEE-M": "59.00", "TM-MUG": "39.00", "TM-CAP-RED": "29.00"}
#: When the channel says the orders were placed: one minute before the clock starts.
PLACED_AT = SINGLES_DAY - timedelta(minutes=1)
#: A buyer in Jing'an, Shanghai.
SHANGHAI_BUYER = Address(
    name="王小明",
    phone="13800138000",
    province="上海市",
    city="上海市",
    district="静安区",
    address="南京西路1266号",
    lat=31.2286,
    lon=121.4482,
)
SHANGHAI_BUYER_ACCOUNT = Buyer(
    channel_buyer_id="tb_wangxm_1990", name="王小明", phone="13800138000"
)


def set_up_retailer(uow: FakeUnitOfWork, clock: FrozenClock) -> None:
    """The retailer, set up through the services themselves."""
    for node in [
        Location(SH_WH, "上海仓", LocationType.WAREHOUSE, 31.23, 121.47, frozenset({Service.SHIP})),
        Location(HZ_WH, "杭州仓", LocationType.WAREHOUSE, 30.27, 120.15, frozenset({Service.SHIP})),
        Location(
            SH_STORE,
            "人民广场店",
            LocationType.STORE,
            31.2304,
            121.4737,
            frozenset({Service.PICKUP, Service.SAME_DAY}),
        ),
    ]:
        locations.add_location(uow, node)
    for code, name, price in [
        (TEE, "白色T恤 M", "59.00"),
        (MUG, "经典马克杯", "39.00"),
        (CAP, "红色棒球帽", "29.00"),
    ]:
        catalog.add_sku(uow, Sku(code, name, Money.of(price)))
    for channel_sku, sku in [("TM-TEE-M", TEE), ("TM-MUG", MUG)]:
        catalog.add_mapping(uow, ChannelMapping("tmall", channel_sku, sku), clock)
    for (location, sku), qty in RECEIVED.items():
        record_movement(
            uow,
            RecordMovement(location, sku, MovementKind.RECEIPT, qty, f"GRN-{location}-{sku}"),
            clock,
        )


def alipay(external_id: str, amount: Money) -> Payment:
    return Payment("alipay", f"2026111122{external_id}", amount, PLACED_AT)


def tmall_order(
    external_id: str = "TB-20261111-0001",
    status: OrderStatus = OrderStatus.PAID,
    *,
    lines: list[tuple[str, int]] | None = None,
    updated_at: datetime = PLACED_AT,
    **fields: object,
) -> IngestOrder:
    """A tmall order as the channel adapter hands it over (2 white tees unless told).

    It passes the default review: a full address, a total that adds up, no remark, and a
    payment record when it arrives paid. The buyer is known, so it may merge with her others.
    """
    incoming = [
        IncomingLine(channel_sku, qty, Money.of(PRICES[channel_sku]), Money.of("0"))
        for channel_sku, qty in (lines or [("TM-TEE-M", 2)])
    ]
    total = Money.of("0")
    for line in incoming:
        total = total + line.unit_price.times(line.qty)
    arguments: dict[str, object] = {
        "channel": "tmall",
        "external_id": external_id,
        "status": status,
        "created_at": PLACED_AT,
        "updated_at": updated_at,
        "delivery": DeliveryMode.EXPRESS,
        "lines": incoming,
        "buyer": SHANGHAI_BUYER_ACCOUNT,
        "ship_to": SHANGHAI_BUYER,
        "total": total,
        "payment": alipay(external_id, total) if status is OrderStatus.PAID else None,
        "raw": f'{{"tid": "{external_id}", "status": "{status}"}}',
    }
    arguments.update(fields)
    return IngestOrder(**arguments)  # type: ignore[arg-type]


def level(uow: FakeUnitOfWork, location: str, sku: str) -> StockLevel:
    """The committed level, as the next transaction reads it."""
    with uow:
        return uow.stock.level(location, sku)
