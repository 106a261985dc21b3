"""Each sales platform as the channel tests meet it: its simulator with the shop's three goods
listed (TEE, MUG, CAP in the platform's own identities), the channel that points the hub at it,
and how the platform holds an order and signs the message that brings it to the hub.

The contract suite (``test_channel_contract.py``) runs the same tests on every platform through
these; the per-platform end-to-end files use them to set up their own days."""

from __future__ import annotations

import abc
import copy
import json
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from tests.channels.harness import (
    CAP,
    MUG,
    STORE,
    TEE,
    WAREHOUSE,
    HubUnderTest,
    Sent,
    connect,
)

from omnihub.platforms.local_time import SHANGHAI
from omnihub.simulators.base import PlatformSimulator
from omnihub.simulators.channels.douyin import DouyinSimulator, Item
from omnihub.simulators.channels.eleme import ElemeSimulator
from omnihub.simulators.channels.jd import JdSimulator
from omnihub.simulators.channels.meituan import MeituanSimulator
from omnihub.simulators.channels.miniapp import MiniappSimulator
from omnihub.simulators.channels.pdd import PddSimulator
from omnihub.simulators.channels.pos import PosSimulator
from omnihub.simulators.channels.shopify import ShopifySimulator, webhook_hmac
from omnihub.simulators.channels.taobao import TopSimulator
from omnihub.simulators.channels.woocommerce import (
    WooCommerceSimulator,
    wc_json,
    webhook_signature,
)

JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
#: a secret no channel is configured with: what a forger signs with
FORGED = "not-the-channel-secret-at-all"


def two_hours_ago() -> datetime:
    """Before the first pull window of a new channel (the tests start pulling half an hour
    back): an order made then reaches the hub only by the message that names it."""
    return datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(hours=2)


class Platform(abc.ABC):
    """One platform's simulator, the shop's goods on it and how it speaks to the hub."""

    adapter: ClassVar[str]
    #: True when the hub pulls the platform's orders by modified-time window
    pulls: ClassVar[bool] = False
    #: what the hub answers a message id it has seen before (409, or 200 where the platform
    #: takes any other answer for a failed delivery)
    replay_status: ClassVar[int] = 409
    #: the hub locations the channel sells from
    locations: ClassVar[list[str]] = [WAREHOUSE]

    def __init__(self) -> None:
        self.sim = self.simulator()
        self.mappings: dict[str, str] = self.list_goods()
        """channel SKU -> hub SKU"""

    # -- the platform -------------------------------------------------------------------------
    @abc.abstractmethod
    def simulator(self) -> PlatformSimulator: ...

    @abc.abstractmethod
    def list_goods(self) -> dict[str, str]:
        """Put TEE, MUG and CAP on sale; channel SKU -> hub SKU."""

    @property
    def endpoint(self) -> str:
        return self.sim.url

    @property
    def secret(self) -> str:
        return self.sim.secret

    def credentials(self) -> dict[str, Any]:
        return {}

    def refused_settings(self) -> tuple[str, dict[str, Any]]:
        """A channel secret and credentials the platform refuses every call of, for good."""
        return FORGED, self.credentials()

    def connect(self, hub: HubUnderTest, code: str, *, refused: bool = False) -> None:
        """Channel ``code`` on ``hub`` for this platform (set up so that the platform refuses
        every call with ``refused``), the platform pushing to it."""
        self.sim.hub_url = f"{hub.base_url}/api/v1/channels/{code}"
        secret, credentials = (
            self.refused_settings() if refused else (self.secret, self.credentials())
        )
        connect(
            hub,
            self.sim,
            code,
            self.adapter,
            mappings=self.mappings,
            secret=secret,
            credentials=credentials,
            endpoint=self.endpoint,
            locations=self.locations,
        )

    # -- orders -------------------------------------------------------------------------------
    @abc.abstractmethod
    def new_order(self) -> str:
        """A paid order of two TEE and one MUG, held by the platform, not sent yet; its
        external id."""

    @abc.abstractmethod
    def message(self, external_id: str, *, secret: str | None = None) -> Sent:
        """The signed message that brings the order to the hub (signed with ``secret``
        instead of the platform's when given: a forgery). The same call gives the same message
        id: sending it twice is a replay."""

    @abc.abstractmethod
    def unknown_status_message(self) -> tuple[str, Sent]:
        """A new order whose status the channel's status table does not have, and the signed
        message that brings it."""

    @abc.abstractmethod
    def lines(self, external_id: str) -> dict[str, int]:
        """The order's lines as the platform holds them: channel SKU -> quantity."""

    def for_the_pull(self, count: int, since: datetime) -> list[str]:
        """``count`` orders made one after the other from ``since`` (pull platforms)."""
        raise NotImplementedError(f"{self.adapter} is not pulled")


