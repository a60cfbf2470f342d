"""Relay connections as the Admin API pages them: opaque cursors, ``first``/``after`` or ``last``/``before``."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Callable

from graphql import GraphQLError


def encode_cursor(item_id: int, value: Any) -> str:
    raw = json.dumps({"last_id": item_id, "last_value": value}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))
        return data["last_value"], int(data["last_id"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        raise GraphQLError("Invalid cursor.") from None


def connection(items: list, *, key: Callable[[Any], Any], ident: Callable[[Any], int], wrap: Callable[[Any], Any],
               first: int | None = None, after: str | None = None, last: int | None = None,
               before: str | None = None, reverse: bool = False) -> dict:
    """A Relay connection over ``items``, ordered by ``(key(item), ident(item))`` (descending with ``reverse``).

    ``after``/``before`` cut by value, not by position, so a cursor still
    works after its item was deleted. ``hasNextPage``/``hasPreviousPage``
    say whether items exist beyond the page on either side, as Shopify's do.
    """
    ordered = sorted(items, key=lambda it: (key(it), ident(it)), reverse=reverse)
    positions = [(key(it), ident(it)) for it in ordered]

    def comes_after(pos: tuple, mark: tuple) -> bool:
        try:
            return pos < mark if reverse else pos > mark
        except TypeError:  # a cursor made for another sort key
            raise GraphQLError("Invalid cursor.") from None

    start, end = 0, len(ordered)
    if after:
        mark = decode_cursor(after)
        start = next((i for i, pos in enumerate(positions) if comes_after(pos, mark)), len(ordered))
    if before:
        mark = decode_cursor(before)
        end = next((i for i, pos in enumerate(positions) if not comes_after(mark, pos)), len(ordered))
    window = list(range(start, max(start, end)))
    if first is not None:
        window = window[:first]
    if last is not None:
        window = window[max(0, len(window) - last):]
    edges = [{"cursor": encode_cursor(positions[i][1], positions[i][0]), "node": wrap(ordered[i])} for i in window]
    if window:
        has_next, has_previous = window[-1] < len(ordered) - 1, window[0] > 0
    else:
        has_next, has_previous = start < len(ordered), start > 0
    return {"edges": edges, "nodes": [edge["node"] for edge in edges],
            "pageInfo": {"hasNextPage": has_next, "hasPreviousPage": has_previous,
                         "startCursor": edges[0]["cursor"] if edges else None,
                         "endCursor": edges[-1]["cursor"] if edges else None}}


def _page_args(args: dict) -> dict:
    """A connection field's ``first`` / ``after`` / ``last`` / ``before`` / ``reverse``, for ``connection``."""
    return {key: args.get(key) for key in ("first", "after", "last", "before")} | {"reverse": bool(args.get("reverse"))}
