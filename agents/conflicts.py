"""Store edits against the catalog, decided field by field (used by the Pull agent, ``agents.pull``).

Each compared field (``agents.pull.FIELD_READERS``: title, status, SKU,
descriptions, per variant price, compare-at price and stock) is read three
ways in catalog terms: as last synced (the listing's ``remote_snapshot``,
the store's answer at our last publish), in the catalog now (the plugin's
``build_payload``) and in the store now (fetched). ``three_way`` names the
side that changed it:

- ``store``: only the store changed it — a store edit;
- ``catalog``: only the catalog did — our pending publish, left to the sync;
- ``conflict``: both did, to different values;
- ``same``: both did, to the same value — nothing to do.

``winners`` applies the store's ``conflict_resolution`` to the store edits
and conflicts: ``source_wins`` keeps the catalog (the store is published
over), ``target_wins`` takes the store's values into the catalog,
``newest_wins`` takes a store-only edit and settles a conflict by the later
of the store's modification time (``store_modified_at``) and
``Product.updated_at`` (the catalog on a tie or an unknown time), and
``manual`` asks a reviewer (``request_review``: one approval request per
listing, updated while it waits). The SKU is never taken from a store: it
binds the listing, so the catalog's SKU is published again.

The services here write in one transaction each: ``take_store_values``
(validate, write, publish to every store listing the product),
``overwrite_store`` (queue a publish of the catalog to one store),
``accept_store_values`` / ``keep_catalog`` (what approving / rejecting a
conflict request does; ``approvals.services`` calls them).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from datetime import datetime
from datetime import timezone as dt_timezone
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agents.choices import JobKind, Priority
from agents.services import StoreDisabled, enqueue
from flashfusion import events
from products.choices import ProductStatus
from stores.choices import ConflictResolution, ListingState

NONE = "—"
NOT_TRACKED = "not tracked"

STORE, CATALOG, CONFLICT, SAME = "store", "catalog", "conflict", "same"
SIDE_LABELS = {STORE: "changed in store", CATALOG: "changed in catalog (pending publish)",
               CONFLICT: "changed on both sides", SAME: "same change on both sides"}
#: Winners of a store-changed field.
KEEP_CATALOG, TAKE_STORE, REVIEW = "catalog", "store", "review"
WINNER_LABELS = {KEEP_CATALOG: "catalog wins: published again", TAKE_STORE: "store wins: taken into the catalog",
                 REVIEW: "a reviewer decides"}

#: Compared product fields → ``Product`` attribute; variant fields → ``Variant`` attribute.
PRODUCT_ATTRS = {"title": "title", "status": "status", "description": "description",
                 "short description": "short_description", "SKU": "sku"}
VARIANT_ATTRS = {"compare-at price": "compare_at_price", "price": "price", "stock": "stock"}
#: Fields a store never writes into the catalog.
UNTAKEABLE = {"SKU"}
#: Where the raw (not whitespace-collapsed) texts sit in a store's product body.
RAW_TEXTS = {"woocommerce": {"title": "name", "description": "description", "short description": "short_description"},
             "shopify": {"title": "title", "description": "descriptionHtml"}}


@dataclass(frozen=True)
class FieldChange:
    """One compared field across the three versions (values as ``agents.pull`` shows them; ``base`` None: unknown)."""

    field: str
    base: str | None
    catalog: str
    store: str
    side: str

    def as_dict(self, winner: str = "") -> dict:
        out = {"field": self.field, "base": self.base, "catalog": self.catalog, "store": self.store, "side": self.side}
        if winner:
            out["winner"] = winner
        return out


def three_way(base: dict | None, catalog: dict, store: dict, *, catalog_unchanged: bool) -> list[FieldChange]:
    """The fields someone changed since the last sync, in the catalog's field order.

    ``base`` / ``catalog`` / ``store`` are reader outputs (``agents.pull.FIELD_READERS``).
    ``catalog_unchanged``: the payload's hash is the listing's content hash,
    so the catalog did not move since the last publish and a field that
    reads differently there is the store's rewording, never our edit. With
    no last-synced version (``base`` None) and a moved catalog, every
    difference is a conflict.
    """
    if base is None and catalog_unchanged:
        base = catalog
    names = list(dict.fromkeys([*catalog, *store, *(base or {})]))
    changes = []
    for name in names:
        ours, theirs = catalog.get(name, NONE), store.get(name, NONE)
        if base is None:
            if ours != theirs:
                changes.append(FieldChange(name, None, ours, theirs, CONFLICT))
            continue
        synced = base.get(name, NONE)
        store_moved = theirs != synced
        catalog_moved = ours != synced and not catalog_unchanged
        if store_moved and (catalog_moved or ours == theirs):
            side = SAME if ours == theirs else CONFLICT
        elif store_moved:
            side = STORE
        elif catalog_moved:
            side = CATALOG
        else:
            continue
        changes.append(FieldChange(name, synced, ours, theirs, side))
    return changes


def winners(changes: list[FieldChange], policy: str, *, store_time: datetime | None,
            catalog_time: datetime | None) -> dict[str, str]:
    """Field → ``KEEP_CATALOG`` / ``TAKE_STORE`` / ``REVIEW`` for each store edit and conflict under ``policy``."""
    newer_store = store_time is not None and catalog_time is not None and store_time > catalog_time
    out = {}
    for change in changes:
        if change.side not in (STORE, CONFLICT):
            continue
        if policy == ConflictResolution.SOURCE_WINS:
            winner = KEEP_CATALOG
        elif policy == ConflictResolution.TARGET_WINS:
            winner = TAKE_STORE
        elif policy == ConflictResolution.NEWEST_WINS:
            winner = TAKE_STORE if change.side == STORE or newer_store else KEEP_CATALOG
        else:
            winner = REVIEW
        if change.field in UNTAKEABLE and winner == TAKE_STORE:
            winner = KEEP_CATALOG
        out[change.field] = winner
    return out


def _parse_time(text) -> datetime | None:
    """``2025-01-02T03:04:05`` (WooCommerce GMT, no zone) or ``…Z`` (Shopify) → aware UTC; None when unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt_timezone.utc)