# -- Taobao / Tmall (TOP) -------------------------------------------------------------------------


class Taobao(Platform):
    adapter = "taobao"
    pulls = True

    sim: TopSimulator

    def simulator(self) -> TopSimulator:
        return TopSimulator(secret="tb-app-secret-2026-demo")

    def list_goods(self) -> dict[str, str]:
        tee = self.sim.list_item(outer_sku_id="TB-TEE-WHITE-M", outer_iid="TB-TEE", price="59.00")
        mug = self.sim.list_item(outer_iid="TB-MUG-350", with_sku=False, price="39.00")
        cap = self.sim.list_item(price="79.00")
        return {tee.channel_sku: TEE, mug.channel_sku: MUG, cap.channel_sku: CAP}

    def credentials(self) -> dict[str, Any]:
        return self.sim.credentials()

    def channel_sku(self, sku: str) -> str:
        return next(k for k, v in self.mappings.items() if v == sku)

    def new_order(self) -> str:
        lines = [(self.channel_sku(TEE), 2), (self.channel_sku(MUG), 1)]
        return self.sim.new_trade(lines, at=two_hours_ago(), paid=True)

    def signed(self, body: bytes, secret: str | None) -> Sent:
        query = dict(parse_qsl(self.sim.signed_query(body, secret=secret)))
        return Sent(body, JSON, query)

    def message(self, external_id: str, *, secret: str | None = None) -> Sent:
        """TMC's TradeBuyerPay message: the hub fetches the trade in full."""
        message_id = 4200000000000000000 + int(external_id) % 10**17
        message = self.sim.message(external_id, "taobao_trade_TradeBuyerPay", message_id=message_id)
        return self.signed(json.dumps(message, ensure_ascii=False).encode(), secret)

    def unknown_status_message(self) -> tuple[str, Sent]:
        """A whole trade pushed (a data push) in a status TOP's table does not have."""
        tid = self.new_order()
        trade = self.sim.change(tid, status="TRADE_IN_ANOTHER_WORLD")
        body = {"trade_fullinfo_get_response": {"trade": trade}}
        return tid, self.signed(json.dumps(body, ensure_ascii=False).encode(), None)

    def lines(self, external_id: str) -> dict[str, int]:
        by_ids = {(x.num_iid, x.sku_id): sku for sku, x in self.sim.listings.items()}
        lines: dict[str, int] = {}
        for line in self.sim.trade(external_id)["orders"]["order"]:
            sku_id = int(line["sku_id"]) if line.get("sku_id") else None
            lines[by_ids[(line["num_iid"], sku_id)]] = int(line["num"])
        return lines

    def for_the_pull(self, count: int, since: datetime) -> list[str]:
        skus = list(self.mappings)
        return [
            self.sim.new_trade([(skus[i % 3], 1)], at=since + timedelta(seconds=i), paid=True)
            for i in range(count)
        ]


class Tmall(Taobao):
    """Tmall: the same TOP protocol under its own adapter name."""

    adapter = "tmall"


# -- JD -----------------------------------------------------------------------------------------


