"""Dada-style (达达) instant delivery.

Supports: ``/api/order/addOrder`` (a rider task for a store order, with the fee and distance
in the answer), ``/api/order/reAddOrder`` (send again a task that was cancelled, expired or
came back), ``/api/order/formalCancel`` (with the penalty deducted), ``/api/order/status/query``
(status, rider, rider position ``transporterLat``/``transporterLng``, fee); status callbacks
to the URL given with each order, signed as ``signature.py`` says.

Status codes (``order_status``) and what the hub reads: 1 待接单 waiting, 8 指派单 waiting
(offered to one rider), 2 待取货 accepted, 100 骑士到店 picking_up, 3 配送中 delivering,
4 已完成 delivered, 5 已取消 cancelled (``cancel_from`` 1 rider, 2 merchant, 3 provider),
7 已过期 expired, 9 妥投异常之物品返回中 returning, 10 妥投异常之物品返回完成 returned,
1000 创建达达运单失败 cancelled (creation failed).

Config: credentials ``app_key``, ``app_secret``, ``source_id`` (the merchant id);
settings ``city_code`` and ``callback_url`` (the hub's receiver) required,
``callback_token`` (checked on every callback), ``cancel_reason_id`` (4, 顾客取消订单);
warehouses: our store location → Dada ``shop_no``.
"""
