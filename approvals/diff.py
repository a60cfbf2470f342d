"""What a reviewer reads: diffs of the snapshots a request carries, rendered server-side.

Shapes (all JSON, see ``ApprovalRequest``):

- product change: ``before``/``after`` are ``Product.snapshot()``
  (``after == {}`` for a delete) → ``snapshot_diff`` (field by field, text
  fields highlighted inline), ``variant_summary`` and ``image_changes``;
- rule change: ``ApprovalRule.snapshot()`` → ``field_diff`` with ``RULE_FIELDS``;
- bulk change: ``after["bulk"] = {"items": [{"store": "Emulated Woo",
  "action": "update", "title": "Beanie", "before": {...}, "after": {...}}]}``
  → ``bulk_summary`` (counts per store and action, a page of sample diffs);
- sync conflict: ``before["store_snapshot"]`` (what the store holds now) and
  optionally ``before["synced_snapshot"]`` (what we last pushed: the common
  ancestor); the rest of ``before`` is the catalog as the conflict was
  found → ``three_way_diff`` (last synced, catalog, store).

``review_context(approval, page)`` picks the renderer; the detail template
switches on its ``kind``.
"""

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher

from django.core.paginator import Paginator
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PRODUCT_FIELDS = [
    ("title", "Title"),
    ("status", "Status"),
    ("sku", "Parent SKU"),
    ("kind", "Type"),
    ("description", "Description"),
    ("short_description", "Short description"),
    ("vendor", "Vendor"),
    ("product_type", "Product type"),
    ("categories", "Categories"),
    ("tags", "Tags"),
    ("images", "Images"),
    ("weight_grams", "Weight (g)"),
]
VARIANT_FIELDS = [
    ("price", "Price"),
    ("compare_at_price", "Compare-at price"),
    ("stock", "Stock"),
    ("option_values", "Options"),
    ("barcode", "Barcode"),
]
#: Fields whose changes are highlighted word by word.
TEXT_FIELDS = {"title", "description", "short_description"}
MONEY_FIELDS = {"price", "compare_at_price"}
#: Texts longer than this are shown whole, without word-level highlighting (difflib is quadratic).
INLINE_DIFF_LIMIT = 20_000

RULE_FIELDS = [
    ("resource_type", "Resource"),
    ("action", "Action"),
    ("price_drop_over_percent", "Only when a price drops by more than (%)"),
    ("listings_touched_over", "Only when more listings are touched than"),
    ("approver_role", "Approver role"),
    ("min_approvals", "Approvals needed"),
    ("expiry_minutes", "Expires after (minutes)"),
    ("tiers", "Escalation"),
    ("notify_on_request", "Notify reviewers of new requests"),
    ("notify_on_decision", "Notify the requester of the outcome"),
    ("is_enabled", "Enabled"),
]
CONTEXT_KEYS = ("store_snapshot", "synced_snapshot")


@dataclass
class DiffRow:
    """One line of the diff.

    ``scope`` is "Product" or a variant's SKU; ``kind`` is "added",
    "removed" or "changed" for variant rows ("" for product fields);
    ``change`` e.g. "−40.0%"; ``before_html``/``after_html`` hold the
    escaped, word-highlighted text of changed text fields.
    """

    scope: str
    field: str
    before: object
    after: object
    changed: bool
    change: str = ""
    kind: str = ""
    before_html: SafeString | None = None
    after_html: SafeString | None = None


_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def inline_diff(old: str, new: str) -> tuple[SafeString, SafeString]:
    """``old`` and ``new`` escaped, with removed words in ``<del class="diff-del">`` and added
    words in ``<ins class="diff-ins">`` (difflib over word, space and punctuation tokens)."""
    old, new = old or "", new or ""
    if len(old) > INLINE_DIFF_LIMIT or len(new) > INLINE_DIFF_LIMIT:
        return mark_safe(escape(old)), mark_safe(escape(new))
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    before, after = [], []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        old_part, new_part = escape("".join(a[i1:i2])), escape("".join(b[j1:j2]))
        if op == "equal":
            before.append(old_part)
            after.append(new_part)
            continue
        if old_part:
            before.append(f'<del class="diff-del">{old_part}</del>')
        if new_part:
            after.append(f'<ins class="diff-ins">{new_part}</ins>')
    return mark_safe("".join(before)), mark_safe("".join(after))


