"""Shopify: orders pushed by webhook, stock and shipments pushed by the Admin REST API.

- **Orders in** (push): the orders/create, orders/updated, orders/paid and orders/cancelled
  webhooks to ``POST /api/v1/channels/{code}/orders``. ``X-Shopify-Hmac-Sha256`` (base64
  HMAC-SHA256 of the raw body with the app's client secret) is checked in constant time;
  ``X-Shopify-Webhook-Id`` is the message id and ``X-Shopify-Triggered-At`` the sending time.
  Test orders (``test: true``) are acknowledged and ignored unless
  ``credentials.accept_test_orders`` is set. Other topics are acknowledged and ignored.
- **Statuses**: ``financial_status`` x ``fulfillment_status`` x ``cancelled_at`` (tables in
  ``mapper.py``). Cash on delivery orders (pending with the COD gateway) are ready to ship.
  A partial refund before shipment holds the order as a refund request; a void, a
  cancellation or a full refund cancels (or refunds) it in the hub.
- **Line identity** (the channel SKU mappings match): the line's ``sku`` when the variant has
  one, else its ``variant_id`` (else ``product_id``; a custom item is ``custom:<title>``).
- **Stock out**: ``POST /admin/api/2024-01/inventory_levels/set.json`` with the configured
  ``location_id`` and the inventory item of the channel SKU (``credentials.inventory_items``).
- **Shipment out**: a fulfillment with tracking number and company
  (``POST /admin/api/2024-01/orders/{id}/fulfillments.json``). Shopify serves that order-level
  call only up to API 2022-04; the fulfillment-order form (two chained calls) is built by
  ``ShopifyAdapter.fulfillment_orders_request`` and ``fulfillment_request``.
- **Not pushed**: cancellations and refunds (done in the Shopify admin, which returns the
  money; the hub hears of them by webhook) and delivery. **No pull**: Shopify retries
  webhooks for hours, so the hub accepts a signed delivery up to 48 hours after it was
  triggered; replays are caught by the webhook id.
- **Rate limits**: a 429 (``Retry-After``) or 5xx answer is retried by the connector runtime.
"""
