"""JD (京东 POP open platform, JOS) channel adapter.

Supports:
- orders pulled by modified-time window (``jingdong.pop.order.search``, ``dateType`` 0, every
  order state, paged) and fetched one by one (``jingdong.pop.order.get``); a signed push of an
  ``orderInfo`` by a relay is accepted too (see ``JdAdapter``);
- the full ``orderState`` table (``mapper.STATES``): NOT_PAY created; WAIT_SELLER_STOCK_OUT,
  WAIT_SELLER_DELIVERY, WAIT_SEND_CODE paid; LOCKED (the buyer asked to cancel), PAUSE and
  POP_ORDER_PAUSE paid with fulfilment stopped (``refund_requested``); WAIT_GOODS_RECEIVE_CONFIRM
  shipped; FINISHED_L completed; TRADE_CANCELED cancelled. Any other state is refused with
  ``UnknownChannelStatus`` and the order waits in the inbound log;
- the encrypted consignee (since 2022): ciphertext ``fullname``/``fullAddress``, masked
  ``mobile`` and the ``desen_*`` companions are kept as JD sent them (the ``desen_*`` values in the
  raw order) and the fields are named in ``Address.masked``; nothing is decrypted;
- stock pushed with ``jingdong.stock.write.updateSkuStock`` and shipments with
  ``jingdong.pop.order.shipment`` (carrier code -> ``logiCoprId``).

Not supported yet: pushing cancellations or refunds (decided in JD's back office), JD's
after-sales (``returnOrder`` and refund applications are kept in the raw order only), partial
shipments, decrypting consignee data.

Line identity (the channel SKU a mapping matches): ``itemInfoList[].outerSkuId`` (the merchant's
SKU code) when set, else ``itemInfoList[].skuId``.
"""