class Jd(Platform):
    adapter = "jd"
    pulls = True
    TEE_ID, MUG_ID, CAP_ID = "TEE-WHITE-M", "100000000202", "CAP-NAVY"

    sim: JdSimulator

    def simulator(self) -> JdSimulator:
        return JdSimulator(
            secret="jd-e2e-app-secret-0001", app_key="jd-e2e-app", access_token="jd-e2e-token"
        )

    def list_goods(self) -> dict[str, str]:
        """Two with the merchant's outerSkuId, the mug by JD's skuId alone."""
        self.sim.add_item(self.TEE_ID, "100000000101", "59.00")
        self.sim.add_item(None, self.MUG_ID, "39.00")
        self.sim.add_item(self.CAP_ID, "100000000303", "79.00")
        return {self.TEE_ID: TEE, self.MUG_ID: MUG, self.CAP_ID: CAP}

    def credentials(self) -> dict[str, Any]:
        return dict(self.sim.credentials)

    def new_order(self) -> str:
        return self.sim.create_order([(self.TEE_ID, 2), (self.MUG_ID, 1)], at=two_hours_ago())

    def push(self, native: dict[str, Any], msg_id: str, secret: str | None = None) -> Sent:
        body, query = self.sim.signed_push(native, msg_id=msg_id, secret=secret)
        return Sent(body, JSON, query)

    def message(self, external_id: str, *, secret: str | None = None) -> Sent:
        """The whole orderInfo as a relay pushes it."""
        return self.push(self.sim.orders[external_id], f"jd-msg-{external_id}", secret)

    def unknown_status_message(self) -> tuple[str, Sent]:
        order_id = self.new_order()
        native = copy.deepcopy(self.sim.orders[order_id])
        native["orderState"] = "WAIT_FOR_A_MIRACLE"
        return order_id, self.push(native, f"jd-msg-strange-{order_id}")

    def lines(self, external_id: str) -> dict[str, int]:
        return {
            item["outerSkuId"] or item["skuId"]: int(item["itemTotal"])
            for item in self.sim.orders[external_id]["itemInfoList"]
        }

    def for_the_pull(self, count: int, since: datetime) -> list[str]:
        ids = [self.TEE_ID, self.MUG_ID, self.CAP_ID]
        return [
            self.sim.create_order([(ids[i % 3], 1)], at=since + timedelta(seconds=i))
            for i in range(count)
        ]


# -- Pinduoduo ------------------------------------------------------------------------------------


class Pdd(Platform):
    adapter = "pdd"
    pulls = True
    TEE_ID, MUG_ID, CAP_ID = "TEE-WHITE-M", "400000202", "CAP-NAVY"

    sim: PddSimulator

    def simulator(self) -> PddSimulator:
        return PddSimulator(
            secret="pdd-e2e-client-secret-01",
            client_id="pdd-e2e-client",
            access_token="pdd-e2e-token",
        )

    def list_goods(self) -> dict[str, str]:
        """Two with the merchant's outer_id, the mug by PDD's sku_id alone."""
        self.sim.add_item(self.TEE_ID, "300000101", "400000101", "59.00")
        self.sim.add_item(None, "300000202", self.MUG_ID, "39.00")
        self.sim.add_item(self.CAP_ID, "300000303", "400000303", "79.00")
        return {self.TEE_ID: TEE, self.MUG_ID: MUG, self.CAP_ID: CAP}

    def credentials(self) -> dict[str, Any]:
        return dict(self.sim.credentials)

    def new_order(self) -> str:
        return self.sim.create_order([(self.TEE_ID, 2), (self.MUG_ID, 1)], at=two_hours_ago())

    def push(self, native: dict[str, Any], msg_id: str, secret: str | None = None) -> Sent:
        body, query = self.sim.signed_push(native, msg_id=msg_id, secret=secret)
        return Sent(body, JSON, query)

    def message(self, external_id: str, *, secret: str | None = None) -> Sent:
        """The whole order_info as a relay pushes it."""
        return self.push(self.sim.orders[external_id], f"pdd-msg-{external_id}", secret)

    def unknown_status_message(self) -> tuple[str, Sent]:
        order_sn = self.new_order()
        native = copy.deepcopy(self.sim.orders[order_sn])
        native["order_status"] = 9  # not in PDD's table
        return order_sn, self.push(native, f"pdd-msg-strange-{order_sn}")

    def lines(self, external_id: str) -> dict[str, int]:
        return {
            item["outer_id"] or item["sku_id"]: int(item["goods_count"])
            for item in self.sim.orders[external_id]["item_list"]
        }

    def for_the_pull(self, count: int, since: datetime) -> list[str]:
        ids = [self.TEE_ID, self.MUG_ID, self.CAP_ID]
        return [
            self.sim.create_order([(ids[i % 3], 1)], at=since + timedelta(seconds=i))
            for i in range(count)
        ]


# -- 抖店 -----------------------------------------------------------------------------------------


