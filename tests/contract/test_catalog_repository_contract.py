"""The CatalogRepository and LocationRepository contracts: master data and channel bindings."""

from __future__ import annotations

import pytest
from contract_world import LOCATIONS, MUG, SKUS, TEE, UowFactory, seed

from omnihub.domain.catalog import ChannelMapping, Sku
from omnihub.domain.errors import AlreadyExists
from omnihub.domain.locations import Location, LocationType, Service
from omnihub.domain.values import Money

pytestmark = pytest.mark.integration


class CatalogRepositoryContract:
    @pytest.fixture
    def uow_factory(self) -> UowFactory:
        raise NotImplementedError

    @pytest.fixture
    def new_uow(self, uow_factory: UowFactory) -> UowFactory:
        return seed(uow_factory)

    def test_a_sku_round_trips_with_its_price_and_barcode(self, new_uow: UowFactory) -> None:
        cap = Sku("CAP-RED", "红色棒球帽", Money.of("29.90"), "6909876543210")

        with new_uow() as uow:
            uow.catalog.add_sku(cap)
            uow.commit()

        with new_uow() as uow:
            assert uow.catalog.get_sku("CAP-RED") == cap
            assert uow.catalog.get_sku(TEE) == SKUS[0]
            assert uow.catalog.get_sku("NO-SUCH") is None

    def test_a_sku_code_can_be_taken_once(self, new_uow: UowFactory) -> None:
        with new_uow() as uow, pytest.raises(AlreadyExists):
            uow.catalog.add_sku(Sku(TEE, "another tee", Money.of("1.00")))

        with new_uow() as uow:
            assert uow.catalog.get_sku(TEE) == SKUS[0]

    def test_existing_tells_which_codes_are_in_the_catalog(self, new_uow: UowFactory) -> None:
        with new_uow() as uow:
            assert uow.catalog.existing([TEE, "NO-SUCH", MUG, TEE]) == {TEE, MUG}
            assert uow.catalog.existing([]) == set()

    def test_skus_are_listed_in_code_order_after_a_cursor(self, new_uow: UowFactory) -> None:
        with new_uow() as uow:
            for code in ["A-1", "Z-9", "M-5"]:
                uow.catalog.add_sku(Sku(code, code, Money.of("1.00")))
            uow.commit()

        with new_uow() as uow:
            first = [s.code for s in uow.catalog.list_skus(None, 3)]
            rest = [s.code for s in uow.catalog.list_skus(first[-1], 10)]
        assert first == ["A-1", "M-5", MUG]
        assert rest == [TEE, "Z-9"]

    def test_a_channel_listing_resolves_to_its_master_sku_on_that_channel_only(
        self, new_uow: UowFactory
    ) -> None:
        with new_uow() as uow:
            uow.catalog.add_mapping(ChannelMapping("tmall", "TM-TEE-M", TEE))
            uow.catalog.add_mapping(ChannelMapping("jd", "100012345678", TEE))
            uow.catalog.add_mapping(ChannelMapping("tmall", "TM-MUG", MUG))
            uow.commit()

        with new_uow() as uow:
            assert uow.catalog.get_mapping("tmall", "TM-TEE-M") == ChannelMapping(
                "tmall", "TM-TEE-M", TEE
            )
            assert uow.catalog.get_mapping("jd", "TM-TEE-M") is None
            assert uow.catalog.resolve("tmall", ["TM-TEE-M", "TM-MUG", "TM-CAP"]) == {
                "TM-TEE-M": TEE,
                "TM-MUG": MUG,
            }
            assert uow.catalog.resolve("jd", ["100012345678"]) == {"100012345678": TEE}
            assert uow.catalog.resolve("tmall", []) == {}

    def test_a_listing_bound_already_is_refused_without_spoiling_the_transaction(
        self, new_uow: UowFactory
    ) -> None:
        with new_uow() as uow:
            uow.catalog.add_mapping(ChannelMapping("tmall", "TM-TEE-M", TEE))
            with pytest.raises(AlreadyExists):
                uow.catalog.add_mapping(ChannelMapping("tmall", "TM-TEE-M", MUG))
            uow.catalog.add_mapping(ChannelMapping("tmall", "TM-MUG", MUG))
            uow.commit()

        with new_uow() as uow:
            assert uow.catalog.resolve("tmall", ["TM-TEE-M", "TM-MUG"]) == {
                "TM-TEE-M": TEE,
                "TM-MUG": MUG,
            }

    def test_leaving_without_commit_leaves_no_sku_and_no_mapping(self, new_uow: UowFactory) -> None:
        with new_uow() as uow:
            uow.catalog.add_sku(Sku("CAP-RED", "红色棒球帽", Money.of("29.90")))
            uow.catalog.add_mapping(ChannelMapping("tmall", "TM-CAP", "CAP-RED"))

        with new_uow() as uow:
            assert uow.catalog.get_sku("CAP-RED") is None
            assert uow.catalog.get_mapping("tmall", "TM-CAP") is None


class LocationRepositoryContract:
    @pytest.fixture
    def uow_factory(self) -> UowFactory:
        raise NotImplementedError

    def test_locations_round_trip_with_services_and_channels_listed_by_code(
        self, uow_factory: UowFactory
    ) -> None:
        store = Location(
            "SH-PEOPLES-SQ",
            "人民广场店",
            LocationType.STORE,
            31.2304,
            121.4737,
            frozenset({Service.PICKUP, Service.SAME_DAY}),
            frozenset({"tmall", "miniapp"}),
        )
        seed(uow_factory)
        with uow_factory() as uow:
            uow.locations.add(store)
            uow.commit()

        with uow_factory() as uow:
            assert uow.locations.get(store.code) == store
            assert uow.locations.get("NOWHERE") is None
            listed = uow.locations.list()
        assert [loc.code for loc in listed] == sorted([store.code, *(x.code for x in LOCATIONS)])
        assert listed[0] == LOCATIONS[1]

    def test_a_location_code_can_be_taken_once(self, uow_factory: UowFactory) -> None:
        seed(uow_factory)

        with uow_factory() as uow, pytest.raises(AlreadyExists):
            uow.locations.add(LOCATIONS[0])


class TestCatalogRepositoryOnFakes(CatalogRepositoryContract, LocationRepositoryContract):
    @pytest.fixture
    def uow_factory(self, fake_uow_factory: UowFactory) -> UowFactory:
        return fake_uow_factory


class TestCatalogRepositoryOnSqlite(CatalogRepositoryContract, LocationRepositoryContract):
    @pytest.fixture
    def uow_factory(self, sqlite_uow_factory: UowFactory) -> UowFactory:
        return sqlite_uow_factory


@pytest.mark.postgres
class TestCatalogRepositoryOnPostgres(CatalogRepositoryContract, LocationRepositoryContract):
    @pytest.fixture
    def uow_factory(self, postgres_uow_factory: UowFactory) -> UowFactory:
        return postgres_uow_factory
