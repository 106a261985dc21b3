"""The Qimen (奇门) WMS protocol, as Chinese warehouses (and their ERPs) speak it.

Supports, hub → WMS: ``taobao.qimen.deliveryorder.create`` (a delivery order per fulfilment;
re-sending the same ``deliveryOrderCode`` is answered with the same order, as the protocol
asks of a WMS), ``taobao.qimen.order.cancel``, ``taobao.qimen.inventory.query`` (sellable
``ZP`` stock per item). WMS → hub (callbacks, one URL, the method in the query):
``deliveryorder.confirm`` (carrier ``logisticsCode``, tracking ``expressCode`` per package,
``confirmType`` 1 for a partial shipment and 0 for the last one), ``entryorder.confirm``
(goods received), ``stockchange.report`` (other stock changes), ``inventory.report``
(stock-take gains and losses). Requests and callbacks are XML, signed (``signature.py``);
the hub answers ``<response><flag>success</flag><code>0</code>...</response>``.

Config: credentials ``app_key``, ``app_secret``, ``customer_id`` (the WMS's customerId for
us); settings ``owner_code`` (货主编码, required), ``shop_nick`` (the code by default),
``order_type`` (JYCK); warehouses: our location → ``warehouseCode``; skus: our SKU →
``itemCode`` where they differ. Endpoint: the WMS (or Qimen gateway) router URL.
"""
