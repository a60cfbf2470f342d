"""A WooCommerce REST API v3 stand-in, served over real HTTP on loopback.

It answers like a WooCommerce 7.9 site on WordPress 6.1 (the install that
produced ``shared/data/woocommerce/``), rule by rule, including the awkward
parts a connector has to cope with. Each rule names its source: "seen" means
observed on that install; "source" means read in woocommerce/woocommerce
(``includes/rest-api/Controllers/Version2|3``, ``class-wc-rest-authentication.php``)
or WordPress core (``class-wp-rest-request.php``, ``rest-api.php``).

Routes, under ``<base_url>/wp-json/wc/v3/`` (case-insensitive, trailing slash
ignored, like WordPress)::

    GET|POST                    products
    GET|POST|PUT|PATCH|DELETE   products/<id>
    POST|PUT|PATCH              products/batch
    GET|POST                    products/<product_id>/variations
    GET|POST|PUT|PATCH|DELETE   products/<product_id>/variations/<id>
    POST|PUT|PATCH              products/<product_id>/variations/batch
    GET|POST                    webhooks
    GET|POST|PUT|PATCH|DELETE   webhooks/<id>

plus a small ``GET /wp-json/`` index. Anything else answers 404 ``rest_no_route``.

Webhooks go out as WooCommerce sends them (``_Webhooks``: signed JSON from a
background thread, the ping on creation). The emulator's own routes, outside
the REST API, drive it in a demo: ``POST /__emulator__/products/<id>`` makes
a shop-side edit (``WooCommerceEmulator.edit_product``), ``/__emulator__/faults``
reads or sets the fault plan (``stores.emulators.faults``: 5xx, latency, 429
bursts, hangs, malformed bodies, lost answers, an outage window).

Request pipeline (WordPress ``serve_request``/``dispatch`` order; source):

1. authentication (before routing, so a bad signature is 401 even on an
   unknown route): Basic or ``consumer_key``/``consumer_secret`` only when
   the request is HTTPS, here meaning ``X-Forwarded-Proto: https``;
   otherwise OAuth 1.0a one-legged (HMAC-SHA1 or -SHA256) with the
   ``oauth_*`` parameters in the query string, a form body or an
   ``Authorization: OAuth`` header; 15-minute timestamp window; nonces kept
   per key in a map keyed by timestamp, as WooCommerce does. No credentials
   at all is not an error yet: the request goes on as a visitor;
2. route match, else 404 ``rest_no_route``;
3. parameters: JSON body (only with a JSON ``Content-Type``; bad JSON is 400
   ``rest_invalid_json``), form body, query, route, then schema defaults,
   earlier ones winning; then schema validation of every argument that is not
   ``null`` (400 ``rest_invalid_param`` with ``data.params`` and
   ``data.details``, e.g. a numeric price gives ``details.regular_price.code
   == "rest_invalid_type"``);
4. permission: a visitor gets 401 ``woocommerce_rest_cannot_view`` /
   ``_create`` / ``_edit`` / ``_delete`` / ``_batch`` (so does Basic over
   plain HTTP: WooCommerce never reads it there); on single-item routes only
   when the item exists, otherwise the handler's 404 comes first;
5. the handler.

Items inside a batch skip step 3 entirely (``batch_items`` calls
``create_item`` directly; source), so a numeric price is accepted there and
stored as a string, as on a real site.

Other rules a client meets (source unless marked seen):

* lists: ``per_page`` 1–100 (default 10), ``page`` ≥ 1, headers
  ``X-WP-Total``/``X-WP-TotalPages``; ``Link`` rel="prev"/"next" is built
  from the request's own query, ``oauth_*`` included (seen), through
  ``add_query_arg``, which re-parses the raw values and so mangles a base64
  signature; without a pagination link, ``Link`` points at the API root;
* SKUs are unique over products and variations together, case-insensitively
  (MySQL collation), ignoring trashed holders; a duplicate is 400
  ``product_invalid_sku`` with ``data.resource_id`` (seen) and ``unique_sku``;
* ``DELETE`` without ``force`` trashes (status ``trash``, slug
  ``…__trashed``, a product's variations too; hidden from lists unless
  ``status=trash``; a second one is 410), with ``force=true`` deletes for
  good, a variable product with its variations; the answer is the item as
  it was before;
* an unknown id is 404 on GET and DELETE but 400 on update (CRUD controller);
* answers to writes use the ``edit`` context (texts as stored); GET uses
  ``view`` (``wpautop`` on descriptions), as WooCommerce does;
* ``price`` is the sale price while the product is on sale (sale price below
  the regular one, inside its dates), else the regular one; a variable
  product shows its cheapest published variation, a grouped one its cheapest
  child; managed stock sets ``stock_status`` from the quantity.

Known differences from a real site, on purpose: no product categories/tags
endpoints (categories are kept by id; only "Uncategorized", id 15, exists, and
new tags are created by name), no global (``pa_*``) attributes (an attribute
sent with an ``id`` is dropped), no shipping classes (any slug is dropped, as
on a site that has none), image and download URLs are not fetched (an image
``src`` must be http(s) with an image extension; it gets a new attachment id
and a local ``/wp-content/uploads/`` URL, like a real sideload), no kses or
``wptexturize`` on texts (``wpautop`` is applied where WooCommerce applies
it), ``related_ids`` is the first five matches by id instead of a random
sample, the default list order is date then id descending (the capture of
page 1 was in ascending id order, which WooCommerce's own ordering does not
explain), a variation is only created under an existing product, and
``OPTIONS``, ``_embed`` and ``_envelope`` are not supported (``_fields`` is).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import http.client
import json
import logging
import math
import os
import re
import secrets
import tempfile
import threading
import time
import unicodedata
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote_plus, unquote, unquote_plus, urlsplit

from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from stores.emulators.faults import (
    MAINTENANCE_PAGE,
    PHP_WARNING_BODY,
    Decision,
    FaultPlan,
    FaultState,
    html_error,
    retry_after_header,
)

log = logging.getLogger(__name__)

API_ROOT = "/wp-json"
NAMESPACE = "wc/v3"
STATE_VERSION = 1
FIRST_POST_ID = 10  # a fresh WordPress + WooCommerce already holds posts and pages below this
FIRST_META_ID = 1000
UNCATEGORIZED = {"id": 15, "name": "Uncategorized", "slug": "uncategorized"}  # default_product_cat
OAUTH_WINDOW = 15 * 60  # seconds either side of now (source: check_oauth_timestamp_and_nonce)
BATCH_LIMIT = 100  # woocommerce_rest_batch_items_limit (source; seen: 101 answers 413)
MAX_PER_PAGE = 100

PRODUCT = "product"
VARIATION = "product_variation"
ATTACHMENT = "attachment"

PRODUCT_TYPES = ("simple", "grouped", "external", "variable")  # wc_get_product_types()
PRODUCT_STATUSES = ("draft", "pending", "private", "publish", "future")  # v3 product schema enum
VARIATION_STATUSES = ("draft", "pending", "private", "publish")
LIST_STATUSES = ("any", "future", "trash", "draft", "pending", "private", "publish")
REGISTERED_STATUSES = ("publish", "future", "draft", "pending", "private", "trash", "auto-draft", "inherit")
CATALOG_VISIBILITY = ("visible", "catalog", "search", "hidden")
TAX_STATUSES = ("taxable", "shipping", "none")
TAX_CLASSES = ("", "reduced-rate", "zero-rate")  # the tax classes of a fresh WooCommerce
BACKORDERS = ("no", "notify", "yes")
STOCK_STATUSES = ("instock", "outofstock", "onbackorder")
ORDERBY = ("date", "id", "include", "title", "slug", "modified", "menu_order", "price", "popularity", "rating")
IMAGE_EXTENSIONS = {"jpg", "jpeg", "jpe", "gif", "png", "bmp", "tif", "tiff", "webp", "ico", "heic"}

# --------------------------------------------------------------------------- errors


class RestError(Exception):
    """A WordPress ``WP_Error`` as the REST API sends it: ``{"code", "message", "data": {"status", ...}}``.

    ``extra`` goes into ``data`` next to ``status`` (e.g. ``resource_id``).
    """

    def __init__(self, code: str, message: str, status: int, **extra: Any):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra

    def data(self) -> dict:
        return {"status": self.status, **self.extra}

    def body(self) -> dict:
        return {"code": self.code, "message": self.message, "data": self.data()}


def _invalid_params(problems: list[tuple[str, str, str, Any]]) -> RestError:
    """400 ``rest_invalid_param`` for ``(param, code, message, data)`` problems (WordPress 6.1 has_valid_params)."""
    return RestError(
        "rest_invalid_param",
        "Invalid parameter(s): " + ", ".join(p[0] for p in problems),
        400,
        params={p[0]: p[2] for p in problems},
        details={p[0]: {"code": p[1], "message": p[2], "data": p[3]} for p in problems},
    )


# --------------------------------------------------------------------------- PHP / WordPress helpers

_NUMERIC = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$")
_LEADING_NUMBER = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _is_numeric(value: Any) -> bool:
    """PHP ``is_numeric``."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return not (isinstance(value, float) and (math.isnan(value) or math.isinf(value)))
    return isinstance(value, str) and bool(_NUMERIC.match(value))


def _php_str(value: Any) -> str:
    """PHP string cast."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (list, dict)):
        return "Array"
    return str(value)


def _intval(value: Any) -> int:
    """PHP ``intval``: leading number of a string, truncation of a float."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else 0
    if isinstance(value, (list, dict)):
        return 1 if value else 0
    match = _LEADING_NUMBER.match(_php_str(value))
    return int(float(match.group(0))) if match else 0


def _absint(value: Any) -> int:
    return abs(_intval(value))


def _php_empty(value: Any) -> bool:
    """PHP ``empty``: '', '0', 0, 0.0, [], false, null."""
    return value in (None, False, "", "0", 0, 0.0) or value == [] or value == {}


def _php_truthy(value: Any) -> bool:
    return not _php_empty(value)


def _isset(params: dict, key: str) -> bool:
    """PHP ``isset($request[$key])``: present and not null."""
    return params.get(key) is not None


def _wc_string_to_bool(value: Any) -> bool:
    """``wc_string_to_bool`` (source): true, 1, '1', 'yes', 'true'."""
    if isinstance(value, bool):
        return value
    if value == 1 and not isinstance(value, float):
        return True
    return isinstance(value, str) and value.lower() in ("yes", "true", "1")


def _wc_format_decimal(value: Any) -> str:
    """``wc_format_decimal($n)`` without rounding: keeps digits, '-' and the last '.' (source)."""
    if value is None or value is False:
        return ""
    if isinstance(value, float):
        text = f"{value:.6f}".rstrip("0").rstrip(".")
        return text
    text = _sanitize_text_field(_php_str(value))
    text = re.sub(r"\.(?![^.]+$)|[^0-9.-]", "", text)
    return text


def _sanitize_text_field(value: Any) -> str:
    """WordPress ``sanitize_text_field``: no tags, no line breaks, no %XX octets, trimmed."""
    text = _php_str(value)
    text = re.sub(r"<[^>]*>", "", text)
    text = re.sub(r"[\r\n\t ]+", " ", text)
    found = False
    while True:
        match = re.search(r"%[a-fA-F0-9]{2}", text)
        if not match:
            break
        text = text.replace(match.group(0), "")
        found = True
    if found:
        text = re.sub(r" +", " ", text)
    return text.strip()


def _sanitize_title(value: Any) -> str:
    """WordPress ``sanitize_title`` for slugs and attribute keys."""
    text = unicodedata.normalize("NFKD", _php_str(value))
    text = text.encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"<[^>]*>", "", text).lower()
    text = text.replace(".", "-")
    text = re.sub(r"&.+?;", "", text)
    text = re.sub(r"[^a-z0-9 _-]", "", text)
    text = re.sub(r"\s+", "-", text)
    text = re.sub(r"-+", "-", text)
    return text.strip("-")


def _sanitize_key(value: Any) -> str:
    return re.sub(r"[^a-z0-9_\-]", "", _php_str(value).lower())


def _wp_parse_list(value: Any) -> list:
    if isinstance(value, list):
        return value
    return [part for part in re.split(r"[\s,]+", _php_str(value)) if part]


def _wp_parse_id_list(value: Any) -> list[int]:
    out: list[int] = []
    for item in _wp_parse_list(value):
        number = _absint(item)
        if number not in out:
            out.append(number)
    return out


def _php_urlencode(text: str) -> str:
    """PHP ``urlencode``: like ``quote_plus`` but '~' is encoded too."""
    return quote_plus(text, safe="").replace("~", "%7E")


def _php_parse_query(query: str) -> dict[str, str]:
    """PHP's ``$_GET`` from a raw query string: decoded, last value wins, '.' and ' ' in names become '_'."""
    params: dict[str, str] = {}
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        key = unquote_plus(key).replace(".", "_").replace(" ", "_")
        if not key:
            continue
        params[key] = unquote_plus(value)
    return params


def _add_query_args(url: str, args: dict[str, str]) -> str:
    """WordPress ``add_query_arg`` of ``args`` (raw values) onto ``url`` (source: functions.php).

    Values already in ``url`` are decoded then ``urlencode``-d again; new
    values go in as they are, and ``k=`` with an empty value loses its ``=``.
    """
    base, _, query = url.partition("?")
    merged: dict[str, str] = {k: _php_urlencode(v) for k, v in _php_parse_query(query).items()}
    merged.update(args)
    built = "&".join(f"{k}={v}" for k, v in merged.items())
    built = re.sub(r"=(&|$)", r"\1", built)
    return f"{base}?{built}" if built else base


def _wpautop(text: str) -> str:
    """A reduced ``wpautop``: blank-line separated blocks become ``<p>…</p>``, lone newlines ``<br />``."""
    if not text or not text.strip():
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    block_tag = re.compile(
        r"^</?(?:table|thead|tfoot|caption|col|colgroup|tbody|tr|td|th|div|dl|dd|dt|ul|ol|li|pre|form|map|"
        r"area|blockquote|address|math|style|p|h[1-6]|hr|fieldset|legend|section|article|aside|hgroup|header|"
        r"footer|nav|figure|figcaption|details|menu|summary)\b",
        re.I,
    )
    out = []
    for block in blocks:
        if block_tag.match(block):
            out.append(block)
        else:
            out.append("<p>" + block.replace("\n", "<br />\n") + "</p>")
    return "\n".join(out) + "\n"


def _php_gt(a: str, b: str) -> bool:
    """PHP 8 ``$a > $b`` for two strings: numeric when both are numeric, else byte order."""
    if _is_numeric(a) and _is_numeric(b):
        return float(a) > float(b)
    return a > b


