"""Stock per variant per store, and per location where the platform has locations.

A store's stock is one number per variant after its stock rule
(``Store.published_stock``). Shopify keeps stock per *location* (a shop, a
warehouse, an outlet): FlashFusion writes it at one of them, the store's
chosen ``stock_location`` or else the shop's primary location, and leaves
the others to the merchant. WooCommerce has no locations: its stores have
no ``StoreLocation`` rows and every function here is a no-op for them.

* ``refresh_locations(store)`` reads the platform's locations and keeps
  ``StoreLocation`` rows in step (connect, credentials edit, the store
  page's "Refresh locations");
* ``record_pushed(store, product)`` notes the quantities a successful write
  set at our location (the Sync agent calls it);
* ``read_levels(store, listing)`` reads one product's stock at every
  location of the store (the product page's "Read stock by location").

Quantities are whole units (``available``: what the location may sell).
Store calls raise the plugin's ``StoreError`` subclasses; database writes
happen in one transaction each, or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from flashfusion import events
from stores.models import InventoryLevel, Listing, Store, StoreLocation
from stores.plugins import Capability, StoreError, Transient, plugin_class, variant_key


def has_locations(store: Store) -> bool:
    """True when the store's platform keeps stock per location (``Capability.INVENTORY_BY_LOCATION``)."""
    try:
        return Capability.INVENTORY_BY_LOCATION in plugin_class(store.platform).capabilities
    except StoreError:  # no plugin installed for the platform (``Rejected``): no locations either
        return False


def stock_location_row(store: Store) -> StoreLocation | None:
    """The row our stock is written at: the store's chosen ``stock_location`` while it is active, else its
    active primary location; None when the store has no such row (WooCommerce, or never refreshed)."""
    return pick_stock_location(store, StoreLocation.objects.filter(store=store, is_active=True).filter(
        Q(pk=store.stock_location_id) | Q(is_primary=True)))


def pick_stock_location(store: Store, rows) -> StoreLocation | None:
    """Of ``rows`` (the store's ``StoreLocation`` rows), the one our stock is written at: the chosen
    ``stock_location`` while it is active, else the active primary; None when neither is among them."""
    rows = [row for row in rows if row.is_active]
    chosen = next((row for row in rows if row.pk == store.stock_location_id), None) if store.stock_location_id else None
    return chosen or next((row for row in rows if row.is_primary), None)


@dataclass(frozen=True)
class LocationChanges:
    """What one refresh changed (location names)."""

    added: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()
    deactivated: tuple[str, ...] = ()
    reactivated: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.renamed or self.deactivated or self.reactivated)

    def __str__(self) -> str:
        parts = []
        if self.added:
            parts.append("new " + ", ".join(self.added))
        if self.renamed:
            parts.append("renamed " + ", ".join(f"{old} → {new}" for old, new in self.renamed))
        if self.deactivated:
            parts.append("no longer active " + ", ".join(self.deactivated))
        if self.reactivated:
            parts.append("active again " + ", ".join(self.reactivated))
        return "; ".join(parts) or "no change"