def _display(value):
    """Lists (images, tags) read as one item per line; mappings as "key: value"; everything else as is."""
    if isinstance(value, list):
        return "\n".join(str(item) for item in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "—"
    return value


def percent_change(before, after) -> str:
    """"+12.5%" / "−40.0%" between two amounts; "" when either is missing or the old one is zero."""
    try:
        old, new = Decimal(str(before)), Decimal(str(after))
    except (InvalidOperation, TypeError, ValueError):
        return ""
    if old == 0 or old == new:
        return ""
    pct = ((new - old) / old * 100).quantize(Decimal("0.1"))
    return f"{'+' if pct > 0 else '−'}{abs(pct)}%"



def _variant_key(variant: dict) -> str:
    return variant.get("sku") or f"#{variant.get('position')}"


def _row(scope, key, label, old, new, *, kind="", deleted=False) -> DiffRow:
    changed = deleted or old != new
    row = DiffRow(scope, label, _display(old), None if deleted else _display(new), changed, kind=kind)
    if changed and key in MONEY_FIELDS and not deleted:
        row.change = percent_change(old, new)
    if changed and key in TEXT_FIELDS and not deleted and isinstance(old, str) and isinstance(new, str):
        row.before_html, row.after_html = inline_diff(old, new)
    return row


def snapshot_diff(before: dict, after: dict) -> list[DiffRow]:
    """Rows for every product and variant field; ``after == {}`` means the product is deleted.

    Variants are matched by SKU (or position). An added variant gets rows
    with no "before", a removed one rows with no "after", both marked by
    ``kind``. Money fields carry the percentage change; text fields carry
    inline highlighting.
    """
    before, after = comparable(before), comparable(after)
    deleted = not after
    rows = [_row("Product", key, label, before.get(key), after.get(key), deleted=deleted) for key, label in PRODUCT_FIELDS]
    old_variants = {_variant_key(v): v for v in before.get("variants", [])}
    new_variants = {} if deleted else {_variant_key(v): v for v in after.get("variants", [])}
    for key in list(old_variants) + [k for k in new_variants if k not in old_variants]:
        old, new = old_variants.get(key), new_variants.get(key)
        if old is None:
            for name, label in VARIANT_FIELDS:
                rows.append(DiffRow(key, label, None, _display(new.get(name)), True, kind="added"))
            continue
        if new is None:
            for name, label in VARIANT_FIELDS:
                rows.append(DiffRow(key, label, _display(old.get(name)), None, True, kind="removed"))
            continue
        for name, label in VARIANT_FIELDS:
            row = _row(key, name, label, old.get(name), new.get(name))
            row.kind = "changed" if row.changed else ""
            rows.append(row)
    return rows


def variant_summary(before: dict, after: dict) -> dict:
    """``{"added": [sku], "removed": [sku], "changed": [sku], "unchanged": n}`` (a delete removes all)."""
    old = {_variant_key(v): v for v in comparable(before).get("variants", [])}
    new = {_variant_key(v): v for v in comparable(after).get("variants", [])} if after else {}
    names = [n for n, _ in VARIANT_FIELDS]
    changed = [k for k in old if k in new and any(old[k].get(n) != new[k].get(n) for n in names)]
    return {
        "added": [k for k in new if k not in old],
        "removed": [k for k in old if k not in new],
        "changed": changed,
        "unchanged": sum(1 for k in old if k in new) - len(changed),
    }


@dataclass
class ImageChange:
    """One image URL: ``state`` is "added", "removed", "moved" (position changed) or "kept";
    positions are 1-based (``None`` where absent)."""

    url: str
    state: str
    before_position: int | None
    after_position: int | None

    @property
    def is_web(self) -> bool:
        """Only http(s) URLs are shown as pictures; anything else is shown as text."""
        return str(self.url).lower().startswith(("http://", "https://"))


def image_changes(before: dict, after: dict) -> list[ImageChange]:
    """Every image of either snapshot, in the after order then the removed ones; ``[]`` when unchanged."""
    old = list(comparable(before).get("images") or [])
    new = list(comparable(after).get("images") or []) if after else []
    if old == new:
        return []
    out = []
    for index, url in enumerate(new, start=1):
        if url in old:
            position = old.index(url) + 1
            out.append(ImageChange(url, "kept" if position == index else "moved", position, index))
        else:
            out.append(ImageChange(url, "added", None, index))
    out += [ImageChange(url, "removed", i, None) for i, url in enumerate(old, start=1) if url not in new]
    return out


def comparable(snapshot: dict) -> dict:
    """``snapshot`` without the context keys of a sync conflict (``store_snapshot``, ``synced_snapshot``)."""
    return {k: v for k, v in (snapshot or {}).items() if k not in CONTEXT_KEYS}


def field_diff(before: dict, after: dict, fields) -> list[DiffRow]:
    """A plain field-by-field diff of two flat snapshots (rules), labels from ``fields``."""
    deleted = not after
    rows = []
    for key, label in fields:
        old, new = before.get(key) if before else None, None if deleted else after.get(key)
        if key == "tiers":
            old, new = _tiers_text(old), None if deleted else _tiers_text(new)
        rows.append(DiffRow("Rule", label, "—" if old is None else _display(old), new, deleted or old != new))
    return rows


def _tiers_text(tiers) -> str:
    if not tiers:
        return "none"
    return "\n".join(f"after {t['after_hours']} h ask {t['role']}s" for t in tiers)


# --- three-way: sync conflicts --------------------------------------------


@dataclass
class ThreeWayRow:
    """One field across the three versions.

    ``state``: "same" (nobody changed it), "catalog" (only the catalog
    changed it since the last sync), "store" (only the store did), "both"
    (both changed it the same way) or "conflict" (both changed it
    differently). Without a last-synced version, any difference between
    catalog and store is "conflict".
    """

    scope: str
    field: str
    base: object
    catalog: object
    store: object
    state: str


THREE_WAY_LABELS = {
    "same": "Unchanged",
    "catalog": "Changed in catalog",
    "store": "Changed in store",
    "both": "Same change on both sides",
    "conflict": "Conflict",
}


def _three_state(base, catalog, store, has_base: bool) -> str:
    if catalog == store:
        return "same" if not has_base or base == catalog else "both"
    if not has_base:
        return "conflict"
    if base == catalog:
        return "store"
    if base == store:
        return "catalog"
    return "conflict"


def three_way_diff(base: dict | None, catalog: dict, store: dict) -> list[ThreeWayRow]:
    """Product and variant fields across last synced (``base``, may be ``None``), catalog and store.

    Variants are matched by SKU (or position) over the union of all three.
    """
    has_base = base is not None
    base = base or {}
    rows = []
    for key, label in PRODUCT_FIELDS:
        values = [_display(s.get(key)) if s else None for s in (base, catalog, store)]
        rows.append(ThreeWayRow("Product", label, *values, _three_state(*values, has_base)))
    maps = [{_variant_key(v): v for v in (s or {}).get("variants", [])} for s in (base, catalog, store)]
    keys = list(dict.fromkeys(k for m in maps for k in m))
    for vkey in keys:
        for name, label in VARIANT_FIELDS:
            values = [_display(m[vkey].get(name)) if vkey in m else None for m in maps]
            rows.append(ThreeWayRow(vkey, label, *values, _three_state(*values, has_base)))
    return rows


# --- bulk ----------------------------------------------------------------


@dataclass
class BulkSummary:
    """Counts per store and action, and one page of sample item diffs.

    ``stores``: ``[{"store": "Emulated Woo", "counts": {"update": 40, "delete": 2}, "total": 42}]``;
    ``actions``: every action seen, for the table's columns; ``page``: a
    Django ``Page`` whose items are ``{"store", "action", "title", "rows": [DiffRow]}``.
    """

    total: int
    stores: list
    actions: list
    page: object
    items: list = field(default_factory=list)


def bulk_summary(after: dict, page_number=1, per_page: int = 5) -> BulkSummary:
    """Summarize ``after["bulk"]["items"]`` (see the module docstring); bad page numbers show the nearest page."""
    items = list((after.get("bulk") or {}).get("items") or [])
    stores: dict[str, dict] = {}
    actions: list[str] = []
    for item in items:
        store = item.get("store") or "—"
        action = item.get("action") or "update"
        if action not in actions:
            actions.append(action)
        entry = stores.setdefault(store, {"store": store, "counts": {}, "total": 0})
        entry["counts"][action] = entry["counts"].get(action, 0) + 1
        entry["total"] += 1
    page = Paginator(items, per_page).get_page(page_number)
    page_items = [
        {
            "store": item.get("store") or "—",
            "action": item.get("action") or "update",
            "title": item.get("title") or (item.get("after") or item.get("before") or {}).get("title", "—"),
            "rows": [r for r in snapshot_diff(item.get("before") or {}, item.get("after") or {}) if r.changed],
        }
        for item in page.object_list
    ]
    for entry in stores.values():
        entry["cells"] = [entry["counts"].get(a, 0) for a in actions]
    return BulkSummary(total=len(items), stores=list(stores.values()), actions=actions, page=page, items=page_items)


# --- choosing the renderer ----------------------------------------------


def review_context(approval, page_number=1) -> dict:
    """Template context for the request's diff: ``{"kind": "bulk" | "three_way" | "rule" | "product", ...}``.

    - bulk: ``bulk`` (``BulkSummary``)
    - three_way: ``rows`` (``[ThreeWayRow]``), ``has_base``, ``result`` (the change's ``after`` as rows)
    - rule: ``rows`` (``[DiffRow]``)
    - product: ``rows``, ``variants`` (``variant_summary``), ``images`` (``[ImageChange]``)
    """
    before, after = approval.before or {}, approval.after or {}
    if "bulk" in after:
        return {"kind": "bulk", "bulk": bulk_summary(after, page_number)}
    store_snapshot = before.get("store_snapshot") or after.get("store_snapshot")
    if store_snapshot is not None:
        base = before.get("synced_snapshot") or after.get("synced_snapshot")
        catalog = comparable(before)
        return {
            "kind": "three_way",
            "rows": three_way_diff(base, catalog, store_snapshot),
            "has_base": base is not None,
            "labels": THREE_WAY_LABELS,
            "result": [r for r in snapshot_diff(catalog, comparable(after)) if r.changed] if comparable(after) else [],
        }
    if approval.resource_type == "rule":
        return {"kind": "rule", "rows": field_diff(before, after, RULE_FIELDS)}
    return {
        "kind": "product",
        "rows": snapshot_diff(before, after),
        "variants": variant_summary(before, after),
        "images": image_changes(before, after),
    }