def _num(value: str) -> float:
    return float(value) if _is_numeric(value) else 0.0


def _money(value: str) -> str:
    """``wc_price``: USD, symbol left, two decimals (the store settings of the captured site; seen)."""
    amount = _num(value)
    sign = "-" if amount < 0 else ""
    return (
        '<span class="woocommerce-Price-amount amount"><bdi>' + sign
        + '<span class="woocommerce-Price-currencySymbol">&#36;</span>' + f"{abs(amount):,.2f}" + "</bdi></span>"
    )


def _sale_html(regular: str, sale: str) -> str:
    """``wc_format_sale_price`` (seen)."""
    return f'<del aria-hidden="true">{_money(regular)}</del> <ins>{_money(sale)}</ins>'


def _range_html(low: str, high: str) -> str:
    """``wc_format_price_range`` (seen)."""
    return f"{_money(low)} &ndash; {_money(high)}"


# --------------------------------------------------------------------------- dates


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)


def _iso(moment: datetime | None) -> str | None:
    """``wc_rest_prepare_date_response``: ``YYYY-MM-DDTHH:MM:SS``, no zone (the site's zone is UTC)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") if moment else None


def _parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?$")


def _parse_date(text: Any, *, strict: bool) -> datetime | None:
    """A date from a request, in UTC. ``strict`` is ``rest_parse_date`` (full RFC 3339); else dates alone pass too."""
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip()
    if strict and not _RFC3339.match(text):
        return None
    candidate = text.replace("z", "Z").replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", candidate):
        candidate = candidate[:-2] + ":" + candidate[-2:]
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0)


# --------------------------------------------------------------------------- schema validation (WordPress 6.1)

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


# --------------------------------------------------------------------------- storage


class _State:
    """The shop's data: in memory, guarded by ``lock``, persisted to ``path`` when given.

    Shape (JSON)::

        {"version": 1, "next_id": int, "next_meta_id": int, "next_term_id": int,
         "posts": {"<id>": {"id", "post_type": "product"|"product_variation"|"attachment", ...}},
         "terms": {"product_cat": {"<id>": {"id", "name", "slug"}}, "product_tag": {...}},
         "nonces": {"<consumer key>": {"<timestamp>": "<nonce>"}}}

    Post ids share one increasing sequence, like WordPress post ids. Each
    change is written to a temporary file, fsynced and renamed over ``path``.
    """

    def __init__(self, path: str | os.PathLike | None):
        self.lock = threading.RLock()
        self.path = Path(path) if path else None
        self.data = self._load() if self.path and self.path.exists() else self._fresh()

    @staticmethod
    def _fresh() -> dict:
        return {
            "version": STATE_VERSION, "next_id": FIRST_POST_ID, "next_meta_id": FIRST_META_ID, "next_term_id": 16,
            "posts": {}, "terms": {"product_cat": {str(UNCATEGORIZED["id"]): dict(UNCATEGORIZED)}, "product_tag": {}},
            "nonces": {},
        }

    def _load(self) -> dict:
        with open(self.path, encoding="utf-8") as handle:
            data = json.load(handle)
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ValueError(f"{self.path}: not a WooCommerce emulator state file (version {STATE_VERSION})")
        return data

    def save(self) -> None:
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.data, handle, ensure_ascii=False, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def new_id(self) -> int:
        value = self.data["next_id"]
        self.data["next_id"] = value + 1
        return value

    def new_meta_id(self) -> int:
        value = self.data["next_meta_id"]
        self.data["next_meta_id"] = value + 1
        return value

    def get(self, post_id: Any, post_type: str | tuple | None = None) -> dict | None:
        """The post with id ``(int) post_id`` when it is of ``post_type`` (a name or a tuple of names)."""
        post = self.data["posts"].get(str(_intval(post_id)))
        if post is None:
            return None
        types = (post_type,) if isinstance(post_type, str) else post_type
        return post if types is None or post["post_type"] in types else None

    def put(self, post: dict) -> None:
        self.data["posts"][str(post["id"])] = post

    def remove(self, post_id: int) -> None:
        self.data["posts"].pop(str(post_id), None)

    def posts(self, *post_types: str) -> list[dict]:
        return [p for p in self.data["posts"].values() if p["post_type"] in post_types]


# --------------------------------------------------------------------------- the shop


@dataclass
class _Context:
    """What a render needs besides the post: the request context and the route's product id."""

    context: str = "view"
    route_product_id: int = 0