def store_modified_at(platform: str, body: dict) -> datetime | None:
    """When the store last changed the product: WooCommerce ``date_modified_gmt`` (the latest of the product
    and its variations), Shopify ``updatedAt``; None when the answer has no time."""
    if platform == "woocommerce":
        stamps = [body.get("date_modified_gmt")] + [v.get("date_modified_gmt") for v in body.get("variations_detail") or []]
    else:
        stamps = [body.get("updatedAt")]
    times = [t for t in (_parse_time(s) for s in stamps) if t is not None]
    return max(times) if times else None


# --------------------------------------------------------------------------- catalog terms


def locate(name: str) -> tuple[str | None, str] | None:
    """A compared field's place: ``(None, attr)`` on the product, ``(key, attr)`` on a variant
    (``""`` = the first variant: a simple product's price); None for a field we cannot place."""
    if name in PRODUCT_ATTRS:
        return None, PRODUCT_ATTRS[name]
    for label, attr in VARIANT_ATTRS.items():
        if name == label:
            return "", attr
        if name.startswith("variant ") and name.endswith(" " + label):
            return name[len("variant "): -len(label) - 1], attr
    return None


def catalog_value(platform: str, name: str, shown: str, body: dict):
    """The value of field ``name`` in ``Product.snapshot()`` terms, from its reader text ``shown``;
    texts come raw from ``body`` (readers collapse whitespace). Raises ``ValidationError`` naming the field."""
    place = locate(name)
    if place is None:
        raise ValidationError({name: "FlashFusion has no catalog field for this."})
    attr = place[1]
    if attr in ("price", "compare_at_price"):
        if shown == NONE:
            return None
        try:
            amount = Decimal(shown).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            raise ValidationError({name: f"{shown!r} is not an amount."}) from None
        if amount < 0:
            raise ValidationError({name: "A price cannot be negative."})
        return str(amount)
    if attr == "stock":
        if shown == NOT_TRACKED:
            return None
        try:
            return int(shown)
        except ValueError:
            raise ValidationError({name: f"{shown!r} is not a whole number."}) from None
    if attr == "status":
        if shown not in ProductStatus.values:
            raise ValidationError({name: f"{shown!r} is not a catalog status ({', '.join(ProductStatus.values)})."})
        return shown
    raw_key = RAW_TEXTS.get(platform, {}).get(name)
    text = str(body.get(raw_key) or "") if raw_key else ("" if shown == NONE else shown)
    if attr == "title" and not text.strip():
        raise ValidationError({name: "A product needs a title."})
    if attr == "title" and len(text) > 255:
        raise ValidationError({name: "A title has at most 255 characters."})
    return text


