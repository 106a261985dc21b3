"""饿了么 (Eleme) open platform: instant-delivery orders of one shop, pushed to the hub.

Supported:

* **orders, pushed**: the platform's message envelope (``requestId``, ``type``, ``appId``,
  ``message``, ``shopId``, ``timestamp`` in ms, ``signature``, ``userId``), signed with the
  app secret (see ``signature.py``); ``requestId`` is the message id (replays are refused) and
  ``timestamp`` the send time (checked against the allowed skew). Type 10 (订单生效) carries
  the whole order. Types 12/14/15/17/18 (accepted, cancelled, made invalid, completed) and
  20-26/30-36 (cancel and refund requests and their outcomes) name the order only: it is
  fetched in full with ``eleme.order.getOrder``, whose ``status``/``refundStatus`` say where it
  stands (an open request holds the order; a refused or withdrawn one releases it; an invalid
  order is cancelled; a completed order whose refund succeeded is refunded). Reminders (45,
  46), rider delivery states (51-76) and every other type are answered and ignored, with the
  reason. The answer the platform expects is ``{"message": "ok"}``.
* **the order**: delivered by the platform's rider (``same_day``); the shop (``shopId``) is
  the store that reserves, mapped by ``credentials.shops``. Lines are the ``normal`` baskets'
  items; the ``extra`` basket (餐盒费) and ``packageFee`` are fees, added with ``deliverFee``
  to the shipping fee. An online-paid order records a payment collected by the platform; an
  order not paid online is cash on delivery. Buyer phone numbers (privacy or masked numbers)
  and names are kept as given; masked ones are listed in ``masked``.
* **stock**: ``eleme.product.item.batchUpdateStock`` with ``{"stockMap": {spec id: qty}}``.
* **status back to the platform** (``ElemeAdapter.pushes``): the store reserved the goods
  (``allocated``) → ``confirmOrderLite``, the shop accepts the order; the goods are packed
  (``picked``) → ``setOrderPrepared`` (出餐), the rider may collect them.

Not supported: pulling orders (the platform pushes), shipments (the platform's rider
delivers), cancelling or refunding on the platform from the hub (``cancelOrderLite``,
``agreeRefundLite``: a cancellation the platform itself made must not be echoed back, and the
push does not say who cancelled), partial refunds of some lines, token refresh (the access
token is a credential).
"""