class _Shop:
    """Products, variations and media of one WooCommerce site, with WooCommerce's rules.

    All public methods expect ``state.lock`` to be held by the caller.
    """

    def __init__(self, state: _State, site_url: str):
        self.state = state
        self.site_url = site_url

    # ------------------------------------------------------------------ lookups

    def product(self, post_id: Any) -> dict | None:
        return self.state.get(post_id, PRODUCT)

    def variation(self, post_id: Any) -> dict | None:
        return self.state.get(post_id, VARIATION)

    def any_product(self, post_id: Any) -> dict | None:
        """``wc_get_product``: a product or a variation."""
        return self.state.get(post_id, (PRODUCT, VARIATION))

    def children(self, parent: dict, statuses: tuple = ("publish", "private")) -> list[dict]:
        """Variations of ``parent`` ordered by menu_order then id (``read_children``; seen)."""
        found = [v for v in self.state.posts(VARIATION) if v["parent_id"] == parent["id"] and v["status"] in statuses]
        return sorted(found, key=lambda v: (v["menu_order"], v["id"]))

    def sku_owner(self, sku: str, exclude_id: int = 0) -> int | None:
        """Id of the product or variation outside the trash holding ``sku``.

        MySQL's default collation makes this case-insensitive (source:
        ``is_existing_sku`` compares in SQL), and products and variations
        share one SKU space.
        """
        wanted = sku.lower()
        owners = [p["id"] for p in self.state.posts(PRODUCT, VARIATION)
                  if p["id"] != exclude_id and p["status"] != "trash" and p["sku"] and p["sku"].lower() == wanted]
        return min(owners) if owners else None

    # ------------------------------------------------------------------ writes: shared pieces

    def _set_sku(self, post: dict, raw: Any) -> None:
        """``set_sku``: a duplicate is 400 ``product_invalid_sku`` with ``resource_id`` and ``unique_sku`` (seen)."""
        sku = _sanitize_text_field(raw)
        if not _php_empty(sku):
            owner = self.sku_owner(sku, post.get("id") or 0)
            if owner is not None:
                raise RestError("product_invalid_sku", "Invalid or duplicated SKU.", 400,
                                resource_id=owner, unique_sku=self._unique_sku(sku, post.get("id") or 0))
        post["sku"] = sku

    def _unique_sku(self, sku: str, exclude_id: int) -> str:
        """``wc_product_generate_unique_sku``: sku-1, sku-2, … (source)."""
        index = 1
        while self.sku_owner(f"{sku}-{index}", exclude_id) is not None:
            index += 1
        return f"{sku}-{index}"

    @staticmethod
    def _set_prices(post: dict, params: dict) -> None:
        if _isset(params, "regular_price"):
            post["regular_price"] = _wc_format_decimal(params["regular_price"])
        if _isset(params, "sale_price"):
            post["sale_price"] = _wc_format_decimal(params["sale_price"])
        for name in ("date_on_sale_from", "date_on_sale_to"):
            if _isset(params, name):
                post[name] = _iso(_parse_date(params[name], strict=False))
            if _isset(params, name + "_gmt"):
                post[name] = _iso(_parse_date(params[name + "_gmt"], strict=False))

    @staticmethod
    def _set_shipping(post: dict, params: dict) -> None:
        """``save_product_shipping_data``: a virtual item loses weight and size; unknown shipping classes drop."""
        if params.get("virtual") is True:
            post.update(weight="", length="", width="", height="")
        else:
            if _isset(params, "weight"):
                post["weight"] = "" if params["weight"] == "" else _wc_format_decimal(params["weight"])
            dims = params.get("dimensions")
            if isinstance(dims, dict):
                for name in ("length", "width", "height"):
                    if _isset(dims, name):
                        post[name] = "" if dims[name] == "" else _wc_format_decimal(dims[name])
        if _isset(params, "shipping_class"):
            post["shipping_class"] = ""  # no shipping classes exist on this site

    @staticmethod
    def _set_downloads(post: dict, params: dict) -> None:
        """``save_downloadable_files`` and the limits; only for a downloadable item (source)."""
        if not post["downloadable"]:
            return
        if isinstance(params.get("downloads"), list):
            files = []
            for item in params["downloads"]:
                if not isinstance(item, dict) or _php_empty(item.get("file")):
                    continue
                file_url = _php_str(item["file"])
                name = _php_str(item.get("name")) or os.path.basename(urlsplit(file_url).path)
                files.append({"id": _php_str(item.get("id")) or str(uuid.uuid4()), "name": name, "file": file_url})
            post["downloads"] = files
        for name in ("download_limit", "download_expiry"):
            if _isset(params, name):
                value = params[name]
                post[name] = -1 if value == "" or _intval(value) == -1 else _absint(value)

    def _set_meta(self, post: dict, params: dict) -> None:
        """``update_meta_data`` per item: by meta id, else the first meta with that key (source)."""
        if not isinstance(params.get("meta_data"), list):
            return
        meta = post["meta_data"]
        for item in params["meta_data"]:
            if not isinstance(item, dict) or item.get("key") is None:
                continue
            key, value = _php_str(item["key"]), item.get("value")
            target = None
            if item.get("id"):
                target = next((m for m in meta if m["id"] == item["id"]), None)
            else:
                matches = [m for m in meta if m["key"] == key]
                for other in matches[1:]:
                    other["value"] = None
                target = matches[0] if matches else None
            if target is not None:
                target["key"], target["value"] = key, value
            else:
                meta.append({"id": self.state.new_meta_id(), "key": key, "value": value})
        post["meta_data"] = [m for m in meta if m["value"] is not None]

    def _image_id(self, image: dict, parent_id: int, error_prefix: str) -> int:
        """The attachment for one ``images[]`` item: an existing id, or a new one "sideloaded" from ``src``."""
        attachment_id = _absint(image.get("id")) if image.get("id") else 0
        if attachment_id == 0 and _isset(image, "src"):
            attachment_id = self._sideload(_php_str(image["src"]), parent_id, error_prefix)
        attachment = self.state.get(attachment_id, ATTACHMENT)
        if attachment is None:
            raise RestError(f"woocommerce_{error_prefix}_invalid_image_id", f"#{attachment_id} is an invalid image ID.",
                            400)
        if _php_truthy(image.get("alt")):
            attachment["alt"] = _sanitize_text_field(image["alt"])
        if _php_truthy(image.get("name")):
            attachment["name"] = _php_str(image["name"])
        return attachment_id

    def _sideload(self, src: str, parent_id: int, error_prefix: str) -> int:
        """Record an uploaded image without fetching it (``wc_rest_upload_image_from_url`` errors otherwise)."""
        parts = urlsplit(src)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RestError(f"woocommerce_{error_prefix}_image_upload_error",
                            f"Error getting remote image {src}. Error: A valid URL was not provided.", 400)
        filename = os.path.basename(unquote(parts.path))
        stem, dot, extension = filename.rpartition(".")
        if not dot or extension.lower() not in IMAGE_EXTENSIONS:
            raise RestError(f"woocommerce_{error_prefix}_image_upload_error",
                            "Invalid image: Sorry, you are not allowed to upload this file type.", 400)
        now = _now()
        folder = f"{self.site_url}/wp-content/uploads/{now:%Y/%m}/"
        taken = {a["src"] for a in self.state.posts(ATTACHMENT)}
        safe_stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-") or "image"
        candidate, counter = f"{safe_stem}.{extension}", 1
        while folder + candidate in taken:
            candidate = f"{safe_stem}-{counter}.{extension}"
            counter += 1
        attachment = {"id": self.state.new_id(), "post_type": ATTACHMENT, "status": "inherit", "parent_id": parent_id,
                      "src": folder + candidate, "name": candidate.rpartition(".")[0], "alt": "", "source_url": src,
                      "date_created": _iso(now), "date_modified": _iso(now)}
        self.state.put(attachment)
        return attachment["id"]

    @staticmethod
    def _validate_stock(post: dict) -> None:
        """``validate_props``: stock fields only mean something when managed; the status follows the quantity."""
        if not post["manage_stock"]:
            post.update(stock_quantity=None, backorders="no", low_stock_amount=None)
            return
        if (post["stock_quantity"] or 0) > 0:
            post["stock_status"] = "instock"
        elif post["backorders"] != "no":
            post["stock_status"] = "onbackorder"
        else:
            post["stock_status"] = "outofstock"

    @staticmethod
    def _on_sale(post: dict, now: datetime | None = None) -> bool:
        """``WC_Product::is_on_sale``: a sale price below the regular one, inside the sale dates (source)."""
        sale, regular = post["sale_price"], post["regular_price"]
        if sale == "" or not _php_gt(regular, sale):
            return False
        now = now or _now()
        start, end = _parse_iso(post["date_on_sale_from"]), _parse_iso(post["date_on_sale_to"])
        return not ((start and start > now) or (end and end < now))

    def _set_price(self, post: dict) -> None:
        """The stored active price: the sale price while on sale, else the regular one (data store; seen)."""
        post["price"] = post["sale_price"] if self._on_sale(post) else post["regular_price"]

    def _unique_slug(self, slug: str, post: dict) -> str:
        """``wp_unique_post_slug``: slug, slug-2, slug-3 … among posts of the same type."""
        taken = {p["slug"] for p in self.state.posts(post["post_type"]) if p["id"] != post.get("id")}
        if slug not in taken:
            return slug
        suffix = 2
        while f"{slug}-{suffix}" in taken:
            suffix += 1
        return f"{slug}-{suffix}"

    def _touch_parent(self, parent_id: int, moment: str) -> None:
        """A variation write syncs its parent, which saves it (``WC_Product_Variable::sync``; seen in dates)."""
        parent = self.product(parent_id)
        if parent is not None:
            parent["date_modified"] = moment

    # ------------------------------------------------------------------ products

    @staticmethod
    def _new_product() -> dict:
        return {
            "post_type": PRODUCT, "type": "simple", "name": "", "slug": "", "status": "publish", "featured": False,
            "catalog_visibility": "visible", "description": "", "short_description": "", "sku": "", "price": "",
            "regular_price": "", "sale_price": "", "date_on_sale_from": None, "date_on_sale_to": None,
            "total_sales": 0, "virtual": False, "downloadable": False, "downloads": [], "download_limit": -1,
            "download_expiry": -1, "external_url": "", "button_text": "", "tax_status": "taxable", "tax_class": "",
            "manage_stock": False, "stock_quantity": None, "stock_status": "instock", "backorders": "no",
            "low_stock_amount": None, "sold_individually": False, "weight": "", "length": "", "width": "",
            "height": "", "shipping_class": "", "reviews_allowed": True, "upsell_ids": [], "cross_sell_ids": [],
            "parent_id": 0, "purchase_note": "", "category_ids": [], "tag_ids": [], "image_id": 0,
            "gallery_image_ids": [], "attributes": [], "default_attributes": {}, "children": [], "menu_order": 0,
            "meta_data": [], "date_created": None, "date_modified": None,
        }

    def save_product(self, params: dict, existing: dict | None) -> dict:
        """Create (``existing`` None) or update a product from request ``params``.

        Follows ``prepare_object_for_database`` of the v3 products controller
        field by field, then the data store's save (source). Raises
        ``RestError``; nothing is stored when it does.
        """
        if existing is not None and existing["post_type"] == VARIATION:
            raise RestError("woocommerce_rest_invalid_product_id", "To manipulate product variations you should use "
                            "the /products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.", 404)
        post = copy.deepcopy(existing) if existing is not None else self._new_product()
        if _isset(params, "type"):
            post["type"] = params["type"] if params["type"] in PRODUCT_TYPES else "simple"
        for name in ("name", "description", "short_description", "purchase_note"):
            if _isset(params, name):
                post[name] = _php_str(params[name])
        if _isset(params, "status"):
            post["status"] = params["status"] if params["status"] in REGISTERED_STATUSES else "draft"
        if _isset(params, "slug"):
            post["slug"] = _sanitize_title(params["slug"])
        if _isset(params, "menu_order"):
            post["menu_order"] = _intval(params["menu_order"])
        for name in ("reviews_allowed", "virtual", "featured", "sold_individually"):
            if _isset(params, name):
                post[name] = _wc_string_to_bool(params[name])
        if _isset(params, "tax_status"):
            if params["tax_status"] not in TAX_STATUSES:
                raise RestError("product_invalid_tax_status", "Invalid product tax status.", 400)
            post["tax_status"] = params["tax_status"]
        if _isset(params, "tax_class"):
            tax_class = _sanitize_title(params["tax_class"])
            post["tax_class"] = tax_class if tax_class in TAX_CLASSES else ""
        if _isset(params, "catalog_visibility"):
            if params["catalog_visibility"] not in CATALOG_VISIBILITY:
                raise RestError("product_invalid_catalog_visibility", "Invalid catalog visibility option.", 400)
            post["catalog_visibility"] = params["catalog_visibility"]
        self._set_shipping(post, params)
        if _isset(params, "sku"):
            self._set_sku(post, params["sku"])
        if _isset(params, "attributes"):
            post["attributes"] = self._product_attributes(params["attributes"])
        if post["type"] in ("variable", "grouped"):
            post.update(regular_price="", sale_price="", date_on_sale_from=None, date_on_sale_to=None, price="")
        else:
            self._set_prices(post, params)
        if _isset(params, "parent_id"):
            post["parent_id"] = _absint(params["parent_id"])
        self._set_product_stock(post, params)
        for name in ("upsell_ids", "cross_sell_ids"):
            if _isset(params, name):
                post[name] = [_intval(i) for i in (params[name] if isinstance(params[name], list) else [])
                              if _intval(i) > 0]
        if isinstance(params.get("categories"), list):
            post["category_ids"] = self._category_ids(params["categories"])
        if isinstance(params.get("tags"), list):
            post["tag_ids"] = self._tag_ids(params["tags"])
        if _isset(params, "downloadable"):
            post["downloadable"] = _wc_string_to_bool(params["downloadable"])
        self._set_downloads(post, params)
        if post["type"] == "external":
            if _isset(params, "external_url"):
                post["external_url"] = _php_str(params["external_url"])
            if _isset(params, "button_text"):
                post["button_text"] = _sanitize_text_field(params["button_text"])
        if post["type"] == "variable" and isinstance(params.get("default_attributes"), list):
            post["default_attributes"] = self._default_attributes(post, params["default_attributes"])
        if post["type"] == "grouped" and _isset(params, "grouped_products"):
            post["children"] = [i for i in _wp_parse_id_list(params["grouped_products"]) if i]
        if _isset(params, "images"):
            self._set_product_images(post, params["images"])
        self._set_meta(post, params)
        for name in ("date_created", "date_created_gmt"):  # the site's zone is UTC: both mean the same
            if _php_truthy(params.get(name)):
                moment = _parse_date(params[name], strict=True)
                if moment:
                    post["date_created"] = _iso(moment)
        return self._store_product(post, creating=existing is None)

    def _product_attributes(self, raw: Any) -> list[dict]:
        """Custom attributes by name; options joined by ' | ' as WooCommerce stores them (source)."""
        attributes: dict[str, dict] = {}
        for item in raw if isinstance(raw, list) else []:
            if not isinstance(item, dict):
                continue
            if _php_truthy(item.get("id")):
                continue  # a global (pa_*) attribute: none exist on this site
            name = _sanitize_text_field(item.get("name")) if _php_truthy(item.get("name")) else ""
            if not name or not _isset(item, "options"):
                continue
            options = item["options"]
            values = [_php_str(o) for o in options] if isinstance(options, list) else _php_str(options).split("|")
            attributes[_sanitize_title(name)] = {
                "name": name,
                "value": " | ".join(values),
                "position": _absint(item.get("position")) if _isset(item, "position") else 0,
                "visible": _php_truthy(item.get("visible")),
                "variation": _php_truthy(item.get("variation")),
            }
        return list(attributes.values())

    @staticmethod
    def _attribute_options(attribute: dict) -> list[str]:
        """``get_attribute_options``: the stored value split on '|' and trimmed (source)."""
        return [part.strip() for part in attribute["value"].split("|")]

    @staticmethod
    def _default_attributes(post: dict, raw: list) -> dict:
        keyed = {_sanitize_title(a["name"]): a for a in post["attributes"]}
        defaults = {}
        for item in raw:
            if not isinstance(item, dict) or _php_truthy(item.get("id")) or not _php_truthy(item.get("name")):
                continue
            key = _sanitize_title(item["name"])
            if key in keyed and keyed[key]["variation"]:
                value = _sanitize_text_field(unquote(_php_str(item.get("option"))))
                if value:
                    defaults[key] = value
        return defaults

    def _set_product_stock(self, post: dict, params: dict) -> None:
        """Stock handling of ``prepare_object_for_database`` with ``woocommerce_manage_stock`` on (source)."""
        stock_status = params["stock_status"] if _isset(params, "stock_status") else post["stock_status"]
        if stock_status not in STOCK_STATUSES:
            stock_status = "instock"
        if _isset(params, "manage_stock"):
            post["manage_stock"] = _wc_string_to_bool(params["manage_stock"])
        if _isset(params, "backorders"):
            post["backorders"] = _php_str(params["backorders"])
        if post["type"] == "grouped":
            post.update(manage_stock=False, backorders="no", stock_quantity=None, stock_status=stock_status)
        elif post["type"] == "external":
            post.update(manage_stock=False, backorders="no", stock_quantity=None, stock_status="instock")
        elif post["manage_stock"]:
            if post["type"] != "variable":
                post["stock_status"] = stock_status
            if _isset(params, "stock_quantity"):
                post["stock_quantity"] = _intval(params["stock_quantity"])
            elif _isset(params, "inventory_delta"):
                post["stock_quantity"] = _intval(post["stock_quantity"]) + _intval(params["inventory_delta"])
            if "low_stock_amount" in params:
                value = params["low_stock_amount"]
                post["low_stock_amount"] = None if value is None or value == "" else _intval(value)
        else:
            post.update(manage_stock=False, stock_quantity=None, stock_status=stock_status, low_stock_amount=None)

    def _category_ids(self, raw: list) -> list[int]:
        """Existing category ids only; an unknown id is dropped silently (``wp_set_object_terms``)."""
        known = self.state.data["terms"]["product_cat"]
        ids = [_intval(item["id"]) for item in raw if isinstance(item, dict) and item.get("id") is not None]
        return [i for i in dict.fromkeys(ids) if str(i) in known]

    def _tag_ids(self, raw: list) -> list[int]:
        """Tags by id, or by name, creating the tag when the name is new (v3 controller; source)."""
        terms = self.state.data["terms"]["product_tag"]
        ids = []
        for item in raw:
            if not isinstance(item, dict):
                continue
            if item.get("name") is None:
                if item.get("id") is not None:
                    ids.append(_intval(item["id"]))
                continue
            name = _sanitize_text_field(item["name"])
            found = next((t for t in terms.values() if t["name"].lower() == name.lower()), None)
            if found is None and name:
                term_id = self.state.data["next_term_id"]
                self.state.data["next_term_id"] = term_id + 1
                found = {"id": term_id, "name": name, "slug": _sanitize_title(name)}
                terms[str(term_id)] = found
            if found is not None:
                ids.append(found["id"])
        return [i for i in dict.fromkeys(ids) if str(i) in terms]

    def _set_product_images(self, post: dict, raw: Any) -> None:
        """``set_product_images`` (v3): the first image is the featured one, the rest the gallery (source)."""
        images = [i for i in raw if _php_truthy(i)] if isinstance(raw, list) else []
        ids = [self._image_id(image if isinstance(image, dict) else {}, post.get("id") or 0, "product")
               for image in images]
        post["image_id"] = ids[0] if ids else 0
        post["gallery_image_ids"] = ids[1:]

    def _store_product(self, post: dict, *, creating: bool) -> dict:
        now = _iso(_now())
        self._validate_stock(post)
        if post["type"] not in ("variable", "grouped"):
            self._set_price(post)
        if not post["name"]:
            post["name"] = "Product"  # the data store's default post title (source)
        if not post["slug"] and post["status"] not in ("draft", "pending", "auto-draft"):
            post["slug"] = _sanitize_title(post["name"])  # WordPress names a post when it is published
        if post["slug"]:
            post["slug"] = self._unique_slug(post["slug"], post)
        if not post["category_ids"]:
            post["category_ids"] = [UNCATEGORIZED["id"]]  # default_product_cat (data store; source)
        if creating:
            post["id"] = self.state.new_id()
            post["date_created"] = post["date_created"] or now
        post["date_modified"] = now
        for attachment_id in [post["image_id"], *post["gallery_image_ids"]]:
            attachment = self.state.get(attachment_id, ATTACHMENT)
            if attachment is not None and not attachment["parent_id"]:
                attachment["parent_id"] = post["id"]
        self.state.put(post)
        return post

    def trash(self, post: dict) -> None:
        """``wp_trash_post``: status trash, slug gets ``__trashed``; a product's variations go too (source)."""
        post["status"] = "trash"
        if post.get("slug") and not post["slug"].endswith("__trashed"):
            post["slug"] += "__trashed"
        post["date_modified"] = _iso(_now())
        if post["post_type"] == PRODUCT:
            for child in self.state.posts(VARIATION):
                if child["parent_id"] == post["id"] and child["status"] != "trash":
                    child["status"] = "trash"

    def delete(self, post: dict) -> None:
        """Delete for good; a variable product takes its variations with it (v2 ``delete_item``; source)."""
        if post["post_type"] == PRODUCT:
            for child in self.state.posts(VARIATION):
                if child["parent_id"] == post["id"]:
                    if post["type"] == "variable":
                        self.state.remove(child["id"])
                    else:
                        child["parent_id"] = 0
        else:
            self._touch_parent(post["parent_id"], _iso(_now()))
        self.state.remove(post["id"])

    # ------------------------------------------------------------------ variations

    @staticmethod
    def _new_variation() -> dict:
        return {
            "post_type": VARIATION, "parent_id": 0, "status": "publish", "description": "", "sku": "", "price": "",
            "regular_price": "", "sale_price": "", "date_on_sale_from": None, "date_on_sale_to": None,
            "total_sales": 0, "virtual": False, "downloadable": False, "downloads": [], "download_limit": -1,
            "download_expiry": -1, "tax_status": "taxable", "tax_class": "parent", "manage_stock": False,
            "stock_quantity": None, "stock_status": "instock", "backorders": "no", "low_stock_amount": None,
            "weight": "", "length": "", "width": "", "height": "", "shipping_class": "", "image_id": 0,
            "attributes": {}, "menu_order": 0, "meta_data": [], "date_created": None, "date_modified": None,
        }

    def save_variation(self, params: dict, existing: dict | None) -> dict:
        """Create or update a variation; ``params["product_id"]`` is its parent (v3 controller; source).

        The parent must be a product (this emulator never stores orphans).
        Attributes are matched by name to the parent's attributes marked
        ``variation``; others are dropped silently, as WooCommerce does.
        """
        post = copy.deepcopy(existing) if existing is not None else self._new_variation()
        parent = self.product(_absint(params.get("product_id")))
        if parent is None:
            raise RestError("woocommerce_rest_product_variation_invalid_parent",
                            "Cannot set attributes due to invalid parent product.", 404)
        post["parent_id"] = parent["id"]
        if _isset(params, "status"):
            post["status"] = params["status"] if params["status"] in REGISTERED_STATUSES else "draft"
        if _isset(params, "sku"):
            self._set_sku(post, params["sku"])
        if _isset(params, "image"):
            image = params["image"]
            if isinstance(image, dict) and (image.get("id") or _isset(image, "src")):
                post["image_id"] = self._image_id(image, post.get("id") or 0, "variation")
            else:
                post["image_id"] = 0
        for name in ("virtual", "downloadable"):
            if _isset(params, name):
                post[name] = _wc_string_to_bool(params[name])
        self._set_downloads(post, params)
        self._set_shipping(post, params)
        if _isset(params, "manage_stock"):
            post["manage_stock"] = _wc_string_to_bool(params["manage_stock"])  # "parent" reads as false
        if _isset(params, "stock_status"):
            post["stock_status"] = params["stock_status"] if params["stock_status"] in STOCK_STATUSES else "instock"
        if _isset(params, "backorders"):
            post["backorders"] = _php_str(params["backorders"])
        if post["manage_stock"]:
            if _isset(params, "stock_quantity"):
                post["stock_quantity"] = _intval(params["stock_quantity"])
            elif _isset(params, "inventory_delta"):
                post["stock_quantity"] = _intval(post["stock_quantity"]) + _intval(params["inventory_delta"])
            if "low_stock_amount" in params:
                value = params["low_stock_amount"]
                post["low_stock_amount"] = None if value is None or value == "" else _intval(value)
        self._set_prices(post, params)
        if _isset(params, "tax_class"):
            tax_class = _sanitize_title(params["tax_class"])
            post["tax_class"] = tax_class if tax_class in (*TAX_CLASSES, "parent") else ""
        if _isset(params, "tax_status") and params["tax_status"] in TAX_STATUSES:
            post["tax_status"] = params["tax_status"]
        if _isset(params, "description"):
            post["description"] = _php_str(params["description"])
        if _isset(params, "attributes"):
            post["attributes"] = self._variation_attributes(parent, params["attributes"])
        if _php_truthy(params.get("menu_order")):
            post["menu_order"] = _intval(params["menu_order"])
        self._set_meta(post, params)
        now = _iso(_now())
        self._validate_stock(post)
        self._set_price(post)
        if existing is None:
            post["id"] = self.state.new_id()
            post["date_created"] = now
        post["date_modified"] = now
        if post["image_id"]:
            attachment = self.state.get(post["image_id"], ATTACHMENT)
            if attachment is not None and not attachment["parent_id"]:
                attachment["parent_id"] = post["id"]
        self.state.put(post)
        self._touch_parent(parent["id"], now)
        return post

    @staticmethod
    def _variation_attributes(parent: dict, raw: Any) -> dict:
        keyed = {_sanitize_title(a["name"]): a for a in parent["attributes"]}
        chosen: dict[str, str] = {}
        for item in raw if isinstance(raw, list) else []:
            if not isinstance(item, dict) or _php_truthy(item.get("id")) or not _php_truthy(item.get("name")):
                continue
            key = _sanitize_title(item["name"])
            if key not in keyed or not keyed[key]["variation"]:
                continue
            chosen[key] = _sanitize_text_field(item.get("option")) if _isset(item, "option") else ""
        return chosen

    # ------------------------------------------------------------------ derived values

    def _variation_view(self, variation: dict) -> list[tuple[dict, str]]:
        """``(parent attribute, option)`` pairs with a value, in the parent's order (``read_attributes``)."""
        parent = self.product(variation["parent_id"])
        if parent is None:
            return []
        pairs = []
        for attribute in parent["attributes"]:
            key = _sanitize_title(attribute["name"])
            value = variation["attributes"].get(key, "")
            if attribute["variation"] and value != "":
                pairs.append((attribute, value))
        return pairs

    def _variation_title(self, variation: dict) -> str:
        """``generate_product_title``: parent name, then the options when there are fewer than three (source)."""
        parent = self.product(variation["parent_id"])
        base = parent["name"] if parent else ""
        pairs = self._variation_view(variation)
        include = len(variation["attributes"]) < 3
        if include and len(variation["attributes"]) > 1 and any("-" in k for k in variation["attributes"]):
            include = False
        suffix = ", ".join(value for _attr, value in pairs) if include else ""
        return f"{base} - {suffix}" if suffix else base

    def _permalink(self, post: dict) -> str:
        if post["post_type"] == VARIATION:
            parent = self.product(post["parent_id"])
            url = self._permalink(parent) if parent else f"{self.site_url}/?post_type=product_variation&p={post['id']}"
            args = {"attribute_" + _sanitize_title(a["name"]): _php_urlencode(v) for a, v in self._variation_view(post)}
            return _add_query_args(url, args) if args else url
        if post["status"] in ("draft", "pending", "auto-draft", "future") or not post["slug"]:
            return f"{self.site_url}/?post_type=product&p={post['id']}"
        return f"{self.site_url}/product/{post['slug']}/"

    def _visible_variations(self, parent: dict) -> list[dict]:
        """Published variations with a price (``get_variation_prices``; source)."""
        return [v for v in self.children(parent, ("publish",)) if v["price"] != ""]

    def _grouped_children(self, post: dict) -> list[dict]:
        return [c for c in (self.any_product(i) for i in post["children"]) if c is not None]

    def _price_info(self, post: dict) -> tuple[str, bool, str]:
        """``(price, on_sale, price_html)`` as the REST answer shows them (source; seen)."""
        if post.get("type") == "variable":
            variations = self._visible_variations(post)
            if not variations:
                return "", False, ""
            prices = sorted(variations, key=lambda v: _num(v["price"]))
            low, high = prices[0]["price"], prices[-1]["price"]
            on_sale = any(v["sale_price"] == v["price"] != v["regular_price"] for v in variations)
            regulars = {_num(v["regular_price"]) for v in variations}
            if _num(low) != _num(high):
                html = _range_html(low, high)
            elif on_sale and len(regulars) == 1:
                html = _sale_html(prices[0]["regular_price"], low)
            else:
                html = _money(low)
            return low, on_sale, html
        if post.get("type") == "grouped":
            # a grouped child that is itself grouped counts as unpriced (no cycles through children lists)
            infos = [(c, self._price_info(c) if c.get("type") != "grouped" else ("", False, ""))
                     for c in self._grouped_children(post)]
            prices = [info[0] for _c, info in infos if _php_truthy(info[0])]
            on_sale = any(info[1] for _c, info in infos)
            visible = [info[0] for c, info in infos if c["status"] == "publish" and info[0] != ""]
            price = min(prices, key=_num) if prices else ""
            if not visible:
                return price, on_sale, ""
            low, high = min(visible, key=_num), max(visible, key=_num)
            html = _range_html(low, high) if _num(low) != _num(high) else _money(low)
            return price, on_sale, html
        price, on_sale = post["price"], self._on_sale(post)
        if price == "":
            return "", on_sale, ""
        html = _sale_html(post["regular_price"], price) if on_sale else _money(price)
        return price, on_sale, html

    def _stock(self, post: dict) -> tuple[Any, Any, str]:
        """``(manage_stock, stock_quantity, stock_status)`` in view context (source)."""
        if post["post_type"] == VARIATION:
            parent = self.product(post["parent_id"])
            if not post["manage_stock"] and parent is not None and parent["manage_stock"]:
                return "parent", parent["stock_quantity"], parent["stock_status"]
            return post["manage_stock"], post["stock_quantity"], post["stock_status"]
        if post["type"] == "variable" and not post["manage_stock"]:
            statuses = {self._stock(v)[2] for v in self.children(post, ("publish",))}
            if statuses:
                status = ("instock" if "instock" in statuses
                          else "onbackorder" if "onbackorder" in statuses else "outofstock")
                return False, None, status
        return post["manage_stock"], post["stock_quantity"], post["stock_status"]

    def _inherited(self, post: dict, name: str) -> str:
        """A variation's empty weight/size/tax class shows its parent's (view context; source)."""
        value = post[name]
        if post["post_type"] == VARIATION and value in ("", "parent"):
            parent = self.product(post["parent_id"])
            value = parent[name] if parent else ""
        return "" if value == "parent" else value

    def _image(self, attachment_id: int) -> dict | None:
        attachment = self.state.get(attachment_id, ATTACHMENT)
        if attachment is None:
            return None
        return {
            "id": attachment["id"], "date_created": attachment["date_created"],
            "date_created_gmt": attachment["date_created"], "date_modified": attachment["date_modified"],
            "date_modified_gmt": attachment["date_modified"], "src": attachment["src"], "name": attachment["name"],
            "alt": attachment["alt"],
        }

    def _terms(self, taxonomy: str, ids: list[int]) -> list[dict]:
        known = self.state.data["terms"][taxonomy]
        terms = [dict(known[str(i)]) for i in ids if str(i) in known]
        return sorted(terms, key=lambda t: t["name"].lower())

    def _related_ids(self, post: dict) -> list[int]:
        """Published, catalog-visible products sharing a category or tag; the first five by id (see module doc)."""
        if post["post_type"] != PRODUCT:
            return []
        cats, tags = set(post["category_ids"]), set(post["tag_ids"])
        if not cats and not tags:
            return []
        found = [p["id"] for p in self.state.posts(PRODUCT)
                 if p["id"] != post["id"] and p["status"] == "publish"
                 and p["catalog_visibility"] not in ("hidden", "search")
                 and (cats & set(p["category_ids"]) or tags & set(p["tag_ids"]))]
        return sorted(found)[:5]

    def _links(self, path: str, collection: str, up: int = 0) -> dict:
        api = f"{self.site_url}{API_ROOT}/{NAMESPACE}"
        links = {"self": [{"href": f"{api}/{path}"}], "collection": [{"href": f"{api}/{collection}"}]}
        if up:
            links["up"] = [{"href": f"{api}/products/{up}"}]
        return links

    # ------------------------------------------------------------------ answers

    def render_product(self, post: dict, ctx: _Context) -> dict:
        """The product shape of the v3 products controller, keys in the order seen on WooCommerce 7.9.0.

        A variation rendered here (``GET /products/<variation id>`` or a SKU
        search) has ``type`` "variation" and ``parent_id`` set, as on a real site.
        """
        is_variation = post["post_type"] == VARIATION
        price, on_sale, price_html = self._price_info(post)
        manage_stock, stock_quantity, stock_status = self._stock(post)
        virtual = post["virtual"]
        tax_status = post["tax_status"]
        if is_variation:
            images = [self._image(post["image_id"])] if self._image(post["image_id"]) else []
            attributes = [{"id": 0, "name": a["name"], "option": v} for a, v in self._variation_view(post)]
            name = self._variation_title(post)
            slug = _sanitize_title(name)
        else:
            images = [i for i in (self._image(x) for x in [post["image_id"], *post["gallery_image_ids"]]) if i]
            attributes = [{"id": 0, "name": a["name"], "position": a["position"], "visible": a["visible"],
                           "variation": a["variation"], "options": self._attribute_options(a)}
                          for a in post["attributes"]]
            name, slug = post["name"], post["slug"]
        edit = ctx.context == "edit"
        description = post["description"] if edit else _wpautop(post["description"])
        short = post.get("short_description", "")
        ptype = "variation" if is_variation else post["type"]
        purchasable = self._purchasable(post, price)
        data = {
            "id": post["id"],
            "name": name,
            "slug": slug,
            "permalink": self._permalink(post),
            "date_created": post["date_created"],
            "date_created_gmt": post["date_created"],
            "date_modified": post["date_modified"],
            "date_modified_gmt": post["date_modified"],
            "type": ptype,
            "status": post["status"],
            "featured": post.get("featured", False),
            "catalog_visibility": post.get("catalog_visibility", "visible"),
            "description": description,
            "short_description": short if edit else _wpautop(short),
            "sku": post["sku"],
            "price": price,
            "regular_price": post["regular_price"],
            "sale_price": post["sale_price"],
            "date_on_sale_from": post["date_on_sale_from"],
            "date_on_sale_from_gmt": post["date_on_sale_from"],
            "date_on_sale_to": post["date_on_sale_to"],
            "date_on_sale_to_gmt": post["date_on_sale_to"],
            "on_sale": on_sale,
            "purchasable": purchasable,
            "total_sales": post["total_sales"],
            "virtual": virtual,
            "downloadable": post["downloadable"],
            "downloads": [dict(d) for d in post["downloads"]] if post["downloadable"] else [],
            "download_limit": post["download_limit"],
            "download_expiry": post["download_expiry"],
            "external_url": post.get("external_url", "") if ptype == "external" else "",
            "button_text": post.get("button_text", "") if ptype == "external" else "",
            "tax_status": tax_status,
            "tax_class": self._inherited(post, "tax_class"),
            "manage_stock": manage_stock,
            "stock_quantity": stock_quantity,
            "backorders": post["backorders"],
            "backorders_allowed": post["backorders"] in ("yes", "notify"),
            "backordered": stock_status == "onbackorder" or (
                manage_stock is True and post["backorders"] != "no" and (stock_quantity or 0) < 0),
            "low_stock_amount": post["low_stock_amount"],
            "sold_individually": post.get("sold_individually", False),
            "weight": self._inherited(post, "weight"),
            "dimensions": {n: self._inherited(post, n) for n in ("length", "width", "height")},
            "shipping_required": not virtual,
            "shipping_taxable": not virtual and tax_status in ("taxable", "shipping"),
            "shipping_class": "",
            "shipping_class_id": 0,
            "reviews_allowed": post.get("reviews_allowed", False),
            "average_rating": "0.00",
            "rating_count": 0,
            "upsell_ids": list(post.get("upsell_ids", [])),
            "cross_sell_ids": list(post.get("cross_sell_ids", [])),
            "parent_id": post["parent_id"],
            "purchase_note": post.get("purchase_note", ""),
            "categories": [] if is_variation else self._terms("product_cat", post["category_ids"]),
            "tags": [] if is_variation else self._terms("product_tag", post["tag_ids"]),
            "images": images,
            "attributes": attributes,
            "default_attributes": self._render_default_attributes(post),
            "variations": [v["id"] for v in self.children(post)] if ptype == "variable" else [],
            "grouped_products": list(post["children"]) if ptype == "grouped" else [],
            "menu_order": post["menu_order"],
            "price_html": price_html,
            "related_ids": self._related_ids(post),
            "meta_data": [dict(m) for m in post["meta_data"]],
            "stock_status": stock_status,
            "has_options": ptype == "variable",
            "_links": self._links(f"products/{post['id']}", "products", post["parent_id"]),
        }
        return data

    @staticmethod
    def _render_default_attributes(post: dict) -> list[dict]:
        if post.get("type") != "variable":
            return []
        names = {_sanitize_title(a["name"]): a["name"] for a in post["attributes"]}
        return [{"id": 0, "name": names.get(k, k), "option": v} for k, v in post["default_attributes"].items() if v]

    def _purchasable(self, post: dict, price: str) -> bool:
        """``is_purchasable`` for a user who can edit products (the API key's owner; source)."""
        if post["post_type"] == VARIATION:
            return post["status"] == "publish" and price != "" and self.product(post["parent_id"]) is not None
        if post["type"] in ("grouped", "external"):
            return False
        return price != ""

    def render_variation(self, post: dict, ctx: _Context) -> dict:
        """The variation shape of the v3 variations controller, keys in the order seen on WooCommerce 7.9.0."""
        price, on_sale, _html = self._price_info(post)
        manage_stock, stock_quantity, stock_status = self._stock(post)
        route_id = ctx.route_product_id or post["parent_id"]
        return {
            "id": post["id"],
            "date_created": post["date_created"],
            "date_created_gmt": post["date_created"],
            "date_modified": post["date_modified"],
            "date_modified_gmt": post["date_modified"],
            "description": _wpautop(post["description"]),
            "permalink": self._permalink(post),
            "sku": post["sku"],
            "price": price,
            "regular_price": post["regular_price"],
            "sale_price": post["sale_price"],
            "date_on_sale_from": post["date_on_sale_from"],
            "date_on_sale_from_gmt": post["date_on_sale_from"],
            "date_on_sale_to": post["date_on_sale_to"],
            "date_on_sale_to_gmt": post["date_on_sale_to"],
            "on_sale": on_sale,
            "status": post["status"],
            "purchasable": self._purchasable(post, price),
            "virtual": post["virtual"],
            "downloadable": post["downloadable"],
            "downloads": [dict(d) for d in post["downloads"]] if post["downloadable"] else [],
            "download_limit": post["download_limit"],
            "download_expiry": post["download_expiry"],
            "tax_status": post["tax_status"],
            "tax_class": self._inherited(post, "tax_class"),
            "manage_stock": manage_stock,
            "stock_quantity": stock_quantity,
            "stock_status": stock_status,
            "backorders": post["backorders"],
            "backorders_allowed": post["backorders"] in ("yes", "notify"),
            "backordered": stock_status == "onbackorder",
            "low_stock_amount": post["low_stock_amount"],
            "weight": self._inherited(post, "weight"),
            "dimensions": {n: self._inherited(post, n) for n in ("length", "width", "height")},
            "shipping_class": "",
            "shipping_class_id": 0,
            "image": self._image(post["image_id"]),
            "attributes": [{"id": 0, "name": a["name"], "option": v} for a, v in self._variation_view(post)],
            "menu_order": post["menu_order"],
            "meta_data": [dict(m) for m in post["meta_data"]],
            "_links": self._links(f"products/{route_id}/variations/{post['id']}",
                                  f"products/{route_id}/variations", route_id),
        }

    # ------------------------------------------------------------------ queries

    def query(self, params: dict, *, parent_id: int | None) -> tuple[list[dict], int]:
        """Posts matching the collection ``params`` and the total before paging (``prepare_objects_query``)."""
        sku_filter = _php_truthy(params.get("sku"))
        if parent_id is not None:
            posts = [v for v in self.state.posts(VARIATION) if v["parent_id"] == parent_id]
        else:
            # a SKU filter searches variations too (post_type product + product_variation; source)
            posts = self.state.posts(PRODUCT, VARIATION) if sku_filter else self.state.posts(PRODUCT)
        status = params.get("status") or "any"
        if status == "any":
            posts = [p for p in posts if p["status"] not in ("trash", "auto-draft")]
        else:
            posts = [p for p in posts if p["status"] == status]
        include = _wp_parse_id_list(params.get("include") or [])
        if include:
            posts = [p for p in posts if p["id"] in include]
        exclude = _wp_parse_id_list(params.get("exclude") or [])
        if exclude:
            posts = [p for p in posts if p["id"] not in exclude]
        parents = _wp_parse_id_list(params.get("parent") or [])
        if parents:
            posts = [p for p in posts if p["parent_id"] in parents]
        parent_exclude = _wp_parse_id_list(params.get("parent_exclude") or [])
        if parent_exclude:
            posts = [p for p in posts if p["parent_id"] not in parent_exclude]
        if _php_truthy(params.get("slug")):
            posts = [p for p in posts if p.get("slug") == params["slug"]]
        if _php_truthy(params.get("search")):
            posts = [p for p in posts if self._matches_search(p, params["search"])]
        if _php_truthy(params.get("type")):
            posts = [p for p in posts if p.get("type") == params["type"]]
        if sku_filter:
            skus = params["sku"].split(",")
            if len(skus) > 1:
                skus.append(params["sku"])  # "Include the current string as a SKU too" (source)
            wanted = {s.lower() for s in skus}
            posts = [p for p in posts if p["sku"] and p["sku"].lower() in wanted]
        if isinstance(params.get("featured"), bool):
            posts = [p for p in posts if p.get("featured", False) == params["featured"]]
        if isinstance(params.get("on_sale"), bool):
            posts = [p for p in posts if self._price_info(p)[1] == params["on_sale"]]
        if _php_truthy(params.get("stock_status")):
            posts = [p for p in posts if self._stock(p)[2] == params["stock_status"]]
        for taxonomy, key in (("category_ids", "category"), ("tag_ids", "tag")):
            ids = _wp_parse_id_list(params.get(key) or [])
            if ids:
                posts = [p for p in posts if set(ids) & set(p.get(taxonomy, []))]
        if _php_truthy(params.get("min_price")) or _php_truthy(params.get("max_price")):
            low = _num(params.get("min_price") or "0")
            high = _num(params["max_price"]) if _php_truthy(params.get("max_price")) else math.inf
            posts = [p for p in posts if self._price_info(p)[0] != "" and low <= _num(self._price_info(p)[0]) <= high]
        for key, column, keep in (("after", "date_created", lambda d, b: d > b),
                                  ("before", "date_created", lambda d, b: d < b),
                                  ("modified_after", "date_modified", lambda d, b: d > b),
                                  ("modified_before", "date_modified", lambda d, b: d < b)):
            bound = _parse_date(params.get(key), strict=False)
            if bound is not None:
                posts = [p for p in posts if keep(_parse_iso(p[column]), bound)]
        posts = self._sort(posts, params, include)
        return posts, len(posts)

    @staticmethod
    def _matches_search(post: dict, search: str) -> bool:
        """WordPress search: every term in the title, excerpt or content; '-term' excludes (``parse_search``)."""
        haystack = " ".join(str(post.get(k, "")) for k in ("name", "short_description", "description")).lower()
        for term in re.split(r"[\s,+]+", search.lower()):
            if not term:
                continue
            if term.startswith("-") and len(term) > 1:
                if term[1:] in haystack:
                    return False
            elif term not in haystack:
                return False
        return True

    def _sort(self, posts: list[dict], params: dict, include: list[int]) -> list[dict]:
        orderby, descending = params.get("orderby") or "date", (params.get("order") or "desc") == "desc"
        if orderby == "include" and include:
            return sorted(posts, key=lambda p: include.index(p["id"]))
        if orderby == "price":
            return sorted(posts, key=lambda p: (_num(self._price_info(p)[0]), p["id"]), reverse=descending)
        if orderby in ("popularity", "rating"):
            return sorted(posts, key=lambda p: (p["total_sales"] if orderby == "popularity" else 0, p["id"]),
                          reverse=True)
        keys = {
            "id": lambda p: p["id"],
            "title": lambda p: (p.get("name") or self._variation_title(p)).lower(),
            "slug": lambda p: p.get("slug", ""),
            "modified": lambda p: (p["date_modified"], p["id"]),
            "menu_order": lambda p: (p["menu_order"], (p.get("name") or "").lower()),
        }
        key = keys.get(orderby, lambda p: (p["date_created"], p["id"]))
        return sorted(posts, key=key, reverse=descending)


