"""Argument validation as WordPress 6.1 does it: the v3 argument schemas, ``rest_validate_value_from_schema``
and ``rest_sanitize_value_from_schema``.
"""

from __future__ import annotations

from typing import Any

from .constants import (
    BACKORDERS,
    CATALOG_VISIBILITY,
    LIST_STATUSES,
    MAX_PER_PAGE,
    ORDERBY,
    PRODUCT_STATUSES,
    PRODUCT_TYPES,
    STOCK_STATUSES,
    TAX_STATUSES,
    VARIATION_STATUSES,
)
from .errors import _invalid_params
from .php import _is_numeric, _php_str, _wp_parse_list

_STRING = {"type": "string"}
_BOOL = {"type": "boolean"}
_INT = {"type": "integer"}
_DATE = {"type": ["null", "string"]}  # WooCommerce turns 'date-time' into null|string for WP >= 5.5 (source)
_MIXED = {"type": "mixed"}
_ID_LIST = {"type": "array", "items": _INT}
_DIMENSIONS = {"type": "object", "properties": {"length": _STRING, "width": _STRING, "height": _STRING}}
_TERMS = {"type": "array", "items": {"type": "object", "properties": {"id": _INT, "name": _STRING, "slug": _STRING}}}
_DOWNLOADS = {"type": "array",
              "items": {"type": "object", "properties": {"id": _STRING, "name": _STRING, "file": _STRING}}}
_IMAGE = {"type": "object", "properties": {
    "id": _INT, "date_created": _DATE, "date_created_gmt": _DATE, "date_modified": _DATE,
    "date_modified_gmt": _DATE, "src": _STRING, "name": _STRING, "alt": _STRING}}
_META = {"type": "array", "items": {"type": "object", "properties": {"key": _STRING, "value": _MIXED}}}


def _enum(values: tuple) -> dict:
    return {"type": "string", "enum": values}


# Writable fields of the v3 product schema, in schema order (readonly ones are not arguments: source).
PRODUCT_ARGS: tuple[tuple[str, dict], ...] = (
    ("name", _STRING), ("slug", _STRING), ("date_created", _DATE), ("date_created_gmt", _DATE),
    ("type", _enum(PRODUCT_TYPES)), ("status", _enum(PRODUCT_STATUSES)), ("featured", _BOOL),
    ("catalog_visibility", _enum(CATALOG_VISIBILITY)), ("description", _STRING), ("short_description", _STRING),
    ("sku", _STRING), ("regular_price", _STRING), ("sale_price", _STRING),
    ("date_on_sale_from", _DATE), ("date_on_sale_from_gmt", _DATE), ("date_on_sale_to", _DATE),
    ("date_on_sale_to_gmt", _DATE), ("virtual", _BOOL), ("downloadable", _BOOL), ("downloads", _DOWNLOADS),
    ("download_limit", _INT), ("download_expiry", _INT), ("external_url", _STRING), ("button_text", _STRING),
    ("tax_status", _enum(TAX_STATUSES)), ("tax_class", _STRING), ("manage_stock", _BOOL),
    ("stock_quantity", _INT), ("stock_status", _enum(STOCK_STATUSES)), ("backorders", _enum(BACKORDERS)),
    ("low_stock_amount", {"type": ["integer", "null"]}), ("sold_individually", _BOOL), ("weight", _STRING),
    ("dimensions", _DIMENSIONS), ("shipping_class", _STRING), ("reviews_allowed", _BOOL),
    ("upsell_ids", _ID_LIST), ("cross_sell_ids", _ID_LIST), ("parent_id", _INT), ("purchase_note", _STRING),
    ("categories", _TERMS), ("tags", _TERMS), ("images", {"type": "array", "items": _IMAGE}),
    ("attributes", {"type": "array", "items": {"type": "object", "properties": {
        "id": _INT, "name": _STRING, "position": _INT, "visible": _BOOL, "variation": _BOOL,
        "options": {"type": "array", "items": _STRING}}}}),
    ("default_attributes", {"type": "array", "items": {"type": "object", "properties": {
        "id": _INT, "name": _STRING, "option": _STRING}}}),
    ("grouped_products", _ID_LIST), ("menu_order", _INT), ("meta_data", _META),
)
PRODUCT_DEFAULTS = {
    "type": "simple", "status": "publish", "featured": False, "catalog_visibility": "visible", "virtual": False,
    "downloadable": False, "download_limit": -1, "download_expiry": -1, "tax_status": "taxable",
    "manage_stock": False, "stock_status": "instock", "backorders": "no", "sold_individually": False,
    "reviews_allowed": True,
}

