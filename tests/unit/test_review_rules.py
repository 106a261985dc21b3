"""Automatic review (自动审单): rules read from TOML hold orders with a reason code."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omnihub.domain.locations import DeliveryMode
from omnihub.domain.orders import Address, Buyer, Order, OrderLine, OrderStatus, Payment
from omnihub.domain.routing.review import RuleFileError, default_rules, parse_rules
from omnihub.domain.values import Money

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 11, tzinfo=UTC)
FULL_ADDRESS = Address(
    name="Li Lei",
    phone="13800138000",
    province="上海",
    city="上海市",
    district="浦东新区",
    address="世纪大道100号",
    lat=31.23,
    lon=121.5,
)


def an_order(**changes) -> Order:
    fields = {
        "buyer": Buyer("tb_nick", "Li Lei", "13800138000"),
        "ship_to": FULL_ADDRESS,
        "total": Money.of("118.00"),
        "payment": Payment("alipay", "PAY1", Money.of("118.00"), NOW),
    }
    lines = changes.pop("lines", [OrderLine(1, "T-1", 2, Money.of("59.00"), Money.of("0"), "A")])
    fields.update(changes)
    return Order.receive(
        id="O1",
        channel="tmall",
        external_id="T1",
        channel_status=OrderStatus.PAID,
        delivery=fields.pop("delivery", DeliveryMode.EXPRESS),
        lines=lines,
        channel_created_at=NOW,
        channel_updated_at=NOW,
        at=NOW,
        **fields,
    )


def holds(order: Order) -> list[str]:
    return [f.hold for f in default_rules().review(order)]


def test_a_clean_order_passes_review():
    assert holds(an_order()) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"ship_to": Address(name="Li", province="上海", city="", address="")},
            "address_incomplete",
        ),
        ({"remark": "请周末送货"}, "buyer_remark"),
        (
            {
                "total": Money.of("30000.00"),
                "lines": [OrderLine(1, "T-1", 1, Money.of("30000.00"), Money.of("0"), "A")],
            },
            "amount_anomaly",
        ),
        ({"total": Money.of("500.00")}, "amount_anomaly"),
        (
            {
                "lines": [OrderLine(1, "T-1", 60, Money.of("1.00"), Money.of("0"), "A")],
                "total": Money.of("60.00"),
            },
            "risky_quantity",
        ),
        ({"payment": None}, "payment_missing"),
    ],
)
def test_each_default_rule_holds_with_its_reason(change, reason):
    assert reason in holds(an_order(**change))


def test_cash_on_delivery_needs_no_payment_record():
    assert "payment_missing" not in holds(an_order(payment=None, cod=True))


def test_a_pickup_order_needs_no_street_address():
    order = an_order(ship_to=Address(), delivery=DeliveryMode.PICKUP, pickup_location="ST-1")
    assert "address_incomplete" not in holds(order)


def test_blacklists_match_buyer_phone_and_address():
    rules = parse_rules("""
[[rule]]
when = "blacklisted"
buyers = ["bad_buyer"]
phones = ["139-0000-0000"]
addresses = ["黑名单路"]
hold = "blacklisted"
""")
    assert rules.review(an_order(buyer=Buyer("bad_buyer")))[0].hold == "blacklisted"
    assert rules.review(an_order(buyer=Buyer("x", phone="13900000000")))
    street = Address(province="上海", city="上海", address="黑名单路1号")
    assert rules.review(an_order(ship_to=street))
    assert rules.review(an_order()) == []


def test_a_vip_tier_gets_next_day_service_from_the_default_rules():
    upgrade = default_rules().service_for("VIP")
    assert upgrade is not None
    assert upgrade.service_level == "next_day"
    assert upgrade.prefer_warehouse
    assert default_rules().service_for(None) is None


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            '[[rule]]\nwhen = "address_incomplete"\n\n[[rule]]\nwhen = "moon_phase"\n',
            4,
            "moon_phase",
        ),
        ('[[rule]]\nwhen = "total_above"\namount = 5000.0\n', 1, "string"),
        ('[[rule]]\nwhen = "too_many_units"\nmax_units = 0\n', 1, "max_units"),
        ('[[rule]]\nwhen = "buyer_remark"\nhold = "Not A Code"\n', 1, "reason code"),
        ("[[rule]\nwhen = 1\n", 1, ""),
        ('[[service]]\nservice_level = "next_day"\n', 1, "tier"),
        ('[[rules]]\nwhen = "buyer_remark"\n', 1, "unknown section"),
    ],
)
def test_a_bad_rule_file_is_refused_with_its_line_and_problem(text, line, problem):
    with pytest.raises(RuleFileError) as caught:
        parse_rules(text)
    assert caught.value.details["line"] == line
    assert problem in caught.value.message


def test_a_disabled_rule_does_not_hold():
    rules = parse_rules('[[rule]]\nwhen = "buyer_remark"\nenabled = false\n')
    assert rules.review(an_order(remark="hello")) == []
