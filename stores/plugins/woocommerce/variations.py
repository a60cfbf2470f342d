"""A variable product's variations made to match the catalog's, and each written product's result
(``VariationWrites``, a part of ``WooCommercePlugin``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from stores.plugins import ItemResult, Rejected, RemoteListing, StoreError, variant_key

from .client import _as_id, _duplicate_sku_owner, _is_gone
from .payload import _variation_key

if TYPE_CHECKING:
    from products.models import Product
    from stores.models import Listing

log = logging.getLogger(__name__)


class VariationWrites:
    """Variations through ``/products/{id}/variations/batch``: matched by recorded id, SKU or position."""

    def _finish(self, items, written: dict[int, dict], results: list, *, known: dict[int, dict],
                fresh: set[int]) -> None:
        """Write variations of the variable products in ``written`` and fill ``results``."""
        variable = [i for i in written if items[i][1].get("type") == "variable"]
        variations: dict[int, list[tuple[str, dict]]] = {}
        var_errors: dict[int, StoreError] = {}
        for i in variable:
            pid = int(written[i]["id"])
            bodies = items[i][1].get("_variations", [])
            try:
                jsons, err = self._sync_variations(pid, bodies, known=known.get(i, {}), fresh=i in fresh)
            except StoreError as exc:
                jsons, err = [], exc
            variations[i] = jsons
            if err is not None:
                var_errors[i] = err
        if variable:
            try:
                refreshed = self._fetch_products([int(written[i]["id"]) for i in variable])
            except StoreError:
                refreshed = {}
            for i in variable:
                written[i] = refreshed.get(int(written[i]["id"]), written[i])

        for i, product_json in written.items():
            product = items[i][0]
            pid = str(product_json["id"])
            snapshot = dict(product_json)
            if i in variations:
                snapshot["variations_detail"] = [v for _key, v in variations[i]]
                variant_ids = {key: str(v["id"]) for key, v in variations[i] if v.get("id")}
            else:
                variant_ids = self._single_variant_ids(product, pid) if items[i][1].get("type") != "grouped" else {}
            listing = RemoteListing(external_id=pid, variant_ids=variant_ids, snapshot=snapshot)
            results[i] = ItemResult(product.pk, listing=listing, error=var_errors.get(i))

    @staticmethod
    def _single_variant_ids(product: Product, pid: str) -> dict[str, str]:
        first = next(iter(product.variants.all()), None)
        if first is None:
            return {}
        return {variant_key(first.sku, first.position): pid}

    def _sync_variations(self, pid: int, bodies: list[dict], *, known: dict[str, str],
                         fresh: bool) -> tuple[list[tuple[str, dict]], StoreError | None]:
        """Make product ``pid``'s variations match ``bodies``.

        Returns ``[(variant key, variation JSON)]`` for the bodies written, in
        body order, and the first error (None when all went through).

        Matching: the id recorded in ``known`` (``listing.variant_ids``) when
        that variation still exists, else an existing variation with the same
        key (SKU, or ``#position`` = ``menu_order`` when the SKU is blank).
        Unmatched bodies are created; variations recorded in ``known`` that no
        body matches any more are deleted. Variations we never recorded are
        left alone. A created variation refused for a duplicate SKU held by
        another variation of this same product is bound and updated.
        """
        known = {str(k): str(v) for k, v in (known or {}).items()}
        existing = [] if fresh else list(self.client.paginate(f"products/{pid}/variations"))
        by_id = {str(v["id"]): v for v in existing}
        by_key: dict[str, dict] = {}
        for v in existing:
            by_key.setdefault(_variation_key(v), v)
        matched: set[str] = set()
        creates: list[tuple[int, dict]] = []
        updates: list[tuple[int, dict]] = []
        for index, body in enumerate(bodies):
            key = _variation_key(body)
            vid = known.get(key)
            if vid not in by_id or vid in matched:
                candidate = by_key.get(key)
                vid = str(candidate["id"]) if candidate and str(candidate["id"]) not in matched else None
            if vid:
                matched.add(vid)
                updates.append((index, {**body, "id": int(vid)}))
            else:
                creates.append((index, body))
        deletes = sorted({int(v) for v in known.values() if v in by_id and v not in matched})

        path = f"products/{pid}/variations/batch"
        answer = self.client.batch(path, create=[b for _i, b in creates], update=[b for _i, b in updates],
                                   delete=deletes, partial=True)
        out: dict[int, dict] = {}
        first_error: StoreError | None = None
        rebind: list[tuple[int, dict, int]] = []
        for (index, body), entry in zip(creates, answer["create"]):
            if isinstance(entry, StoreError):
                owner = _duplicate_sku_owner(entry)
                if owner is not None:
                    rebind.append((index, body, owner))
                else:
                    first_error = first_error or _variation_error(entry, body)
            else:
                out[index] = entry
        for (index, body), entry in zip(updates, answer["update"]):
            if isinstance(entry, StoreError):
                first_error = first_error or _variation_error(entry, body)
            else:
                out[index] = entry
        for entry in answer["delete"]:
            if isinstance(entry, StoreError) and not _is_gone(entry):
                first_error = first_error or entry

        if rebind:
            siblings = {str(v["id"]) for v in self.client.paginate(f"products/{pid}/variations")}
            again = []
            for index, body, owner in rebind:
                if str(owner) in siblings and str(owner) not in matched:
                    matched.add(str(owner))
                    again.append((index, {**body, "id": owner}))
                else:
                    first_error = first_error or Rejected(
                        f"product_invalid_sku: variation SKU {body.get('sku')!r} is used by "
                                  f"another product ({owner})", status=400, code="product_invalid_sku",
                        details={"resource_id": owner}, field="sku")
            if again:
                redo = self.client.batch(path, update=[b for _i, b in again], partial=True)["update"]
                for (index, body), entry in zip(again, redo):
                    if isinstance(entry, StoreError):
                        first_error = first_error or _variation_error(entry, body)
                    else:
                        out[index] = entry
        return [(_variation_key(bodies[i]), out[i]) for i in sorted(out)], first_error

    def _drop_stale_variations(self, listing: Listing, product_json: dict) -> None:
        """Delete the variations recorded for a product that is no longer variable.

        Best effort: WooCommerce ignores the children of a non-variable product
        (they are not shown or sold), so a failure here is logged, not reported
        as the item's error.
        """
        pid = str(product_json["id"])
        stale = sorted({int(v) for v in (listing.variant_ids or {}).values() if _as_id(v) and str(v) != pid})
        if not stale:
            return
        try:
            answer = self.client.batch(f"products/{pid}/variations/batch", delete=stale, partial=True)["delete"]
        except StoreError as err:
            answer = [err]
        for entry in answer:
            if isinstance(entry, StoreError) and not _is_gone(entry):
                log.warning("WooCommerce: could not delete old variations of product %s: %s", pid, entry)
                break


def _variation_error(err: StoreError, body: dict) -> StoreError:
    """The variation's error, its message naming the variation's SKU."""
    label = body.get("sku") or f"#{body.get('menu_order')}"
    # The same type with every attribute (a CircuitOpen's retry_after and until, a RateLimited's
    # retry_after), without calling a constructor: errors with their own signature refuse the common one.
    message = f"variation {label}: {err.message}"
    new = type(err).__new__(type(err), message)
    new.__dict__.update(err.__dict__)
    new.message = message
    return new
