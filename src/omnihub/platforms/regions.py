"""Chinese addresses as platforms write them: "上海市普陀区…", "广东省深圳市南山区…"."""

from __future__ import annotations

import re

#: the administrative prefix a Chinese address is written with; only what is written is read,
#: nothing is inferred
_REGION = re.compile(
    r"^(?P<province>[\u4e00-\u9fa5]{2,7}?(?:省|自治区|特别行政区))?"
    r"(?P<city>[\u4e00-\u9fa5]{2,9}?(?:市|自治州|地区|盟))?"
    r"(?P<district>[\u4e00-\u9fa5]{1,9}?(?:区|县|旗|市))?"
)
#: cities that are provinces of their own (直辖市)
MUNICIPALITIES = frozenset({"北京市", "上海市", "天津市", "重庆市"})


def region(address: str | None) -> tuple[str | None, str | None, str | None]:
    """Province, city and district as the address spells them out at its start."""
    match = _REGION.match(address or "")
    if match is None or not match.group("city"):
        return None, None, None
    province, city = match.group("province"), match.group("city")
    if province is None and city in MUNICIPALITIES:
        province = city
    return province, city, match.group("district")
