"""抖店 (Douyin shop, open platform ``openapi-fxg.jinritemai.com``).

Supports:

* **orders in (push)**: message batches posted to ``POST /api/v1/channels/{code}/orders``
  (a JSON array of ``{"tag", "msg_id", "data"}``), signed with ``event-sign`` (MD5 of
  ``app_key + body + app_secret``, or HMAC-SHA256 with ``sign-method: hmac-sha256``). Order
  messages (tags 1xx: created, paid, shipped, completed, cancelled, amount changed...) and
  after-sale messages (tags 2xx) name the shop order only, so the hub fetches it in full with
  ``order.orderDetail`` and stores its newest state; the answer is ``{"code": 0, "msg":
  "success"}``. Replays of a batch are refused by its msg_id(s). The push carries no signed
  send time, so there is no timestamp window for this channel.
* **cancel / refund in**: order_status 4 is ``cancelled``; a closed order whose every line was
  refunded is ``refunded``; an open after-sale request (not an exchange) on an order not yet
  shipped sets ``refund_requested`` and the hub holds the order until it is refused (back to
  normal) or refunded.
* **stock out**: ``sku.syncStock`` with ``incremental=false`` (sets the quantity).
* **shipments out**: ``order.logisticsAdd`` (order_id, company_code, logistics_code) when the
  hub ships; carrier names are mapped to the platform's company codes (``mapper.CARRIERS``).
* Masked/encrypted receiver fields (``encrypt_post_receiver``, ``encrypt_post_tel``,
  ``encrypt_detail``) are kept as given and listed in ``Address.masked``.

Line identity (what ``POST /api/v1/catalog/mappings`` matches): the merchant SKU code
``sku_order_list[].code`` when the seller set one, else the platform's ``sku_id``. For stock
pushes a channel SKU of digits only is sent as ``sku_id``, anything else as ``code``.

Not supported: pulling orders by time window (the platform pushes), partial shipments (one
logisticsAdd per order), pushing cancellations or refunds (the platform has no seller call for
them: the buyer and after-sale flow decide), and partial refunds (a line refunded while others
are kept leaves the order as it is).

Answers we read (``mapper.ANSWER_CODES``): ``code`` 10000 is success (the older ``err_no`` 0 is
read too); 20000 service unavailable and 30001 too many requests are retried later; every other
code is final (bad signature 40004, expired token 30002, business refusal 50002...).
"""