def overlay(snapshot: dict, values: dict) -> dict:
    """A copy of ``Product.snapshot()`` with ``values`` (field name → catalog value) written in place."""
    out = copy.deepcopy(snapshot)
    variants = out.get("variants") or []
    by_key = {(v.get("sku") or f"#{v.get('position')}"): v for v in variants}
    for name, value in values.items():
        place = locate(name)
        if place is None:
            continue
        key, attr = place
        if key is None:
            out[attr] = value
            continue
        target = (variants[0] if variants else None) if key == "" else by_key.get(key)
        if target is not None:
            target[attr] = value
    return out


def shown_values(platform: str, changes: list[FieldChange], side: str, body: dict) -> dict:
    """Field → catalog value of ``side`` ("store" or "base") for the changes that differ from the catalog there;
    an unreadable value is kept as shown (for the reviewer's eyes only)."""
    out = {}
    for change in changes:
        shown = change.store if side == STORE else change.base
        if shown is None or shown == change.catalog:
            continue
        try:
            out[change.field] = catalog_value(platform, change.field, shown, body)
        except ValidationError:
            out[change.field] = shown
    return out


# --------------------------------------------------------------------------- services


def take_store_values(product, values: dict, *, actor=None) -> None:
    """Write the store's ``values`` (field name → catalog value, see ``catalog_value``) to the catalog in one
    transaction, then publish the product to every store listing it (``products.services.apply_snapshot``).

    Raises ``ValidationError`` (nothing written) for an untakeable field or a value the catalog refuses.
    """
    from approvals.services import dismiss_stale_requests

    refused = sorted(set(values) & UNTAKEABLE) + [name for name in values if locate(name) is None]
    if refused:
        raise ValidationError({name: "The catalog does not take this field from a store." for name in refused})
    with transaction.atomic():
        after = overlay(product.snapshot(), values)
        _write_snapshot(product, after, actor=actor)
        dismiss_stale_requests(product, actor=actor)


def _write_snapshot(product, after: dict, *, actor=None) -> None:
    """``apply_snapshot`` plus the short description, which a store edits but the operator's form does not."""
    from products.services import apply_snapshot

    if after.get("short_description", product.short_description) != product.short_description:
        product.short_description = after["short_description"]
        product.save(update_fields=["short_description", "updated_at"])
    apply_snapshot(product, after, actor=actor)


def overwrite_store(listing, *, reason: str, actor=None):
    """Queue a publish of the catalog's product to the listing's store (the catalog wins); the listing turns
    pending so the publish writes it. Returns the job, or None when the store is disabled."""
    listing.state = ListingState.PENDING
    listing.save(update_fields=["state"])
    try:
        return enqueue(listing.store.organization, JobKind.STORE_PUBLISH, store=listing.store,
                       params={"product_ids": [listing.product_id]}, priority=Priority.HIGH,
                       idempotency_key=f"conflict:{listing.pk}:{reason}"[:200], created_by=actor)
    except StoreDisabled:
        return None


def listing_marker(listing) -> dict:
    """What ``store_snapshot["_listing"]`` holds, so a decision finds its listing again."""
    return {"id": listing.pk, "store_id": listing.store_id, "store": listing.store.name}


def pending_review(listing):
    """The waiting conflict request of ``listing``, or None."""
    from approvals.choices import RequestStatus
    from approvals.models import ApprovalRequest

    for approval in ApprovalRequest.objects.filter(product_id=listing.product_id, status=RequestStatus.PENDING):
        marker = (approval.before or {}).get("store_snapshot", {}).get("_listing") or {}
        if marker.get("id") == listing.pk:
            return approval
    return None


