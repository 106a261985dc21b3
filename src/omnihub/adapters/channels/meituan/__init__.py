"""美团闪购/外卖 (Meituan) open platform: instant-delivery orders of one shop, pushed to the hub.

Supported:

* **orders, pushed**: form-urlencoded callbacks with ``app_id``, ``timestamp`` (Unix
  seconds, checked against the allowed skew) and ``sig`` (see ``signature.py``; it covers the
  registered callback URL, ``credentials.callback_url``). The platform sends no message id:
  the callback's sig identifies it, so the same callback sent again is refused as a replay.
  Order callbacks (已支付/已确认/已完成订单) carry the whole order (``detail`` as JSON text)
  with ``utime`` as its update time; cancel callbacks (``reason_code``) and status callbacks
  name the order, which is fetched in full (``order/getOrderDetail``). Refund callbacks
  (``notify_type`` apply/agree/reject/cancelRefund/cancelRefundComplaint) fetch the order and
  add what the order does not show: an open request holds it, a refused or withdrawn one
  releases it, an agreed one cancels it (status 9) or refunds a completed order
  (``MeituanAdapter.after_fetch``). Delivery-state callbacks are answered and ignored. The
  answer the platform expects is ``{"data": "ok"}``. Values URL-encoded twice are decoded.
* **the order**: delivered by the platform's rider (``same_day``); the shop (``app_poi_code``)
  is the store that reserves, mapped by ``credentials.shops``. Statuses 1-9 in
  ``mapper.ORDER_STATUS``; ``pay_type`` 1 is cash on delivery, else a payment collected by the
  platform is recorded. Packing boxes (box_num × box_price) and the bag fee are added to the
  delivery fee. Masked phone numbers (``1**********7``) and privacy numbers are kept as given.
* **stock**: ``retail/sku/stock`` with ``app_poi_code`` and ``food_data`` (``app_food_code``
  and ``skus[].sku_id``/``stock``).
* **status back to the platform** (``MeituanAdapter.pushes``): the store reserved the goods
  (``allocated``) → ``order/confirm``, the shop accepts; the goods are packed (``picked``) →
  ``order/preparationMealComplete``.

Not supported: pulling orders, shipments (the platform's rider delivers), cancelling or
refunding on the platform from the hub (a cancellation the platform made must not be echoed
back, and the hub's status change does not say who cancelled), partial refunds of some foods
(read as an open or closed request on the whole order), privacy-number decryption.
"""
