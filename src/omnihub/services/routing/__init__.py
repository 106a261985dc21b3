"""Routing use cases, one module per part of an order's way to the buyer:

- ``policy``: how a process routes (the routing policy) and its review rules;
- ``allocation``: review, source and reserve an order, or hold it with the reason;
- ``fulfilment``: hand it to its nodes (merged orders together), ship and deliver its parts,
  give its stock back, split a merge group;
- ``pickup``: store pickup codes (collect, reissue);
- ``sweeps``: the sweepers' work (release when the merge window passed, expire reservations
  and the store pickups whose hold ran out).

The public names are re-exported here: ``from omnihub.services import routing`` then
``routing.route_order(...)``.
"""

from omnihub.services.routing.allocation import RoutingResult, route_order
from omnihub.services.routing.fulfilment import (
    close_fulfilments,
    deliver_part,
    give_back_stock,
    release_group,
    release_order,
    release_to_nodes,
    ship_fulfilment,
    ship_part,
    unmerge,
)
from omnihub.services.routing.pickup import WrongPickupCode, collect_pickup, reissue_pickup_code
from omnihub.services.routing.policy import (
    DEFAULT_POLICY,
    REVIEW_RULES,
    RoutingPolicy,
    replace_review_rules,
    sync_review_rules,
)
from omnihub.services.routing.sweeps import expire_pickup_holds, expire_reservations, release_due

__all__ = [
    "DEFAULT_POLICY",
    "REVIEW_RULES",
    "RoutingPolicy",
    "RoutingResult",
    "WrongPickupCode",
    "close_fulfilments",
    "collect_pickup",
    "deliver_part",
    "expire_pickup_holds",
    "expire_reservations",
    "give_back_stock",
    "release_due",
    "release_group",
    "release_order",
    "release_to_nodes",
    "reissue_pickup_code",
    "replace_review_rules",
    "route_order",
    "ship_fulfilment",
    "ship_part",
    "sync_review_rules",
    "unmerge",
]
