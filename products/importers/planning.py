"""The plan of an import: what applying a validated file would do to the catalog, computed without writing.

``plan_catalog(organization, products, *, mode, file_sha256)`` matches the file's products to the
catalog and returns a ``CatalogPlan``; ``CatalogPlan.as_json()`` is what the preview page, the approval
request and ``manage.py import_catalog --dry-run --json`` show (shape below), and
``CatalogPlan.fingerprint`` the SHA-256 of every decision and of the catalog state each one was made
on: applying re-plans first and writes only when the fingerprint is unchanged (the bulk operations'
rule, ``products.bulk.apply``).

Matching (issue 12, item 4): a product by its handle (the file's handle column, URL key, or the slug
of its SKU); never by name. A product whose handle came from its title (no SKU, no handle column) is
created under a free handle when the catalog already has that handle, and the plan warns about it.

Plan JSON::

    {"format", "mode", "counts": {"products", "create", "update", "unchanged", "variants_create",
     "variants_update", "variants_remove", "variants_unchanged"},
     "products": [{"row", "handle", "title", "action", "product_id", "fields", "emptied",
                   "variants": {"create", "update", "remove"}}],   # changes first, PRODUCTS_KEPT at most
     "price_drops": [{"row", "handle", "sku", "old", "new", "percent"}],
     "removed_variants": [{"handle", "sku", "title"}], "emptied_fields": [{"row", "handle", "field"}],
     "renamed": {"original handle": "handle used"}, "stores": [...], "warnings": [{"row", "column", "message"}],
     "approval": {"required", "rules", "reasons"}}

Money in the plan is a Decimal string in the organization's ISO currency; percent a Decimal string.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal

from products.importers import PRODUCT_FIELDS, VARIANT_FIELDS, fields_to_write, is_blank, match_variants
from products.importers.common import ProductData
from products.models import Product
from products.services import price_drop_percent

#: Products listed in the stored plan (changes first); the counts always cover the whole file.
PRODUCTS_KEPT = 500
#: Rows kept per list of the plan (price drops, removed variants, emptied fields).
ROWS_KEPT = 1000
_QUERY_CHUNK = 500
#: Variant labels listed per product in the stored plan.
LABELS_KEPT = 20


def _label(variant) -> str:
    """A catalog variant in words: its option values ("Red / M"), else "variant N"."""
    return " / ".join(str(x) for x in (variant.option_values or {}).values()) or f"variant {variant.position}"


@dataclass
class ProductDecision:
    """What applying does to one product of the file: ``action`` "create" | "update" | "unchanged"."""

    data: ProductData
    action: str
    product: Product | None
    mode: str = "merge"
    fields: list[str] = field(default_factory=list)
    emptied: list[str] = field(default_factory=list)
    variants_create: list[str] = field(default_factory=list)  # SKUs (or "variant N") of new variants
    variants_update: list[str] = field(default_factory=list)  # SKUs (or "variant N") of changed variants
    variants_remove: list = field(default_factory=list)  # catalog Variants the file removes (replace mode)
    variants_unchanged: int = 0
    price_drops: list[dict] = field(default_factory=list)
    prices_changed: int = 0
    #: the catalog variant each of the file's variants updates (None: created), in file order
    matched: list = field(default_factory=list)

    def snapshots(self) -> tuple[dict, dict]:
        """``(before, after)`` in ``Product.snapshot()``'s shape for a reviewer's diff (``approvals.diff``);
        ``before`` is ``{}`` for a product the import creates. Blank cells keep the catalog's value in merge."""
        data = self.data
        before = self.product.snapshot() if self.product is not None else {}
        after = dict(before) if before else {"handle": data.handle}
        for name in PRODUCT_FIELDS:
            if self.product is None or name in self.fields:
                after[name] = _json(getattr(data, name))
        old_variants = {v.pk: v.snapshot() for v in self.product.variants.all()} if self.product is not None else {}
        variants = []
        for variant_data, variant in zip(data.variants, self.matched or [None] * len(data.variants), strict=True):
            snap = dict(old_variants.pop(variant.pk)) if variant is not None else {}
            for name in ("sku", "position", "price", "compare_at_price", "stock", "option_values", "barcode"):
                value = getattr(variant_data, name)
                if variant is None or name in fields_to_write(variant, variant_data, (name,), self.mode):
                    snap[name] = _json(value)
            variants.append(snap)
        removed = {v.pk for v in self.variants_remove}
        variants += [snap for pk, snap in old_variants.items() if pk not in removed]  # merge keeps them
        after["variants"] = variants
        return before, after

    def as_json(self) -> dict:
        return {
            "row": self.data.row, "handle": self.data.handle, "title": self.data.title, "action": self.action,
            "product_id": self.product.pk if self.product else None, "matched_by": self.matched_by,
            "fields": self.fields, "emptied": self.emptied,
            "variants": {"create": self.variants_create[:LABELS_KEPT], "update": self.variants_update[:LABELS_KEPT],
                         "remove": [_label(v) for v in self.variants_remove][:LABELS_KEPT]},
        }

    @property
    def matched_by(self) -> str | None:
        """How the catalog product was found: "handle" (the file's handle column / URL key), "sku" (the handle
        is the slug of the SKU), or None for a product the import creates."""
        if self.product is None:
            return None
        return "sku" if self.data.handle_source == "sku" else "handle"

    def state(self) -> list:
        """The decision and the catalog state it rests on, for the fingerprint."""
        product = self.product
        return [self.data.handle, self.action, product.pk if product else None,
                product.updated_at.isoformat() if product else "", self.fields,
                [v.pk for v in self.variants_remove], self.variants_create, self.variants_update]


