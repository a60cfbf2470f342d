"""Catalog actions: imports, edits, deletes. Risky edits become approval requests."""

import hashlib
import io
import os
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from agents.runner import JobInputError
from flashfusion import events
from products.models import CatalogImport, Product


#: Problems of a refused file kept on its job for the page to list (the import keeps them all).
INPUT_ERRORS_KEPT = 200


class ImportFailed(JobInputError):
    """The file did not validate; ``errors`` are the importer's RowErrors. The job ends "refused", its result
    ``{"input_errors": [{"row", "column", "message"}] (the first INPUT_ERRORS_KEPT), "input_error_count": n}``."""

    def __init__(self, errors):
        self.errors = errors
        lines = [f"row {e.row}, column “{e.column}”: {e.message}" if e.column else f"row {e.row}: {e.message}" for e in errors[:20]]
        more = f" (the first 20 of {len(errors)})" if len(errors) > 20 else ""
        problems = "1 problem" if len(errors) == 1 else f"{len(errors)} problems"
        details = {"input_errors": [{"row": e.row, "column": e.column, "message": e.message}
                                    for e in errors[:INPUT_ERRORS_KEPT]],
                   "input_error_count": len(errors)}
        super().__init__(f"Nothing was imported: {problems} in the file{more}. " + "; ".join(lines), details=details)


#: Bytes read and written at a time when an upload is stored (1 MiB).
UPLOAD_CHUNK_BYTES = 1024 * 1024


def store_upload(catalog_import: CatalogImport, uploaded_file) -> CatalogImport:
    """Stream ``uploaded_file`` to ``catalog_import.file`` (under ``CATALOG_IMPORT_ROOT``); set ``size`` and ``sha256``.

    ``uploaded_file``: a Django ``UploadedFile`` (a ``TemporaryUploadedFile`` on disk for large uploads)
    or any binary file object. Read in ``UPLOAD_CHUNK_BYTES`` pieces, so memory stays flat whatever the
    file's size; ``size`` is bytes, ``sha256`` the hex digest of those bytes. Saves the three fields.
    """
    digest = hashlib.sha256()
    size = 0
    name = os.path.basename(getattr(uploaded_file, "name", "") or catalog_import.filename or "catalog.csv")
    chunks = uploaded_file.chunks(UPLOAD_CHUNK_BYTES) if hasattr(uploaded_file, "chunks") else iter(
        lambda: uploaded_file.read(UPLOAD_CHUNK_BYTES), b""
    )
    storage = catalog_import.file.storage
    path = storage.generate_filename(catalog_import.file.field.generate_filename(catalog_import, name))
    full = storage.path(storage.get_available_name(path))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "xb") as out:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    catalog_import.file.name = os.path.relpath(full, storage.location)
    catalog_import.size, catalog_import.sha256 = size, digest.hexdigest()
    if catalog_import.pk:
        catalog_import.save(update_fields=["file", "size", "sha256"])
    return catalog_import


def start_import(organization, *, format: str, filename: str, text: str | None = None, upload=None, user=None,
                 mode: str = CatalogImport.Mode.MERGE, preview: bool = False):
    """Keep the file and queue its ``catalog.import`` job; returns the job (``products.imports.start_import``).

    ``upload``: the uploaded file (streamed to disk), or ``text``. ``preview=False`` (scripts, the command
    line): the plan is applied as soon as it is made, unless an approval rule holds it; True stops at the
    plan for an operator to apply (the page).
    """
    from products import imports

    catalog_import = imports.start_import(organization, format=format, filename=filename, file=upload, text=text,
                                          mode=mode, user=user, preview=preview)
    return catalog_import.job


def open_import(catalog_import: CatalogImport):
    """The import's file as a text stream (UTF-8, a byte-order mark dropped; CSV newlines kept), to read once
    and close; a ``StringIO`` of ``content`` for imports made before files were kept."""
    if not catalog_import.file:
        return io.StringIO(catalog_import.content)
    return io.TextIOWrapper(catalog_import.file.open("rb"), encoding="utf-8-sig", newline="")


def run_import(job) -> dict:
    """Job handler for ``catalog.import``: ``products.imports.run_import_job`` (plan, then apply)."""
    from products import imports

    return imports.run_import_job(job)


def price_drop_percent(old: Decimal | None, new: Decimal | None) -> Decimal:
    """How much lower ``new`` is than ``old``, in percent (0 when not lower or no old price).

    Removing a price (``new`` is None) counts as a 100% drop: the store would
    sell the variant without a price.
    """
    if old is None or old <= 0:
        return Decimal(0)
    if new is None:
        return Decimal(100)
    if new >= old:
        return Decimal(0)
    return ((old - new) / old * 100).quantize(Decimal("0.1"))