def refresh_locations(store: Store) -> list[StoreLocation]:
    """Read the store's locations from the platform and bring its ``StoreLocation`` rows in step.

    One call (``StorePlugin.list_locations``: Shopify ``locations(first:
    250, includeInactive: true)``, paged), then one transaction: new
    locations are added; names, active and primary flags are updated; a row
    whose location the platform no longer lists (deleted there) is kept —
    levels and the store's setting point at it — but marked inactive. When
    the store's chosen ``stock_location`` is no longer active it is cleared
    (stock then goes to the primary location) and a ``store.updated`` event
    says so; every refresh publishes ``store.locations_refreshed`` (quiet
    when nothing changed). Returns the store's rows, primary first then by
    name. A platform without locations has none: ``[]`` and no call.

    Raises the plugin's ``StoreError`` (``AuthFailed``, ``Transient``…) when
    the store cannot answer; nothing is written then. The answer is checked
    before anything is written: two locations with one id, or a primary
    location missing from the list, are ``Transient`` (``bad_shape``).
    """
    if not has_locations(store):
        return []
    plugin = store.plugin()
    try:
        remote = plugin.list_locations()
    finally:
        plugin.close()
    ids = [item["external_id"] for item in remote]
    if len(ids) != len(set(ids)):
        raise Transient("the store listed a location twice", code="bad_shape")
    if remote and not any(item["is_primary"] for item in remote):
        raise Transient("the store named no primary location among its locations", code="bad_shape")
    added, renamed, deactivated, reactivated = [], [], [], []
    with transaction.atomic():
        rows = {row.external_id: row for row in StoreLocation.objects.select_for_update().filter(store=store)}
        for item in remote:
            row = rows.get(item["external_id"])
            if row is None:
                row = StoreLocation.objects.create(store=store, external_id=item["external_id"], name=item["name"],
                                                   is_active=item["is_active"], is_primary=item["is_primary"])
                rows[row.external_id] = row
                added.append(row.name)
                continue
            if row.name != item["name"]:
                renamed.append((row.name, item["name"]))
            if row.is_active and not item["is_active"]:
                deactivated.append(item["name"])
            elif not row.is_active and item["is_active"]:
                reactivated.append(item["name"])
            row.name, row.is_active, row.is_primary = item["name"], item["is_active"], item["is_primary"]
            row.save(update_fields=["name", "is_active", "is_primary", "refreshed_at"])
        listed = set(ids)
        for external_id, row in rows.items():
            if external_id not in listed and (row.is_active or row.is_primary):
                if row.is_active:
                    deactivated.append(row.name)
                row.is_active = row.is_primary = False
                row.save(update_fields=["is_active", "is_primary", "refreshed_at"])
        changes = LocationChanges(tuple(added), tuple(renamed), tuple(deactivated), tuple(reactivated))
        chosen = next((row for row in rows.values() if row.pk == store.stock_location_id), None)
        if chosen is not None and not chosen.is_active:
            Store.objects.filter(pk=store.pk).update(stock_location=None)
            store.stock_location = None
            primary = next((row.name for row in rows.values() if row.is_primary and row.is_active), "none")
            events.publish(
                store.organization_id, "store.updated",
                f"{store}: stock location {chosen.name} is no longer active in the store; "
                f"stock goes to the primary location ({primary}) from the next sync",
                {"store_id": store.pk, "fields": ["stock_location"], "cleared_location_id": chosen.pk},
            )
        events.publish(
            store.organization_id, "store.locations_refreshed",
            f"{store}: locations refreshed ({len(remote)} in the store): {changes}",
            {"store_id": store.pk, "quiet": not changes, "added": list(changes.added),
             "renamed": [list(pair) for pair in changes.renamed], "deactivated": list(changes.deactivated),
             "reactivated": list(changes.reactivated)},
        )
    return list(StoreLocation.objects.filter(store=store))


def record_pushed(store: Store, product, *, location: StoreLocation | None = None) -> None:
    """Note the stock a successful write just set in ``store`` for ``product`` (a ``products.Product``).

    For each tracked variant (``stock`` not None): ``InventoryLevel`` at the
    store's stock location row (``stock_location_row``: the chosen one,
    else the primary) = ``store.published_stock(variant.stock)`` units,
    ``pushed=True``; the product's levels at the store's other locations
    become ``pushed=False`` (after a change of stock location they are the
    merchant's again). A no-op when the store has no location rows
    (WooCommerce, or locations never read). Call it after the write
    succeeded, with the product as it was written. ``location``: the
    store's ``stock_location_row``, when the caller (a sync of many
    products) looked it up once already. Two queries and one upsert
    (``bulk_create`` with ``update_conflicts``), one fewer with ``location``.
    """
    location = location or stock_location_row(store)
    if location is None:
        return
    variants = [v for v in product.variants.all() if v.stock is not None]
    now = timezone.now()
    with transaction.atomic():
        if variants:
            InventoryLevel.objects.bulk_create(
                [InventoryLevel(location=location, variant=v, available=store.published_stock(v.stock), pushed=True,
                                updated_at=now) for v in variants],
                update_conflicts=True, unique_fields=["location", "variant"],
                update_fields=["available", "pushed", "updated_at"],
            )
        InventoryLevel.objects.filter(location__store=store, variant__product_id=product.pk, pushed=True).exclude(
            location=location).update(pushed=False)