@dataclass
class CatalogPlan:
    """``decisions`` per product of the file, in file order; ``renamed``: handle in the file → handle used."""

    format: str
    mode: str
    decisions: list[ProductDecision]
    renamed: dict[str, str]
    warnings: list[dict]
    fingerprint: str
    stores: list[dict] = field(default_factory=list)
    approval: dict = field(default_factory=lambda: {"required": False, "rules": [], "reasons": []})
    #: the ``approvals.rules.Policy`` that holds the plan, or None (``products.imports.policy_for_plan``)
    policy: object = None

    @property
    def counts(self) -> dict:
        counts = {"products": len(self.decisions), "create": 0, "update": 0, "unchanged": 0, "variants_create": 0,
                  "variants_update": 0, "variants_remove": 0, "variants_unchanged": 0}
        for d in self.decisions:
            counts[d.action] += 1
            counts["variants_create"] += len(d.variants_create)
            counts["variants_update"] += len(d.variants_update)
            counts["variants_remove"] += len(d.variants_remove)
            counts["variants_unchanged"] += d.variants_unchanged
        return counts

    @property
    def changed(self) -> list[ProductDecision]:
        return [d for d in self.decisions if d.action != "unchanged"]

    @property
    def price_drops(self) -> list[dict]:
        return [drop for d in self.decisions for drop in d.price_drops]

    def largest_price_drop(self) -> tuple[Decimal, str]:
        """(percent, SKU or handle) of the largest price cut, (0, "") when no price drops."""
        drops = self.price_drops
        if not drops:
            return Decimal(0), ""
        worst = max(drops, key=lambda drop: Decimal(drop["percent"]))
        return Decimal(worst["percent"]), worst["sku"] or worst["handle"]

    def as_json(self) -> dict:
        changed = self.changed
        kept = changed[:PRODUCTS_KEPT]
        kept += [d for d in self.decisions if d.action == "unchanged"][: max(0, min(50, PRODUCTS_KEPT - len(kept)))]
        return {
            "format": self.format,
            "mode": self.mode,
            "counts": self.counts,
            "products": [d.as_json() for d in kept],
            "price_drops": self.price_drops[:ROWS_KEPT],
            "removed_variants": [
                {"handle": d.data.handle, "sku": v.sku, "title": _label(v)}
                for d in self.decisions for v in d.variants_remove
            ][:ROWS_KEPT],
            "emptied_fields": [{"row": d.data.row, "handle": d.data.handle, "field": name}
                               for d in self.decisions for name in d.emptied][:ROWS_KEPT],
            "renamed": self.renamed,
            "stores": self.stores,
            "warnings": self.warnings,
            "approval": self.approval,
        }