def largest_price_drop(before: dict, after: dict) -> tuple[Decimal, str]:
    """The biggest variant price cut between two snapshots, as (percent, SKU or title)."""
    old_prices = {_variant_key(v): v for v in before.get("variants", [])}
    worst, worst_sku = Decimal(0), ""
    for variant in after.get("variants", []):
        old = old_prices.get(_variant_key(variant))
        if not old:
            continue
        drop = price_drop_percent(_dec(old["price"]), _dec(variant["price"]))
        if drop > worst:
            worst, worst_sku = drop, variant["sku"] or f"variant {variant['position']}"
    return worst, worst_sku


def _variant_key(variant: dict) -> str:
    return variant["sku"] or f"#{variant['position']}"


def _dec(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


EDITABLE_PRODUCT_FIELDS = ("title", "status", "description")
EDITABLE_VARIANT_FIELDS = ("price", "compare_at_price", "stock")


class StaleEdit(Exception):
    """An edit based on what the page showed when it was opened, while the product changed since.

    Optimistic locking: the edit form carries the values it was drawn with (``edit_values``, signed);
    a save whose values no longer match the stored ones is refused, so a stale page never writes its old
    values over a newer edit, an applied approval or a store's value taken into the catalog.
    ``changed``: ``edit_values`` keys that differ; ``opened`` / ``current``: both value maps;
    ``labels``: key → what people call that field ("Price of TENT-RED").
    """

    def __init__(self, changed: list[str], *, opened: dict[str, str], current: dict[str, str], labels: dict[str, str]):
        self.changed, self.opened, self.current, self.labels = changed, opened, current, labels
        super().__init__("This product changed since you opened it: "
                         + "; ".join(f"{label} {_shown(was)} → {_shown(now)}" for label, was, now in self.rows))

    @property
    def rows(self) -> list[tuple[str, str, str]]:
        """(field label, value when the page was opened, value now) per changed field."""
        return [(self.labels.get(k, k), self.opened.get(k, ""), self.current.get(k, "")) for k in self.changed]


def _shown(value) -> str:
    if value in (None, ""):
        return "(empty)"
    text = str(value)
    return f"“{text[:57]}…”" if len(text) > 60 else f"“{text}”"


def edit_values(product: Product) -> dict[str, str]:
    """What the product page's edit form shows, flat and JSON-safe: ``title``, ``status``, ``description``, and
    per variant ``"<variant pk>.price"`` / ``.compare_at_price`` (Decimal strings with two places) / ``.stock``
    (a whole number), ``""`` where empty. Variants come from the database (never a mutated copy)."""
    values = {name: getattr(product, name) or "" for name in EDITABLE_PRODUCT_FIELDS}
    for variant in product.variants.all():
        values.update(_variant_values(variant.pk, {name: getattr(variant, name) for name in EDITABLE_VARIANT_FIELDS}))
    return values


def _variant_values(pk: int, data: dict) -> dict[str, str]:
    out = {}
    for name in EDITABLE_VARIANT_FIELDS:
        value = data.get(name)
        if value is None or value == "":
            out[f"{pk}.{name}"] = ""
        elif name == "stock":
            out[f"{pk}.{name}"] = str(int(value))
        else:
            out[f"{pk}.{name}"] = str(Decimal(value).quantize(Decimal("0.01")))
    return out


def submitted_values(product_data: dict, variant_data: dict[int, dict]) -> dict[str, str]:
    """``edit_values``' shape of what an edit submits (cleaned form values)."""
    values = {name: product_data.get(name) or "" for name in EDITABLE_PRODUCT_FIELDS if name in product_data}
    for pk, data in variant_data.items():
        values.update(_variant_values(pk, data))
    return values


def edit_labels(product: Product) -> dict[str, str]:
    """``edit_values`` key → its name for people: "Title", "Price of TENT-RED", "Stock of variant 2"."""
    labels = {name: Product._meta.get_field(name).verbose_name.capitalize() for name in EDITABLE_PRODUCT_FIELDS}
    names = {"price": "Price", "compare_at_price": "Compare-at price", "stock": "Stock"}
    for variant in product.variants.all():
        who = variant.sku or f"variant {variant.position}"
        labels.update({f"{variant.pk}.{name}": f"{names[name]} of {who}" for name in EDITABLE_VARIANT_FIELDS})
    return labels


def edit_product(product: Product, product_data: dict, variant_data: dict[int, dict], user, *,
                 opened: dict[str, str] | None = None):
    """Apply an operator's edit, or hold it for review when an approval rule says so.

    ``product_data``: cleaned values of ``EDITABLE_PRODUCT_FIELDS``;
    ``variant_data``: variant pk → cleaned ``EDITABLE_VARIANT_FIELDS``
    (Decimal prices in the organization's currency, int stock).
    ``opened``: ``edit_values`` as the page showed them when it was opened; when given and the stored
    product no longer matches them, nothing is written and ``StaleEdit`` is raised (optimistic locking).
    The product is read again from the database, locked for the check and the write: the caller's instance
    may carry a form's unsaved values (a ModelForm writes its cleaned data onto its instance).
    Returns the ``ApprovalRequest`` when the organization's rules hold the
    edit (``approvals.rules.evaluate_product_edit``: e.g. a variant's price
    drops by more than the price rule allows), else ``None``: the change is
    saved and published to every store listing the product, and pending
    requests it overtook are marked stale (their approvals dismissed).
    """
    from approvals.rules import evaluate_product_edit
    from approvals.services import dismiss_stale_requests, request_change

    with transaction.atomic():
        stored = Product.objects.select_for_update().select_related("organization").get(pk=product.pk)
        if opened is not None:
            current = edit_values(stored)
            changed = [key for key in dict.fromkeys([*opened, *current]) if opened.get(key) != current.get(key)]
            if changed:
                raise StaleEdit(changed, opened=opened, current=current, labels=edit_labels(stored))
        before = stored.snapshot()
        after = _edited_snapshot(stored, product_data, variant_data)
        if after == before:
            return None
        policy = evaluate_product_edit(stored, before, after)
        if policy is not None:
            return request_change(stored, action=policy.action, after=after, reason=policy.reason, user=user,
                                  policy=policy)
        apply_snapshot(stored, after, actor=user)
        dismiss_stale_requests(stored, actor=user)
    return None


def _edited_snapshot(product: Product, product_data: dict, variant_data: dict[int, dict]) -> dict:
    after = product.snapshot()
    for name in EDITABLE_PRODUCT_FIELDS:
        if name in product_data:
            after[name] = product_data[name]
    for variant, snap in zip(product.variants.all(), after["variants"], strict=True):
        for name, value in variant_data.get(variant.pk, {}).items():
            if name not in EDITABLE_VARIANT_FIELDS:
                continue
            if name != "stock" and value is not None:
                value = str(Decimal(value).quantize(Decimal("0.01")))
            snap[name] = value
    return after


def apply_snapshot(product: Product, after: dict, *, actor=None) -> None:
    """Write the editable fields of ``after`` to the product and its variants, then queue a publish.

    Variants are matched by SKU, else by position. Publishes ``product.updated``.
    """
    before = product.snapshot()
    with transaction.atomic():
        for name in EDITABLE_PRODUCT_FIELDS:
            setattr(product, name, after[name])
        product.save()
        variants = {v.sku or f"#{v.position}": v for v in product.variants.all()}
        for snap in after["variants"]:
            variant = variants.get(_variant_key(snap))
            if variant is None:
                continue
            variant.price = _dec(snap["price"])
            variant.compare_at_price = _dec(snap["compare_at_price"])
            variant.stock = snap["stock"]
            variant.save(update_fields=list(EDITABLE_VARIANT_FIELDS))
        product.refresh_stock_total()
        events.publish(
            product.organization_id, "product.updated", f"{product.title} updated", {"product_id": product.pk}, actor=actor
        )
        publish_to_listing_stores(product, actor=actor, stock_only=_only_stock_changed(before, product.snapshot()))


def _only_stock_changed(before: dict, after: dict) -> bool:
    """True when the two snapshots differ and only in variants' stock."""
    if before == after:
        return False

    def without_stock(snap):
        return {**snap, "variants": [{k: v for k, v in variant.items() if k != "stock"} for variant in snap["variants"]]}

    return without_stock(before) == without_stock(after)


def delete_product(product: Product, *, actor=None) -> None:
    """Remove a product from the catalog and from every store that lists it.

    The row is kept (``deleted_at``) until each store's publish job has
    deleted its listing.
    """
    with transaction.atomic():
        product.deleted_at = timezone.now()
        product.save(update_fields=["deleted_at", "updated_at"])
        events.publish(
            product.organization_id, "product.deleted", f"{product.title} deleted", {"product_id": product.pk}, actor=actor
        )
        publish_to_listing_stores(product, actor=actor)


def publish_to_listing_stores(product: Product, *, actor=None, stock_only: bool = False) -> list:
    """A catalog change: a debounced incremental sync of each enabled store that lists ``product``; returns the jobs.

    See ``agents.triggers.sync_listing_stores`` (stock-only changes go first).
    A disabled store gets no job; its listing catches up with the first sync
    after it is enabled again.
    """
    from agents.triggers import sync_listing_stores

    return sync_listing_stores(product, actor=actor, stock_only=stock_only)
