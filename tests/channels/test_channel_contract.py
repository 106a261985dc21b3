"""The channel adapters' contract: one suite of what every adapter must do, run for each
platform through its simulator (a real HTTP server, written apart from the adapter) and a real
``omnihub serve``.

- a message signed with the channel's secret is stored, with the lines the platform holds; one
  signed with another secret is refused (401) and nothing is stored;
- a message id seen before is not stored again, answered with the adapter's ``replay_status``;
- a status the channel's table does not have is refused (400) and the body waits in the inbound
  log for a person;
- the platform ends with the hub's published stock for every mapped SKU;
- an outage (5xx) and the platform's own rate-limit answer are retried; a call the platform
  refuses for good goes straight to the dead letters;
- a pulled platform's window of more orders than a page is read whole, each order once.

Each platform class gets a hub of its own; each test a channel of its own on it.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pytest
from tests.channels.harness import (
    HubUnderTest,
    deliveries,
    hub_on_a_fresh_file,
    orders_once,
    post,
    stock_matches,
    wait_until,
)
from tests.channels.platforms import (
    FORGED,
    Douyin,
    Eleme,
    Jd,
    Meituan,
    Miniapp,
    Pdd,
    Platform,
    Pos,
    Shopify,
    Taobao,
    WooCommerce,
)

from omnihub.platforms.local_time import SHANGHAI

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="class")
def shared_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubUnderTest]:
    """One hub for a platform's tests, which starts pulling a new channel half an hour back
    (orders made two hours ago reach it only by the messages naming them)."""
    workdir = tmp_path_factory.mktemp(request.cls.platform_class.adapter)
    with hub_on_a_fresh_file(workdir, OMNIHUB_PULL_START_HOURS="0.5") as running:
        yield running


class ChannelContract(abc.ABC):
    """Subclasses name the platform (a ``Platform`` class)."""

    platform_class: ClassVar[type[Platform]]

    @pytest.fixture
    def platform(self) -> Iterator[Platform]:
        platform = self.platform_class()
        with platform.sim:
            yield platform

    @pytest.fixture
    def code(self, request: pytest.FixtureRequest) -> str:
        """The test's own channel on the shared hub."""
        return f"{self.platform_class.adapter}-{request.node.name[5:40]}".replace("_", "-")

    # -- signatures -----------------------------------------------------------------------------
    def test_a_message_signed_with_the_channel_secret_is_stored_with_the_platforms_lines(
        self, shared_hub: HubUnderTest, platform: Platform, code: str
    ) -> None:
        platform.connect(shared_hub, code)
        external_id = platform.new_order()
        response = post(shared_hub, code, platform.message(external_id))
        assert response.status_code in (200, 201), response.text
        stored = shared_hub.order(code, external_id)
        assert stored is not None, response.text
        detail = shared_hub.get(f"/api/v1/orders/{stored['id']}")
        held = {line["channel_sku"]: line["qty"] for line in detail["lines"]}
        assert held == platform.lines(external_id)

    def test_a_message_signed_with_another_secret_is_refused_and_nothing_is_stored(
        self, shared_hub: HubUnderTest, platform: Platform, code: str
    ) -> None:
        platform.connect(shared_hub, code)
        external_id = platform.new_order()
        before = len(shared_hub.inbound())
        response = post(shared_hub, code, platform.message(external_id, secret=FORGED))
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "bad_signature"
        assert len(shared_hub.inbound()) == before
        assert shared_hub.order(code, external_id) is None

    # -- replays --------------------------------------------------------------------------------
    def test_a_message_seen_before_is_not_stored_again(
        self, shared_hub: HubUnderTest, platform: Platform, code: str
    ) -> None:
        platform.connect(shared_hub, code)
        message = platform.message(platform.new_order())
        first = post(shared_hub, code, message)
        assert first.status_code in (200, 201), first.text
        inbound = len(shared_hub.inbound())
        again = post(shared_hub, code, message)
        assert again.status_code == platform.replay_status, again.text
        if platform.replay_status == 409:
            assert again.json()["error"]["code"] == "replayed_message"
        else:  # acknowledged, as a platform that retries anything else wants
            assert (again.json()["replayed"], again.json()["orders"]) == (True, [])
        assert len(shared_hub.inbound()) == inbound
        assert len(orders_once(shared_hub, code)) == 1

    # -- unknown statuses -----------------------------------------------------------------------
    def test_a_status_the_channel_table_does_not_have_is_refused_and_the_body_kept(
        self, shared_hub: HubUnderTest, platform: Platform, code: str
    ) -> None:
        platform.connect(shared_hub, code)
        external_id, message = platform.unknown_status_message()
        response = post(shared_hub, code, message)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "unknown_channel_status"
        # the body as the platform sent it (and, where the hub fetched the order it named, the
        # fetched order too)
        kept = [r["body"] for r in shared_hub.inbound("rejected") if r["channel"] == code]
        assert message.body.decode() in kept
        assert shared_hub.order(code, external_id) is None

    # -- stock ----------------------------------------------------------------------------------
    def test_the_platform_ends_with_the_hubs_stock_for_every_mapped_sku(
        self, shared_hub: HubUnderTest, platform: Platform, code: str
    ) -> None:
        platform.connect(shared_hub, code)
        wait_until(
            lambda: stock_matches(
                shared_hub, code, platform.sim.stock, platform.mappings, acked=True
            ),
            timeout=30,
            what="the platform's stock equal to the hub's published and acknowledged quantities",
        )
        assert platform.sim.refused == []

    # -- retries --------------------------------------------------------------------------------
    def test_an_outage_is_retried_until_the_platform_takes_the_stock(
        self, shared_hub: HubUnderTest, platform: Platform, code: str
    ) -> None:
        platform.sim.faults.down = True  # every call answers 503
        platform.connect(shared_hub, code)
        wait_until(
            lambda: any(d["attempts"] >= 2 for d in deliveries(shared_hub, code)),
            what="a stock call tried again after a 503",
        )
        platform.sim.faults.down = False
        wait_until(
            lambda: stock_matches(
                shared_hub, code, platform.sim.stock, platform.mappings, acked=True
            ),
            timeout=40,
            what="the stock set once the platform is back",
        )
        assert deliveries(shared_hub, code, dead=True) == []

    def test_the_platforms_rate_limit_answer_is_retried(
        self, shared_hub: HubUnderTest, platform: Platform, code: str
    ) -> None:
        platform.sim.faults.rate_limited = 2  # its own rate-limit answer, in its own words
        platform.connect(shared_hub, code)
        wait_until(
            lambda: stock_matches(
                shared_hub, code, platform.sim.stock, platform.mappings, acked=True
            ),
            timeout=40,
            what="the stock set after the rate-limit answers",
        )
        assert platform.sim.faults.rate_limited == 0
        assert deliveries(shared_hub, code, dead=True) == []
        if not platform.pulls:  # no pull shares the answers out: stock calls got them
            assert any(d["attempts"] >= 2 for d in deliveries(shared_hub, code))

    def test_a_call_the_platform_refuses_for_good_goes_to_the_dead_letters_at_once(
        self, shared_hub: HubUnderTest, platform: Platform, code: str
    ) -> None:
        platform.connect(shared_hub, code, refused=True)
        dead = wait_until(
            lambda: (
                (d := deliveries(shared_hub, code, dead=True))
                and len(d) >= len(set(platform.mappings.values()))
                and d
            ),
            what="every stock call in the dead letters",
        )
        assert {d["attempts"] for d in dead} == {1}, dead  # refused for good: not tried again
        assert all(d["last_error"] for d in dead)
        assert platform.sim.refused, "the platform did not refuse the calls"
        assert platform.sim.stock == {}