def request_review(listing, *, store_values: dict, base_values: dict | None, take_values: dict, reason: str):
    """Hold the store's edit for review: ``before`` = the catalog with ``store_snapshot`` and ``synced_snapshot``
    (the catalog with ``store_values`` / ``base_values`` written in: ``approvals.diff`` shows the three ways;
    no ``synced_snapshot`` when ``base_values`` is None), ``after`` = the catalog with ``take_values``
    (the store's edits and conflicts, never the SKU).

    One request per listing: a waiting one is updated in place (its approvals dismissed) instead of a second.
    Returns ``(approval, "opened" | "updated" | "unchanged")``.
    """
    from approvals.rules import Policy, evaluate_product_edit
    from approvals.services import open_request

    product = listing.product
    catalog = product.snapshot()
    before = {**catalog, "store_snapshot": {**overlay(catalog, store_values), "_listing": listing_marker(listing)}}
    if base_values is not None:
        before["synced_snapshot"] = overlay(catalog, base_values)
    after = overlay(catalog, {k: v for k, v in take_values.items() if k not in UNTAKEABLE})
    waiting = pending_review(listing)
    if waiting is not None:
        if waiting.before == before and waiting.after == after:
            return waiting, "unchanged"
        if _update_review(waiting, before=before, after=after, reason=reason):
            return waiting, "updated"
    from approvals.choices import ChangeAction

    policy = evaluate_product_edit(product, catalog, after) or Policy(action=ChangeAction.UPDATE, reason=reason)
    policy = replace(policy, reason=reason)
    approval = open_request(product.organization, resource_type="product", action=policy.action, title=product.title,
                            before=before, after=after, policy=policy, user=None, product=product,
                            replace_older=False)
    return approval, "opened"


def _update_review(approval, *, before: dict, after: dict, reason: str) -> bool:
    """Put the store's newer edit into a waiting request; approvals given to the older one are dismissed."""
    from approvals.choices import AuditAction, RequestStatus, Verdict
    from approvals.models import ApprovalRequest, Decision
    from approvals.services import record

    now = timezone.now()
    with transaction.atomic():
        won = ApprovalRequest.objects.filter(pk=approval.pk, status=RequestStatus.PENDING).update(
            before=before, after=after, reason=reason[:300])
        if not won:
            return False
        approval.before, approval.after, approval.reason = before, after, reason[:300]
        dismissed = Decision.objects.filter(request=approval, verdict=Verdict.APPROVE, dismissed_at__isnull=True)
        if dismissed.update(dismissed_at=now):
            record(approval.organization_id, AuditAction.DISMISSED,
                   "Approvals dismissed: the store changed again while the request waited", request=approval)
        record(approval.organization_id, AuditAction.REQUESTED, f"Updated: {reason}", request=approval)
        events.publish(approval.organization_id, "approval.updated", f"{approval} updated: {reason}",
                       {"approval_id": approval.pk})
    return True


def _listing_of(approval):
    from stores.models import Listing

    marker = (approval.before or {}).get("store_snapshot", {}).get("_listing") or {}
    return Listing.objects.select_related("store__organization", "product").filter(
        pk=marker.get("id"), product_id=approval.product_id).first()


def accept_store_values(approval, *, actor=None) -> None:
    """Approving a conflict request: the store's values (``after``) go into the catalog, which is then published
    to every store listing the product (the listing in conflict turns pending, so it is written too)."""
    listing = _listing_of(approval)
    if listing is not None:
        listing.state = ListingState.PENDING
        listing.last_error = ""
        listing.save(update_fields=["state", "last_error"])
    _write_snapshot(approval.product, approval.after, actor=actor)
    if listing is not None:
        events.publish(approval.organization_id, "listing.conflict_resolved",
                       f"{approval.product.title}: {actor or 'a reviewer'} took the values of {listing.store.name}",
                       {"approval_id": approval.pk, "listing_id": listing.pk, "store_id": listing.store_id,
                        "product_id": listing.product_id, "winner": TAKE_STORE}, actor=actor)


def keep_catalog(approval, *, actor=None) -> None:
    """Rejecting a conflict request: the catalog stays, and is published over the store's edit."""
    listing = _listing_of(approval)
    if listing is None:
        return
    listing.last_error = ""
    listing.save(update_fields=["last_error"])
    job = overwrite_store(listing, reason=f"rejected:{approval.pk}", actor=actor)
    events.publish(approval.organization_id, "listing.conflict_resolved",
                   f"{approval.product.title}: {actor or 'a reviewer'} kept the catalog; publishing it to "
                   f"{listing.store.name} again",
                   {"approval_id": approval.pk, "listing_id": listing.pk, "store_id": listing.store_id,
                    "product_id": listing.product_id, "winner": KEEP_CATALOG, "job_id": job.pk if job else None},
                   actor=actor)


def close_review(listing, reason: str) -> bool:
    """Mark the listing's waiting conflict request stale (the store no longer differs); False when none waited."""
    from approvals.services import _close_stale

    waiting = pending_review(listing)
    return waiting is not None and _close_stale(waiting, reason)
