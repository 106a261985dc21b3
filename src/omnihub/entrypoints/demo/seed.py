"""A demo retailer: warehouses, front warehouses and stores in real Chinese cities, a catalog of
a hundred SKUs, channel listings mapped to them, and opening stock."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from omnihub.domain.catalog import ChannelMapping, Sku
from omnihub.domain.inventory import MovementKind
from omnihub.domain.locations import Location, LocationType, Service
from omnihub.domain.values import Money
from omnihub.ports import Clock, UnitOfWork

SHIP, PICKUP, SAME_DAY = Service.SHIP, Service.PICKUP, Service.SAME_DAY

# code, name, type, lat, lon, services
LOCATIONS: list[tuple[str, str, LocationType, float, float, frozenset[Service]]] = [
    (
        "WH-SH",
        "华东仓 Shanghai Jiading",
        LocationType.WAREHOUSE,
        31.3747,
        121.2655,
        frozenset({SHIP}),
    ),
    (
        "WH-BJ",
        "华北仓 Beijing Daxing",
        LocationType.WAREHOUSE,
        39.7267,
        116.3415,
        frozenset({SHIP}),
    ),
    (
        "WH-GZ",
        "华南仓 Guangzhou Baiyun",
        LocationType.WAREHOUSE,
        23.3925,
        113.2989,
        frozenset({SHIP}),
    ),
    (
        "FW-SH-PD",
        "前置仓 Shanghai Pudong",
        LocationType.FRONT,
        31.2210,
        121.5440,
        frozenset({SHIP, SAME_DAY}),
    ),
    (
        "FW-HZ-BJ",
        "前置仓 Hangzhou Binjiang",
        LocationType.FRONT,
        30.2084,
        120.2110,
        frozenset({SHIP, SAME_DAY}),
    ),
    (
        "ST-SH-NJL",
        "上海南京路店",
        LocationType.STORE,
        31.2352,
        121.4747,
        frozenset({SHIP, PICKUP, SAME_DAY}),
    ),
    (
        "ST-SH-XJH",
        "上海徐家汇店",
        LocationType.STORE,
        31.1955,
        121.4367,
        frozenset({SHIP, PICKUP, SAME_DAY}),
    ),
    (
        "ST-SH-LJZ",
        "上海陆家嘴店",
        LocationType.STORE,
        31.2397,
        121.4998,
        frozenset({PICKUP, SAME_DAY}),
    ),
    (
        "ST-HZ-XH",
        "杭州西湖店",
        LocationType.STORE,
        30.2590,
        120.1630,
        frozenset({SHIP, PICKUP, SAME_DAY}),
    ),
    (
        "ST-SZ-GQ",
        "苏州观前街店",
        LocationType.STORE,
        31.3110,
        120.6200,
        frozenset({PICKUP, SAME_DAY}),
    ),
    (
        "ST-NJ-XJK",
        "南京新街口店",
        LocationType.STORE,
        32.0415,
        118.7845,
        frozenset({SHIP, PICKUP, SAME_DAY}),
    ),
    (
        "ST-BJ-WFJ",
        "北京王府井店",
        LocationType.STORE,
        39.9139,
        116.4100,
        frozenset({SHIP, PICKUP, SAME_DAY}),
    ),
    (
        "ST-BJ-SLT",
        "北京三里屯店",
        LocationType.STORE,
        39.9335,
        116.4540,
        frozenset({PICKUP, SAME_DAY}),
    ),
    (
        "ST-GZ-TH",
        "广州天河店",
        LocationType.STORE,
        23.1372,
        113.3270,
        frozenset({SHIP, PICKUP, SAME_DAY}),
    ),
    (
        "ST-SZN-FT",
        "深圳福田店",
        LocationType.STORE,
        22.5410,
        114.0580,
        frozenset({PICKUP, SAME_DAY}),
    ),
    (
        "ST-CD-CXL",
        "成都春熙路店",
        LocationType.STORE,
        30.6570,
        104.0810,
        frozenset({SHIP, PICKUP, SAME_DAY}),
    ),
    (
        "ST-WH-JHL",
        "武汉江汉路店",
        LocationType.STORE,
        30.5810,
        114.2880,
        frozenset({PICKUP, SAME_DAY}),
    ),
]

# Where buyers live: city centre and how far (degrees) they spread.
CITIES = {
    "上海": (31.2304, 121.4737, 0.12),
    "杭州": (30.2741, 120.1551, 0.08),
    "苏州": (31.2990, 120.5853, 0.08),
    "南京": (32.0603, 118.7969, 0.08),
    "北京": (39.9042, 116.4074, 0.12),
    "广州": (23.1291, 113.2644, 0.10),
    "深圳": (22.5431, 114.0579, 0.10),
    "成都": (30.5728, 104.0668, 0.10),
    "武汉": (30.5928, 114.3055, 0.10),
}

CATEGORIES = [
    ("TEA", "西湖龙井 Longjing tea", "88.00"),
    ("SNK", "坚果礼盒 Nut gift box", "129.00"),
    ("COS", "精华液 Serum", "299.00"),
    ("APP", "纯棉T恤 Cotton T-shirt", "79.00"),
    ("SHO", "跑步鞋 Running shoes", "399.00"),
    ("HOM", "香薰蜡烛 Scented candle", "59.00"),
    ("BAB", "婴儿湿巾 Baby wipes", "25.00"),
    ("DRK", "气泡水 Sparkling water", "4.50"),
    ("ELE", "蓝牙耳机 Bluetooth earbuds", "199.00"),
    ("BOO", "笔记本 Notebook", "15.00"),
]
#: 100 SKUs: with eleven channels that is 1,100 stock values to keep in sync, each its own call
#: on the channel's platform (a catalogue twice as big takes most of a short demo to sync)
VARIANTS_PER_CATEGORY = 10

#: Channels of the demo and how each names a listing (its own product/sku ids).
CHANNELS: dict[str, Callable[[int, str], str]] = {
    "tmall": lambda i, code: f"TM{600000 + i}",
    "jd": lambda i, code: f"JD-{100023400 + i}",
    "pdd": lambda i, code: f"PDD{8800 + i}-1",
    "douyin": lambda i, code: f"DY{3700000000 + i}",
    "miniapp": lambda i, code: code,
}

HOT_SKU = "TEA-001"
HOT_SKU_STOCK = 30


@dataclass
class DemoCatalog:
    skus: list[Sku] = field(default_factory=list)
    listings: dict[str, dict[str, str]] = field(default_factory=dict)
    """channel -> sku -> channel sku (including the ones left unmapped at the start)."""
    unmapped: list[ChannelMapping] = field(default_factory=list)
    """Listings a merchandiser has not mapped yet when the day starts."""
    locations: list[Location] = field(default_factory=list)


def build_catalog(rng: random.Random, variants: int = VARIANTS_PER_CATEGORY) -> DemoCatalog:
    """The catalogue (``variants`` SKUs in each category), listings, unmapped listings and
    locations."""
    demo = DemoCatalog()
    for prefix, name, price in CATEGORIES:
        for n in range(1, variants + 1):
            code = f"{prefix}-{n:03d}"
            variant_price = Money.of(price) + Money.of(str(n - 1))
            demo.skus.append(
                Sku(code, f"{name} #{n}", variant_price, f"69{rng.randrange(10**10):010d}")
            )
    for channel, naming in CHANNELS.items():
        demo.listings[channel] = {sku.code: naming(i, sku.code) for i, sku in enumerate(demo.skus)}
    # A few new listings on the marketplaces are not mapped yet: their orders will be held.
    for channel in ("tmall", "jd", "pdd"):
        for sku in rng.sample(demo.skus[20:], 2):
            demo.unmapped.append(
                ChannelMapping(channel, demo.listings[channel][sku.code], sku.code)
            )
    # Stores ship only a few parcels a day and come after the warehouses for express orders.
    demo.locations = [
        Location(
            code,
            name,
            kind,
            lat,
            lon,
            services,
            capacity_per_day=80 if kind is LocationType.STORE else None,
            priority=5 if kind is LocationType.STORE else 0,
        )
        for code, name, kind, lat, lon, services in LOCATIONS
    ]
    return demo


def seed_retailer(
    uow: UnitOfWork, clock: Clock, demo: DemoCatalog, rng: random.Random
) -> list[tuple[str, str, int]]:
    """Write the demo retailer in one transaction; returns the opening stock as
    (location, SKU, on hand), one per stock row."""
    now = clock.now()
    unmapped = {(m.channel, m.channel_sku) for m in demo.unmapped}
    levels: list[tuple[str, str, int]] = []
    with uow:
        for location in demo.locations:
            uow.locations.add(location)
        for sku in demo.skus:
            uow.catalog.add_sku(sku)
        for channel, listings in demo.listings.items():
            for code, channel_sku in listings.items():
                if (channel, channel_sku) not in unmapped:
                    uow.catalog.add_mapping(ChannelMapping(channel, channel_sku, code))
        for location in demo.locations:
            for sku in demo.skus:
                if sku.code == HOT_SKU:
                    qty = HOT_SKU_STOCK if location.code == "WH-SH" else 0
                elif sku.code.startswith("ELE-"):
                    # scarce electronics, only in warehouses: orders of two or more often split
                    qty = 0 if location.type is LocationType.STORE else rng.randint(0, 3)
                elif location.type is LocationType.WAREHOUSE:
                    qty = rng.randint(150, 400)
                elif location.type is LocationType.FRONT:
                    qty = rng.randint(20, 60)
                else:
                    qty = rng.choice((0, 2, 5, 8, 12, 20))
                if qty:
                    uow.stock.move(
                        location.code, sku.code, MovementKind.RECEIPT, qty, "OPENING-BALANCE", now
                    )
                    levels.append((location.code, sku.code, qty))
        uow.commit()
    return levels