class PullContract(ChannelContract):
    """What a pulled platform must do besides."""

    PAGE = 100

    def test_a_window_of_more_orders_than_a_page_is_pulled_whole_each_order_once(
        self, shared_hub: HubUnderTest, platform: Platform, code: str
    ) -> None:
        since = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(minutes=20)
        made = platform.for_the_pull(self.PAGE + 30, since)
        platform.connect(shared_hub, code)

        def pulled() -> dict[str, Any] | None:
            orders = orders_once(shared_hub, code)
            return orders if len(orders) >= len(made) else None

        orders = wait_until(pulled, timeout=60, what=f"the {len(made)} orders of the window")
        assert set(orders) == set(made)
        status = shared_hub.pull_status(code)
        assert status.get("rejected", 0) == 0
        assert platform.sim.refused == []


class TestTaobao(PullContract):
    platform_class = Taobao


class TestJd(PullContract):
    platform_class = Jd


class TestPdd(PullContract):
    platform_class = Pdd


class TestDouyin(ChannelContract):
    platform_class = Douyin


class TestShopify(ChannelContract):
    platform_class = Shopify


class TestWooCommerce(ChannelContract):
    platform_class = WooCommerce


class TestMiniapp(ChannelContract):
    platform_class = Miniapp


class TestPos(ChannelContract):
    platform_class = Pos


class TestMeituan(ChannelContract):
    platform_class = Meituan


class TestEleme(ChannelContract):
    platform_class = Eleme
