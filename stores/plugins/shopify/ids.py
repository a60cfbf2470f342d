"""Shopify's GraphQL global ids (``gid://shopify/Product/123``) and the REST ids inside them (see the
package docstring, "Identifiers")."""

from __future__ import annotations

from typing import Any

PRODUCT_GID = "gid://shopify/Product/"
VARIANT_GID = "gid://shopify/ProductVariant/"
LOCATION_GID = "gid://shopify/Location/"


def product_gid(value: Any) -> str:
    """``gid://shopify/Product/<n>`` for a GID or a numeric REST id; ``""`` for blank."""
    text = str(value or "").strip()
    if not text:
        return ""
    return text if text.startswith("gid://") else f"{PRODUCT_GID}{text}"


def numeric_id(gid: Any) -> int | None:
    """The REST id inside a GID (``gid://shopify/Product/123`` → 123), or the number itself; None when absent."""
    text = str(gid or "").strip().split("?", 1)[0]
    tail = text.rsplit("/", 1)[-1]
    try:
        number = int(tail)
    except ValueError:
        return None
    return number if number > 0 else None
