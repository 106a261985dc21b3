"""Store tills (POS): sales and returns paid at the counter.

Supports:

* **sales and returns in (push)**: one signed message per receipt posted to
  ``POST /api/v1/channels/{code}/orders`` (``X-Omnihub-Signature: sha256=<hex
  HMAC-SHA256(secret, timestamp + "." + body)>``, ``X-Omnihub-Timestamp``, ``X-Request-Id``; the
  same scheme as the mini-program). A **sale** becomes an order that is already ``completed``,
  delivery ``pickup`` at the till's store, ``counter_sale``: the hub takes its units off that
  store's shelf at once and routes nothing. A **return** names ``original_receipt_no`` and
  becomes an update of that order to ``refunded`` (``counter_sale``): the units go back on the
  shelf. The till's ``sold_at`` is its local time (Asia/Shanghai when it has no offset) and is
  the order's created/updated time.
* **stock out**: ``POST <endpoint>/stock`` ``{"store"?, "channel_sku", "sku", "quantity",
  "version"}`` signed the same way, so the tills show what the hub can sell from the store.

Line identity: the scanned ``lines[].barcode``, else ``lines[].sku`` (a ``sku`` the catalogue
knows needs no mapping).

Not supported: shipments or status pushes (a counter sale is finished), partial returns (a
return gives back every unit the original receipt sold; a second return of the same receipt
changes nothing), a return whose sale the hub never received (recorded as refunded, no stock
moves). Several payments of one receipt are recorded as one payment of their sum, the methods
joined with "+".
"""