def _json(value):
    """A JSON-safe copy: Decimals as strings, tuples as lists."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


def plan_catalog(organization, products: list[ProductData], *, mode: str, file_sha256: str = "",
                 format: str = "", warnings: list[dict] | None = None) -> CatalogPlan:
    """Match ``products`` (validated, ``parse_catalog``'s result) to ``organization``'s catalog; write nothing.

    Renames a title-derived handle that the catalog already holds (``ProductData.handle`` is changed in
    place, so the same list can then be given to ``apply_catalog``). ``mode``: "merge" or "replace" (see
    ``products.importers.apply_catalog``). Returns a ``CatalogPlan`` whose ``fingerprint`` covers
    ``file_sha256``, ``mode`` and every decision with the catalog state it was made on.
    """
    warnings = list(warnings or [])
    renamed = _free_handles(organization, products, warnings)
    existing = _existing(organization, [p.handle for p in products])
    decisions = [_decide(data, existing.get(data.handle), mode) for data in products]
    digest = hashlib.sha256(f"{file_sha256}:{mode}:".encode())
    for decision in decisions:
        digest.update(json.dumps(decision.state(), default=str).encode())
    return CatalogPlan(format, mode, decisions, renamed, warnings, digest.hexdigest())


def apply_renames(products: list[ProductData], renamed: dict[str, str]) -> None:
    """Give the file's products the handles the plan chose (``CatalogPlan.renamed``), in place."""
    for data in products:
        data.handle = renamed.get(data.handle, data.handle)


def _free_handles(organization, products: list[ProductData], warnings: list[dict]) -> dict[str, str]:
    """Never match by name: a title-derived handle the catalog holds gets the next free "-2", "-3"… handle."""
    by_title = [p for p in products if p.handle_source == "title"]
    if not by_title:
        return {}
    taken = set()
    wanted = [p.handle for p in by_title]
    for start in range(0, len(wanted), _QUERY_CHUNK):
        taken |= set(Product.objects.filter(organization=organization, handle__in=wanted[start:start + _QUERY_CHUNK])
                     .values_list("handle", flat=True))
    in_file = {p.handle for p in products}
    clashing = [p.handle for p in by_title if p.handle in taken]
    candidates = [f"{base}-{k}" for base in clashing for k in range(2, 102)]
    for start in range(0, len(candidates), _QUERY_CHUNK):
        taken |= set(Product.objects.filter(organization=organization,
                                            handle__in=candidates[start:start + _QUERY_CHUNK])
                     .values_list("handle", flat=True))
    renamed = {}
    for data in by_title:
        if data.handle not in taken:
            warnings.append({"row": data.row, "column": "SKU",
                             "message": f"no SKU: “{data.title}” is created as a new product (handle {data.handle}); "
                                        "products are never matched by name"})
            continue
        base, n = data.handle, 2
        while f"{base}-{n}" in taken or f"{base}-{n}" in in_file or f"{base}-{n}" in renamed.values():
            n += 1
        renamed[base] = f"{base}-{n}"
        warnings.append({"row": data.row, "column": "SKU",
                         "message": f"no SKU: “{data.title}” is created as a new product (handle {base}-{n}); "
                                    f"the catalog's product with handle {base} is left alone, because products "
                                    "are never matched by name"})
    apply_renames(products, renamed)
    return renamed


def _existing(organization, handles: list[str]) -> dict[str, Product]:
    found = {}
    for start in range(0, len(handles), _QUERY_CHUNK):
        for product in (Product.objects.filter(organization=organization, handle__in=handles[start:start + _QUERY_CHUNK])
                        .prefetch_related("variants")):
            found[product.handle] = product
    return found


def _decide(data: ProductData, product: Product | None, mode: str) -> ProductDecision:
    if product is None:
        return ProductDecision(data, "create", None, mode,
                               variants_create=[v.sku or f"variant {v.position}" for v in data.variants])
    decision = ProductDecision(data, "unchanged", product, mode)
    decision.fields = fields_to_write(product, data, PRODUCT_FIELDS, mode)
    if product.deleted_at is not None:
        decision.fields.append("deleted_at")
    decision.emptied = [name for name in decision.fields
                        if name in PRODUCT_FIELDS and not is_blank(getattr(product, name)) and is_blank(getattr(data, name))]
    old = list(product.variants.all())
    matched = decision.matched = match_variants(old, data.variants)
    for variant_data, variant in zip(data.variants, matched, strict=True):
        who = variant_data.sku or f"variant {variant_data.position}"
        if variant is None:
            decision.variants_create.append(who)
            continue
        changed = fields_to_write(variant, variant_data, VARIANT_FIELDS, mode)
        if not changed:
            decision.variants_unchanged += 1
            continue
        decision.variants_update.append(who)
        decision.emptied += [f"{name} of {who}" for name in changed
                             if not is_blank(getattr(variant, name)) and is_blank(getattr(variant_data, name))]
        if "price" in changed:
            decision.prices_changed += 1
            percent = price_drop_percent(variant.price, variant_data.price)
            if percent > 0:
                decision.price_drops.append({
                    "row": variant_data.row, "handle": data.handle, "sku": variant_data.sku,
                    "old": str(variant.price), "new": "" if variant_data.price is None else str(variant_data.price),
                    "percent": str(percent),
                })
    if mode == "replace":
        kept = {v.pk for v in matched if v is not None}
        decision.variants_remove = [v for v in old if v.pk not in kept]
    if decision.fields or decision.variants_create or decision.variants_update or decision.variants_remove:
        decision.action = "update"
    return decision
