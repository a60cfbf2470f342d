"""Field-by-field diffs of product snapshots for the review page."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

PRODUCT_FIELDS = [
    ("title", "Title"),
    ("status", "Status"),
    ("sku", "Parent SKU"),
    ("kind", "Type"),
    ("description", "Description"),
    ("images", "Images"),
]
VARIANT_FIELDS = [("price", "Price"), ("compare_at_price", "Compare-at price"), ("stock", "Stock")]


@dataclass
class DiffRow:
    """One line of the diff: ``scope`` is "Product" or a variant's SKU; ``change`` e.g. "−40.0%"."""

    scope: str
    field: str
    before: object
    after: object
    changed: bool
    change: str = ""


def _display(value):
    """Lists (images, tags) read as one item per line; everything else as is."""
    if isinstance(value, list):
        return "\n".join(str(item) for item in value) or "—"
    return value


def _percent(before, after) -> str:
    try:
        old, new = Decimal(str(before)), Decimal(str(after))
    except (InvalidOperation, TypeError):
        return ""
    if old == 0 or old == new:
        return ""
    pct = ((new - old) / old * 100).quantize(Decimal("0.1"))
    return f"{'+' if pct > 0 else '−'}{abs(pct)}%"


def snapshot_diff(before: dict, after: dict) -> list[DiffRow]:
    """Rows for every product and variant field; ``after == {}`` means the product is deleted.

    Variants are matched by SKU (or position); added and removed variants get
    one row each. Money fields carry the percentage change.
    """
    deleted = not after
    rows = []
    for key, label in PRODUCT_FIELDS:
        old = before.get(key)
        new = None if deleted else after.get(key)
        rows.append(DiffRow("Product", label, _display(old), None if deleted else _display(new), deleted or old != new))
    old_variants = {v["sku"] or f"#{v['position']}": v for v in before.get("variants", [])}
    new_variants = {} if deleted else {v["sku"] or f"#{v['position']}": v for v in after.get("variants", [])}
    for key in list(old_variants) + [k for k in new_variants if k not in old_variants]:
        old, new = old_variants.get(key), new_variants.get(key)
        if old is None:
            rows.append(DiffRow(key, "Variant", None, "added", True))
            continue
        if new is None:
            for field, label in VARIANT_FIELDS:
                rows.append(DiffRow(key, label, old.get(field), None, True))
            continue
        for field, label in VARIANT_FIELDS:
            changed = old.get(field) != new.get(field)
            change = _percent(old.get(field), new.get(field)) if changed and field != "stock" else ""
            rows.append(DiffRow(key, label, old.get(field), new.get(field), changed, change))
    return rows