VARIATION_ARGS: tuple[tuple[str, dict], ...] = (
    ("description", _STRING), ("sku", _STRING), ("regular_price", _STRING), ("sale_price", _STRING),
    ("date_on_sale_from", _DATE), ("date_on_sale_from_gmt", _DATE), ("date_on_sale_to", _DATE),
    ("date_on_sale_to_gmt", _DATE), ("status", _enum(VARIATION_STATUSES)), ("virtual", _BOOL),
    ("downloadable", _BOOL), ("downloads", _DOWNLOADS), ("download_limit", _INT), ("download_expiry", _INT),
    ("tax_status", _enum(TAX_STATUSES)), ("tax_class", _STRING), ("manage_stock", _MIXED),
    ("stock_quantity", _INT), ("stock_status", _enum(STOCK_STATUSES)), ("backorders", _enum(BACKORDERS)),
    ("low_stock_amount", {"type": ["integer", "null"]}), ("weight", _STRING), ("dimensions", _DIMENSIONS),
    ("shipping_class", _STRING), ("image", _IMAGE),
    ("attributes", {"type": "array", "items": {"type": "object", "properties": {
        "id": _INT, "name": _STRING, "option": _STRING}}}),
    ("menu_order", _INT), ("meta_data", _META),
)
VARIATION_DEFAULTS = {
    "status": "publish", "virtual": False, "downloadable": False, "download_limit": -1, "download_expiry": -1,
    "tax_status": "taxable", "manage_stock": False, "stock_status": "instock", "backorders": "no",
}