def read_levels(store: Store, listing: Listing) -> list[InventoryLevel]:
    """Read ``listing``'s product's stock at every location of ``store`` and keep it as ``InventoryLevel`` rows.

    Shopify: each variant's ``inventoryItem.inventoryLevels`` with
    ``quantities(names: ["available"])`` (``ShopifyPlugin.inventory_levels``).
    Store variants are matched to ours through ``listing.variant_ids`` (SKU
    or ``#position`` → variant GID); untracked items and variants we do not
    know are skipped. A level at a location the store's rows lack makes
    the locations refresh first (``refresh_locations``). In one transaction:
    each level is upserted (``pushed`` = it is the store's stock location,
    where FlashFusion writes), and levels of these variants at the store's
    other locations that the store no longer has (the item was unstocked
    there) are deleted. Returns the product's rows at this store's
    locations, by variant position then location.

    Platforms without locations, or a listing without a store id: ``[]``,
    no call. Raises the plugin's ``StoreError`` (``NotFound`` when the store
    has no such product).
    """
    if not has_locations(store) or not listing.external_id:
        return []
    rows = {row.external_id: row for row in StoreLocation.objects.filter(store=store)}
    plugin = store.plugin()
    try:
        if not rows:
            rows = {row.external_id: row for row in refresh_locations(store)}
        remote = plugin.inventory_levels(listing.external_id, levels_first=min(250, max(10, len(rows) + 5)))
    finally:
        plugin.close()
    if any(level["location_id"] not in rows for entry in remote for level in entry["levels"]):
        rows = {row.external_id: row for row in refresh_locations(store)}
    ours = stock_location_row(store)
    by_key = {variant_key(v.sku, v.position): v for v in listing.product.variants.all()}
    by_gid = {str(gid): by_key[key] for key, gid in (listing.variant_ids or {}).items() if key in by_key}
    seen: set[tuple[int, int]] = set()
    with transaction.atomic():
        for entry in remote:
            variant = by_gid.get(entry["variant_id"])
            if variant is None or not entry["tracked"]:
                continue
            for level in entry["levels"]:
                location = rows.get(level["location_id"])
                if location is None:
                    continue
                InventoryLevel.objects.update_or_create(
                    location=location, variant=variant,
                    defaults={"available": level["available"], "pushed": ours is not None and location.pk == ours.pk})
                seen.add((location.pk, variant.pk))
        known = [v.pk for v in by_gid.values()]
        stale = [pk for pk, location_id, variant_id in InventoryLevel.objects.filter(
            location__store=store, variant_id__in=known).values_list("pk", "location_id", "variant_id")
            if (location_id, variant_id) not in seen]
        InventoryLevel.objects.filter(pk__in=stale).delete()  # one DELETE, not one per level
        events.publish(
            store.organization_id, "inventory.read",
            f"{listing.product.title}: stock read from {store} at {len({loc for loc, _ in seen})} location(s)",
            {"store_id": store.pk, "product_id": listing.product_id, "listing_id": listing.pk, "quiet": True,
             "levels": len(seen)},
        )
    return list(InventoryLevel.objects.filter(location__store=store, variant__product_id=listing.product_id)
                .select_related("location", "variant").order_by("variant__position", "variant_id",
                                                                "-location__is_primary", "location__name"))
