"""Pull agent: act on one inbound webhook delivery (job kind ``store.pull``).

A store says "product X changed" (``stores.webhooks`` wrote the delivery);
this agent finds our listing for X, asks the store for the product as it is
now (the webhook body may be stale or trimmed, and a replay must see the
present), and compares three versions on the fields we write (title,
status, SKU, description, short description, and per variant the price,
the compare-at price and the stock): the store's answer at our last
publish (the listing's ``remote_snapshot``), the catalog now (the plugin's
``build_payload(product)``) and the store now (``agents.conflicts``). A
field only the catalog changed is our pending publish, left to the sync; a
field the store changed is a store edit, a conflict when the catalog
changed it too. Nothing changed by the store: the delivery is processed,
nothing else changes (the webhook was our own write coming back, or a
change to a field we do not manage; a listing in conflict whose store went
back is settled). Store edits follow the store's ``conflict_resolution``:
"Catalog wins" publishes the catalog again, "Store wins" takes the store's
values into the catalog (and publishes them to the other stores), "Newest
change wins" takes a store-only edit and settles a conflict by the later of
the store's modification time and the product's ``updated_at``, "Ask a
reviewer" opens (or updates) one approval request for the listing, whose
diff shows last synced, catalog and store, and marks the listing a
conflict ("Changed in store") until a reviewer decides. The job log has one
line per field with the catalog's, the store's and the last-synced value
and what was decided; an event reads "Belt changed in store Main shop:
price 20.00 → 18.00" (``listing.conflict`` while a reviewer decides,
``listing.conflict_resolved`` when the store's policy did). A product
deleted in the store (``product.deleted`` / ``products/delete``, or a 404 on
the fetch) becomes a conflict "deleted in store". A delivery for a product
we never published is processed with a log line.

Shopify stock is compared at the store's stock location (the chosen one,
else the primary; ``fetch_product`` reads the level there and every write's
snapshot notes what it set there): units the merchant keeps at other
locations are theirs, not a store edit (``agents.fields``: the fields,
read in catalog terms, so the messages speak the operator's language).

One job may answer several deliveries for one product (``stores.webhooks``
coalesces a burst into the pull that waits): it fetches once, for the
latest of them, and marks them all. Before fetching it asks
``agents.echo.judge`` again about each: a delivery that came while our
write was in flight matches the listing once the Sync agent has saved the
write's answer; when every delivery is such an echo, they are marked "Echo
of our write" and nothing is fetched (``{"echo": n}``). A replay always
fetches.

The delivery rows are marked processed, or failed with the error. A
retryable store error (rate limit, 5xx, timeout) is raised again so the
runner retries the job; the rows stay "received" until the last attempt.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agents import conflicts
from agents.echo import echo_note, find_listing, judge
from agents.fields import (  # noqa: F401 (these names are also imported from agents.pull)
    FIELD_READERS,
    NONE,
    SHOPIFY_STATUSES,
    WOO_STATUSES,
    Difference,
    _money,
    _shopify_stock,
    _short,
    _text,
    _woo_offer,
    align_stock_base,
    compare,
    field_group,
    only_groups,
    shopify_fields,
    stock_location_of,
    woocommerce_fields,
)
from agents.sync import payload_hashes
from flashfusion import events
from products.models import Product, hash_json
from stores.choices import SCOPE_FIELDS, ConflictResolution, DeliveryStatus, ListingState
from stores.choices import WEBHOOK_DELETE_TOPICS as DELETE_TOPICS
from stores.choices import WEBHOOK_UPDATE_TOPICS as UPDATE_TOPICS
from stores.models import Listing, WebhookDelivery
from stores.plugins import NotFound, StoreError


class PullAgent:
    """Handles one ``store.pull`` job: ``job.params["delivery_id"]`` names the ``WebhookDelivery``.

    Result counts (one of): ``{"conflicts": 1, "fields": n}`` (waits for a reviewer),
    ``{"resolved": 1, "taken": n, "kept": n}`` (settled by the store's policy),
    ``{"pending": 1, "fields": n}`` (only the catalog changed), ``{"in_sync": 1}``,
    ``{"deleted": 1}``, ``{"unknown": 1}`` (no listing for that store id),
    ``{"ignored": 1}`` (a topic we do not act on), ``{"echo": n}`` (every delivery was our own write).

    ``job.params``: ``delivery_id`` (the delivery that queued it), ``target``
    (what coalesces later deliveries: ``stores.webhooks.queue_pull``), ``replay``
    (an operator asked: always fetch). The deliveries it answers: that one and
    every delivery still "received" that joined the job.
    """

    def __init__(self, job):
        self.job = job
        first = WebhookDelivery.objects.select_related("store__organization").get(
            pk=job.params["delivery_id"], organization_id=job.organization_id)
        joined = (WebhookDelivery.objects.select_related("store__organization")
                  .filter(job=job, status=DeliveryStatus.RECEIVED).exclude(pk=first.pk))
        self.deliveries = sorted([first, *joined], key=lambda d: d.pk)
        #: The latest delivery decides the topic (a product deleted, then restored, is there).
        self.delivery = self.deliveries[-1]
        self.store = first.store

    def run(self) -> dict:
        delivery = self.delivery
        for each in self.deliveries:
            each.job = self.job
        others = f" (and {len(self.deliveries) - 1} earlier for this product)" if len(self.deliveries) > 1 else ""
        self.job.add_log(f"delivery #{delivery.pk}: {delivery.topic} for store product {delivery.resource_id or '?'}"
                         + others)
        if not self.job.params.get("replay"):
            echoes = self._echoes()
            if echoes is not None:
                return echoes
        try:
            result = self._handle()
        except StoreError as exc:
            final = not exc.retryable or self.job.attempts >= self.job.max_attempts
            self._finish(DeliveryStatus.FAILED if final else DeliveryStatus.RECEIVED, f"{type(exc).__name__}: {exc}")
            raise
        except Exception as exc:
            self._finish(DeliveryStatus.FAILED, f"{type(exc).__name__}: {exc}")
            raise
        self._finish(DeliveryStatus.PROCESSED, "")
        return result

    def _echoes(self) -> dict | None:
        """``{"echo": n}`` with every delivery marked an echo, when each one matches what we last wrote now (the
        write they echo was in flight when they came); None when any needs the fetch."""
        reasons = []
        for each in self.deliveries:
            try:
                body = json.loads(each.body)
            except ValueError:
                return None
            reason = judge(self.store, each.topic, each.resource_id, body).echo
            if not reason:
                return None
            reasons.append(reason)
        for each, reason in zip(self.deliveries, reasons):
            each.status, each.error, each.note = DeliveryStatus.ECHO, "", echo_note(reason)
            each.save(update_fields=["status", "error", "note", "job"])
        self.job.add_log(f"{len(reasons)} deliver{'ies' if len(reasons) != 1 else 'y'}: the store's fields "
                         f"{reasons[-1]}: an echo of our own write, nothing fetched")
        return {"echo": len(reasons)}

    def _finish(self, status: str, error: str) -> None:
        for each in self.deliveries:
            each.status = status
            each.error = error
            each.save(update_fields=["status", "error", "job"])

    # ------------------------------------------------------------------ steps

    def _handle(self) -> dict:
        delivery = self.delivery
        body = json.loads(delivery.body)
        if delivery.topic in DELETE_TOPICS:
            listing = self._listing(body)
            if listing is None:
                return self._unknown()
            return self._deleted(listing)
        if delivery.topic not in UPDATE_TOPICS:
            self.job.add_log(f"topic {delivery.topic}: nothing to do")
            return {"ignored": 1}
        listing = self._listing(body)
        if listing is None:
            return self._unknown()
        reader = FIELD_READERS.get(self.store.platform)
        if reader is None:
            raise ValueError(f"no field reader for the platform {self.store.platform!r} (agents.pull.FIELD_READERS)")
        plugin = self.store.plugin()
        try:
            try:
                remote = plugin.fetch_product(listing.external_id)
                payload = plugin.build_payload(listing.product)
            except NotFound:
                self.job.add_log(f"the store answers 404 for product {listing.external_id}")
                return self._deleted(listing)
            return self._decide(listing, plugin, reader, payload, remote)
        finally:
            plugin.close()

    def _decide(self, listing: Listing, plugin, reader, payload: dict, remote: dict) -> dict:
        """Compare last synced, catalog and store per field (``agents.conflicts.three_way``) and act on the
        store's edits under the store's ``conflict_resolution``.

        A store that takes only prices or stock from the catalog (``sync_scope``) is compared on those
        fields alone: its titles and descriptions are the merchant's to edit there.
        """
        scope = SCOPE_FIELDS.get(self.store.sync_scope, frozenset())
        if scope:
            _digest, hashes = payload_hashes(plugin, listing.product, payload)  # {} without field updates
            known = listing.field_hashes or {}
            catalog_unchanged = bool(hashes) and all(hashes[g] == known.get(g) for g in scope)
        else:
            catalog_unchanged = hash_json(payload) == listing.content_hash
        if not catalog_unchanged:
            self.job.add_log("the catalog changed since the last publish: fields only the catalog changed "
                             "are ours, and the next publish writes them")
        base = reader(listing.remote_snapshot) if listing.remote_snapshot else None
        if base is None and not catalog_unchanged:
            self.job.add_log("no last-synced version of this listing: every difference counts as a conflict")
        catalog_fields, store_fields = only_groups(reader(payload), scope), only_groups(reader(remote), scope)
        base = only_groups(base, scope)
        platform = self.store.platform
        base_location = stock_location_of(platform, listing.remote_snapshot)
        store_location = stock_location_of(platform, remote)
        if base is not None and store_location and base_location != store_location:
            self.job.add_log("the last synced stock was not read at the stock location: stock counts as "
                             + ("published" if catalog_unchanged else "unchanged in the store"))
        base = align_stock_base(base, catalog_fields, store_fields, base_location=base_location,
                                store_location=store_location, catalog_unchanged=catalog_unchanged)
        changes = conflicts.three_way(base, catalog_fields, store_fields, catalog_unchanged=catalog_unchanged)
        policy = self.store.conflict_resolution
        store_time = conflicts.store_modified_at(self.store.platform, remote)
        catalog_time = listing.product.updated_at
        decided = conflicts.winners(changes, policy, store_time=store_time, catalog_time=catalog_time)
        for change in changes:
            self._log_change(change, decided.get(change.field, ""))
        theirs = [c for c in changes if c.field in decided]
        if not theirs:
            return self._nothing_from_store(listing, changes, catalog_unchanged)
        self.job.add_log(f"conflict resolution of {self.store.name}: {ConflictResolution(policy).label}")
        if policy == ConflictResolution.NEWEST_WINS and any(c.side == conflicts.CONFLICT for c in theirs):
            newer = "the store" if store_time and store_time > catalog_time else "the catalog"
            self.job.add_log(f"newest wins: the store changed the product at {store_time.isoformat() if store_time else 'an unknown time'}, "
                             f"the catalog at {catalog_time.isoformat()}: {newer} is newer")
        if conflicts.REVIEW in decided.values():
            return self._review(listing, changes, theirs, decided, payload, remote, has_base=base is not None or catalog_unchanged)
        return self._resolve(listing, plugin, theirs, decided, remote, catalog_unchanged)

    def _log_change(self, change, winner: str) -> None:
        base = "unknown" if change.base is None else _short(change.base, 120)
        line = (f"{change.field}: catalog {_short(change.catalog, 120)}, store {_short(change.store, 120)}, "
                f"last synced {base} — {conflicts.SIDE_LABELS[change.side]}")
        if winner:
            line += f" → {conflicts.WINNER_LABELS[winner]}"
        elif change.side == conflicts.CATALOG:
            line += " → left to the sync"
        self.job.add_log(line)

    def _nothing_from_store(self, listing: Listing, changes, catalog_unchanged: bool) -> dict:
        """The store changed none of our fields since the last sync (or changed them as the catalog did)."""
        ours = [c for c in changes if c.side == conflicts.CATALOG]
        if listing.state == ListingState.CONFLICT:
            with transaction.atomic():
                closed = conflicts.close_review(listing, f"{self.store.name} no longer differs from the last sync")
                listing.state = ListingState.IN_SYNC if catalog_unchanged and not changes else ListingState.PENDING
                listing.last_error = ""
                listing.save(update_fields=["state", "last_error"])
                events.publish(
                    self.store.organization_id, "listing.conflict_resolved",
                    f"{listing.product.title}: {self.store.name} no longer differs from the last sync",
                    {"store_id": self.store.pk, "product_id": listing.product_id, "listing_id": listing.pk,
                     "webhook_delivery_id": self.delivery.pk, "review_closed": closed},
                )
            self.job.add_log(f"the conflict is over: the listing is {listing.get_state_display().lower()}"
                             + (", its waiting approval request is stale" if closed else ""))
        if ours:
            return {"pending": 1, "fields": len(ours)}
        self.job.add_log(f"{listing.product.title}: the store matches the catalog on every compared field")
        return {"in_sync": 1}

    def _review(self, listing: Listing, changes, theirs, decided, payload: dict, remote: dict, *, has_base: bool) -> dict:
        """Manual: one approval request per listing, three ways; the listing stays a conflict until decided."""
        platform = self.store.platform
        summary = ", ".join(str(Difference(c.field, c.catalog, c.store)) for c in theirs)
        store_values = conflicts.shown_values(platform, changes, conflicts.STORE, remote)
        base_values = None
        if has_base:
            base_values = conflicts.shown_values(platform, changes, "base", listing.remote_snapshot or payload)
        take_values = {k: v for k, v in store_values.items() if k in decided}
        with transaction.atomic():
            approval, how = conflicts.request_review(
                listing, store_values=store_values, base_values=base_values, take_values=take_values,
                reason=f"Changed in store {self.store.name}: {summary}")
            listing.state = ListingState.CONFLICT
            listing.last_error = f"changed in store: {summary}"[:2000]
            listing.save(update_fields=["state", "last_error"])
            events.publish(
                self.store.organization_id, "listing.conflict",
                f"{listing.product.title} changed in store {self.store.name}: {summary}",
                {"store_id": self.store.pk, "product_id": listing.product_id, "listing_id": listing.pk,
                 "webhook_delivery_id": self.delivery.pk, "approval_id": approval.pk,
                 "changes": [c.as_dict(decided[c.field]) for c in theirs]},
            )
        self.job.add_log(f"approval request #{approval.pk} {how}: approving takes the store's values into the "
                         "catalog, rejecting publishes the catalog over them")
        return {"conflicts": 1, "fields": len(theirs)}

    def _resolve(self, listing: Listing, plugin, theirs, decided, remote: dict, catalog_unchanged: bool) -> dict:
        """Catalog wins: publish it over the store. Store wins: take its values into the catalog, publish them
        to the other stores and count this listing in sync (pending when the catalog has more to write)."""
        platform = self.store.platform
        values, keep = {}, [c for c in theirs if decided[c.field] == conflicts.KEEP_CATALOG]
        for change in theirs:
            if decided[change.field] != conflicts.TAKE_STORE:
                continue
            try:
                values[change.field] = conflicts.catalog_value(platform, change.field, change.store, remote)
            except ValidationError as exc:
                self.job.add_log(f"{change.field}: the catalog refuses the store's value ({' '.join(exc.messages)}): "
                                 "the catalog's is published again")
                decided[change.field] = conflicts.KEEP_CATALOG
                keep.append(change)
        product = listing.product
        job = None
        with transaction.atomic():
            if values:
                conflicts.take_store_values(product, values)
                listing.remote_snapshot = remote
                listing.last_error = ""
                if keep or not catalog_unchanged:
                    listing.state = ListingState.PENDING  # the publish apply_snapshot queued writes the rest
                else:
                    fresh = Product.objects.select_related("organization").get(pk=product.pk)
                    listing.content_hash, listing.field_hashes = payload_hashes(plugin, fresh,
                                                                                plugin.build_payload(fresh))
                    listing.state = ListingState.IN_SYNC
                    listing.last_synced_at = timezone.now()
                listing.save(update_fields=["remote_snapshot", "last_error", "state", "content_hash", "field_hashes",
                                            "last_synced_at"])
            elif keep:
                listing.last_error = ""
                listing.save(update_fields=["last_error"])
                job = conflicts.overwrite_store(listing, reason=f"delivery:{self.delivery.pk}")
            parts = []
            if values:
                parts.append(f"took {', '.join(values)} from the store")
            if keep:
                parts.append(f"publishing the catalog's {', '.join(c.field for c in keep)} again")
            summary = ", ".join(str(Difference(c.field, c.catalog, c.store)) for c in theirs)
            events.publish(
                self.store.organization_id, "listing.conflict_resolved",
                f"{product.title} changed in store {self.store.name}: {summary} — {'; '.join(parts)}",
                {"store_id": self.store.pk, "product_id": listing.product_id, "listing_id": listing.pk,
                 "webhook_delivery_id": self.delivery.pk, "policy": self.store.conflict_resolution,
                 "job_id": job.pk if job else None,
                 "changes": [c.as_dict(decided[c.field]) for c in theirs]},
            )
        if job is not None:
            self.job.add_log(f"queued job #{job.pk}: publish {product.title} to {self.store.name}")
        if values:
            self.job.add_log(f"took {', '.join(values)} into the catalog; every store listing it gets a publish")
        return {"resolved": 1, "taken": len(values), "kept": len(keep)}

    def _listing(self, body: dict) -> Listing | None:
        """Our listing for the delivery's product; a variation's delivery finds its parent's listing."""
        return find_listing(self.store, self.delivery.resource_id, body)

    def _unknown(self) -> dict:
        self.job.add_log(f"no listing in {self.store.name} for store product {self.delivery.resource_id or '?'}: "
                         "not one of ours, nothing to compare")
        return {"unknown": 1}

    def _deleted(self, listing: Listing) -> dict:
        self.job.add_log(f"{listing.product.title}: deleted in store {self.store.name}")
        with transaction.atomic():
            listing.state = ListingState.CONFLICT
            listing.last_error = "deleted in store"
            listing.save(update_fields=["state", "last_error"])
            events.publish(
                self.store.organization_id, "listing.conflict",
                f"{listing.product.title} deleted in store {self.store.name}",
                {"store_id": self.store.pk, "product_id": listing.product_id, "listing_id": listing.pk,
                 "webhook_delivery_id": self.delivery.pk, "deleted": True},
            )
        return {"deleted": 1}


def run_pull(job) -> dict:
    """Job handler for ``store.pull``."""
    return PullAgent(job).run()
