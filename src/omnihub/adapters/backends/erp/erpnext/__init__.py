"""ERPNext (Frappe framework) over its REST API, and its signed webhooks.

Supports: sales orders (``POST /api/resource/Sales Order`` with ``docstatus`` 1 to submit;
found again by ``po_no``, which holds our reference; cancel with ``frappe.client.cancel``, or
delete a draft), returns (a submitted return ``Delivery Note``, ``is_return`` 1, negative
quantities), stock (``Bin``: ``actual_qty``, ``reserved_qty`` per item and warehouse), costs
(``Item.valuation_rate``), and submitted ``Purchase Receipt`` and ``Stock Reconciliation``
documents, both polled (modified since a time) and pushed by a Webhook (on submit, request
structure JSON carrying the whole document) signed with ``X-Frappe-Webhook-Signature``.

Config: credentials ``api_key``, ``api_secret`` (sent as ``Authorization: token key:secret``),
``webhook_secret`` (to accept webhooks); settings ``customer`` (required), ``company``,
``currency_code`` (CNY), ``timezone`` of the site (Asia/Shanghai); warehouses: our location →
the warehouse name (``Stores - OH``); skus: our SKU → ``item_code`` where they differ.
"""