class Douyin(Platform):
    adapter = "douyin"
    #: hub SKU -> the shop's item: two with merchant codes, the mug matched by its sku_id
    ITEMS: ClassVar[dict[str, Item]] = {
        TEE: Item(
            sku_id=1781234500001, product_id=3612345600001, price_fen=5900, code="DY-TEE-WHITE-M"
        ),
        MUG: Item(sku_id=1781234500002, product_id=3612345600002, price_fen=3900),
        CAP: Item(
            sku_id=1781234500003, product_id=3612345600003, price_fen=7900, code="DY-CAP-NAVY"
        ),
    }

    sim: DouyinSimulator

    def simulator(self) -> DouyinSimulator:
        return DouyinSimulator(seed=5)

    def list_goods(self) -> dict[str, str]:
        for item in self.ITEMS.values():
            self.sim.add_item(item)
        return {item.channel_sku: sku for sku, item in self.ITEMS.items()}

    def credentials(self) -> dict[str, Any]:
        return dict(self.sim.credentials)

    def new_order(self) -> str:
        order_id = self.sim.create_order([(self.ITEMS[TEE], 2), (self.ITEMS[MUG], 1)], push=False)
        self.sim.pay(order_id, push=False)
        return order_id

    def batch(self, order_id: str, tag: str, secret: str | None = None) -> Sent:
        body = json.dumps([self.sim.message(order_id, tag)], ensure_ascii=False).encode()
        return Sent(body, self.sim.signed_headers(body, secret=secret))

    def message(self, external_id: str, *, secret: str | None = None) -> Sent:
        """The paid message (tag 101): the hub fetches the order in full."""
        return self.batch(external_id, "101", secret)

    def unknown_status_message(self) -> tuple[str, Sent]:
        order_id = self.sim.create_order([(self.ITEMS[CAP], 1)], push=False)
        self.sim.orders[order_id]["order_status"] = 99  # not in the platform's table
        return order_id, self.batch(order_id, "100")

    def lines(self, external_id: str) -> dict[str, int]:
        return {
            line["code"] or str(line["sku_id"]): int(line["item_num"])
            for line in self.sim.orders[external_id]["sku_order_list"]
        }


# -- Shopify --------------------------------------------------------------------------------------


class Shopify(Platform):
    adapter = "shopify"
    replay_status = 200

    sim: ShopifySimulator

    def simulator(self) -> ShopifySimulator:
        return ShopifySimulator(seed=11, retry_delays=(0.02, 0.05))

    def list_goods(self) -> dict[str, str]:
        """Two variants with merchant SKU codes, one with none (the cap, by its variant id)."""
        tee = self.sim.add_variant(
            "TEE-WHITE-M",
            variant_id=44000000000101,
            product_id=8800000000101,
            inventory_item_id=49000000000101,
        )
        mug = self.sim.add_variant(
            "MUG-CERAMIC-350",
            variant_id=44000000000202,
            product_id=8800000000202,
            inventory_item_id=49000000000202,
        )
        cap = self.sim.add_variant(
            None,
            variant_id=44000000000303,
            product_id=8800000000303,
            inventory_item_id=49000000000303,
        )
        return {tee: TEE, mug: MUG, cap: CAP}

    def credentials(self) -> dict[str, Any]:
        return self.sim.credentials()

    def refused_settings(self) -> tuple[str, dict[str, Any]]:
        return self.secret, {**self.credentials(), "access_token": "shpat_not_this_shops"}

    def channel_sku(self, sku: str) -> str:
        return next(k for k, v in self.mappings.items() if v == sku)

    def new_order(self) -> str:
        lines = [(self.channel_sku(TEE), 2, "59.00"), (self.channel_sku(MUG), 1, "39.00")]
        return str(self.sim.new_order(lines, deliver=False)["id"])

    def webhook(self, topic: str, body: bytes, secret: str | None = None) -> Sent:
        headers = self.sim.headers(topic, body)
        if secret is not None:
            headers["X-Shopify-Hmac-Sha256"] = webhook_hmac(secret, body)
        return Sent(body, headers)

    def message(self, external_id: str, *, secret: str | None = None) -> Sent:
        body = json.dumps(self.sim.orders[external_id], ensure_ascii=False).encode()
        return self.webhook("orders/create", body, secret)

    def unknown_status_message(self) -> tuple[str, Sent]:
        order_id = self.new_order()
        native = dict(self.sim.orders[order_id], financial_status="chargeback_pending")
        return order_id, self.webhook("orders/updated", json.dumps(native).encode())

    def lines(self, external_id: str) -> dict[str, int]:
        return {
            line["sku"] or str(line["variant_id"]): int(line["quantity"])
            for line in self.sim.orders[external_id]["line_items"]
        }


