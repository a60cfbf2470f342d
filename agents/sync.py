"""Sync agent: publish the catalog to one store — full, incremental or selective.

Plan per product by content hash: create what the store lacks, update what
changed since the last push, delete what the catalog deleted, leave the rest
alone. When only prices or stock changed, and the plugin can write them alone
(``Capability.FIELD_UPDATES``), only those are written — on Shopify a
``productVariantsBulkUpdate`` or a shared ``inventorySetQuantities`` instead
of a ``productSet`` per product. A field-selective sync (the store's
``sync_scope``, or ``fields`` in the job) writes only the chosen fields.
Each batch's outcome is saved before the next call, so a retried job
re-plans from what already landed and never creates a duplicate (the plugin
also binds by SKU when the store already holds the product).
"""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from flashfusion import events
from products.choices import ProductKind
from products.models import Product, hash_json
from stores.breaker import CircuitOpen
from agents.models import SyncRun
from agents.publishable import record_refused
from stores import inventory
from stores.choices import CONTENT, FIELD_GROUPS, SCOPE_FIELDS, ListingState, SyncStrategy
from stores.models import Listing
from stores.plugins import Capability, FieldUpdate, ItemResult, StoreError


#: Failed items a job's result lists with their error (``failed_product_ids`` keeps every id).
FAILED_ITEMS_KEPT = 200


@dataclass
class FieldWrite:
    """A listing whose field groups (price, stock) are written alone; ``hashes`` are the product's field hashes
    now (``CONTENT`` and every group), ``digest`` the hash of its whole payload, ``was_in_sync`` whether the
    listing's recorded hashes described the store when the run planned (not pending, error or conflict)."""

    update: FieldUpdate
    hashes: dict[str, str]
    digest: str
    was_in_sync: bool = True


@dataclass
class SyncPlan:
    """What one publish run will do: (product, payload, hash) triples per action; ``patch``: ``FieldWrite``s;
    ``not_listed``: products a field-selective run leaves alone because the store does not list them;
    ``refused``: ``(product, listing or None, [Refusal])`` for products the platform cannot take
    (``StorePlugin.refusals``), skipped and recorded "not publishable here"; ``orphans``: listings of
    products deleted from the catalog that the store never held, removed when the run starts."""

    create: list = field(default_factory=list)
    update: list = field(default_factory=list)
    delete: list = field(default_factory=list)
    patch: list = field(default_factory=list)
    unchanged: int = 0
    not_listed: int = 0
    refused: list = field(default_factory=list)
    orphans: list = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.create) + len(self.update) + len(self.delete) + len(self.patch)


def payload_hashes(plugin, product, payload: dict) -> tuple[str, dict[str, str]]:
    """(content hash, field hashes) of a payload the store now holds whole, for ``Listing.content_hash`` and
    ``Listing.field_hashes``; the field hashes are ``{}`` for a plugin without ``Capability.FIELD_UPDATES``.

    Whatever marks a listing in sync must set both: a stale price hash would let a later stock-only write
    leave an older price in the store.
    """
    if Capability.FIELD_UPDATES not in plugin.capabilities:
        return hash_json(payload), {}
    return hash_json(payload), field_hashes(plugin, product, payload)[0]


def field_hashes(plugin, product, payload: dict) -> tuple[dict[str, str], dict[str, dict]]:
    """``({CONTENT: hash, "price": hash, "stock": hash}, the groups' values)`` of a payload, through the plugin's
    ``split_payload`` (only for plugins with ``Capability.FIELD_UPDATES``)."""
    content, groups = plugin.split_payload(product, payload)
    return {CONTENT: hash_json(content), **{g: hash_json(groups.get(g, {})) for g in FIELD_GROUPS}}, groups


def parse_fields(value) -> frozenset[str]:
    """``job.params["fields"]`` as a set of field groups (``stores.choices.FIELD_GROUPS``); empty: whole products.

    Accepts a list (``["price", "stock"]``) or a comma-separated string. Raises
    ``ValueError`` naming the parameter and the allowed groups for anything else.
    """
    if value in (None, "", []):
        return frozenset()
    names = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"params['fields'] must be a list of field groups ({', '.join(FIELD_GROUPS)}), got {value!r}")
    unknown = sorted(set(names) - set(FIELD_GROUPS))
    if unknown:
        raise ValueError(f"params['fields']: unknown field group {', '.join(map(repr, unknown))}; "
                         f"use {' or '.join(FIELD_GROUPS)}")
    return frozenset(names)


