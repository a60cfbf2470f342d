"""The emulated shop: products, variants, inventory, locations and webhook subscriptions, with Shopify's rules.

Both APIs (``graphql_api``, ``rest_api``) and the shop owner's edits
(``ShopifyEmulator.edit_product``) go through ``Shop``; callers hold
``Shop.lock`` around a call and ``save()`` after a change.

State file (JSON, written atomically after every change)::

    {"version": 1, "next_id": int,
     "products": {"<id>": product},
     "locations": {"<id>": {"id", "name", "address1", "city", "zip", "province", "province_code",
                            "country", "country_code", "phone", "active", "created_at", "updated_at"}},
     "levels": {"<inventory_item_id>:<location_id>": {"inventory_item_id", "location_id", "available",
                                                      "updated_at"}},
     "webhooks": {"<id>": {"id", "address", "topic", "format", "fields", "api_version",
                           "created_at", "updated_at"}},
     "operations": {"<id>": {"id", "product_id", "status", "user_errors"}}}

    product = {"id", "title", "body_html", "vendor", "product_type", "handle",
               "status": "active"|"draft"|"archived", "tags": [str], "template_suffix",
               "created_at", "updated_at", "published_at",
               "options": [{"id", "name", "position", "values": [{"id", "name"}]}],
               "variants": [{"id", "title", "price": "9.50", "compare_at_price": str|None, "sku",
                             "barcode", "position", "inventory_policy": "deny"|"continue", "taxable",
                             "option_values": [str, one per option], "created_at", "updated_at",
                             "inventory_item": {"id", "tracked", "requires_shipping", "cost",
                                                "weight": {"unit": "GRAMS"|"KILOGRAMS"|"OUNCES"|"POUNDS", "value"},
                                                "created_at", "updated_at"}}]}

Ids come from one counter starting above 2**31 (real ones have 13 digits),
so a client that stores them in 32 bits fails here as it would on Shopify.
Times are UTC, stored as ``2025-07-01T12:00:00Z``; REST shows them with an
offset (``+00:00``, the shop's zone being UTC), GraphQL with ``Z``.

Rules (source: shopify.dev reference of each field, unless noted):

* a product always has at least one variant; created without variants it
  gets "Default Title" (option "Title"), price 0.00;
* a handle is made from the title when not given (lower case, runs of
  other characters become one "-"), with "-1", "-2"... when taken; a handle
  given explicitly that another product holds is refused (GraphQL
  ``HANDLE_NOT_UNIQUE``, REST 422 "has already been taken");
* SKUs need not be unique (Shopify does not enforce it);
* a new variant's inventory item is stocked at the primary location
  (quantity 0); ``inventory_quantity`` is the sum of ``available`` over
  locations; setting a quantity at an unstocked location is refused by
  GraphQL (``ITEM_NOT_STOCKED_AT_LOCATION``) and connects it first in REST
  (``inventory_levels/set``), as each API documents;
* ``productSet`` stocks a variant it *creates* at the locations its
  ``inventoryQuantities`` name, but "if you're updating an existing
  variant, then you can only update the quantities at locations where the
  variant is already stocked" (shopify.dev ``ProductVariantSetInput``): such
  a quantity is refused here with ``INVALID_INPUT`` (the docs do not name
  the code; inferred). ``inventoryActivate`` stocks an item at a location
  first; activating an item already stocked there changes nothing (its
  ``available`` / ``onHand`` are *initial* quantities, shopify.dev);
* a location can be deactivated (not the primary one, which fulfils online
  orders by default) and then deleted; deactivating it removes the stock
  held there, as Shopify moves or drops it (``locationDeactivate``).
"""

from __future__ import annotations

import copy
import json
import os
import re
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

STATE_VERSION = 1
FIRST_ID = 7_400_000_000_001
MAX_OPTIONS = 3
MAX_VARIANTS = 2048  # productSet: "stores have a limit of 2048 product variants for each product"
PRODUCT_STATUSES = ("active", "draft", "archived")
INVENTORY_POLICIES = ("deny", "continue")
REST_WEIGHT_UNITS = {"GRAMS": "g", "KILOGRAMS": "kg", "OUNCES": "oz", "POUNDS": "lb"}
GRAMS_PER_UNIT = {"GRAMS": 1.0, "KILOGRAMS": 1000.0, "OUNCES": 28.349523125, "POUNDS": 453.59237}
QUANTITY_LIMIT = 1_000_000_000  # INVALID_QUANTITY_TOO_HIGH / _TOO_LOW
# inventorySetQuantities / inventoryAdjustQuantities "reason" values (shopify.dev, inventory state reasons)
INVENTORY_REASONS = (
    "correction", "cycle_count_available", "damaged", "movement_canceled", "movement_created",
    "movement_received", "movement_updated", "other", "promotion", "quality_control", "received",
    "reservation_created", "reservation_deleted", "reservation_updated", "restock", "safety_stock", "shrinkage",
)
WEBHOOK_TOPICS = (
    "products/create", "products/update", "products/delete",
    "inventory_levels/connect", "inventory_levels/update", "inventory_levels/disconnect",
    "inventory_items/create", "inventory_items/update", "inventory_items/delete",
    "locations/create", "locations/update", "locations/delete", "app/uninstalled", "shop/update",
)
DEFAULT_LOCATIONS = (
    {"name": "Shop location", "address1": "150 Elgin Street", "city": "Ottawa", "zip": "K2P 1L4",
     "province": "Ontario", "province_code": "ON", "country": "CA", "country_code": "CA", "country_name": "Canada"},
    {"name": "Warehouse", "address1": "Brunnenstrasse 19", "city": "Berlin", "zip": "10119",
     "province": None, "province_code": None, "country": "DE", "country_code": "DE", "country_name": "Germany"},
)


@dataclass
class UserError:
    """One GraphQL ``userErrors`` entry: ``field`` is a path of strings into the input (indices as strings)."""

    field: list[str] | None
    message: str
    code: str | None = None

    def as_dict(self, *, with_code: bool = True) -> dict:
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if with_code:
            out["code"] = self.code
        return out


class RestError(Exception):
    """A REST error answer: ``status`` and the ``{"errors": ...}`` body."""

    def __init__(self, status: int, errors: Any):
        super().__init__(str(errors))
        self.status = status
        self.errors = errors


# --------------------------------------------------------------------------- small helpers


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def rest_time(value: str | None) -> str | None:
    """``2025-07-01T12:00:00Z`` as REST shows it: ``2025-07-01T12:00:00+00:00``."""
    return value[:-1] + "+00:00" if value and value.endswith("Z") else value


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from a filter (``Z``, an offset or none: UTC); ``None`` when it is not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


_GID = re.compile(r"^gid://shopify/(?P<kind>[A-Za-z]+)/(?P<id>\d+)(?:\?.*)?$")


def parse_gid(value: Any, kind: str) -> int | None:
    """The number in ``gid://shopify/<kind>/<n>``; ``None`` for anything else (bare numbers included)."""
    if not isinstance(value, str):
        return None
    match = _GID.match(value)
    if not match or match.group("kind") != kind:
        return None
    return int(match.group("id"))


