"""One normalizer for comparing a WooCommerce product as the shop returns it with what we sent (issue 13 item 8).

The shop stores texts through ``wp_kses`` (a bare ``&`` comes back ``&amp;``; seen on WooCommerce 7.9.0),
prices are strings (``"20"`` vs ``"20.00"``), stock is an int or null. ``normalize_text`` and
``normalize_product`` make two readings of one product equal when they mean the same thing; pulls, full
syncs and reconciliation should compare through them, never raw.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal, InvalidOperation
from typing import Any

_SPACE = re.compile(r"\s+")

TEXT_FIELDS = ("name", "description", "short_description")


def normalize_text(value: Any) -> str:
    """HTML entities decoded (``&amp;`` → ``&``), runs of whitespace made one space, ends stripped."""
    if value is None:
        return ""
    return _SPACE.sub(" ", html.unescape(str(value))).strip()


def normalize_decimal(value: Any) -> Decimal | None:
    """``"20"``, ``"20.00"`` and ``20`` are ``Decimal("20")``; blank or unparsable is ``None``."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value)).normalize()
    except InvalidOperation:
        return None


def normalize_product(data: dict) -> dict:
    """The comparable fields of a product or variation body (ours or the shop's answer)."""
    out: dict[str, Any] = {name: normalize_text(data.get(name)) for name in TEXT_FIELDS if name in data}
    for name in ("sku", "type", "status"):
        if name in data:
            out[name] = str(data.get(name) or "")
    for name in ("regular_price", "sale_price", "weight"):
        if name in data:
            out[name] = normalize_decimal(data.get(name))
    if "manage_stock" in data or "stock_quantity" in data:
        managed = bool(data.get("manage_stock"))
        out["stock_quantity"] = int(data["stock_quantity"]) if managed and data.get("stock_quantity") is not None \
            else None
    return out
