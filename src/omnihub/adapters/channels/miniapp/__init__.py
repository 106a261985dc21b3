"""Our own WeChat mini-program shop (its server side sends the orders).

Supports:

* **orders in (push)**: the hub's canonical order JSON (as ``POST /api/v1/orders`` takes it)
  with a WeChat buyer ``{"openid", "unionid", ...}`` posted to
  ``POST /api/v1/channels/{code}/orders``, signed ``X-Omnihub-Signature: sha256=<hex
  HMAC-SHA256(secret, timestamp + "." + body)>`` with ``X-Omnihub-Timestamp`` (Unix seconds,
  checked against the hub's clock) and ``X-Request-Id`` (a replayed id is refused). Every
  delivery mode: express, same_day and pickup (``pickup_location`` is the store).
* **cancel / refund in**: status ``cancelled`` or ``refunded``; ``refund_requested: true`` while
  a refund request is open (the hub holds the order until it is closed or refunded).
* **stock out**: ``POST <endpoint>/stock`` ``{"channel_sku", "sku", "quantity", "version"}``.
* **status out**: ``POST <endpoint>/orders/status`` ``{"external_id", "status", "carrier",
  "tracking_number"}`` for shipped, delivered, cancelled and refunded. Both are signed as above.

Line identity: ``lines[].channel_sku`` (usually our own SKU codes), else ``lines[].sku``; a line
whose ``sku`` the catalogue knows needs no mapping.

The buyer's ``openid`` is the channel buyer id. ``unionid`` is kept only in the raw payload for
now: the canonical buyer has no field for it yet.

Not supported: pulling orders (the back end pushes), partial refunds.
"""
