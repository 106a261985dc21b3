"""Pinduoduo (拼多多开放平台) channel adapter.

Supports:
- orders pulled by ``updated_at`` window (``pdd.order.number.list.increment.get``, every
  status, paged, 30 minutes a call at most) and read one by one
  (``pdd.order.information.get``); a signed push of an ``order_info`` by a relay is accepted too
  (see ``PddAdapter``);
- the status table ``order_status`` x ``refund_status`` (``mapper.STATUSES``):
  1 待发货 is paid, with fulfilment stopped (``refund_requested``) while an after-sales
  request is open (refund 2 售后处理中 / 3 退款中), and cancelled once refunded (4 退款成功);
  2 已发货待签收 is shipped, refunded on 4; 3 已签收 is delivered (completed when the buyer
  confirmed receipt, ``receive_time``), refunded on 4. ``confirm_status`` 0 (未成交, a group
  not formed) keeps a paid order as created, 2 (已取消) makes it cancelled. Any other code is
  refused with ``UnknownChannelStatus`` and the order waits in the inbound log;
- masked ("展**") and encrypted ("~...~") receiver fields, kept as PDD sent them and named in
  ``Address.masked`` (a ``receiver_*_mask`` companion marks its field masked too);
- amounts in yuan (``pay_amount``, ``goods_amount``, ``seller_discount``, ``postage`` ...);
- stock pushed with ``pdd.goods.quantity.update`` (full quantity) and shipments with
  ``pdd.logistics.online.send`` (carrier code -> ``logistics_id``).

Not supported yet: pushing cancellations or refunds (PDD's after-sales are handled on PDD),
partial refunds per item, PDD's message service (the hub pulls), decrypting receiver data, a
buyer id (PDD's order answer has none).

Line identity (the channel SKU a mapping matches): ``item_list[].outer_id`` (the merchant's SKU
code) when set, else ``item_list[].sku_id``.
"""
