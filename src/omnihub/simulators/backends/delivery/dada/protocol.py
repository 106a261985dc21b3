"""Dada's open platform as the platform speaks it, written from its documents.

A call is ``POST <host><path>`` with a JSON object ``{"app_key", "timestamp" (Unix seconds),
"format": "json", "v": "1.0", "source_id", "body": "<the business JSON, as a string>",
"signature"}``. The signature: every parameter but ``signature`` sorted by name, joined as
name + value, wrapped in the app secret on both sides, MD5, upper-case hex. An answer is
``{"status": "success"|"fail", "code": 0 or the error code, "msg", "result"}``.

A status callback is ``POST <callback>`` with a JSON object (``client_id``, ``order_id``,
``order_status``, ``cancel_reason``, ``cancel_from``, ``update_time``, ``signature``, and the
rider's ``dm_id``, ``dm_name``, ``dm_mobile`` once one has the order); its signature is the MD5
(lower-case hex) of the values of ``client_id``, ``order_id`` and ``update_time`` sorted as text
and joined. ``update_time`` is in seconds, except for status 1000 (creation failed), where it
is in milliseconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

VERSION = "1.0"
ADD_ORDER = "/api/order/addOrder"
READD_ORDER = "/api/order/reAddOrder"
FORMAL_CANCEL = "/api/order/formalCancel"
STATUS_QUERY = "/api/order/status/query"

# order_status / statusCode
WAITING = 1  # 待接单
TO_PICK_UP = 2  # 待取货: a rider accepted
DELIVERING = 3  # 配送中
DELIVERED = 4  # 已完成
CANCELLED = 5  # 已取消
EXPIRED = 7  # 已过期
ASSIGNED = 8  # 指派单
RETURNING = 9  # 妥投异常之物品返回中
RETURNED = 10  # 妥投异常之物品返回完成
AT_SHOP = 100  # 骑士到店
CREATION_FAILED = 1000  # 创建达达运单失败

STATUS_TEXT = {
    WAITING: "待接单",
    TO_PICK_UP: "待取货",
    DELIVERING: "配送中",
    DELIVERED: "已完成",
    CANCELLED: "已取消",
    EXPIRED: "已过期",
    ASSIGNED: "指派单",
    RETURNING: "妥投异常之物品返回中",
    RETURNED: "妥投异常之物品返回完成",
    AT_SHOP: "骑士到店",
    CREATION_FAILED: "创建达达运单失败",
}

# cancel_from
BY_RIDER, BY_MERCHANT, BY_PLATFORM = 1, 2, 3

# error codes (返回码) the platform answers with
SYSTEM_ERROR = -1
FORMAT_WRONG = 1994
VERSION_WRONG = 1996
APP_KEY_INVALID = 2001
SIGNATURE_WRONG = 2003
SHOP_UNKNOWN = 2004
ORDER_NOT_FOUND = 2005
BEING_PROCESSED = 2012
CANCEL_REASON_MISSING = 2048
CANNOT_CANCEL_DELIVERING = 2050
CANNOT_CANCEL_DELIVERED = 2051
CANNOT_CANCEL_EXPIRED = 2052
READD_NEW_ORDER = 2060
READD_NOT_ENDED = 2061
ALREADY_CANCELLED = 2076
ORIGIN_ID_MISSING = 2104
ALREADY_DISPATCHED = 2105
RECEIVER_NAME_MISSING = 2120
RECEIVER_ADDRESS_MISSING = 2121
RECEIVER_PHONE_MISSING = 2122
CALLBACK_MISSING = 2123
CITY_CODE_MISSING = 2126
RECEIVER_POSITION_MISSING = 2128
SOURCE_ID_WRONG = 2131
BODY_NOT_JSON = 2419
CANNOT_CANCEL_RETURNING = 2458
CANNOT_CANCEL_RETURNED = 2459


def request_signature(app_secret: str, params: Mapping[str, object]) -> str:
    joined = "".join(f"{name}{params[name]}" for name in sorted(params) if name != "signature")
    text = app_secret + joined + app_secret
    return hashlib.md5(text.encode()).hexdigest().upper()  # noqa: S324


def callback_signature(client_id: str, order_id: str, update_time: int) -> str:
    joined = "".join(sorted((str(client_id), str(order_id), str(update_time))))
    return hashlib.md5(joined.encode()).hexdigest()  # noqa: S324