# --------------------------------------------------------------------------- HTTP plumbing


@dataclass
class _Request:
    """One HTTP request as the API layer sees it."""

    method: str  # after X-HTTP-Method-Override / _method, as WordPress dispatches it
    http_method: str  # as sent; OAuth signs this one
    raw_path: str  # path of the request target, still percent-encoded
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes
    https: bool = False
    authenticated: bool = False


@dataclass
class _Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def _json_bytes(body: Any) -> bytes:
    """``wp_json_encode``: ASCII with \\u escapes and escaped slashes, as WordPress sends it (seen)."""
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode("ascii")


_ROUTES: tuple[tuple[re.Pattern, str, tuple[str, ...]], ...] = (
    (re.compile(r"^/wc/v3/products$", re.I), "products", ("GET", "POST")),
    (re.compile(r"^/wc/v3/products/batch$", re.I), "products_batch", ("POST", "PUT", "PATCH")),
    (re.compile(r"^/wc/v3/products/(?P<id>\d+)$", re.I), "product", ("GET", "POST", "PUT", "PATCH", "DELETE")),
    (re.compile(r"^/wc/v3/products/(?P<product_id>\d+)/variations$", re.I), "variations", ("GET", "POST")),
    (re.compile(r"^/wc/v3/products/(?P<product_id>\d+)/variations/batch$", re.I), "variations_batch",
     ("POST", "PUT", "PATCH")),
    (re.compile(r"^/wc/v3/products/(?P<product_id>\d+)/variations/(?P<id>\d+)$", re.I), "variation",
     ("GET", "POST", "PUT", "PATCH", "DELETE")),
    (re.compile(r"^/wc/v3/webhooks$", re.I), "webhooks", ("GET", "POST")),
    (re.compile(r"^/wc/v3/webhooks/(?P<id>\d+)$", re.I), "webhook", ("GET", "POST", "PUT", "PATCH", "DELETE")),
)


