"""Odoo (17+) over its external JSON-RPC API.

Supports: sales orders (``sale.order`` create + ``action_confirm``, found again by
``client_order_ref``; ``action_cancel``), returns (an incoming ``stock.picking`` from the
customer location, confirmed, for the warehouse to validate on arrival), stock
(``stock.quant`` in internal locations, per warehouse), costs (``product.product``
``standard_price``), and done receipts and inventory adjustments (``stock.move``) since a
time. Odoo's webhooks are unsigned, so the hub polls ``stock_documents`` instead.

Config: credentials ``db``, ``login``, ``password`` (an API key works as the password),
optional ``uid`` (skips ``common.login``); settings ``customer`` (the ``res.partner`` id
orders are booked for), ``currency_code`` (CNY); warehouses: our location → the
``stock.warehouse`` code; skus: our SKU → ``default_code`` where they differ.
"""
