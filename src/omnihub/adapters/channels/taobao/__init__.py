"""Taobao and Tmall over TOP, the Taobao Open Platform (adapters ``taobao`` and ``tmall``).

Supports:

- orders pushed to the hub: TMC trade and refund messages (the hub then fetches the trade
  with ``taobao.trade.fullinfo.get``), batches of them, old comet ``notify_trade`` messages,
  and whole trades (``trade_fullinfo_get_response``); other topics are acknowledged and
  ignored. Pushes are signed the TOP way (``client.py`` says how);
- orders pulled by modified-time window (``taobao.trades.sold.increment.get``, 100 a page);
- every TOP trade status (``mapper.TRADE_STATUS``), cancellations and refunds as the status
  says them, open refund requests on a line (``refund_status``) holding the order;
- stock out (``taobao.item.quantity.update``, full quantity) and shipments out
  (``taobao.logistics.offline.send`` with the carrier's TOP company code, or
  ``taobao.logistics.dummy.send`` when no carrier is involved);
- TOP request signing with ``md5``, ``hmac`` and ``hmac-sha256`` (``signature.py``);
- TOP error answers: call limits and ``isp.*`` failures are retried, ``isv.*`` business
  errors are not.

Line identity: ``outer_sku_id``, else ``outer_iid``, else ``sku_id``, else ``num_iid``.

Not supported yet: pushing a cancellation (TOP closes only unpaid trades), answering refund
requests, reading refund details, shipping part of a trade by line, decrypting masked buyer
fields (kept as given and listed in ``masked``).

``omnihub.simulators.channels.taobao`` is a local TOP router and message pusher for tests and
the demo, written apart from this adapter.
"""