# -- WooCommerce ----------------------------------------------------------------------------------


class WooCommerce(Platform):
    adapter = "woocommerce"
    replay_status = 200

    sim: WooCommerceSimulator

    def simulator(self) -> WooCommerceSimulator:
        return WooCommerceSimulator(seed=5)

    def list_goods(self) -> dict[str, str]:
        """A variation with a SKU code, a variation without one (by its variation id) and a
        simple product with a SKU code."""
        return {
            self.sim.add_product("TEE-WHITE-M", product_id=501, variation_id=503): TEE,
            self.sim.add_product(None, product_id=510, variation_id=512): MUG,
            self.sim.add_product("CAP-NAVY", product_id=520): CAP,
        }

    def credentials(self) -> dict[str, Any]:
        return self.sim.credentials()

    def refused_settings(self) -> tuple[str, dict[str, Any]]:
        return self.secret, {**self.credentials(), "consumer_secret": "cs_not_this_sites"}

    def channel_sku(self, sku: str) -> str:
        return next(k for k, v in self.mappings.items() if v == sku)

    def new_order(self) -> str:
        lines = [(self.channel_sku(TEE), 2, "59.00"), (self.channel_sku(MUG), 1, "39.00")]
        return str(self.sim.new_order(lines, deliver=False)["id"])

    def delivery(self, topic: str, body: bytes, secret: str | None = None) -> Sent:
        headers = self.sim.headers(topic, body)
        if secret is not None:
            headers["X-WC-Webhook-Signature"] = webhook_signature(secret, body)
        return Sent(body, headers)

    def message(self, external_id: str, *, secret: str | None = None) -> Sent:
        return self.delivery("order.created", wc_json(self.sim.orders[external_id]), secret)

    def unknown_status_message(self) -> tuple[str, Sent]:
        order_id = self.new_order()
        native = dict(self.sim.orders[order_id], status="wc-awaiting-shipment")
        return order_id, self.delivery("order.updated", wc_json(native))

    def lines(self, external_id: str) -> dict[str, int]:
        return {
            line["sku"] or str(line["variation_id"] or line["product_id"]): int(line["quantity"])
            for line in self.sim.orders[external_id]["line_items"]
        }


# -- our mini-program -----------------------------------------------------------------------------


class Miniapp(Platform):
    adapter = "miniapp"
    locations = [WAREHOUSE, STORE]

    sim: MiniappSimulator

    def simulator(self) -> MiniappSimulator:
        return MiniappSimulator(seed=3)

    def list_goods(self) -> dict[str, str]:
        """Sold by our own SKU codes, except the cap, listed under its own item code."""
        return {TEE: TEE, MUG: MUG, "MP-CAP-01": CAP}

    def new_order(self) -> str:
        external_id = self.sim.place_order([(TEE, 2, "59.00"), (MUG, 1, "39.00")], push=False)
        self.sim.pay(external_id, push=False)
        return external_id

    def message(self, external_id: str, *, secret: str | None = None) -> Sent:
        body = self.sim.body(external_id)
        headers = self.sim.headers(body, request_id=f"mp-{external_id}", secret=secret)
        return Sent(body, headers)

    def unknown_status_message(self) -> tuple[str, Sent]:
        external_id = self.new_order()
        native = dict(json.loads(self.sim.body(external_id)), status="allocated")
        body = json.dumps(native, ensure_ascii=False).encode()
        return external_id, Sent(body, self.sim.headers(body))

    def lines(self, external_id: str) -> dict[str, int]:
        return {ln["channel_sku"]: int(ln["qty"]) for ln in self.sim.orders[external_id]["lines"]}


# -- the store tills ------------------------------------------------------------------------------