class _Api:
    """Authentication, routing, parameters and handlers of the emulated REST API."""

    def __init__(self, state: _State, site_url: str, consumer_key: str, consumer_secret: str):
        self.state = state
        self.shop = _Shop(state, site_url)
        self.site_url = site_url
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.webhooks = _Webhooks(state, self.shop, site_url)

    # ------------------------------------------------------------------ entry point

    def respond(self, request: _Request) -> _Response:
        route_path = "/" + request.path[len(API_ROOT):].strip("/")
        try:
            if route_path.lower().startswith("/wc/"):
                self._authenticate(request)  # WooCommerce authenticates only its own namespaces (source)
            if route_path == "/" and request.method in ("GET", "HEAD"):
                return self._index()
            for pattern, name, methods in _ROUTES:
                match = pattern.match(route_path)
                if match:
                    method = "GET" if request.method == "HEAD" else request.method
                    if method not in methods:
                        break
                    response = self._dispatch(name, method, request, match.groupdict())
                    response.headers.setdefault("Allow", ", ".join(methods))
                    if _php_truthy(request.query.get("_fields")):
                        response.body = _filter_fields(response.body, request.query["_fields"])
                    return response
            raise RestError("rest_no_route", "No route was found matching the URL and request method.", 404)
        except RestError as error:
            return _Response(error.status, error.body())

    def _index(self) -> _Response:
        """A reduced ``GET /wp-json/``: enough for a client to see WordPress and the wc/v3 namespace."""
        return _Response(200, {
            "name": "WooCommerce emulator", "description": "", "url": self.site_url, "home": self.site_url,
            "gmt_offset": "0", "timezone_string": "", "namespaces": [NAMESPACE], "authentication": [],
            "routes": {f"/{NAMESPACE}/products": {"namespace": NAMESPACE, "methods": ["GET", "POST"]}},
        })

    # ------------------------------------------------------------------ authentication

    def _authenticate(self, request: _Request) -> None:
        """``WC_REST_Authentication::authenticate``: Basic over HTTPS, else OAuth 1.0a (source).

        Sets ``request.authenticated``; raises the 401 WooCommerce would. A
        request without credentials passes as a visitor.
        """
        if request.https and self._basic(request):
            request.authenticated = True
            return
        params = self._oauth_params(request)
        if not params:
            return
        if params["oauth_consumer_key"] != self.consumer_key:
            raise RestError("woocommerce_rest_authentication_error", "Consumer key is invalid.", 401)
        self._check_signature(request, params)
        self._check_timestamp_and_nonce(params["oauth_timestamp"], params["oauth_nonce"])
        request.authenticated = True

    def _basic(self, request: _Request) -> bool:
        """``perform_basic_authentication``: query keys first, then the Basic header; an unknown key is no error."""
        key = secret = ""
        if request.query.get("consumer_key") and request.query.get("consumer_secret"):
            key, secret = request.query["consumer_key"], request.query["consumer_secret"]
        header = request.headers.get("Authorization", "")
        if not key and header[:6].lower() == "basic ":
            try:
                key, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                key = secret = ""
        if not key or not secret or key != self.consumer_key:
            return False
        if not hmac.compare_digest(secret.encode(), self.consumer_secret.encode()):
            raise RestError("woocommerce_rest_authentication_error", "Consumer secret is invalid.", 401)
        return True

    @staticmethod
    def _oauth_params(request: _Request) -> dict[str, str]:
        """``get_oauth_parameters``: $_GET + $_POST + ``Authorization: OAuth`` header; all five or none (source)."""
        params = dict(request.query)
        if request.http_method == "POST" and _content_type(request) == "application/x-www-form-urlencoded":
            params.update(_php_parse_query(request.body.decode("utf-8", "replace")))
        header = request.headers.get("Authorization", "").strip()
        if header.startswith("OAuth "):
            for name, quoted, bare in re.findall(r'(oauth_[a-z_-]*)=(?::?"([^"]*)"|([^,]*))', header):
                params[name] = unquote_plus(quoted or bare)
        required = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature",
                    "oauth_signature_method")
        missing = [name for name in required if _php_empty(params.get(name))]
        if len(missing) == len(required):
            return {}
        if missing:
            noun = "parameter" if len(missing) == 1 else "parameters"
            raise RestError("woocommerce_rest_authentication_missing_parameter",
                            f"Missing OAuth {noun} {', '.join(missing)}", 401)
        return params

    def _check_signature(self, request: _Request, params: dict[str, str]) -> None:
        """``check_oauth_signature``: the base string over the site URL and every query/form parameter (source)."""
        provided = unquote(params["oauth_signature"].replace(" ", "+"))
        scheme = "https" if request.https else "http"
        site = urlsplit(self.site_url)
        uri = oauth_signature.base_string_uri(f"{scheme}://{site.netloc}{request.raw_path}")
        pairs = [(k, v) for k, v in params.items() if k != "oauth_signature"]
        base = oauth_signature.signature_base_string(
            request.http_method, uri, oauth_signature.normalize_parameters(pairs))
        method = params["oauth_signature_method"]
        key_holder = SimpleNamespace(client_secret=self.consumer_secret, resource_owner_secret="")  # key "secret&"
        if method == "HMAC-SHA1":
            expected = oauth_signature.sign_hmac_sha1_with_client(base, key_holder)
        elif method == "HMAC-SHA256":
            expected = oauth_signature.sign_hmac_sha256_with_client(base, key_holder)
        else:
            raise RestError("woocommerce_rest_authentication_error",
                            "Invalid signature - signature method is invalid.", 401)
        if not hmac.compare_digest(expected.encode(), provided.encode()):
            raise RestError("woocommerce_rest_authentication_error",
                            "Invalid signature - provided signature does not match.", 401)

    def _check_timestamp_and_nonce(self, timestamp: str, nonce: str) -> None:
        """``check_oauth_timestamp_and_nonce``: ±15 minutes; a nonce seen in the window is refused (source).

        Used nonces are kept per key as ``{timestamp: nonce}``, exactly as
        WooCommerce keeps them, so a second request with the same timestamp
        replaces the first one's nonce.
        """
        now = int(time.time())
        if not _is_numeric(timestamp) or not now - OAUTH_WINDOW <= float(timestamp) <= now + OAUTH_WINDOW:
            raise RestError("woocommerce_rest_authentication_error", "Invalid timestamp.", 401)
        with self.state.lock:
            used = self.state.data["nonces"].setdefault(self.consumer_key, {})
            if nonce in used.values():
                raise RestError("woocommerce_rest_authentication_error",
                                "Invalid nonce - nonce has already been used.", 401)
            used[str(timestamp)] = nonce
            for stamp in [s for s in used if not _is_numeric(s) or float(s) < now - OAUTH_WINDOW]:
                del used[stamp]
            self.state.save()

    # ------------------------------------------------------------------ parameters

    def _params(self, request: _Request, url_params: dict[str, str], defaults: dict) -> dict:
        """``WP_REST_Request::get_param`` precedence: JSON body, form body, query, route, defaults (source)."""
        merged: dict[str, Any] = dict(defaults)
        merged.update(url_params)
        merged.update(request.query)
        ctype = _content_type(request)
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and ctype == "application/x-www-form-urlencoded":
            merged.update(_php_parse_query(request.body.decode("utf-8", "replace")))
        if ctype == "application/json" or ctype.endswith("+json"):
            merged.update(_json_params(request.body))
        return merged

    def _require_user(self, request: _Request, code: str, message: str) -> None:
        """A permission callback: a visitor gets 401 (``rest_authorization_required_code``; source)."""
        if not request.authenticated:
            raise RestError(code, message, 401)

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, name: str, method: str, request: _Request, url_params: dict) -> _Response:
        handler = getattr(self, f"_{name}_{method.lower()}", None)
        if handler is None:  # POST/PUT/PATCH on an item all update it (WP_REST_Server::EDITABLE)
            handler = getattr(self, f"_{name}_update")
        return handler(request, url_params)

    def _list(self, request: _Request, url_params: dict, *, parent_id: int | None) -> _Response:
        params = self._params(request, url_params, LIST_DEFAULTS)
        _check_args(params, LIST_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        page, per_page = _absint(params["page"]), _absint(params["per_page"])
        for name in ("sku", "search", "slug"):
            if params.get(name) is not None:
                params[name] = _sanitize_text_field(params[name])
        for name in ("featured", "on_sale"):
            if params.get(name) is not None:
                params[name] = _wc_string_to_bool(params[name])
        with self.state.lock:
            posts, total = self.shop.query(params, parent_id=parent_id)
            start = _absint(params["offset"]) if params.get("offset") is not None else (page - 1) * per_page
            ctx = _Context(params["context"], parent_id or 0)
            if parent_id is None:
                body = [self.shop.render_product(p, ctx) for p in posts[start:start + per_page]]
            else:
                body = [self.shop.render_variation(p, ctx) for p in posts[start:start + per_page]]
        pages = math.ceil(total / per_page)
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        collection = "products" if parent_id is None else f"products/{parent_id}/variations"
        # get_items: add_query_arg( $request->get_query_params(), rest_url(...) ), oauth_* included (seen)
        base = _add_query_args(f"{self.site_url}{API_ROOT}/{NAMESPACE}/{collection}", dict(request.query))
        links = []
        if page > 1:
            links.append(f'<{_add_query_args(base, {"page": str(min(page - 1, pages))})}>; rel="prev"')
        if pages > page:
            links.append(f'<{_add_query_args(base, {"page": str(page + 1)})}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        return _Response(200, body, headers)

    # products ------------------------------------------------------------

    def _products_get(self, request: _Request, url_params: dict) -> _Response:
        return self._list(request, url_params, parent_id=None)

    def _products_post(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, PRODUCT_DEFAULTS)
        _check_args(params, PRODUCT_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
        with self.state.lock:
            body = self._create_product(params)
            self.state.save()
        return _Response(201, body, {"Location": f"{self.site_url}{API_ROOT}/{NAMESPACE}/products/{body['id']}"})

    def _create_product(self, params: dict) -> dict:
        if _php_truthy(params.get("id")):
            raise RestError("woocommerce_rest_product_exists", "Cannot create existing product.", 400)
        post = self.shop.save_product(params, None)
        self.webhooks.resource_changed("created", post["id"])
        return self.shop.render_product(post, _Context("edit"))

    def _product_get(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {"context": "view"})
        _check_args(params, CONTEXT_ARGS)
        with self.state.lock:
            post = self.shop.any_product(params.get("id"))
            if post is not None:
                self._require_user(request, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
            if post is None:
                raise RestError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
            return _Response(200, self.shop.render_product(post, _Context(params["context"])))

    def _product_update(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {})
        _check_args(params, PRODUCT_ARGS)
        with self.state.lock:
            if self.shop.any_product(params.get("id")) is not None:
                self._require_user(request, "woocommerce_rest_cannot_edit",
                                   "Sorry, you are not allowed to edit this resource.")
            body = self._update_product(params)
            self.state.save()
        return _Response(200, body)

    def _update_product(self, params: dict) -> dict:
        existing = self.shop.any_product(params.get("id"))
        if existing is None:
            raise RestError("woocommerce_rest_product_invalid_id", "Invalid ID.", 400)  # 400 on update (source)
        post = self.shop.save_product(params, existing)
        self.webhooks.resource_changed("updated", post["id"])
        return self.shop.render_product(post, _Context("edit"))

    def _product_delete(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {"force": False})
        _check_args(params, DELETE_ARGS)
        with self.state.lock:
            if self.shop.any_product(params.get("id")) is not None:
                self._require_user(request, "woocommerce_rest_cannot_delete",
                                   "Sorry, you are not allowed to delete this resource.")
            body = self._delete_product(_absint(params.get("id")), bool(params["force"]))
            self.state.save()
        return _Response(200, body)

    def _delete_product(self, post_id: int, force: bool) -> dict:
        """Trash, or delete for good with ``force`` (v2 ``delete_item``; source). Answers the product as it was."""
        post = self.shop.any_product(post_id)
        if post is None:
            raise RestError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
        if post["post_type"] == VARIATION:
            raise RestError("woocommerce_rest_invalid_product_id", "To manipulate product variations you should use "
                            "the /products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.", 404)
        if not force and post["status"] == "trash":
            raise RestError("woocommerce_rest_already_trashed", "The product has already been deleted.", 410)
        body = self.shop.render_product(post, _Context("edit"))
        if force:
            self.shop.delete(post)
        else:
            self.shop.trash(post)
            self.webhooks.resource_changed("deleted", post_id)  # product.deleted hooks wp_trash_post only (source)
        return body

    def _products_batch_update(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {})
        _check_args(params, PRODUCT_ARGS)  # the batch route's arguments are the item schema's (source)
        self._require_user(request, "woocommerce_rest_cannot_batch",
                           "Sorry, you are not allowed to batch manipulate this resource.")
        return self._batch(params, self._create_product, self._update_product,
                           lambda post_id: self._delete_product(post_id, True), PRODUCT_DEFAULTS, {})

    def _batch(self, params: dict, create, update, delete, defaults: dict, inject: dict) -> _Response:
        """``WC_REST_Controller::batch_items``: at most 100 items; per-item errors; delete forces (source).

        Items are not validated against the schema (``create_item`` is called
        directly), and the answer is 200 even when every item failed.
        """
        ops = {}
        for op in ("create", "update", "delete"):
            value = params.get(op)
            if _php_empty(value):
                continue
            if not isinstance(value, list):
                raise RestError("internal_server_error", "There has been a critical error on this website.", 500)
            ops[op] = value
        if sum(len(v) for v in ops.values()) > BATCH_LIMIT:
            raise RestError("woocommerce_rest_request_entity_too_large",
                            f"Unable to accept more than {BATCH_LIMIT} items for this request.", 413)
        answer: dict[str, list] = {}
        with self.state.lock:
            for item in ops.get("create", []):
                body = {**defaults, **inject, **(item if isinstance(item, dict) else {})}
                answer.setdefault("create", []).append(self._attempt(create, body, 0))
            for item in ops.get("update", []):
                body = {**inject, **(item if isinstance(item, dict) else {})}
                answer.setdefault("update", []).append(self._attempt(update, body, body.get("id")))
            for item in ops.get("delete", []):
                post_id = _intval(item)
                if post_id:
                    answer.setdefault("delete", []).append(self._attempt(delete, post_id, post_id))
            self.state.save()
        return _Response(200, answer if answer else [])

    @staticmethod
    def _attempt(action, argument, item_id) -> dict:
        try:
            return action(argument)
        except RestError as error:
            return {"id": item_id, "error": {"code": error.code, "message": error.message, "data": error.data()}}

    # variations ------------------------------------------------------------

    def _variations_get(self, request: _Request, url_params: dict) -> _Response:
        return self._list(request, url_params, parent_id=_absint(url_params["product_id"]))

    def _variations_post(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, VARIATION_DEFAULTS)
        _check_args(params, VARIATION_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
        with self.state.lock:
            body = self._create_variation(params)
            self.state.save()
        # CRUD create_item builds Location from the raw rest_base pattern (source)
        location = f"{self.site_url}{API_ROOT}/{NAMESPACE}/products/(?P<product_id>[\\d]+)/variations/{body['id']}"
        return _Response(201, body, {"Location": location})

    def _create_variation(self, params: dict) -> dict:
        if _php_truthy(params.get("id")):
            raise RestError("woocommerce_rest_product_variation_exists", "Cannot create existing product_variation.",
                            400)
        post = self.shop.save_variation(params, None)
        self.webhooks.resource_changed("created", post["id"])  # woocommerce_new_product_variation (source)
        return self.shop.render_variation(post, _Context("edit", _absint(params.get("product_id"))))

    def _variation_get(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {"context": "view"})
        _check_args(params, CONTEXT_ARGS)
        with self.state.lock:
            post = self.shop.variation(params.get("id"))
            if post is not None:
                self._require_user(request, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
            if post is None:
                raise RestError("woocommerce_rest_product_variation_invalid_id", "Invalid ID.", 404)
            ctx = _Context(params["context"], _absint(params.get("product_id")))
            return _Response(200, self.shop.render_variation(post, ctx))

    def _variation_update(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {})
        _check_args(params, VARIATION_ARGS)
        with self.state.lock:
            post = self.shop.variation(params.get("id"))
            if post is not None:
                self._require_user(request, "woocommerce_rest_cannot_edit",
                                   "Sorry, you are not allowed to edit this resource.")
                if post["parent_id"] and post["parent_id"] != _absint(params.get("product_id")):
                    # update_item_permissions_check; 403 because the key's user is logged in (source)
                    raise RestError("woocommerce_rest_cannot_edit", "Parent product does not match current variation.",
                                    403)
            body = self._update_variation(params)
            self.state.save()
        return _Response(200, body)

    def _update_variation(self, params: dict) -> dict:
        existing = self.shop.variation(params.get("id"))
        if existing is None:
            raise RestError("woocommerce_rest_product_variation_invalid_id", "Invalid ID.", 400)
        post = self.shop.save_variation(params, existing)
        self.webhooks.resource_changed("updated", post["id"])  # woocommerce_update_product_variation (source)
        return self.shop.render_variation(post, _Context("edit", _absint(params.get("product_id"))))

    def _variation_delete(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {"force": False})
        _check_args(params, DELETE_ARGS)
        with self.state.lock:
            if self.shop.variation(params.get("id")) is not None:
                self._require_user(request, "woocommerce_rest_cannot_delete",
                                   "Sorry, you are not allowed to delete this resource.")
            body = self._delete_variation(_absint(params.get("id")), bool(params["force"]),
                                          _absint(params.get("product_id")))
            self.state.save()
        return _Response(200, body)

    def _delete_variation(self, post_id: int, force: bool, route_product_id: int) -> dict:
        post = self.shop.variation(post_id)
        if post is None:
            raise RestError("woocommerce_rest_product_variation_invalid_id", "Invalid ID.", 404)
        if not force and post["status"] == "trash":
            raise RestError("woocommerce_rest_already_trashed", "The product_variation has already been deleted.",
                            410)
        body = self.shop.render_variation(post, _Context("edit", route_product_id))
        if force:
            self.shop.delete(post)
        else:
            self.shop.trash(post)
        return body

    def _variations_batch_update(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {})
        _check_args(params, VARIATION_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_batch",
                           "Sorry, you are not allowed to batch manipulate this resource.")
        product_id = _absint(url_params["product_id"])
        # each item gets the route's product_id unless it brings its own (v2 batch_items; source)
        return self._batch(params, self._create_variation, self._update_variation,
                           lambda post_id: self._delete_variation(post_id, True, product_id),
                           VARIATION_DEFAULTS, {"product_id": product_id})

    # webhooks ------------------------------------------------------------

    def _webhooks_get(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, WEBHOOK_LIST_DEFAULTS)
        _check_args(params, WEBHOOK_LIST_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        page, per_page = _absint(params["page"]), _absint(params["per_page"])
        with self.state.lock:
            hooks = [h for h in self.webhooks.all() if params["status"] in ("all", h["status"])]
            body = [self.webhooks.render(h) for h in hooks[(page - 1) * per_page:page * per_page]]
        total = len(hooks)
        return _Response(200, body, {"X-WP-Total": str(total), "X-WP-TotalPages": str(math.ceil(total / per_page))})

    def _webhooks_post(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {})
        missing = [name for name in ("topic", "delivery_url") if params.get(name) is None]
        if missing:  # both are required arguments of the CREATABLE route (source)
            raise RestError("rest_missing_callback_param", f"Missing parameter(s): {', '.join(missing)}", 400,
                            params=missing)
        _check_args(params, WEBHOOK_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
        with self.state.lock:
            body = self.webhooks.create(params)
            self.state.save()
        return _Response(201, body, {"Location": f"{self.site_url}{API_ROOT}/{NAMESPACE}/webhooks/{body['id']}"})

    def _webhook_get(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {"context": "view"})
        _check_args(params, CONTEXT_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
        with self.state.lock:
            hook = self.webhooks.get(params.get("id"))
            if hook is None:
                raise RestError("woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.", 404)
            return _Response(200, self.webhooks.render(hook))

    def _webhook_update(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {})
        _check_args(params, WEBHOOK_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
        with self.state.lock:
            body = self.webhooks.update(params)
            self.state.save()
        return _Response(200, body)

    def _webhook_delete(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {"force": False})
        _check_args(params, DELETE_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_delete",
                           "Sorry, you are not allowed to delete this resource.")
        if not params["force"]:
            raise RestError("woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.", 501)
        with self.state.lock:
            body = self.webhooks.delete(params.get("id"))
            self.state.save()
        return _Response(200, body)


# --------------------------------------------------------------------------- webhooks out

WC_VERSION, WP_VERSION = "7.9.0", "6.1"
HOOKSHOT_AGENT = f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})"  # WC_Webhook::deliver (source)
WEBHOOK_STATUSES = ("active", "paused", "disabled")  # wc_get_webhook_statuses() (source)
WEBHOOK_RESOURCES = ("coupon", "customer", "order", "product")  # woocommerce_valid_webhook_resources (source)
WEBHOOK_EVENTS = ("created", "updated", "deleted", "restored")  # woocommerce_valid_webhook_events (source)
MAX_DELIVERY_FAILURES = 5  # woocommerce_max_webhook_delivery_failures (source: WC_Webhook::failed_delivery)
WEBHOOK_TIMEOUT = 60.0  # seconds: MINUTE_IN_SECONDS in WC_Webhook::deliver (source)
CONTROL_PREFIX = "/__emulator__/"

# WC_Webhook::get_topic_hooks (source); the emulator fires the product ones.
WEBHOOK_HOOKS = {
    "coupon.created": ["woocommerce_process_shop_coupon_meta", "woocommerce_new_coupon"],
    "coupon.updated": ["woocommerce_process_shop_coupon_meta", "woocommerce_update_coupon"],
    "coupon.deleted": ["wp_trash_post"],
    "coupon.restored": ["untrashed_post"],
    "customer.created": ["user_register", "woocommerce_created_customer", "woocommerce_new_customer"],
    "customer.updated": ["profile_update", "woocommerce_update_customer"],
    "customer.deleted": ["delete_user"],
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post"],
    "order.restored": ["untrashed_post"],
    "product.created": ["woocommerce_process_product_meta", "woocommerce_new_product",
                        "woocommerce_new_product_variation"],
    "product.updated": ["woocommerce_process_product_meta", "woocommerce_update_product",
                        "woocommerce_update_product_variation"],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
}
WEBHOOK_ARGS: tuple[tuple[str, dict], ...] = (
    ("name", _STRING), ("status", _enum(WEBHOOK_STATUSES)), ("topic", _STRING), ("secret", _STRING),
    ("delivery_url", _STRING),
)
WEBHOOK_LIST_ARGS: tuple[tuple[str, dict], ...] = (
    ("context", _enum(("view", "edit"))),
    ("page", {"type": "integer", "minimum": 1}),
    ("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}),
    ("status", _enum(("all", *WEBHOOK_STATUSES))),
)
WEBHOOK_LIST_DEFAULTS = {"context": "view", "page": 1, "per_page": 10, "status": "all"}
_NOT_A_TOPIC = ("action.woocommerce_login_credentials",
                "action.woocommerce_product_csv_importer_check_import_file_path",
                "action.woocommerce_webhook_should_deliver")


def _valid_webhook_topic(topic: str) -> bool:
    """``wc_is_webhook_valid_topic`` (source): ``<resource>.<event>`` from the core lists,
    or ``action.woocommerce_*`` / ``action.wc_*``."""
    if topic in _NOT_A_TOPIC:
        return False
    if topic.startswith(("action.woocommerce_", "action.wc_")):
        return True
    resource, dot, event = topic.partition(".")
    return bool(dot) and resource in WEBHOOK_RESOURCES and event in WEBHOOK_EVENTS


def _valid_delivery_url(url: str) -> bool:
    """``wc_is_valid_url``: starts with http:// or https:// and passes ``FILTER_VALIDATE_URL`` (source)."""
    if not url.startswith(("http://", "https://")):
        return False
    parts = urlsplit(url)
    return bool(parts.hostname) and " " not in url


def _topic_hooks(topic: str) -> list[str]:
    resource, _, event = topic.partition(".")
    return [event] if resource == "action" else list(WEBHOOK_HOOKS.get(topic, []))


def webhook_signature(secret: str, body: bytes) -> str:
    """``X-WC-Webhook-Signature``: base64(HMAC-SHA256(secret, raw body)) (``WC_Webhook::generate_signature``)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode("ascii")


class _Webhooks:
    """Webhooks out, as ``WC_Webhook`` delivers them (source: ``includes/class-wc-webhook.php``).

    Stored in the state under ``"webhooks"`` (``{"<id>": {...}}``) with ids
    from their own sequence starting at 1 (WooCommerce keeps them in their
    own table, ``wc_webhooks``; the captured delivery has ``X-WC-Webhook-ID: 1``).

    Firing: product and variation saves through the API and shop-side edits
    (``WooCommerceEmulator.edit_product``) fire ``product.created`` /
    ``product.updated`` with the saved post's id (a variation's own id, as
    ``woocommerce_new_product_variation`` / ``woocommerce_update_product_variation``
    pass it); trashing a product fires ``product.deleted`` (``wp_trash_post``).
    A permanent delete fires nothing: no product topic hooks ``delete_post``.

    Delivery is asynchronous, from one background thread, as Action
    Scheduler runs it after the request: the payload is built when it is
    sent (``GET /products/<id>`` in the view context, ``{"id": N}`` for
    ``deleted``), signed, and POSTed with the ``X-WC-Webhook-*`` headers. A
    delivery already waiting for the same webhook and resource is not queued
    twice. ``X-WC-Webhook-Delivery-ID`` is ``wp_hash(webhook id . time())``,
    so two deliveries of one webhook in the same second share it, as on a
    real site. A 2xx/301/302 answer resets the webhook's failure count;
    anything else counts a failure, and a webhook failing more than 5 times
    in a row is disabled. Creating an active webhook first sends the ping
    (form body ``webhook_id=N``, no signature; seen).

    Known differences: ``wp_safe_remote_request``'s URL rules are not
    applied (a real site refuses delivery URLs on private addresses or on
    ports other than 80, 443 and 8080 unless they are on its own host and
    port), and ``action.*`` topics never fire.
    """

    def __init__(self, state: _State, shop: _Shop, site_url: str):
        self.state = state
        self.shop = shop
        self.site_url = site_url
        self.timeout = WEBHOOK_TIMEOUT
        self._queue: deque[tuple] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._stopped = False
        self._thread: threading.Thread | None = None
        #: One entry per ping or delivery attempted: kind, webhook_id, topic, resource_id,
        #: delivery_id, url, headers, body (text), status (None when unreachable), error.
        self.deliveries: list[dict] = []

    # -- storage (callers hold state.lock)

    def _table(self) -> dict:
        return self.state.data.setdefault("webhooks", {})

    def get(self, webhook_id: Any) -> dict | None:
        return self._table().get(str(_intval(webhook_id)))

    def all(self) -> list[dict]:
        """Every webhook, newest first (the list's default order: date descending; source)."""
        return sorted(self._table().values(), key=lambda h: h["id"], reverse=True)

    def render(self, hook: dict) -> dict:
        """The v3 webhook shape (``prepare_item_for_response``; the secret is never shown; source)."""
        resource, _, event = hook["topic"].partition(".")
        api = f"{self.site_url}{API_ROOT}/{NAMESPACE}"
        return {
            "id": hook["id"], "name": hook["name"], "status": hook["status"], "topic": hook["topic"],
            "resource": resource, "event": event, "hooks": _topic_hooks(hook["topic"]),
            "delivery_url": hook["delivery_url"],
            "date_created": hook["date_created"], "date_created_gmt": hook["date_created"],
            "date_modified": hook["date_modified"], "date_modified_gmt": hook["date_modified"],
            "_links": {"self": [{"href": f"{api}/webhooks/{hook['id']}"}],
                       "collection": [{"href": f"{api}/webhooks"}]},
        }

    def create(self, params: dict) -> dict:
        """``POST /webhooks`` (v3 ``create_item``; source): topic and delivery URL must be valid."""
        if _php_truthy(params.get("id")):
            raise RestError("woocommerce_rest_shop_webhook_exists", "Cannot create existing shop_webhook.", 400)
        topic = _sanitize_text_field(params.get("topic")).lower()
        if not _valid_webhook_topic(topic):
            raise RestError("woocommerce_rest_shop_webhook_invalid_topic",
                            "Webhook topic is required and must be valid.", 400)
        url = _php_str(params.get("delivery_url")).strip()
        if not _valid_delivery_url(url):
            raise RestError("woocommerce_rest_shop_webhook_invalid_delivery_url",
                            "Webhook delivery URL must be a valid URL starting with http:// or https://.", 400)
        now = _now()
        hook_id = self.state.data.get("next_webhook_id", 1)
        self.state.data["next_webhook_id"] = hook_id + 1
        hook = {
            "id": hook_id,
            "name": _php_str(params.get("name")) or f"Webhook created on {now:%b %d, %Y @ %I:%M %p}",
            "status": params.get("status") or "active",
            "topic": topic,
            "delivery_url": url,
            "secret": _php_str(params.get("secret")) or secrets.token_urlsafe(38)[:50],
            "date_created": _iso(now), "date_modified": _iso(now),
            "failure_count": 0, "pending_delivery": True,
        }
        self._table()[str(hook_id)] = hook
        if hook["status"] == "active":
            self._enqueue(("ping", hook_id))
        return self.render(hook)

    def update(self, params: dict) -> dict:
        """``PUT /webhooks/<id>`` (v3 ``update_item``; source): only the fields given and not empty change."""
        hook = self.get(params.get("id"))
        if hook is None:
            raise RestError("woocommerce_rest_shop_webhook_invalid_id", "ID is invalid.", 400)
        if _php_truthy(params.get("topic")):
            topic = _sanitize_text_field(params["topic"]).lower()
            if not _valid_webhook_topic(topic):
                raise RestError("woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic must be valid.", 400)
            hook["topic"] = topic
        if _php_truthy(params.get("delivery_url")):
            url = _php_str(params["delivery_url"]).strip()
            if not _valid_delivery_url(url):
                raise RestError("woocommerce_rest_shop_webhook_invalid_delivery_url",
                                "Webhook delivery URL must be a valid URL starting with http:// or https://.", 400)
            hook["delivery_url"] = url
        for name in ("secret", "status", "name"):
            if _php_truthy(params.get(name)):
                hook[name] = _php_str(params[name])
        if params.get("status") == "active":
            hook["failure_count"] = 0
        hook["date_modified"] = _iso(_now())
        return self.render(hook)

    def delete(self, webhook_id: Any) -> dict:
        """``DELETE /webhooks/<id>?force=true`` (source): answers the webhook as it was."""
        hook = self.get(webhook_id)
        if hook is None:
            raise RestError("woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.", 404)
        body = self.render(hook)
        del self._table()[str(hook["id"])]
        return body

    def resource_changed(self, event: str, post_id: int) -> None:
        """A product or variation was saved (``created``, ``updated``) or trashed (``deleted``): queue deliveries."""
        for hook in self._table().values():
            if hook["status"] == "active" and hook["topic"] == f"product.{event}":
                self._enqueue(("deliver", hook["id"], int(post_id)))

    # -- the delivery thread

    def _enqueue(self, item: tuple) -> None:
        with self._cond:
            if self._stopped or item in self._queue:
                return
            self._queue.append(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="woo-emulator-webhooks", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                item = self._queue.popleft()
                self._busy = True
            try:
                if item[0] == "ping":
                    self._ping(item[1])
                else:
                    self._deliver(item[1], item[2])
            except Exception:  # a bug must not kill the thread that serves every later delivery
                log.exception("woocommerce emulator: webhook %s failed", item)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until every queued delivery was sent; False when ``timeout`` seconds passed first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._queue.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _ping(self, hook_id: int) -> None:
        """``WC_Webhook::deliver_ping``: form body ``webhook_id=N``, no signature; a 200 clears ``pending_delivery``."""
        with self.state.lock:
            hook = self.get(hook_id)
            if hook is None:
                return
            url = hook["delivery_url"]
        body = f"webhook_id={hook_id}".encode()
        headers = {"User-Agent": HOOKSHOT_AGENT, "Content-Type": "application/x-www-form-urlencoded"}
        status, error = self._post(url, body, headers)
        if status == 200:
            with self.state.lock:
                hook = self.get(hook_id)
                if hook is not None:
                    hook["pending_delivery"] = False
                    self.state.save()
        self._record("ping", hook_id, "", 0, "", url, headers, body, status, error)

    def _deliver(self, hook_id: int, resource_id: int) -> None:
        """``WC_Webhook::deliver`` + ``log_delivery`` / ``failed_delivery`` (source)."""
        with self.state.lock:
            hook = self.get(hook_id)
            if hook is None or hook["status"] != "active":
                return
            topic = hook["topic"]
            resource, _, event = topic.partition(".")
            if event == "deleted":
                payload: Any = {"id": resource_id}
            else:
                post = self.shop.any_product(resource_id)
                if post is None:
                    log.info("woocommerce emulator: product %s is gone; %s not delivered", resource_id, topic)
                    return
                payload = self.shop.render_product(post, _Context())
            body = _json_bytes(payload).strip()
            salt = self.state.data.setdefault("webhook_salt", secrets.token_hex(32))
            delivery_id = hmac.new(salt.encode(), f"{hook_id}{int(time.time())}".encode(), hashlib.md5).hexdigest()
            url = hook["delivery_url"]
            headers = {
                "Content-Type": "application/json",
                "User-Agent": HOOKSHOT_AGENT,
                "X-WC-Webhook-Source": self.site_url + "/",
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": webhook_signature(hook["secret"], body),
                "X-WC-Webhook-ID": str(hook_id),
                "X-WC-Webhook-Delivery-ID": delivery_id,
            }
        status, error = self._post(url, body, headers)
        with self.state.lock:
            hook = self.get(hook_id)
            if hook is not None:
                if status is not None and 200 <= status < 303:
                    hook["failure_count"] = 0
                elif hook["failure_count"] > MAX_DELIVERY_FAILURES:
                    hook["status"] = "disabled"
                else:
                    hook["failure_count"] += 1
                self.state.save()
        self._record("delivery", hook_id, topic, resource_id, delivery_id, url, headers, body, status, error)

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
        """POST without following redirects (``redirection => 0``); ``(status, "")`` or ``(None, error)``."""
        parts = urlsplit(url)
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=self.timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status, ""
        except (OSError, http.client.HTTPException) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()

    def _record(self, kind, hook_id, topic, resource_id, delivery_id, url, headers, body, status, error) -> None:
        with self._cond:
            self.deliveries.append({
                "kind": kind, "webhook_id": hook_id, "topic": topic, "resource_id": resource_id,
                "delivery_id": delivery_id, "url": url, "headers": dict(headers),
                "body": body.decode("utf-8"), "status": status, "error": error,
            })
        log.info("webhook %s %s -> %s", kind, url, status if status is not None else error)


def _filter_fields(data: Any, fields: str) -> Any:
    """``rest_filter_response_fields``: keep the ``_fields`` keys, dotted for nested ones (WordPress; source).

    Like WordPress, a dotted field reaches into objects only: ``images.src``
    leaves ``images`` empty, because a list's keys are its indexes.
    """
    tree: dict = {}
    for name in (f.strip() for f in _wp_parse_list(fields)):
        node, parts = tree, name.split(".")
        for part in parts[:-1]:
            if node.get(part) is True:
                break
            node = node.setdefault(part, {})
        else:
            node[parts[-1]] = True

    def keep(value: Any, spec: dict) -> Any:
        if isinstance(value, list):
            return [keep(v, spec[str(i)]) if isinstance(spec.get(str(i)), dict) else v
                    for i, v in enumerate(value) if str(i) in spec]
        if not isinstance(value, dict):
            return value
        return {k: (keep(v, spec[k]) if isinstance(spec[k], dict) and isinstance(v, (dict, list)) else v)
                for k, v in value.items() if k in spec}

    if isinstance(data, list):
        return [keep(item, tree) for item in data]
    return keep(data, tree)


def _is_api_path(path: str) -> bool:
    lowered = path.lower()
    return lowered == API_ROOT or lowered.startswith(API_ROOT + "/")


def _content_type(request: _Request) -> str:
    return (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()


def _json_params(body: bytes) -> dict:
    """``parse_json_params``: an empty body is fine; bad JSON is 400 ``rest_invalid_json`` (source)."""
    if not body.strip():
        return {}

    def refuse_constant(name: str):
        raise ValueError(name)  # NaN/Infinity are not JSON for PHP

    try:
        value = json.loads(body.decode("utf-8"), parse_constant=refuse_constant)
    except UnicodeDecodeError:
        raise RestError("rest_invalid_json", "Invalid JSON body passed.", 400, json_error_code=5,
                        json_error_message="Malformed UTF-8 characters, possibly incorrectly encoded") from None
    except ValueError:
        raise RestError("rest_invalid_json", "Invalid JSON body passed.", 400, json_error_code=4,
                        json_error_message="Syntax error") from None
    return value if isinstance(value, dict) else {}


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into ``_Request`` objects for the emulator and writes its answers."""

    protocol_version = "HTTP/1.1"
    server_version = "Apache"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body go out in two writes; without this each answer waits ~40 ms

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve()

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def do_PUT(self) -> None:  # noqa: N802
        self._serve()

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve()

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self, head: bool = False) -> None:
        emulator: WooCommerceEmulator = self.server.emulator  # type: ignore[attr-defined]
        body = self._read_body()
        target = urlsplit(self.path)
        raw_path = target.path or "/"
        path = unquote(raw_path)
        query = _php_parse_query(target.query)
        method = self.command
        if query.get("_method"):
            method = query["_method"].upper()
        elif self.headers.get("X-HTTP-Method-Override"):
            method = self.headers["X-HTTP-Method-Override"].strip().upper()
        request = _Request(method=method, http_method=self.command, raw_path=raw_path, path=path, query=query,
                           headers=self.headers, body=body,
                           https=(self.headers.get("X-Forwarded-Proto") or "").lower() == "https")
        if path.startswith(CONTROL_PREFIX):
            status, payload = emulator._control(request)
            self._send(status, payload, {"Content-Type": "application/json; charset=UTF-8"}, head)
            return
        if not _is_api_path(path):
            self._send(404, b"<!DOCTYPE html><title>Page not found</title>", {"Content-Type": "text/html"}, head)
            return
        emulator._record(self.command, path)
        fate = emulator._faults.decide(is_write=request.method in ("POST", "PUT", "PATCH", "DELETE"))
        if fate.kind or fate.malform:
            self._send_fault(emulator, request, fate, fate.kind or "malformed", head)  # nothing applied
            return
        try:
            response = emulator._api.respond(request)
        except Exception:  # a bug here must still answer like PHP's fatal error handler, not drop the socket
            log.exception("woocommerce emulator: %s %s failed", self.command, path)
            response = _Response(500, RestError("internal_server_error",
                                                "There has been a critical error on this website.", 500).body())
        if fate.lose_answer and response.status < 300:
            self._send_fault(emulator, request, fate, "lost_answer", head)  # the write above WAS applied
            return
        if fate.latency:
            emulator._stopping.wait(fate.latency)
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "X-Robots-Tag": "noindex",
            # the pagination Link, when there is one, replaces this one (PHP header(); source)
            "Link": f'<{emulator.base_url}{API_ROOT}/>; rel="https://api.w.org/"',
            "X-Content-Type-Options": "nosniff",
            "Access-Control-Expose-Headers": "X-WP-Total, X-WP-TotalPages, Link",
            "Access-Control-Allow-Headers": "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, "
                                            "Content-Type",
        }
        if request.authenticated:
            headers["Expires"] = "Wed, 11 Jan 1984 05:00:00 GMT"
            headers["Cache-Control"] = "no-cache, must-revalidate, max-age=0"
        headers.update(response.headers)
        self._send(response.status, _json_bytes(response.body), headers, head)
        log.info("%s %s -> %s", self.command, path, response.status)

    def _send_fault(self, emulator: WooCommerceEmulator, request: _Request, fate: Decision, kind: str,
                    head: bool) -> None:
        """Answer (or, for a timeout, don't) as ``fate`` says; see ``stores.emulators.faults``."""
        emulator._faults.record(request.method, request.path, kind)
        if fate.latency:
            emulator._stopping.wait(fate.latency)
        if kind == "timeout":
            emulator._stopping.wait(fate.hang_seconds)
            self.close_connection = True  # drop the connection without an answer
            return
        headers = {}
        if fate.retry_after is not None:
            headers["Retry-After"] = retry_after_header(fate.retry_after)
        if kind == "malformed":
            status, payload, headers["Content-Type"] = 200, PHP_WARNING_BODY, "application/json; charset=UTF-8"
        elif kind == "outage":
            status, payload, headers["Content-Type"] = 503, MAINTENANCE_PAGE, "text/html; charset=UTF-8"
        elif kind == "lost_answer":
            status, payload, headers["Content-Type"] = 502, html_error(502), "text/html"
        elif fate.status == 500:  # PHP's fatal error, as WordPress's shutdown handler answers it
            status, headers["Content-Type"] = 500, "application/json; charset=UTF-8"
            payload = _json_bytes(RestError("internal_server_error",
                                            "There has been a critical error on this website.", 500).body())
        else:  # a proxy's or the host's limiter's own page (429, 502, 503, 504)
            status, payload, headers["Content-Type"] = fate.status, html_error(fate.status), "text/html"
        self._send(status, payload, headers, head)

    def _send(self, status: int, payload: bytes, headers: dict[str, str], head: bool) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if not head:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's default backlog of 5 resets bursts of parallel connections


# --------------------------------------------------------------------------- public API


class WooCommerceEmulator:
    """A running emulator: the HTTP server thread, the shop's state and a request log.

    ``base_url`` is the site root (``http://127.0.0.1:<port>``); the API is at
    ``base_url + "/wp-json/wc/v3/"``. ``request_log`` holds ``(method, path)``
    for every request under ``/wp-json`` (method as sent, path decoded and
    without the query string), e.g. ``("POST", "/wp-json/wc/v3/products/batch")``.
    Usable as a context manager; ``stop()`` shuts the server down.
    """

    def __init__(self, *, host: str, port: int, consumer_key: str, consumer_secret: str,
                 state_path: str | os.PathLike | None, faults: FaultPlan | dict | None = None):
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self._stopping = threading.Event()
        self._faults = FaultState()
        self.set_faults(faults)
        self._state = _State(state_path)
        self._server = _Server((host, port), _Handler)
        self._server.emulator = self  # type: ignore[attr-defined]
        bound_port = self._server.server_address[1]
        shown_host = "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104 - a display name only
        self.base_url = f"http://{shown_host}:{bound_port}"
        self._api = _Api(self._state, self.base_url, consumer_key, consumer_secret)
        self._log_lock = threading.Lock()
        self.request_log: list[tuple[str, str]] = []
        # a short poll interval makes stop() quick (shutdown() waits for the next poll)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"woo-emulator:{bound_port}", daemon=True)
        self._thread.start()

    @property
    def api_url(self) -> str:
        """``base_url + "/wp-json/wc/v3/"``."""
        return f"{self.base_url}{API_ROOT}/{NAMESPACE}/"

    def _record(self, method: str, path: str) -> None:
        with self._log_lock:
            self.request_log.append((method, path))

    def reset_log(self) -> None:
        """Forget the requests recorded so far."""
        with self._log_lock:
            self.request_log.clear()

    def products(self) -> list[dict]:
        """Every stored product (trashed ones too), by id, as ``GET /products/<id>`` shows it.

        Each dict also has ``variation_details``: its variations (any
        status) as ``GET /products/<id>/variations`` shows them, by menu
        order then id. Variations are not listed on their own.
        """
        with self._state.lock:
            shop = self._api.shop
            out = []
            for post in sorted(self._state.posts(PRODUCT), key=lambda p: p["id"]):
                item = shop.render_product(post, _Context())
                variations = [v for v in self._state.posts(VARIATION) if v["parent_id"] == post["id"]]
                item["variation_details"] = [shop.render_variation(v, _Context("view", post["id"]))
                                             for v in sorted(variations, key=lambda v: (v["menu_order"], v["id"]))]
                out.append(item)
            return out

    # -- shop-side edits and webhooks out

    def edit_product(self, product_id: int, **changes: Any) -> dict:
        """A shop-side edit, as when the shop owner saves a product (or a variation) in wp-admin.

        ``changes`` are fields of the v3 product (or variation) schema, e.g.
        ``regular_price="18.00"``, ``name="…"``, ``stock_quantity=3``,
        validated as the REST API validates them. The product is saved with
        WooCommerce's rules, then every active ``product.updated`` webhook
        gets a delivery from the background thread (see ``_Webhooks``).
        Returns the saved product as ``GET /products/<id>?context=edit``
        answers. Raises ``RestError`` (404 unknown id, 400 invalid value);
        nothing is changed then.
        """
        params = dict(changes)
        shop = self._api.shop
        with self._state.lock:
            post = shop.any_product(product_id)
            if post is None:
                raise RestError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
            if post["post_type"] == VARIATION:
                _check_args(params, VARIATION_ARGS)
                params["product_id"] = post["parent_id"]
                saved = shop.save_variation(params, post)
                body = shop.render_variation(saved, _Context("edit", saved["parent_id"]))
            else:
                _check_args(params, PRODUCT_ARGS)
                saved = shop.save_product(params, post)
                body = shop.render_product(saved, _Context("edit"))
            self._state.save()
            self._api.webhooks.resource_changed("updated", saved["id"])
        return body

    def webhooks(self) -> list[dict]:
        """Every stored webhook as kept (secret, failure count and pending ping included), by id."""
        with self._state.lock:
            return [copy.deepcopy(h) for h in sorted(self._api.webhooks.all(), key=lambda h: h["id"])]

    @property
    def webhook_deliveries(self) -> list[dict]:
        """Pings and deliveries sent so far, oldest first (see ``_Webhooks.deliveries``)."""
        with self._api.webhooks._cond:
            return list(self._api.webhooks.deliveries)

    def flush_webhooks(self, timeout: float = 10.0) -> bool:
        """Wait until every queued ping and delivery was sent; False when ``timeout`` seconds passed first."""
        return self._api.webhooks.flush(timeout)

    # -- fault injection

    def set_faults(self, faults: FaultPlan | dict | None) -> None:
        """Misbehave from now on as ``faults`` says (a ``FaultPlan`` or its dict); None behaves again.

        The outage window and the first 429 burst count from this call.
        Faults apply to the REST API (``/wp-json/…``) only, never to the
        ``/__emulator__/`` control routes. A 5xx of 500 is WordPress's JSON
        "critical error" answer; 429, 502, 503 and 504 are a proxy's HTML
        page; a malformed answer is a PHP warning before a cut-off body.
        """
        if isinstance(faults, dict):
            faults = FaultPlan.from_dict(faults)
        self._faults.set(faults if faults is not None and faults.active else None)

    @property
    def fault_counts(self) -> dict[str, int]:
        """Faults injected since the emulator started, by kind (see ``FaultState.counts``)."""
        return self._faults.counts()

    def _control(self, request: _Request) -> tuple[int, bytes]:
        """The emulator's own routes (no authentication, never faulted)::

            POST /__emulator__/products/<id>   JSON changes → edit_product → the product
            GET  /__emulator__/faults          → {"plan": …|null, "counts": {…}}
            POST /__emulator__/faults          JSON FaultPlan fields ({} or null: no faults)
            GET  /__emulator__/webhooks        → webhook deliveries sent so far
        """
        parts = [p for p in request.path[len(CONTROL_PREFIX):].split("/") if p]
        method = request.http_method
        try:
            if len(parts) == 2 and parts[0] == "products" and parts[1].isdigit() and method == "POST":
                return 200, _json_bytes(self.edit_product(int(parts[1]), **_json_params(request.body)))
            if parts == ["faults"] and method in ("GET", "POST"):
                if method == "POST":
                    data = json.loads(request.body.decode("utf-8") or "null")
                    self.set_faults(data or None)
                plan = self._faults.plan
                return 200, _json_bytes({"plan": plan.to_dict() if plan else None, "counts": self.fault_counts})
            if parts == ["webhooks"] and method == "GET":
                return 200, _json_bytes(self.webhook_deliveries)
        except RestError as error:
            return error.status, _json_bytes(error.body())
        except (ValueError, TypeError) as error:
            return 400, _json_bytes({"code": "emulator_invalid_request", "message": str(error),
                                     "data": {"status": 400}})
        return 404, _json_bytes({"code": "emulator_no_route", "message": "No emulator route matches.",
                                 "data": {"status": 404}})

    def stop(self) -> None:
        """Stop serving and release the port; the state file (if any) already holds every change."""
        self._stopping.set()
        self._api.webhooks.stop()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> WooCommerceEmulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_emulator(*, host: str = "127.0.0.1", port: int = 0, consumer_key: str = "ck_demo",
                   consumer_secret: str = "cs_demo",
                   state_path: str | os.PathLike | None = None,
                   faults: FaultPlan | dict | None = None) -> WooCommerceEmulator:
    """Start a WooCommerce REST API v3 emulator in a daemon thread and return it.

    ``port=0`` picks a free port (read it from ``.base_url``). With
    ``state_path`` the shop is loaded from that JSON file when it exists and
    written back atomically after every change, so it survives restarts;
    without it the shop lives in memory only. The one API key has read/write
    permission. ``faults`` (a ``stores.emulators.faults.FaultPlan`` or its
    dict) makes it misbehave from the start; change it later with
    ``set_faults``.
    """
    return WooCommerceEmulator(host=host, port=port, consumer_key=consumer_key, consumer_secret=consumer_secret,
                               state_path=state_path, faults=faults)