def to_decimal(value: Any) -> Decimal | None:
    """A money amount from JSON or GraphQL input (string or number); ``None`` when it is not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if isinstance(value, str) and value.strip():
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            return None
        return amount if amount.is_finite() else None
    return None


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def handleize(text: str) -> str:
    """Shopify's handle from a title: ASCII, lower case, other characters to single dashes."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def split_tags(value: Any) -> list[str]:
    """Tags from a REST string (``"a, b"``) or a list; trimmed, empty and repeated ones dropped."""
    raw = value.split(",") if isinstance(value, str) else list(value or [])
    tags: list[str] = []
    for tag in raw:
        tag = str(tag).strip()
        if tag and tag.lower() not in (t.lower() for t in tags):
            tags.append(tag)
    return tags


def variant_title(values: list[str]) -> str:
    return " / ".join(values) if values else "Default Title"


# --------------------------------------------------------------------------- storage


class State:
    """The shop's data in memory, persisted to ``path`` (temporary file, fsync, rename) when given."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path else None
        if self.path and self.path.exists():
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
            if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
                raise ValueError(f"{self.path}: not a Shopify emulator state file (version {STATE_VERSION})")
            self.data = data
        else:
            self.data = {"version": STATE_VERSION, "next_id": FIRST_ID, "products": {}, "locations": {},
                         "levels": {}, "webhooks": {}, "operations": {}}

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


# --------------------------------------------------------------------------- the shop


class Shop:
    """Data access and the rules every write follows."""

    def __init__(self, state: State, *, domain: str, name: str, plan_name: str, plan_display_name: str):
        self.state = state
        self.lock = threading.RLock()
        self.domain = domain
        self.name = name
        self.plan_name = plan_name
        self.plan_display_name = plan_display_name
        self.shop_id = 60_000_000_001
        if not state.data["locations"]:
            moment = now()
            for location in DEFAULT_LOCATIONS:
                number = state.new_id()
                state.data["locations"][str(number)] = {
                    "id": number, **location, "address2": None, "phone": None, "active": True,
                    "created_at": moment, "updated_at": moment}
            state.save()

    @property
    def data(self) -> dict:
        return self.state.data

    def save(self) -> None:
        self.state.save()

    # ------------------------------------------------------------------ transactions

    def snapshot(self) -> dict:
        """A deep copy of the data, for rolling back a write whose answer is lost to a fault."""
        return copy.deepcopy(self.state.data)

    def restore(self, snapshot: dict) -> None:
        self.state.data = snapshot
        self.state.save()

    # ------------------------------------------------------------------ reads

    def products(self) -> list[dict]:
        return sorted(self.data["products"].values(), key=lambda p: p["id"])

    def product(self, number: Any) -> dict | None:
        return self.data["products"].get(str(number)) if number is not None else None

    def product_by_handle(self, handle: str) -> dict | None:
        for product in self.data["products"].values():
            if product["handle"] == handle:
                return product
        return None

    def locations(self) -> list[dict]:
        return sorted(self.data["locations"].values(), key=lambda loc: loc["id"])

    def location(self, number: Any) -> dict | None:
        return self.data["locations"].get(str(number)) if number is not None else None

    def primary_location(self) -> dict:
        return self.locations()[0]

    def variant(self, number: Any) -> tuple[dict, dict] | None:
        for product in self.data["products"].values():
            for variant in product["variants"]:
                if variant["id"] == number:
                    return product, variant
        return None

    def inventory_item(self, number: Any) -> tuple[dict, dict] | None:
        for product in self.data["products"].values():
            for variant in product["variants"]:
                if variant["inventory_item"]["id"] == number:
                    return product, variant
        return None

    def level(self, item_id: int, location_id: int) -> dict | None:
        return self.data["levels"].get(f"{item_id}:{location_id}")

    def levels_of_item(self, item_id: int) -> list[dict]:
        return sorted((lv for lv in self.data["levels"].values() if lv["inventory_item_id"] == item_id),
                      key=lambda lv: lv["location_id"])

    def levels_at(self, location_id: int) -> list[dict]:
        return sorted((lv for lv in self.data["levels"].values() if lv["location_id"] == location_id),
                      key=lambda lv: lv["inventory_item_id"])

    def inventory_quantity(self, variant: dict) -> int:
        return sum(lv["available"] for lv in self.levels_of_item(variant["inventory_item"]["id"]))

    def total_inventory(self, product: dict) -> int:
        return sum(self.inventory_quantity(v) for v in product["variants"] if v["inventory_item"]["tracked"])

    # ------------------------------------------------------------------ inventory writes

    def set_level(self, item_id: int, location_id: int, available: int) -> dict:
        key = f"{item_id}:{location_id}"
        level = self.data["levels"].get(key)
        if level is None:
            level = {"inventory_item_id": item_id, "location_id": location_id, "available": 0, "updated_at": now()}
            self.data["levels"][key] = level
        level["available"] = available
        level["updated_at"] = now()
        return level

    def _drop_levels(self, item_id: int) -> None:
        for key in [k for k, lv in self.data["levels"].items() if lv["inventory_item_id"] == item_id]:
            del self.data["levels"][key]

    # ------------------------------------------------------------------ product building blocks

    def _unique_handle(self, base: str, exclude_id: int | None = None) -> str:
        base = base or "product"
        taken = {p["handle"] for p in self.data["products"].values() if p["id"] != exclude_id}
        if base not in taken:
            return base
        suffix = 1
        while f"{base}-{suffix}" in taken:
            suffix += 1
        return f"{base}-{suffix}"

    def handle_taken(self, handle: str, exclude_id: int | None) -> bool:
        holder = self.product_by_handle(handle)
        return holder is not None and holder["id"] != exclude_id

    def _new_product(self, moment: str) -> dict:
        return {"id": self.state.new_id(), "title": "", "body_html": "", "vendor": self.name, "product_type": "",
                "handle": "", "status": "active", "tags": [], "template_suffix": None, "created_at": moment,
                "updated_at": moment, "published_at": None, "options": [], "variants": []}

    def _new_variant(self, moment: str) -> dict:
        return {"id": self.state.new_id(), "title": "Default Title", "price": "0.00", "compare_at_price": None,
                "sku": "", "barcode": None, "position": 1, "inventory_policy": "deny", "taxable": True,
                "option_values": [], "created_at": moment, "updated_at": moment,
                "inventory_item": {"id": self.state.new_id(), "tracked": False, "requires_shipping": True,
                                   "cost": None, "weight": {"unit": "KILOGRAMS", "value": 0.0},
                                   "created_at": moment, "updated_at": moment}}

    def _set_options(self, product: dict, options: list[tuple[str, list[str]]]) -> None:
        """Replace the product's options, keeping the ids of options and values that keep their names."""
        old = {o["name"].lower(): o for o in product["options"]}
        new = []
        for position, (name, values) in enumerate(options, start=1):
            before = old.get(name.lower())
            known = {v["name"]: v["id"] for v in before["values"]} if before else {}
            new.append({"id": before["id"] if before else self.state.new_id(), "name": name, "position": position,
                        "values": [{"id": known.get(v) or self.state.new_id(), "name": v} for v in values]})
        product["options"] = new

    def _replace_variants(self, product: dict, wanted: list[dict], moment: str) -> list[dict]:
        """Make ``product``'s variants exactly ``wanted`` (each ``{"match": variant|None, "values", "fields",
        "quantities"}``), deleting the rest with their inventory; returns the variants in order."""
        kept_ids = {w["match"]["id"] for w in wanted if w["match"] is not None}
        for variant in product["variants"]:
            if variant["id"] not in kept_ids:
                self._drop_levels(variant["inventory_item"]["id"])
        primary = self.primary_location()["id"]
        result = []
        for position, want in enumerate(wanted, start=1):
            variant = want["match"]
            created = variant is None
            if created:
                variant = self._new_variant(moment)
                self.set_level(variant["inventory_item"]["id"], primary, 0)
                if want["quantities"] and "tracked" not in want["fields"]:
                    variant["inventory_item"]["tracked"] = True
            variant["option_values"] = list(want["values"])
            variant["title"] = variant_title(want["values"])
            variant["position"] = position
            apply_variant_fields(variant, want["fields"], moment)
            variant["updated_at"] = moment
            for location_id, quantity in want["quantities"]:
                self.set_level(variant["inventory_item"]["id"], location_id, quantity)
            result.append(variant)
        product["variants"] = result
        return result

    def _default_variant_setup(self, product: dict, moment: str) -> None:
        self._set_options(product, [("Title", ["Default Title"])])
        self._replace_variants(product, [{"match": None, "values": ["Default Title"], "fields": {},
                                          "quantities": []}], moment)

    def delete_product(self, product: dict) -> None:
        for variant in product["variants"]:
            self._drop_levels(variant["inventory_item"]["id"])
        del self.data["products"][str(product["id"])]

    # ------------------------------------------------------------------ GraphQL: productSet

    def product_set(self, identifier: dict | None, data: dict) -> tuple[dict | None, list[UserError]]:
        """``productSet``: create or update a whole product; given lists replace the stored ones.

        Target: ``identifier.id`` (must exist) or ``identifier.handle`` (found:
        update, else create with that handle; changelog "productSet ...
        support upserts", 2025-04); without an identifier ``input.id``
        updates (must exist) and no id creates. ``input.id`` next to an
        identifier is ``ID_NOT_ALLOWED``. Variants given with an ``id`` update
        that variant; without one they take over an existing variant with
        the same option values (keeping its id and inventory, the rule REST
        product updates follow since 2019-06) or are created; stored variants
        not matched are deleted. ``variants`` needs ``productOptions`` and
        the other way round (``PRODUCT_OPTIONS_INPUT_MISSING`` /
        ``VARIANTS_INPUT_MISSING``). Nothing is written unless the whole
        input is valid.
        """
        errors: list[UserError] = []
        product: dict | None = None
        creating = False
        handle_from_identifier = None
        if identifier is not None:
            if data.get("id") is not None:
                errors.append(UserError(["input", "id"], "The id field is not allowed if identifier is provided.",
                                        "ID_NOT_ALLOWED"))
            if identifier.get("id") is not None:
                product = self.product(parse_gid(identifier["id"], "Product"))
                if product is None:
                    errors.append(UserError(["identifier", "id"], "Product does not exist",
                                            "PRODUCT_DOES_NOT_EXIST"))
            elif identifier.get("handle") is not None:
                handle_from_identifier = identifier["handle"]
                if data.get("handle") is not None and data["handle"] != handle_from_identifier:
                    errors.append(UserError(
                        ["input", "handle"],
                        "The identifier value does not match the value of the corresponding field in the input.",
                        "INPUT_MISMATCH"))
                product = self.product_by_handle(handle_from_identifier)
                creating = product is None
            else:
                errors.append(UserError(["identifier"], "An identifier needs one of id or handle.",
                                        "MISSING_FIELD_REQUIRED"))
        elif data.get("id") is not None:
            product = self.product(parse_gid(data["id"], "Product"))
            if product is None:
                errors.append(UserError(["input", "id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST"))
        else:
            creating = True
        if errors:
            return None, errors

        if "title" in data or creating:
            if not (data.get("title") or "").strip():
                errors.append(UserError(["input", "title"], "Title can't be blank", "INVALID_PRODUCT"))
        handle = data.get("handle") if data.get("handle") is not None else handle_from_identifier
        if handle is not None:
            handle = handleize(handle)
            if not handle:
                errors.append(UserError(["input", "handle"], "Handle can't be blank", "INVALID_PRODUCT"))
            elif self.handle_taken(handle, product["id"] if product else None):
                errors.append(UserError(["input", "handle"],
                                        f"Handle '{handle}' already in use. Please provide a new handle.",
                                        "HANDLE_NOT_UNIQUE"))
        options_in, variants_in = data.get("productOptions"), data.get("variants")
        if variants_in is not None and options_in is None:
            errors.append(UserError(["input", "productOptions"],
                                    "Product options input is required when updating variants.",
                                    "PRODUCT_OPTIONS_INPUT_MISSING"))
        if options_in is not None and variants_in is None:
            errors.append(UserError(["input", "variants"], "Variants input is required when updating options.",
                                    "VARIANTS_INPUT_MISSING"))
        plan = None
        if options_in is not None and variants_in is not None:
            plan = self._plan_variants(product, options_in, variants_in, errors)
        if errors:
            return None, errors

        moment = now()
        if creating:
            product = self._new_product(moment)
            self.data["products"][str(product["id"])] = product
        for key, target in (("title", "title"), ("descriptionHtml", "body_html"), ("vendor", "vendor"),
                            ("productType", "product_type"), ("templateSuffix", "template_suffix")):
            if key in data:
                product[target] = (data[key] or "") if target != "template_suffix" else data[key]
        if "tags" in data:
            product["tags"] = split_tags(data["tags"] or [])
        if "status" in data and data["status"]:
            product["status"] = data["status"].lower()
        if handle:
            product["handle"] = handle
        elif creating:
            product["handle"] = self._unique_handle(handleize(product["title"]))
        if product["status"] == "active" and product["published_at"] is None:
            product["published_at"] = moment
        if plan is not None:
            options, wanted = plan
            self._set_options(product, options)
            self._replace_variants(product, wanted, moment)
        elif creating:
            self._default_variant_setup(product, moment)
        product["updated_at"] = moment
        return product, []

    def _plan_variants(self, product: dict | None, options_in: list[dict], variants_in: list[dict],
                       errors: list[UserError]) -> tuple[list, list] | None:
        """Check ``productOptions`` and ``variants``; the options and the variants to store, or ``None``."""
        start = len(errors)
        existing_options = {o["id"]: o for o in product["options"]} if product else {}
        if len(options_in) > MAX_OPTIONS:
            errors.append(UserError(["input", "productOptions"], "Can only specify a maximum of 3 options",
                                    "OPTIONS_OVER_LIMIT"))
        if len(variants_in) > MAX_VARIANTS:
            errors.append(UserError(["input", "variants"], f"Can only specify a maximum of {MAX_VARIANTS} variants",
                                    "VARIANTS_OVER_LIMIT"))
        options: list[tuple[str, list[str]]] = []
        option_ids: dict[int, str] = {}
        value_ids: dict[int, tuple[str, str]] = {}
        for index, option in enumerate(options_in):
            path = ["input", "productOptions", str(index)]
            before = existing_options.get(parse_gid(option.get("id"), "ProductOption")) if option.get("id") else None
            if option.get("id") and before is None:
                errors.append(UserError(path + ["id"], "Option does not exist", "OPTION_DOES_NOT_EXIST"))
                continue
            name = (option.get("name") or (before["name"] if before else "")).strip()
            if not name:
                errors.append(UserError(path + ["name"], "Option name can't be blank", "INVALID_INPUT"))
                continue
            if name.lower() in (n.lower() for n, _ in options):
                errors.append(UserError(path + ["name"], "Duplicated option name.", "DUPLICATED_OPTION_NAME"))
                continue
            values: list[str] = []
            known_values = {v["id"]: v["name"] for v in before["values"]} if before else {}
            for value_index, value in enumerate(option.get("values") or []):
                value_name = (value.get("name") or known_values.get(parse_gid(value.get("id"),
                                                                              "ProductOptionValue")) or "").strip()
                if not value_name:
                    errors.append(UserError(path + ["values", str(value_index), "name"],
                                            "Option value name can't be blank", "INVALID_INPUT"))
                elif value_name in values:
                    errors.append(UserError(path + ["values", str(value_index), "name"], "Duplicated option value.",
                                            "DUPLICATED_OPTION_VALUE"))
                else:
                    values.append(value_name)
            if not values:
                errors.append(UserError(path + ["values"], "Option values are missing", "OPTION_VALUES_MISSING"))
            options.append((name, values))
            if before:
                option_ids[before["id"]] = name
                for value in before["values"]:
                    value_ids[value["id"]] = (name, value["name"])
        if len(errors) > start:
            return None

        by_name = {name.lower(): (name, values) for name, values in options}
        existing = {v["id"]: v for v in product["variants"]} if product else {}
        claimed: set[int] = set()
        wanted: list[dict] = []
        seen_combos: set[tuple[str, ...]] = set()
        for index, variant in enumerate(variants_in):
            path = ["input", "variants", str(index)]
            chosen: dict[str, str] = {}
            variant_start = len(errors)
            for value_index, value in enumerate(variant.get("optionValues") or []):
                value_path = path + ["optionValues", str(value_index)]
                option_name = value.get("optionName")
                if option_name is None and value.get("optionId"):
                    option_name = option_ids.get(parse_gid(value["optionId"], "ProductOption"))
                value_name = value.get("name")
                if value_name is None and value.get("id"):
                    option_name, value_name = value_ids.get(parse_gid(value["id"], "ProductOptionValue"),
                                                            (option_name, None))
                found = by_name.get((option_name or "").lower())
                if found is None:
                    errors.append(UserError(value_path + ["optionName"], f"Option '{option_name}' does not exist.",
                                            "OPTION_DOES_NOT_EXIST"))
                    continue
                if value_name not in found[1]:
                    errors.append(UserError(value_path + ["name"],
                                            f"Option value '{value_name}' does not exist for option '{found[0]}'.",
                                            "OPTION_VALUE_DOES_NOT_EXIST"))
                    continue
                chosen[found[0]] = value_name
            if len(errors) > variant_start:
                continue
            missing = [name for name, _ in options if name not in chosen]
            if missing:
                errors.append(UserError(path + ["optionValues"],
                                        f"Variant is missing a value for option '{missing[0]}'.",
                                        "OPTION_VALUES_MISSING"))
                continue
            combo = tuple(chosen[name] for name, _ in options)
            if combo in seen_combos:
                errors.append(UserError(path, f"The variant '{variant_title(list(combo))}' already exists.",
                                        "INVALID_VARIANT"))
                continue
            seen_combos.add(combo)
            fields, problems = variant_fields_from_graphql(variant)
            for field_name, message in problems:
                errors.append(UserError(path + [field_name], message, "INVALID_VARIANT"))
            match = None
            if variant.get("id") is not None:
                match = existing.get(parse_gid(variant["id"], "ProductVariant"))
                if match is None or match["id"] in claimed:
                    errors.append(UserError(path + ["id"], "Product variant does not exist",
                                            "PRODUCT_VARIANT_DOES_NOT_EXIST"))
                    continue
                claimed.add(match["id"])
            quantities = self._check_quantities(variant.get("inventoryQuantities") or [], path, errors)
            wanted.append({"match": match, "values": list(combo), "fields": fields, "quantities": quantities,
                           "combo": combo, "index": index})
        # variants given without an id take over a stored variant with the same option values
        for want in wanted:
            if want["match"] is None:
                for variant in existing.values():
                    if variant["id"] not in claimed and tuple(variant["option_values"]) == want["combo"]:
                        want["match"] = variant
                        claimed.add(variant["id"])
                        break
        # an existing variant's quantities can only be set where it is already stocked (see the module rules)
        for want in wanted:
            if want["match"] is None:
                continue
            item_id = want["match"]["inventory_item"]["id"]
            for position, (location_id, _quantity) in enumerate(want["quantities"]):
                if self.level(item_id, location_id) is None:
                    errors.append(UserError(
                        ["input", "variants", str(want["index"]), "inventoryQuantities", str(position), "locationId"],
                        "The variant is not stocked at this location; activate its inventory item there first.",
                        "INVALID_INPUT"))
        if len(errors) > start:
            return None
        return options, wanted

    def _check_quantities(self, quantities: list[dict], path: list[str],
                          errors: list[UserError]) -> list[tuple[int, int]]:
        out = []
        for index, quantity in enumerate(quantities):
            here = path + ["inventoryQuantities", str(index)]
            if quantity.get("name") not in ("available", "on_hand"):
                errors.append(UserError(here + ["name"], "The quantity name must be either 'available' or 'on_hand'.",
                                        "INVALID_INPUT"))
                continue
            location = self.location(parse_gid(quantity.get("locationId"), "Location"))
            if location is None:
                errors.append(UserError(here + ["locationId"], "The specified location could not be found.",
                                        "INVALID_INPUT"))
                continue
            amount = quantity.get("quantity")
            if not isinstance(amount, int) or abs(amount) > QUANTITY_LIMIT or (
                    quantity["name"] == "on_hand" and amount < 0):
                errors.append(UserError(here + ["quantity"], "The quantity is out of range.", "INVALID_INPUT"))
                continue
            out.append((location["id"], amount))
        return out

    # ------------------------------------------------------------------ GraphQL: variants, delete, inventory

    def variants_bulk_update(self, product_gid: str, variants_in: list[dict],
                             allow_partial: bool) -> tuple[dict | None, list[dict] | None, list[UserError]]:
        """``productVariantsBulkUpdate``: change some variants of one product (the others stay).

        All or nothing unless ``allowPartialUpdates``. Codes from
        ``ProductVariantsBulkUpdateUserErrorCode``: ``PRODUCT_DOES_NOT_EXIST``,
        ``PRODUCT_VARIANT_ID_MISSING``, ``PRODUCT_VARIANT_DOES_NOT_EXIST``,
        ``NEGATIVE_PRICE_VALUE``, ``INVALID_INPUT``.
        """
        product = self.product(parse_gid(product_gid, "Product"))
        if product is None:
            return None, None, [UserError(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")]
        errors: list[UserError] = []
        changes: list[tuple[dict, dict, dict]] = []
        by_id = {v["id"]: v for v in product["variants"]}
        for index, variant in enumerate(variants_in):
            path = ["variants", str(index)]
            start = len(errors)
            if variant.get("id") is None:
                errors.append(UserError(path + ["id"], "Product variant is missing ID attribute.",
                                        "PRODUCT_VARIANT_ID_MISSING"))
                continue
            target = by_id.get(parse_gid(variant["id"], "ProductVariant"))
            if target is None:
                errors.append(UserError(path + ["id"], "Product variant does not exist",
                                        "PRODUCT_VARIANT_DOES_NOT_EXIST"))
                continue
            fields, problems = variant_fields_from_graphql(variant)
            for field_name, message in problems:
                code = "NEGATIVE_PRICE_VALUE" if "negative" in message else "INVALID_INPUT"
                errors.append(UserError(path + [field_name], message, code))
            new_values = dict(zip((o["name"] for o in product["options"]), target["option_values"]))
            for value_index, value in enumerate(variant.get("optionValues") or []):
                option_name = value.get("optionName")
                if option_name not in new_values or not value.get("name"):
                    errors.append(UserError(path + ["optionValues", str(value_index)],
                                            f"Option '{option_name}' does not exist.", "INVALID_INPUT"))
                    continue
                new_values[option_name] = value["name"]
            if len(errors) == start:
                changes.append((target, fields, new_values))
        if errors and not allow_partial:
            return None, None, errors
        combos = {tuple(v["option_values"]): v["id"] for v in product["variants"]}
        moment = now()
        updated = []
        for target, fields, new_values in changes:
            values = [new_values[o["name"]] for o in product["options"]]
            holder = combos.get(tuple(values))
            if holder is not None and holder != target["id"]:
                errors.append(UserError(["variants"], f"The variant '{variant_title(values)}' already exists.",
                                        "INVALID_INPUT"))
                continue
            if values != target["option_values"]:
                for option, value in zip(product["options"], values):
                    if value not in (v["name"] for v in option["values"]):
                        option["values"].append({"id": self.state.new_id(), "name": value})
                combos.pop(tuple(target["option_values"]), None)
                combos[tuple(values)] = target["id"]
                target["option_values"] = values
                target["title"] = variant_title(values)
            apply_variant_fields(target, fields, moment)
            target["updated_at"] = moment
            updated.append(target)
        if updated:
            product["updated_at"] = moment
        return product, updated, errors

    def inventory_set_quantities(self, data: dict) -> tuple[list[dict] | None, list[UserError]]:
        """``inventorySetQuantities``: absolute quantities, compare-and-set unless ``ignoreCompareQuantity``.

        Only ``available`` is kept (no committed or reserved stock), so
        ``on_hand`` equals it and setting either sets both. All or nothing.
        Returns the ``InventoryChange`` rows (``name``, ``delta``,
        ``quantityAfterChange``, item and location ids).
        """
        errors: list[UserError] = []
        name = data.get("name")
        if name not in ("available", "on_hand"):
            errors.append(UserError(["input", "name"], "The quantity name must be either 'available' or 'on_hand'.",
                                    "INVALID_NAME"))
        if data.get("reason") not in INVENTORY_REASONS:
            errors.append(UserError(["input", "reason"], "The specified reason is invalid.", "INVALID_REASON"))
        ignore_compare = bool(data.get("ignoreCompareQuantity"))
        planned: list[tuple[dict, dict, int]] = []
        seen: set[tuple[int, int]] = set()
        for index, entry in enumerate(data.get("quantities") or []):
            path = ["input", "quantities", str(index)]
            found = self.inventory_item(parse_gid(entry.get("inventoryItemId"), "InventoryItem"))
            if found is None:
                errors.append(UserError(path + ["inventoryItemId"], "The specified inventory item could not be found.",
                                        "INVALID_INVENTORY_ITEM"))
                continue
            location = self.location(parse_gid(entry.get("locationId"), "Location"))
            if location is None:
                errors.append(UserError(path + ["locationId"], "The specified location could not be found.",
                                        "INVALID_LOCATION"))
                continue
            item_id = found[1]["inventory_item"]["id"]
            if (item_id, location["id"]) in seen:
                errors.append(UserError(path, "The combination of inventoryItemId and locationId must be unique.",
                                        "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR"))
                continue
            seen.add((item_id, location["id"]))
            level = self.level(item_id, location["id"])
            if level is None:
                errors.append(UserError(path + ["locationId"],
                                        "The specified inventory item is not stocked at the location.",
                                        "ITEM_NOT_STOCKED_AT_LOCATION"))
                continue
            quantity = entry.get("quantity")
            if quantity > QUANTITY_LIMIT:
                errors.append(UserError(path + ["quantity"], "The total quantity can't be higher than 1,000,000,000.",
                                        "INVALID_QUANTITY_TOO_HIGH"))
                continue
            if quantity < -QUANTITY_LIMIT:
                errors.append(UserError(path + ["quantity"], "The total quantity can't be lower than -1,000,000,000.",
                                        "INVALID_QUANTITY_TOO_LOW"))
                continue
            if name == "on_hand" and quantity < 0:
                errors.append(UserError(path + ["quantity"], "The quantity can't be negative.",
                                        "INVALID_QUANTITY_NEGATIVE"))
                continue
            if not ignore_compare:
                if entry.get("compareQuantity") is None:
                    errors.append(UserError(path + ["compareQuantity"],
                                            "The compareQuantity argument must be given to each quantity or ignored "
                                            "using ignoreCompareQuantity.", "COMPARE_QUANTITY_REQUIRED"))
                    continue
                if entry["compareQuantity"] != level["available"]:
                    errors.append(UserError(path + ["compareQuantity"],
                                            "The compareQuantity value does not match persisted value.",
                                            "COMPARE_QUANTITY_STALE"))
                    continue
            planned.append((found[1], location, quantity))
        if errors:
            return None, errors
        changes = []
        for variant, location, quantity in planned:
            item_id = variant["inventory_item"]["id"]
            before = self.level(item_id, location["id"])["available"]
            self.set_level(item_id, location["id"], quantity)
            for quantity_name in ("available", "on_hand"):
                changes.append({"name": quantity_name, "delta": quantity - before, "quantityAfterChange": quantity,
                                "inventory_item_id": item_id, "location_id": location["id"]})
        return changes, []

    def inventory_activate(self, item_gid: Any, location_gid: Any, available: int | None = None,
                           on_hand: int | None = None) -> tuple[dict | None, list[UserError]]:
        """``inventoryActivate``: stock an inventory item at a location (shopify.dev ``inventoryActivate``).

        The level starts at ``available`` (else ``on_hand``, else 0; only
        ``available`` is kept, see ``inventory_set_quantities``). An item
        already stocked there keeps its level: the quantities are initial
        ones. Refused: an unknown item or location, an inactive location
        ("You can stock inventory at active locations", shopify.dev
        ``Location``), a quantity out of range. Returns the level.
        """
        errors: list[UserError] = []
        found = self.inventory_item(parse_gid(item_gid, "InventoryItem"))
        if found is None:
            errors.append(UserError(["inventoryItemId"], "The specified inventory item could not be found."))
        location = self.location(parse_gid(location_gid, "Location"))
        if location is None:
            errors.append(UserError(["locationId"], "The specified location could not be found."))
        elif not location["active"]:
            errors.append(UserError(["locationId"], "The location is not active: inventory can only be stocked "
                                                    "at active locations."))
        quantity = available if available is not None else on_hand
        if quantity is not None and not -QUANTITY_LIMIT <= quantity <= QUANTITY_LIMIT:
            errors.append(UserError(["available" if available is not None else "onHand"],
                                    "The quantity is out of range."))
        if errors:
            return None, errors
        item_id = found[1]["inventory_item"]["id"]
        level = self.level(item_id, location["id"])
        if level is None:
            level = self.set_level(item_id, location["id"], int(quantity or 0))
        return level, []

    # ------------------------------------------------------------------ locations (the shop owner's admin)

    def add_location(self, name: str, **address: Any) -> dict:
        """A new active location named ``name``; ``address`` keys as in ``DEFAULT_LOCATIONS`` (all optional)."""
        if not str(name or "").strip():
            raise ValueError("a location needs a name")
        if any(loc["name"] == name for loc in self.locations()):
            raise ValueError(f"a location is already called {name!r}")  # Shopify: "Name has already been taken"
        moment = now()
        number = self.state.new_id()
        fields = {key: address.get(key) for key in ("address1", "city", "zip", "province", "province_code",
                                                     "country", "country_code", "country_name")}
        location = {"id": number, "name": str(name).strip(), **fields, "address2": None, "phone": None,
                    "active": True, "created_at": moment, "updated_at": moment}
        self.data["locations"][str(number)] = location
        return location

    def edit_location(self, number: int, *, name: str | None = None, active: bool | None = None) -> dict:
        """Rename and/or (de)activate a location. The primary location cannot be deactivated; deactivating
        drops the stock held there (see the module rules). Raises ``KeyError`` / ``ValueError``."""
        location = self.location(number)
        if location is None:
            raise KeyError(f"no location {number}")
        if name is not None:
            if not str(name).strip():
                raise ValueError("a location needs a name")
            if any(loc["name"] == name and loc["id"] != number for loc in self.locations()):
                raise ValueError(f"a location is already called {name!r}")
            location["name"] = str(name).strip()
        if active is not None and bool(active) != location["active"]:
            if not active and location["id"] == self.primary_location()["id"]:
                raise ValueError("the primary location cannot be deactivated")
            location["active"] = bool(active)
            if not active:
                for key in [k for k, lv in self.data["levels"].items() if lv["location_id"] == number]:
                    del self.data["levels"][key]
        location["updated_at"] = now()
        return location

    def delete_location(self, number: int) -> None:
        """Delete a deactivated location (Shopify deletes only deactivated ones). Raises ``KeyError`` / ``ValueError``."""
        location = self.location(number)
        if location is None:
            raise KeyError(f"no location {number}")
        if location["active"]:
            raise ValueError("only a deactivated location can be deleted")
        for key in [k for k, lv in self.data["levels"].items() if lv["location_id"] == number]:
            del self.data["levels"][key]
        del self.data["locations"][str(number)]

    # ------------------------------------------------------------------ REST writes

    def rest_create_product(self, body: Any) -> dict:
        """``POST products.json``; raises ``RestError`` (400 without a ``product`` object, 422 on bad fields)."""
        payload = _rest_payload(body)
        return self._rest_save(None, payload)

    def rest_update_product(self, product: dict, body: Any) -> dict:
        """``PUT products/{id}.json``: only given fields change; a ``variants`` list replaces the stored one."""
        payload = _rest_payload(body)
        return self._rest_save(product, payload)

    def _rest_save(self, product: dict | None, payload: dict) -> dict:
        errors: dict[str, list[str]] = {}
        creating = product is None
        if creating or "title" in payload:
            if not str(payload.get("title") or "").strip():
                errors.setdefault("title", []).append("can't be blank")
        if "status" in payload and payload["status"] not in PRODUCT_STATUSES:
            errors.setdefault("status", []).append("is not included in the list")
        handle = None
        if payload.get("handle"):
            handle = handleize(str(payload["handle"]))
            if self.handle_taken(handle, None if creating else product["id"]):
                errors.setdefault("handle", []).append("has already been taken")
        plan = None
        if "variants" in payload or (creating and "options" in payload):
            plan = self._rest_plan_variants(product, payload, errors)
        if errors:
            raise RestError(422, errors)
        moment = now()
        if creating:
            product = self._new_product(moment)
            self.data["products"][str(product["id"])] = product
        for key in ("title", "body_html", "vendor", "product_type", "template_suffix"):
            if key in payload:
                product[key] = payload[key] if key == "template_suffix" else str(payload[key] or "")
        if "tags" in payload:
            product["tags"] = split_tags(payload["tags"])
        if "status" in payload:
            product["status"] = payload["status"]
        if handle:
            product["handle"] = handle
        elif creating:
            product["handle"] = self._unique_handle(handleize(product["title"]))
        if product["status"] == "active" and product["published_at"] is None:
            product["published_at"] = moment
        if plan is not None:
            options, wanted = plan
            self._set_options(product, options)
            self._replace_variants(product, wanted, moment)
        elif creating:
            self._default_variant_setup(product, moment)
        product["updated_at"] = moment
        return product

    def _rest_plan_variants(self, product: dict | None, payload: dict,
                            errors: dict[str, list[str]]) -> tuple[list, list] | None:
        """Options and variants for a REST write: a variant with an ``id`` keeps its option values unless new
        ones are given; one without an ``id`` takes over a stored variant with the same values or is created."""
        variants_in = payload.get("variants")
        if variants_in is None or variants_in == []:
            variants_in = [{}]
        if not isinstance(variants_in, list) or not all(isinstance(v, dict) for v in variants_in):
            errors.setdefault("variants", []).append("is invalid")
            return None
        existing = {v["id"]: v for v in product["variants"]} if product else {}
        names = _rest_option_names(payload.get("options"), product)
        width = min(MAX_OPTIONS, max([len(names), 1] + [_rest_width(v) for v in variants_in]))
        names = (names + ["Title", "Option2", "Option3"][len(names):])[:width]
        wanted, seen, claimed = [], set(), set()
        for variant in variants_in:
            match = None
            if variant.get("id") is not None:
                match = existing.get(variant["id"])
                if match is None:
                    errors.setdefault("variants", []).append(f"variant {variant['id']} does not belong to this product")
                    continue
                claimed.add(match["id"])
            before = (list(match["option_values"]) if match else []) + [""] * width
            values = [str(variant.get(f"option{i + 1}") or before[i] or "").strip() for i in range(width)]
            if width == 1 and not values[0]:
                values = ["Default Title"]
            if not all(values):
                errors.setdefault("base", []).append("Every variant needs a value for each option.")
                continue
            combo = tuple(values)
            if combo in seen:
                errors.setdefault("base", []).append(f"The variant '{variant_title(values)}' already exists.")
                continue
            seen.add(combo)
            fields, problems = variant_fields_from_rest(variant)
            for field_name, message in problems:
                errors.setdefault(field_name, []).append(message)
            quantities = []
            if variant.get("inventory_quantity") is not None and match is None:
                quantity = variant["inventory_quantity"]
                if not isinstance(quantity, int) or isinstance(quantity, bool):
                    errors.setdefault("inventory_quantity", []).append("is not a number")
                else:
                    quantities = [(self.primary_location()["id"], quantity)]
            wanted.append({"match": match, "values": values, "fields": fields, "quantities": quantities,
                           "combo": combo})
        if errors:
            return None
        for want in wanted:
            if want["match"] is None:
                for variant in existing.values():
                    if variant["id"] not in claimed and tuple(variant["option_values"]) == want["combo"]:
                        want["match"] = variant
                        claimed.add(variant["id"])
                        break
        options = []
        for index, name in enumerate(names):
            values = []
            for want in wanted:
                if want["values"][index] not in values:
                    values.append(want["values"][index])
            options.append((name, values))
        return options, wanted

    def rest_set_level(self, body: Any) -> dict:
        """``POST inventory_levels/set.json``: connects the item to the location first when needed (REST docs)."""
        if not isinstance(body, dict):
            raise RestError(400, {"inventory_item_id": "Required parameter missing or invalid"})
        missing = [key for key in ("inventory_item_id", "location_id", "available") if body.get(key) is None]
        if missing:
            raise RestError(400, {missing[0]: "Required parameter missing or invalid"})
        if not all(isinstance(body[key], int) and not isinstance(body[key], bool)
                   for key in ("inventory_item_id", "location_id", "available")):
            raise RestError(400, {"available": "Required parameter missing or invalid"})
        found = self.inventory_item(body["inventory_item_id"])
        location = self.location(body["location_id"])
        if found is None or location is None:
            raise RestError(404, "Not Found")
        if not found[1]["inventory_item"]["tracked"]:
            raise RestError(422, ["Inventory item does not have inventory tracking enabled"])
        if abs(body["available"]) > QUANTITY_LIMIT:
            raise RestError(422, {"available": ["must be less than or equal to 1000000000"]})
        return self.set_level(found[1]["inventory_item"]["id"], location["id"], body["available"])

    def rest_create_webhook(self, body: Any, api_version: str) -> dict:
        """``POST webhooks.json``: topic from ``WEBHOOK_TOPICS``, http(s) address, format json, no duplicates."""
        if not isinstance(body, dict) or not isinstance(body.get("webhook"), dict):
            raise RestError(400, {"webhook": "Required parameter missing or invalid"})
        hook = body["webhook"]
        errors: dict[str, list[str]] = {}
        topic, address, fmt = hook.get("topic"), hook.get("address"), hook.get("format", "json")
        if topic not in WEBHOOK_TOPICS:
            errors["topic"] = [f"Invalid topic specified: {topic}. Topics allowed: {', '.join(WEBHOOK_TOPICS)}"]
        if not isinstance(address, str) or not re.match(r"^https?://[^\s/$.?#].[^\s]*$", address):
            errors["address"] = ["is invalid"]
        elif any(w["address"] == address and w["topic"] == topic for w in self.data["webhooks"].values()):
            errors["address"] = ["for this topic has already been taken"]
        if fmt != "json":
            errors["format"] = ["is not included in the list"]
        if errors:
            raise RestError(422, errors)
        moment = now()
        webhook = {"id": self.state.new_id(), "address": address, "topic": topic, "format": "json",
                   "fields": list(hook.get("fields") or []), "api_version": api_version,
                   "created_at": moment, "updated_at": moment}
        self.data["webhooks"][str(webhook["id"])] = webhook
        return webhook

    # ------------------------------------------------------------------ the shop owner's edits

    def owner_edit(self, product: dict, changes: dict) -> dict:
        """An edit made in the Shopify admin: product fields and, under ``variants``, per-variant changes.

        Keys: ``title``, ``body_html``, ``vendor``, ``product_type``,
        ``tags`` (list or comma string), ``status``, ``handle``,
        ``template_suffix``; ``variants``: ``[{"id" or "sku", "price",
        "compare_at_price", "sku", "barcode", "inventory_policy", "taxable",
        "inventory_quantity" (set at ``location_id`` when given, stocking the
        item there as the admin does, else at the primary location)}]``. Unlike an API
        write, variants not listed stay. Raises ``ValueError`` on an unknown
        key or a bad value.
        """
        allowed = {"title", "body_html", "vendor", "product_type", "tags", "status", "handle", "template_suffix",
                   "variants"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot edit {', '.join(sorted(unknown))}; editable: {', '.join(sorted(allowed))}")
        if "title" in changes and not str(changes["title"] or "").strip():
            raise ValueError("title can't be blank")
        if "status" in changes and changes["status"] not in PRODUCT_STATUSES:
            raise ValueError(f"status must be one of {', '.join(PRODUCT_STATUSES)}")
        handle = None
        if changes.get("handle"):
            handle = handleize(str(changes["handle"]))
            if self.handle_taken(handle, product["id"]):
                raise ValueError(f"handle {handle!r} is taken")
        planned = []
        for entry in changes.get("variants") or []:
            if not isinstance(entry, dict):
                raise ValueError("each variant change is an object")
            target = next((v for v in product["variants"]
                           if v["id"] == entry.get("id") or ("id" not in entry and entry.get("sku") == v["sku"])), None)
            if target is None:
                raise ValueError(f"no variant {entry.get('id', entry.get('sku'))!r} in product {product['id']}")
            fields, problems = variant_fields_from_rest({k: v for k, v in entry.items()
                                                         if k not in ("id", "inventory_quantity", "location_id")
                                                         and not ("id" not in entry and k == "sku")})
            if problems:
                raise ValueError("; ".join(f"{name} {message}" for name, message in problems))
            quantity = entry.get("inventory_quantity")
            if quantity is not None and (not isinstance(quantity, int) or isinstance(quantity, bool)):
                raise ValueError("inventory_quantity must be an integer")
            where = self.primary_location()
            if entry.get("location_id") is not None:
                wanted_location = entry["location_id"]  # a number or a Location GID
                if isinstance(wanted_location, str):
                    wanted_location = parse_gid(wanted_location, "Location")
                where = self.location(wanted_location)
                if where is None or not where["active"]:
                    raise ValueError(f"no active location {entry['location_id']!r}")
            planned.append((target, fields, quantity, where["id"]))
        moment = now()
        for key in ("title", "body_html", "vendor", "product_type", "template_suffix"):
            if key in changes:
                product[key] = changes[key] if key == "template_suffix" else str(changes[key] or "")
        if "tags" in changes:
            product["tags"] = split_tags(changes["tags"])
        if "status" in changes:
            product["status"] = changes["status"]
        if handle:
            product["handle"] = handle
        for target, fields, quantity, location_id in planned:
            apply_variant_fields(target, fields, moment)
            target["updated_at"] = moment
            if quantity is not None:
                self.set_level(target["inventory_item"]["id"], location_id, quantity)
        product["updated_at"] = moment
        return product

    # ------------------------------------------------------------------ REST shapes

    def rest_product(self, product: dict) -> dict:
        """A product as REST ``products/{id}.json`` and the ``products/update`` webhook show it."""
        return {
            "id": product["id"], "title": product["title"], "body_html": product["body_html"],
            "vendor": product["vendor"], "product_type": product["product_type"],
            "created_at": rest_time(product["created_at"]), "handle": product["handle"],
            "updated_at": rest_time(product["updated_at"]), "published_at": rest_time(product["published_at"]),
            "template_suffix": product["template_suffix"], "published_scope": "global",
            "tags": ", ".join(product["tags"]), "status": product["status"],
            "admin_graphql_api_id": gid("Product", product["id"]),
            "variants": [self.rest_variant(product, v) for v in product["variants"]],
            "options": [{"id": o["id"], "product_id": product["id"], "name": o["name"], "position": o["position"],
                         "values": [v["name"] for v in o["values"]]} for o in product["options"]],
            "images": [], "image": None,
        }

    def rest_variant(self, product: dict, variant: dict) -> dict:
        values = list(variant["option_values"]) + [None, None, None]
        quantity = self.inventory_quantity(variant)
        weight = variant["inventory_item"].get("weight") or {"unit": "KILOGRAMS", "value": 0.0}
        return {
            "id": variant["id"], "product_id": product["id"], "title": variant["title"], "price": variant["price"],
            "position": variant["position"], "inventory_policy": variant["inventory_policy"],
            "compare_at_price": variant["compare_at_price"], "option1": values[0] or None,
            "option2": values[1] or None, "option3": values[2] or None,
            "created_at": rest_time(variant["created_at"]), "updated_at": rest_time(variant["updated_at"]),
            "taxable": variant["taxable"], "barcode": variant["barcode"], "fulfillment_service": "manual",
            "grams": round(weight["value"] * GRAMS_PER_UNIT[weight["unit"]]),
            "inventory_management": "shopify" if variant["inventory_item"]["tracked"] else None,
            "requires_shipping": variant["inventory_item"]["requires_shipping"], "sku": variant["sku"],
            "weight": weight["value"], "weight_unit": REST_WEIGHT_UNITS[weight["unit"]],
            "inventory_item_id": variant["inventory_item"]["id"],
            "inventory_quantity": quantity, "old_inventory_quantity": quantity,
            "admin_graphql_api_id": gid("ProductVariant", variant["id"]), "image_id": None,
        }

    def rest_location(self, location: dict) -> dict:
        return {
            "id": location["id"], "name": location["name"], "deleted_at": None, "address1": location["address1"],
            "address2": location["address2"], "city": location["city"], "zip": location["zip"],
            "province": location["province"], "country": location["country"], "phone": location["phone"],
            "created_at": rest_time(location["created_at"]), "updated_at": rest_time(location["updated_at"]),
            "country_code": location["country_code"], "country_name": location["country_name"],
            "province_code": location["province_code"], "legacy": False, "active": location["active"],
            "admin_graphql_api_id": gid("Location", location["id"]),
        }

    @staticmethod
    def rest_level(level: dict) -> dict:
        return {"inventory_item_id": level["inventory_item_id"], "location_id": level["location_id"],
                "available": level["available"], "updated_at": rest_time(level["updated_at"]),
                "admin_graphql_api_id": gid("InventoryLevel", level["inventory_item_id"])
                + f"?inventory_item_id={level['inventory_item_id']}"}

    @staticmethod
    def rest_webhook(webhook: dict) -> dict:
        return {"id": webhook["id"], "address": webhook["address"], "topic": webhook["topic"],
                "created_at": rest_time(webhook["created_at"]), "updated_at": rest_time(webhook["updated_at"]),
                "format": webhook["format"], "fields": webhook["fields"], "metafield_namespaces": [],
                "api_version": webhook["api_version"], "private_metafield_namespaces": [],
                "admin_graphql_api_id": gid("WebhookSubscription", webhook["id"])}

    def rest_shop(self) -> dict:
        primary = self.primary_location()
        return {"id": self.shop_id, "name": self.name, "email": f"owner@{self.domain}", "domain": self.domain,
                "myshopify_domain": self.domain, "province": primary["province"], "country": primary["country"],
                "currency": "USD", "timezone": "(GMT+00:00) UTC", "iana_timezone": "UTC",
                "plan_name": self.plan_name, "plan_display_name": self.plan_display_name,
                "primary_location_id": primary["id"], "weight_unit": "kg", "money_format": "${{amount}}",
                "has_storefront": True, "setup_required": False, "created_at": rest_time(primary["created_at"])}


# --------------------------------------------------------------------------- variant fields


def variant_fields_from_graphql(variant: dict) -> tuple[dict, list[tuple[str, str]]]:
    """``ProductVariantSetInput`` / ``ProductVariantsBulkInput`` to stored fields, and problems as (field, message)."""
    fields: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    if "price" in variant:
        if variant["price"] is None:
            problems.append(("price", "Price can't be blank"))
        elif variant["price"] < 0:
            problems.append(("price", "Price cannot take a negative value."))
        else:
            fields["price"] = money(variant["price"])
    if "compareAtPrice" in variant:
        if variant["compareAtPrice"] is not None and variant["compareAtPrice"] < 0:
            problems.append(("compareAtPrice", "Compare at price cannot take a negative value."))
        else:
            fields["compare_at_price"] = money(variant["compareAtPrice"]) if variant["compareAtPrice"] is not None \
                else None
    for key, target in (("sku", "sku"), ("barcode", "barcode"), ("taxable", "taxable")):
        if key in variant:
            fields[target] = variant[key] if key != "sku" else (variant[key] or "")
    if variant.get("inventoryPolicy"):
        fields["inventory_policy"] = variant["inventoryPolicy"].lower()
    item = variant.get("inventoryItem") or {}
    if "sku" in item:
        fields["sku"] = item["sku"] or ""
    if item.get("tracked") is not None:
        fields["tracked"] = bool(item["tracked"])
    if item.get("requiresShipping") is not None:
        fields["requires_shipping"] = bool(item["requiresShipping"])
    weight = (item.get("measurement") or {}).get("weight")
    if weight is not None:
        if weight["value"] < 0:
            problems.append(("inventoryItem", "Weight cannot take a negative value."))
        else:
            fields["weight"] = {"unit": weight["unit"], "value": float(weight["value"])}
    if "cost" in item:
        if item["cost"] is not None and item["cost"] < 0:
            problems.append(("inventoryItem", "Cost cannot take a negative value."))
        else:
            fields["cost"] = money(item["cost"]) if item["cost"] is not None else None
    return fields, problems


def variant_fields_from_rest(variant: dict) -> tuple[dict, list[tuple[str, str]]]:
    """A REST variant object to stored fields, and problems as (field, message) in REST's wording."""
    fields: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    if "price" in variant:
        amount = to_decimal(variant["price"])
        if amount is None:
            problems.append(("price", "is not a number"))
        elif amount < 0:
            problems.append(("price", "must be greater than or equal to 0"))
        else:
            fields["price"] = money(amount)
    if "compare_at_price" in variant:
        if variant["compare_at_price"] in (None, ""):
            fields["compare_at_price"] = None
        else:
            amount = to_decimal(variant["compare_at_price"])
            if amount is None or amount < 0:
                problems.append(("compare_at_price", "must be greater than or equal to 0"))
            else:
                fields["compare_at_price"] = money(amount)
    if "sku" in variant:
        fields["sku"] = str(variant["sku"] or "")
    if "barcode" in variant:
        fields["barcode"] = variant["barcode"]
    if "taxable" in variant:
        fields["taxable"] = bool(variant["taxable"])
    if "requires_shipping" in variant:
        fields["requires_shipping"] = bool(variant["requires_shipping"])
    if "weight" in variant or "grams" in variant:
        unit = {v: k for k, v in REST_WEIGHT_UNITS.items()}.get(variant.get("weight_unit", "kg"))
        value = variant.get("weight") if "weight" in variant else variant.get("grams")
        if "weight" not in variant:
            unit = "GRAMS"
        if unit is None:
            problems.append(("weight_unit", "is not included in the list"))
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            problems.append(("weight", "must be greater than or equal to 0"))
        else:
            fields["weight"] = {"unit": unit, "value": float(value)}
    if "inventory_policy" in variant:
        if variant["inventory_policy"] not in INVENTORY_POLICIES:
            problems.append(("inventory_policy", "is not included in the list"))
        else:
            fields["inventory_policy"] = variant["inventory_policy"]
    if "inventory_management" in variant:
        if variant["inventory_management"] not in (None, "shopify"):
            problems.append(("inventory_management", "is not included in the list"))
        else:
            fields["tracked"] = variant["inventory_management"] == "shopify"
    return fields, problems


def apply_variant_fields(variant: dict, fields: dict, moment: str) -> None:
    item = variant["inventory_item"]
    for key, value in fields.items():
        if key in ("tracked", "requires_shipping", "cost", "weight"):
            if item.get(key) != value:
                item[key] = value
                item["updated_at"] = moment
        else:
            variant[key] = value


def _rest_payload(body: Any) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get("product"), dict):
        raise RestError(400, {"product": "Required parameter missing or invalid"})
    return body["product"]


def _rest_option_names(options: Any, product: dict | None) -> list[str]:
    if isinstance(options, list) and options:
        names = []
        for option in options[:MAX_OPTIONS]:
            name = option.get("name") if isinstance(option, dict) else option
            names.append(str(name or f"Option{len(names) + 1}"))
        return names
    if product and product["options"]:
        return [o["name"] for o in product["options"]]
    return []


def _rest_width(variant: dict) -> int:
    for width in (3, 2, 1):
        if variant.get(f"option{width}") not in (None, ""):
            return width
    return 1