# GET collection arguments with a validate callback, in WooCommerce's order (source).
LIST_ARGS: tuple[tuple[str, dict], ...] = (
    ("context", _enum(("view", "edit"))),
    ("page", {"type": "integer", "minimum": 1}),
    ("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}),
    ("search", _STRING), ("after", _STRING), ("before", _STRING), ("modified_after", _STRING),
    ("modified_before", _STRING), ("dates_are_gmt", _BOOL), ("offset", _INT),
    ("order", _enum(("asc", "desc"))), ("orderby", _enum(ORDERBY)), ("slug", _STRING),
    ("status", _enum(LIST_STATUSES)), ("type", _enum(PRODUCT_TYPES)), ("sku", _STRING), ("featured", _BOOL),
    ("category", _STRING), ("tag", _STRING), ("on_sale", _BOOL), ("min_price", _STRING), ("max_price", _STRING),
    ("stock_status", _enum(STOCK_STATUSES)),
)
LIST_DEFAULTS = {"context": "view", "page": 1, "per_page": 10, "order": "desc", "orderby": "date", "status": "any"}
CONTEXT_ARGS = (("context", _enum(("view", "edit"))),)
DELETE_ARGS = (("force", _BOOL),)


def _is_boolean(value: Any) -> bool:
    """``rest_is_boolean``."""
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        return value.lower() in ("false", "true", "0", "1")
    if isinstance(value, int) and not isinstance(value, bool):
        return value in (0, 1)
    return False


def _is_integer(value: Any) -> bool:
    """``rest_is_integer``: numeric and whole."""
    return _is_numeric(value) and float(value) == round(float(value))


def _is_array(value: Any) -> bool:
    """``rest_is_array``: a list, or a scalar that ``wp_parse_list`` splits."""
    return isinstance(value, list) or isinstance(value, (str, int, float, bool))


def _is_object(value: Any) -> bool:
    """``rest_is_object``: a JSON object, a PHP list (also an array) or ''."""
    return isinstance(value, (dict, list)) or value == ""


_TYPE_CHECKS = (  # rest_get_best_type_for_value priority
    ("array", _is_array), ("object", _is_object), ("integer", _is_integer), ("number", _is_numeric),
    ("boolean", _is_boolean), ("string", lambda v: isinstance(v, str)), ("null", lambda v: v is None),
)


def _english_list(values: tuple) -> str:
    """``wp_sprintf_l('%l')``."""
    items = [str(v) for v in values]
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + ", and " + items[-1]


def _validate(value: Any, schema: dict, param: str) -> tuple[str, str, Any] | None:
    """``rest_validate_value_from_schema``: ``(code, message, data)`` of the first problem, or None."""
    kind = schema.get("type")
    if isinstance(kind, list):
        best = next((name for name, check in _TYPE_CHECKS if name in kind and check(value)), None)
        if best is None:
            return "rest_invalid_type", f"{param} is not of type {','.join(kind)}.", {"param": param}
        return _validate(value, {**schema, "type": best}, param)
    if kind == "null":
        if value is not None:
            return "rest_invalid_type", f"{param} is not of type null.", {"param": param}
    elif kind == "boolean":
        if not _is_boolean(value):
            return "rest_invalid_type", f"{param} is not of type boolean.", {"param": param}
    elif kind == "object":
        if not _is_object(value):
            return "rest_invalid_type", f"{param} is not of type object.", {"param": param}
        if isinstance(value, dict):
            for name, sub in schema.get("properties", {}).items():
                if name in value:
                    problem = _validate(value[name], sub, f"{param}[{name}]")
                    if problem:
                        return problem
    elif kind == "array":
        if not _is_array(value):
            return "rest_invalid_type", f"{param} is not of type array.", {"param": param}
        items = value if isinstance(value, list) else _wp_parse_list(value)
        for index, item in enumerate(items):
            problem = _validate(item, schema.get("items", _MIXED), f"{param}[{index}]")
            if problem:
                return problem
    elif kind in ("integer", "number"):
        check = _is_integer if kind == "integer" else _is_numeric
        if not check(value):
            return "rest_invalid_type", f"{param} is not of type {kind}.", {"param": param}
        number = float(value)
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None and not low <= number <= high:
            return "rest_out_of_bounds", f"{param} must be between {low} (inclusive) and {high} (inclusive)", None
        if low is not None and high is None and number < low:
            return "rest_out_of_bounds", f"{param} must be greater than or equal to {low}", None
        if high is not None and low is None and number > high:
            return "rest_out_of_bounds", f"{param} must be less than or equal to {high}", None
    elif kind == "string":
        if not isinstance(value, str):
            return "rest_invalid_type", f"{param} is not of type string.", {"param": param}
    if "enum" in schema and _sanitize(value, schema) not in schema["enum"]:
        values = schema["enum"]
        if len(values) == 1:
            return "rest_not_in_enum", f"{param} is not {values[0]}.", None
        return "rest_not_in_enum", f"{param} is not one of {_english_list(values)}.", None
    return None


def _sanitize(value: Any, schema: dict) -> Any:
    """``rest_sanitize_value_from_schema`` for a value that passed ``_validate``."""
    kind = schema.get("type")
    if isinstance(kind, list):
        best = next((name for name, check in _TYPE_CHECKS if name in kind and check(value)), None)
        return _sanitize(value, {**schema, "type": best})
    if kind == "boolean":
        if isinstance(value, str):
            return value.lower() not in ("false", "0", "")
        return bool(value)
    if kind == "integer":
        return int(float(value))
    if kind == "number":
        return float(value)
    if kind == "string":
        return _php_str(value)
    if kind == "array":
        items = value if isinstance(value, list) else _wp_parse_list(value)
        return [_sanitize(item, schema.get("items", _MIXED)) for item in items]
    if kind == "object":
        if not isinstance(value, dict):
            return {}
        props = schema.get("properties", {})
        return {k: (_sanitize(v, props[k]) if k in props else v) for k, v in value.items()}
    return value


def _check_args(params: dict, args: tuple[tuple[str, dict], ...]) -> None:
    """Validate then sanitize ``params`` in place against ``args``; ``null`` ones are skipped (source)."""
    problems = []
    for name, schema in args:
        value = params.get(name)
        if value is None:
            continue
        problem = _validate(value, schema, name)
        if problem:
            problems.append((name, *problem))
    if problems:
        raise _invalid_params(problems)
    for name, schema in args:
        if params.get(name) is not None:
            params[name] = _sanitize(params[name], schema)