class SyncAgent:
    """Publishes one store's catalog with the job's strategy.

    ``job.params``: ``strategy`` — "full" (every product), "incremental"
    (only products changed since the store's ``sync_cursor``, deleted since
    it, or whose listing is not in sync; cost grows with the changes, not the
    catalog; without a cursor yet it runs full), "selective" (``product_ids``
    only); default the store's ``sync_strategy``. ``product_ids`` makes it
    selective. With ``unpublish`` (only together with ``product_ids``) those
    products are removed from this store instead, as a catalog delete would.
    ``trigger`` is recorded on the run. Listings in conflict are left for
    their review (``agents.pull``) by full and incremental runs; a selective
    run names its products and overwrites them.

    Fields: the store's ``sync_scope`` (price and/or stock only), and
    ``params["fields"]`` (e.g. ``["price", "stock"]``, narrowed to the
    store's scope), make the run field-selective: listed products get only
    those fields (when their hashes changed, or the listing is not in sync),
    nothing is created, products deleted from the catalog are deleted from
    the store, and nothing is written whole (an item that cannot take its
    fields alone fails, saying so). ``params["whole"]`` (an operator's
    "Publish now", the matrix, a bulk publish) writes whole products
    whatever the scope. A listing becomes "in sync" after a field write
    when it was in sync and the store now holds the whole payload, or when
    the fields written cover the store's own scope; otherwise its content
    hash is cleared, as the store no longer holds the payload last hashed.
    Without fields, a listing in sync whose content is unchanged and whose
    prices or stock changed is patched the same way (cheaper than a whole
    write).

    A full or incremental run that ends (item failures included: their
    listings stay "error" and come back in the next incremental plan) moves
    the store's ``sync_cursor`` to the moment it planned, so catalog edits
    made while it ran are caught next time. Every run is recorded as a
    ``SyncRun`` with its counts.

    Capability checks: a product the platform cannot take (``StorePlugin.refusals``: e.g. a grouped
    product on Shopify) is not sent; its listing is saved as "not publishable here" with the reasons,
    it is not counted as failed, and the incremental plan leaves it alone until the product changes.

    Result counts: ``{"created", "updated", "deleted", "unchanged", "failed", "considered"}``, and
    ``"skipped"`` (products not publishable here) when there were any; when items failed, also
    ``"failed_items"`` (``[{"product_id", "sku", "title", "error"}]``, the first ``FAILED_ITEMS_KEPT``) and
    ``"failed_product_ids"`` (all), so the job's page lists them and "Retry the failed items" publishes just
    those; the runner then ends the job "partial".
    Raises the first retryable ``StoreError`` after recording every item, so
    the runner retries the job; items refused for good are counted as failed.
    """

    def __init__(self, job=None, *, store=None, params=None):
        #: None for a dry run (``SyncAgent.dry_run``): what would be logged is kept in ``notes`` instead.
        self.job = job
        self.notes: list[str] = []
        self.store = job.store if job is not None else store
        self.plugin = self.store.plugin()
        params = (job.params if job is not None else params) or {}
        self.product_ids = params.get("product_ids") or None
        self.unpublish = bool(self.product_ids) and bool(params.get("unpublish"))
        self.strategy = SyncStrategy.SELECTIVE if self.product_ids else (params.get("strategy") or self.store.sync_strategy)
        if self.strategy == SyncStrategy.SELECTIVE and not self.product_ids:
            self.strategy = SyncStrategy.INCREMENTAL  # "selective" with nothing chosen: only what changed
        self.trigger = params.get("trigger") or ("manual" if job is not None and job.created_by_id else "")
        self.conflicts_left = 0
        #: ``(product, error text)`` of each item that failed, in the order they failed.
        self.failures: list[tuple] = []
        explicit = parse_fields(params.get("fields"))
        if explicit and self.unpublish:
            raise ValueError("params['fields'] cannot be combined with unpublish: removing a product writes no fields")
        #: The fields this store takes from the catalog (empty: everything); whole publishes and removals ignore it.
        whole = bool(params.get("whole")) or self.unpublish
        self.scope_fields = frozenset() if whole else SCOPE_FIELDS.get(self.store.sync_scope, frozenset())
        self.fields = (explicit & self.scope_fields if self.scope_fields else explicit) if explicit else self.scope_fields
        self.can_patch = Capability.FIELD_UPDATES in self.plugin.capabilities
        self.fields_only = bool(explicit or self.scope_fields) and self.can_patch
        if explicit and not self.fields:
            self._log(f"{self.store} takes only {' and '.join(sorted(self.scope_fields))} from the catalog: "
                             f"nothing of {' and '.join(sorted(explicit))} to write")
        #: The run leaves nothing of what the store manages for later (moves the cursor, marks listings in sync).
        self.covers_scope = not self.fields_only or bool(self.scope_fields and self.scope_fields <= self.fields)
        #: Where stock written is noted per location (``stores.inventory``); None on platforms without locations.
        self.stock_location = inventory.stock_location_row(self.store) if inventory.has_locations(self.store) else None

    def candidate_ids(self, cursor) -> set[int]:
        """Incremental scope: products changed or deleted after ``cursor``, and those whose listing is not in sync.

        Three indexed queries (product_org_updated, listing_store_state);
        every catalog write bumps ``Product.updated_at``.
        """
        org_products = Product.objects.filter(organization_id=self.store.organization_id)
        changed = org_products.filter(deleted_at__isnull=True, updated_at__gt=cursor).values_list("pk", flat=True)
        removed = org_products.filter(deleted_at__gt=cursor).values_list("pk", flat=True)
        unsettled = self.store.listings.filter(state__in=[ListingState.PENDING, ListingState.ERROR]).values_list(
            "product_id", flat=True
        )
        return {*changed, *removed, *unsettled}

    def plan(self) -> SyncPlan:
        self.planned_at = timezone.now()
        products = Product.objects.filter(organization_id=self.store.organization_id)
        listings = self.store.listings.all()
        if self.product_ids:
            products = products.filter(pk__in=self.product_ids)
            listings = listings.filter(product_id__in=self.product_ids)
        elif self.strategy == SyncStrategy.INCREMENTAL:
            if self.store.sync_cursor is None:
                self._log("incremental sync without an earlier complete sync: running full this time")
                self.strategy = SyncStrategy.FULL
            else:
                ids = self.candidate_ids(self.store.sync_cursor)
                products = products.filter(pk__in=ids)
                listings = listings.filter(product_id__in=ids)
        listings = {lst.product_id: lst for lst in listings}
        plan = SyncPlan()
        self.considered = 0
        if self.fields and not self.can_patch:
            platform = self.plugin.label or self.plugin.platform
            self._log(f"{platform} cannot write {' and '.join(sorted(self.fields))} alone: "
                             "writing whole products")
        fields_only = self.fields_only
        for product in products.select_related("organization").prefetch_related("variants"):
            self.considered += 1
            listing = listings.get(product.pk)
            if fields_only and not product.deleted_at and not (listing and listing.external_id):
                plan.not_listed += 1  # a field-selective run creates nothing
                continue
            if product.deleted_at or self.unpublish:
                if listing and listing.external_id:
                    plan.delete.append((product, listing))
                elif listing:
                    plan.orphans.append(listing)
                continue
            if listing is not None and listing.state == ListingState.CONFLICT and not self.product_ids:
                self.conflicts_left += 1
                continue
            refusals = self.plugin.refusals(product)
            if refusals:
                plan.refused.append((product, listing, refusals))
                continue
            payload = self.plugin.build_payload(product)
            digest = hash_json(payload)
            if listing is None or not listing.external_id:
                plan.create.append((product, payload, digest))
                continue
            in_sync = listing.state == ListingState.IN_SYNC
            if not fields_only and listing.content_hash == digest and in_sync:
                plan.unchanged += 1
                continue
            hashes, groups = field_hashes(self.plugin, product, payload) if self.can_patch else ({}, {})
            known = listing.field_hashes or {}
            if fields_only:
                wanted = {g: groups[g] for g in sorted(self.fields) if not in_sync or hashes[g] != known.get(g)}
            elif in_sync and hashes and known.get(CONTENT) == hashes[CONTENT]:
                wanted = {g: groups[g] for g in FIELD_GROUPS if hashes[g] != known.get(g)}
                if not wanted:  # nothing tells which part changed: write it whole
                    plan.update.append((product, listing, payload, digest))
                    continue
            else:
                plan.update.append((product, listing, payload, digest))
                continue
            if wanted:
                update = FieldUpdate(listing, product, payload, wanted, allow_whole=not fields_only)
                plan.patch.append(FieldWrite(update, hashes, digest, was_in_sync=in_sync))
            else:
                plan.unchanged += 1
        # A grouped product names its children by store id, so create it after
        # every other product, whichever batch the children land in.
        plan.create.sort(key=lambda entry: entry[0].kind == ProductKind.GROUPED)
        return plan

    def _log(self, line: str) -> None:
        """A line for the job log, or for ``notes`` in a dry run."""
        if self.job is not None:
            self.job.add_log(line)
        else:
            self.notes.append(line)

    @classmethod
    def dry_run(cls, store, params: dict | None = None) -> tuple["SyncAgent", SyncPlan]:
        """``(agent, plan)``: what a ``store.publish`` job with ``params`` would do now, without writing.

        Nothing is saved (no listing, run row or cursor) and no write is sent to the store; building the
        payloads may read the store once (Shopify's primary location, when no location row is known), so it
        can raise a ``StoreError``. The agent's ``considered``, ``conflicts_left``, ``strategy`` (an
        incremental run without a cursor runs full) and ``notes`` describe the plan.
        """
        agent = cls(store=store, params=params)
        try:
            return agent, agent.plan()
        finally:
            agent.plugin.close()

    def run(self) -> dict:
        started = timezone.now()
        plan = self.plan()
        counts = {"created": 0, "updated": 0, "deleted": 0, "unchanged": plan.unchanged, "failed": 0}
        if plan.orphans:
            Listing.objects.filter(pk__in=[lst.pk for lst in plan.orphans]).delete()
        self.run_row = SyncRun.objects.create(
            organization_id=self.store.organization_id, store=self.store, job=self.job, strategy=self.strategy,
            trigger=self.trigger, started_at=started, considered=self.considered, unchanged=plan.unchanged,
            fields=",".join(sorted(self.fields)) if self.fields_only else "",
        )
        scope = f", {' and '.join(sorted(self.fields))} only" if self.fields_only else ""
        self._log(
            f"{self.strategy} sync{scope} ({self.trigger or 'no trigger'}): {self.considered} products considered; "
            f"plan: {len(plan.create)} to create, {len(plan.update)} to update, "
            f"{len(plan.patch)} to update prices or stock alone, "
            f"{len(plan.delete)} to delete, {plan.unchanged} unchanged"
            + (f"; {self.conflicts_left} in conflict left for review" if self.conflicts_left else "")
            + (f"; {plan.not_listed} not listed in this store, left alone" if plan.not_listed else "")
            + (f"; {len(plan.refused)} not publishable here, skipped" if plan.refused else "")
        )
        try:
            if plan.refused:
                counts["skipped"] = record_refused(self.store, plan.refused, platform=self.plugin.label or
                                                   self.plugin.platform, log=self._log)
            return self._run(plan, counts)
        except BaseException as exc:
            self._finish(counts, SyncRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
            raise

    def _finish(self, counts: dict, status: str, *, error: str = "") -> None:
        fields = {k: counts.get(k, 0) for k in ("created", "updated", "deleted", "unchanged", "failed")}
        SyncRun.objects.filter(pk=self.run_row.pk).update(status=status, finished_at=timezone.now(), error=error[:2000], **fields)
        skipped = f", not publishable here {counts['skipped']}" if counts.get("skipped") else ""
        events.publish(
            self.store.organization_id, "store.synced",
            f"{self.strategy.capitalize()} sync of {self.store}: " + ", ".join(f"{k} {v}" for k, v in fields.items())
            + skipped,
            {"store_id": self.store.pk, "quiet": status == SyncRun.Status.SUCCEEDED and not any(
                fields[k] for k in ("created", "updated", "deleted", "failed"))},
        )

    def _run(self, plan: SyncPlan, counts: dict) -> dict:
        self.job.set_progress(0, plan.total)
        done = 0
        retryable: StoreError | None = None
        size = max(1, min(self.store.batch_size, self.plugin.max_batch))
        if plan.total and (Capability.BATCH_WRITES not in self.plugin.capabilities or self.plugin.max_batch <= 1):
            # The workaround DESIGN.md asks to be logged (StorePlugin: without batch_writes, one call per item).
            platform = self.plugin.label or self.plugin.platform
            self._log(f"no batch writes on {platform}: one call per product ({plan.total} calls)")
        for start in range(0, len(plan.create), size):
            chunk = plan.create[start : start + size]
            results = self._call(self.plugin.create_listings, [(p, payload) for p, payload, _ in chunk], chunk)
            retryable = self._record(chunk, results, counts, "created") or retryable
            done += len(chunk)
            self.job.set_progress(done)
        for start in range(0, len(plan.update), size):
            chunk = plan.update[start : start + size]
            results = self._call(self.plugin.update_listings, [(lst, p, payload) for p, lst, payload, _ in chunk], chunk)
            retryable = self._record([(p, payload, d) for p, _, payload, d in chunk], results, counts, "updated") or retryable
            done += len(chunk)
            self.job.set_progress(done)
        patch_size = max(1, min(self.store.batch_size, self.plugin.max_field_batch))
        for start in range(0, len(plan.patch), patch_size):
            chunk = plan.patch[start : start + patch_size]
            results = self._call(self.plugin.update_fields, [w.update for w in chunk],
                                 [(w.update.product,) for w in chunk])
            retryable = self._record_patches(chunk, results, counts) or retryable
            done += len(chunk)
            self.job.set_progress(done)
        for start in range(0, len(plan.delete), size):
            chunk = plan.delete[start : start + size]
            results = self._call(self.plugin.delete_listings, [lst for _, lst in chunk], chunk)
            retryable = self._record_deletes(chunk, results, counts) or retryable
            done += len(chunk)
            self.job.set_progress(done)
        self.plugin.close()
        self.store.last_synced_at = timezone.now()
        update = ["last_synced_at"]
        if retryable is None and self.strategy in (SyncStrategy.FULL, SyncStrategy.INCREMENTAL) and self.covers_scope:
            self.store.sync_cursor = self.planned_at
            update.append("sync_cursor")
        self.store.save(update_fields=update)
        self._log("result: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if self.failures:
            counts["failed_items"] = [
                {"product_id": product.pk, "sku": product.sku, "title": product.title, "error": error[:500]}
                for product, error in self.failures[:FAILED_ITEMS_KEPT]
            ]
            counts["failed_product_ids"] = [product.pk for product, _ in self.failures]
        if retryable is not None:
            self.job.result = counts
            raise retryable
        self._finish(counts, SyncRun.Status.PARTIAL if counts["failed"] else SyncRun.Status.SUCCEEDED)
        counts["considered"] = self.considered
        if counts["failed"]:
            events.publish(
                self.store.organization_id,
                "store.sync_failed_items",
                f"{counts['failed']} products could not be published to {self.store}",
                {"store_id": self.store.pk},
            )
        return counts

    def _call(self, method, items, chunk) -> list[ItemResult]:
        """One plugin call; a whole-call failure becomes a per-item failure for its items.

        An open circuit breaker stops the whole run instead (``CircuitOpen``
        propagates): the runner puts the job back for after the cool-down
        without counting an attempt, and no listing is marked as failed for a
        call that was never sent. Items of this batch that did land are
        re-bound by the next run (creates are idempotent).
        """
        try:
            results = method(items)
        except CircuitOpen:
            raise
        except StoreError as exc:
            return [ItemResult(product_id=entry[0].pk, error=exc) for entry in chunk]
        for result in results:
            if isinstance(result.error, CircuitOpen):
                raise result.error
        return results

    def _record(self, chunk, results: list[ItemResult], counts: dict, verb: str) -> StoreError | None:
        now = timezone.now()
        retryable = None
        by_product = {r.product_id: r for r in results}
        with transaction.atomic():
            for product, payload, digest in chunk:
                result = by_product.get(product.pk)
                listing, _ = Listing.objects.get_or_create(
                    store=self.store, product=product, defaults={"organization_id": self.store.organization_id}
                )
                if result is not None and result.ok:
                    listing.external_id = result.listing.external_id
                    listing.variant_ids = result.listing.variant_ids
                    listing.remote_snapshot = result.listing.snapshot
                    listing.content_hash, listing.field_hashes = payload_hashes(self.plugin, product, payload)
                    if self.stock_location is not None:
                        inventory.record_pushed(self.store, product, location=self.stock_location)
                    listing.state = ListingState.IN_SYNC
                    listing.last_error = ""
                    listing.last_synced_at = now
                    counts[verb] += 1
                else:
                    if result is not None and result.listing is not None:
                        # Partly written (e.g. the parent but not a variation): keep the ids,
                        # not the hash, so the next run updates instead of creating.
                        listing.external_id = result.listing.external_id
                        listing.variant_ids = result.listing.variant_ids
                    error = self._failed(listing, product, result, counts)
                    if error.retryable and retryable is None:
                        retryable = error
                listing.save()
            events.publish(
                self.store.organization_id,
                "listing.synced",
                f"{self.store}: {verb} {sum(1 for r in results if r.ok)} of {len(chunk)} products",
                {"store_id": self.store.pk, "quiet": True},
            )
        return retryable

    def _failed(self, listing: Listing, product, result: ItemResult | None, counts: dict) -> StoreError:
        """Mark ``listing`` in error with the item's error (unsaved), count and log it; returns the error."""
        error = result.error if result else StoreError("the store gave no answer for this product")
        listing.state = ListingState.ERROR
        listing.last_error = f"{type(error).__name__}: {error}"
        counts["failed"] += 1
        self.failures.append((product, listing.last_error))
        self._log(f"{product.handle}: {listing.last_error}")
        return error

    def _record_patches(self, chunk: list[FieldWrite], results: list[ItemResult], counts: dict) -> StoreError | None:
        """Save field writes: the groups' hashes and the store's answer; the listing is in sync when the store now
        holds the whole payload (content and every group as hashed now) or the fields cover the store's scope.
        A connector that fell back to a whole write answers with new ids: they are kept as well."""
        now = timezone.now()
        retryable = None
        by_product = {r.product_id: r for r in results}
        with transaction.atomic():
            for write in chunk:
                listing, product = write.update.listing, write.update.product
                result = by_product.get(product.pk)
                if result is not None and result.ok:
                    listing.external_id = result.listing.external_id
                    listing.variant_ids = result.listing.variant_ids
                    listing.remote_snapshot = result.listing.snapshot
                    known = dict(listing.field_hashes or {})
                    known.update({g: write.hashes[g] for g in write.update.groups})
                    listing.field_hashes = known
                    if self.stock_location is not None and "stock" in write.update.groups:
                        inventory.record_pushed(self.store, product, location=self.stock_location)
                    whole = write.was_in_sync and all(known.get(k) == v for k, v in write.hashes.items())
                    # Not whole: the store no longer holds the payload last hashed whole; the field hashes say
                    # what it holds, and the next plan reads them (a stale hash could match a later payload).
                    listing.content_hash = write.digest if whole else ""
                    if whole or self.covers_scope:
                        listing.state = ListingState.IN_SYNC
                        listing.last_error = ""
                    listing.last_synced_at = now
                    counts["updated"] += 1
                else:
                    error = self._failed(listing, product, result, counts)
                    if error.retryable and retryable is None:
                        retryable = error
                listing.save()
            events.publish(
                self.store.organization_id,
                "listing.synced",
                f"{self.store}: updated {' and '.join(sorted({g for w in chunk for g in w.update.groups}))} of "
                f"{sum(1 for r in results if r.ok)} of {len(chunk)} products",
                {"store_id": self.store.pk, "quiet": True},
            )
        return retryable

    def _record_deletes(self, chunk, results: list[ItemResult], counts: dict) -> StoreError | None:
        retryable = None
        by_product = {r.product_id: r for r in results}
        with transaction.atomic():
            for product, listing in chunk:
                result = by_product.get(product.pk)
                if result is not None and result.ok:
                    listing.delete()
                    counts["deleted"] += 1
                    events.publish(
                        self.store.organization_id,
                        "listing.deleted",
                        f"{product.title} removed from {self.store}",
                        {"store_id": self.store.pk, "product_id": product.pk},
                    )
                else:
                    error = self._failed(listing, product, result, counts)
                    listing.save(update_fields=["state", "last_error"])
                    if error.retryable and retryable is None:
                        retryable = error
        return retryable


def run_publish(job) -> dict:
    """Job handler for ``store.publish``."""
    return SyncAgent(job).run()
