"""WooCommerce: orders pushed by webhook, stock and order status pushed by the REST API v3.

- **Orders in** (push): order.created / order.updated / order.restored webhooks to
  ``POST /api/v1/channels/{code}/orders``, checked with ``X-WC-Webhook-Signature`` (base64
  HMAC-SHA256 of the raw body with the webhook secret, constant time). The message id is
  ``X-WC-Webhook-Delivery-ID`` plus a digest of the body (WooCommerce reuses a delivery id
  within one second). order.deleted sends only the id: the hub fetches the order
  (``GET /wp-json/wc/v3/orders/{id}``; trashed = cancelled). The unsigned ping
  (``webhook_id=N``, form-encoded) sent when a webhook is saved is answered 200 and ignored.
  Other topics are acknowledged and ignored.
- **Statuses**: every core status (``mapper.STATUS``); a plugin's own statuses can be named in
  ``credentials.statuses``. Cash on delivery (``payment_method: cod``) orders are ready to ship
  when processing. A refund recorded before shipment holds the order as a refund request.
  Times: ``*_gmt`` fields as UTC, else the site's local time (``credentials.timezone``).
- **Line identity** (the channel SKU mappings match): the line's ``sku``, else its
  ``variation_id`` (for a variation), else its ``product_id``.
- **Stock out**: ``PUT /wp-json/wc/v3/products/{id}`` (or ``.../variations/{id}``) with
  ``{"stock_quantity": n, "manage_stock": true}``, basic auth with the consumer key/secret.
- **Shipment out**: ``PUT /wp-json/wc/v3/orders/{id}`` ``{"status": "completed"}`` with the
  carrier and tracking number as order meta data (``omnihub_carrier``,
  ``omnihub_tracking_number``) — one call, so a shipment is never half pushed.
  **Cancel out**: ``{"status": "cancelled"}``.
- **Not pushed**: refunds and delivery. **No pull**. 5xx and 429 answers are retried by the
  connector runtime; other errors go to the dead letters with WooCommerce's error code.
"""