class Pos(Platform):
    adapter = "pos"
    locations = [STORE]
    #: barcodes printed on the goods -> hub SKU (the cap is rung up by its SKU code)
    TEE_CODE, MUG_CODE = "6901234567892", "6901234567908"

    sim: PosSimulator

    def simulator(self) -> PosSimulator:
        return PosSimulator(seed=9)

    def list_goods(self) -> dict[str, str]:
        return {self.TEE_CODE: TEE, self.MUG_CODE: MUG}

    def credentials(self) -> dict[str, Any]:
        return {"store": STORE}

    def new_order(self) -> str:
        lines = [(self.TEE_CODE, 2, "59.00"), (self.MUG_CODE, 1, "39.00")]
        return self.sim.sale(STORE, lines, push=False)

    def message(self, external_id: str, *, secret: str | None = None) -> Sent:
        body = self.sim.body(external_id)
        headers = self.sim.headers(body, request_id=f"till-{external_id}", secret=secret)
        return Sent(body, headers)

    def unknown_status_message(self) -> tuple[str, Sent]:
        receipt_no = self.new_order()
        voided = dict(json.loads(self.sim.body(receipt_no)), type="void")
        body = json.dumps(voided).encode()
        return receipt_no, Sent(body, self.sim.headers(body))

    def lines(self, external_id: str) -> dict[str, int]:
        return {
            ln.get("barcode") or ln["sku"]: int(ln["qty"])
            for ln in self.sim.receipts[external_id]["lines"]
        }


# -- 美团 -----------------------------------------------------------------------------------------


class Meituan(Platform):
    adapter = "meituan"
    locations = [STORE]

    sim: MeituanSimulator

    def simulator(self) -> MeituanSimulator:
        return MeituanSimulator(seed=5)

    def list_goods(self) -> dict[str, str]:
        """The shop's sku_id are the retailer's SKU codes."""
        return {TEE: TEE, MUG: MUG, CAP: CAP}

    @property
    def endpoint(self) -> str:
        return self.sim.api_url

    def credentials(self) -> dict[str, Any]:
        return self.sim.credentials(STORE, self.sim.callback_url)

    def new_order(self) -> str:
        return self.sim.place_order([(TEE, 2), (MUG, 1)], push=False)

    def callback(self, params: dict[str, str], secret: str | None = None) -> Sent:
        return Sent(self.sim.form(params, secret=secret), FORM)

    def message(self, external_id: str, *, secret: str | None = None) -> Sent:
        """The paid-order callback (推送已支付订单) with the whole order."""
        return self.callback(self.sim.order_params(self.sim.orders[external_id]), secret)

    def unknown_status_message(self) -> tuple[str, Sent]:
        order_id = self.new_order()
        params = dict(self.sim.order_params(self.sim.orders[order_id]), status="5")
        return order_id, self.callback(params)

    def lines(self, external_id: str) -> dict[str, int]:
        return {
            food["sku_id"]: int(food["quantity"]) for food in self.sim.orders[external_id]["detail"]
        }


# -- 饿了么 ---------------------------------------------------------------------------------------


class Eleme(Platform):
    adapter = "eleme"
    locations = [STORE]

    sim: ElemeSimulator

    def simulator(self) -> ElemeSimulator:
        return ElemeSimulator(seed=5)

    def list_goods(self) -> dict[str, str]:
        """The shop's items carry the retailer's SKU codes as merchant codes (extendCode)."""
        return {TEE: TEE, MUG: MUG, CAP: CAP}

    @property
    def endpoint(self) -> str:
        return self.sim.api_url

    def credentials(self) -> dict[str, Any]:
        return self.sim.credentials(STORE)

    def new_order(self) -> str:
        return self.sim.place_order([(TEE, 2), (MUG, 1)], push=False)

    def message(self, external_id: str, *, secret: str | None = None) -> Sent:
        """The order-effective envelope (type 10) with the whole order."""
        body = self.sim.envelope(
            10, self.sim.orders[external_id], request_id=f"req-{external_id}", secret=secret
        )
        return Sent(body, JSON)

    def unknown_status_message(self) -> tuple[str, Sent]:
        order_id = self.new_order()
        native = dict(self.sim.orders[order_id], status="frozen")
        return order_id, Sent(self.sim.envelope(10, native), JSON)

    def lines(self, external_id: str) -> dict[str, int]:
        return {
            item["extendCode"]: int(item["quantity"])
            for group in self.sim.orders[external_id]["groups"]
            for item in group["items"]
        }
