"""The ChannelDirectory contract: channels stored and read back as typed records, their item
ids from the channel mappings, and what a channel is told when an order ships; on the fakes,
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from contract_world import AT, MUG, SH_WH, TEE, IntegrationWorld, seed

from omnihub.domain.catalog import ChannelMapping
from omnihub.domain.routing.fulfilment import Fulfilment, FulfilmentStatus
from omnihub.ports import ChannelConfig, ChannelRecord

pytestmark = pytest.mark.integration

ORDER = "01JORDERA0000000000000000A"


def a_channel(code: str, **fields: object) -> ChannelRecord:
    values: dict[str, object] = {
        "code": code,
        "adapter": "generic",
        "endpoint": f"http://127.0.0.1:9/{code}",
        "secret": f"{code}-secret-0123456789",
        "allocation_ratio": 1.0,
        "buffer": 0,
        "locations": (),
        "created_at": AT,
    }
    values.update(fields)
    return ChannelRecord(**values)  # type: ignore[arg-type]


def a_fulfilment(number: int, minutes: int, tracking: str | None) -> Fulfilment:
    at = AT + timedelta(minutes=minutes)
    return Fulfilment(
        id=f"01JFUL{number:020d}",
        order_id=ORDER,
        location=SH_WH,
        status=FulfilmentStatus.SHIPPED,
        lines=[{"line_no": 1, "sku": TEE, "qty": 1}],
        created_at=at,
        updated_at=at,
        carrier="SF" if tracking else None,
        tracking_number=tracking,
    )


class ChannelDirectoryContract:
    @pytest.fixture
    def world(self) -> IntegrationWorld:
        raise NotImplementedError

    def test_a_channel_is_read_back_as_it_was_stored(self, world: IntegrationWorld) -> None:
        tmall = a_channel(
            "tmall",
            adapter="tmall",
            allocation_ratio=0.3,
            buffer=2,
            locations=("SH-WH", "HZ-WH"),
            credentials={"app_key": "12345678", "session": "s-1"},
        )
        world.stores.directory.add(tmall)
        assert world.stores.directory.get("tmall") == tmall
        assert world.stores.directory.get("jd") is None

    def test_every_channel_is_listed_by_code(self, world: IntegrationWorld) -> None:
        for code in ("pdd", "jd", "tmall"):
            world.stores.directory.add(a_channel(code))
        assert [c.code for c in world.stores.directory.all()] == ["jd", "pdd", "tmall"]

    def test_a_channel_without_endpoint_or_secret_or_credentials(
        self, world: IntegrationWorld
    ) -> None:
        pos = a_channel("pos", endpoint=None, secret=None)
        world.stores.directory.add(pos)
        found = world.stores.directory.get("pos")
        assert found == pos
        assert found is not None
        assert found.config == ChannelConfig("pos", "generic", None, {}, None)
        assert found.public() == {
            "code": "pos",
            "adapter": "generic",
            "endpoint": None,
            "allocation_ratio": 1.0,
            "buffer": 0,
            "locations": [],
        }

    def test_the_item_ids_of_a_sku_are_the_channel_mappings_in_order(
        self, world: IntegrationWorld
    ) -> None:
        seed(world.uow)
        with world.uow() as uow:
            for channel, item, sku in (
                ("jd", "JD-2", TEE), ("jd", "JD-1", TEE), ("jd", "JD-9", MUG), ("tmall", "TM", TEE),
            ):  # fmt: skip
                uow.catalog.add_mapping(ChannelMapping(channel, item, sku))
            uow.commit()
        directory = world.stores.directory
        assert directory.channel_skus("jd", TEE) == ["JD-1", "JD-2"]
        assert directory.channel_skus("jd", MUG) == ["JD-9"]
        assert directory.channel_skus("pdd", TEE) == []

    def test_the_shipments_of_an_order_are_its_fulfilments_in_creation_order(
        self, world: IntegrationWorld
    ) -> None:
        with world.uow() as uow:
            uow.routing.add_fulfilment(a_fulfilment(2, 5, "SF-2"))
            uow.routing.add_fulfilment(a_fulfilment(1, 0, None))
            uow.routing.add_fulfilment(a_fulfilment(3, 9, "SF-3"))
            uow.commit()
        assert world.stores.directory.shipments(ORDER) == [
            (None, None),
            ("SF", "SF-2"),
            ("SF", "SF-3"),
        ]
        assert world.stores.directory.shipments("01JNOSUCHORDER00000000000") == []


class TestChannelDirectoryOnFakes(ChannelDirectoryContract):
    @pytest.fixture
    def world(self, fake_world: IntegrationWorld) -> IntegrationWorld:
        return fake_world


class TestChannelDirectoryOnSqlite(ChannelDirectoryContract):
    @pytest.fixture
    def world(self, sqlite_world: IntegrationWorld) -> IntegrationWorld:
        return sqlite_world


@pytest.mark.postgres
class TestChannelDirectoryOnPostgres(ChannelDirectoryContract):
    @pytest.fixture
    def world(self, postgres_world: IntegrationWorld) -> IntegrationWorld:
        return postgres_world
