"""Sync agent, first version: publish the catalog to one store.

Plan per product by content hash: create what the store lacks, update what
changed since the last push, delete what the catalog deleted, leave the rest
alone. Each batch's outcome is saved before the next call, so a retried job
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
from stores.choices import ListingState
from stores.models import Listing
from stores.plugins import Capability, ItemResult, StoreError


@dataclass
class SyncPlan:
    """What one publish run will do: (product, payload, hash) triples per action."""

    create: list = field(default_factory=list)
    update: list = field(default_factory=list)
    delete: list = field(default_factory=list)
    unchanged: int = 0

    @property
    def total(self) -> int:
        return len(self.create) + len(self.update) + len(self.delete)


class SyncAgent:
    """Publishes one store's catalog (``job.params["product_ids"]`` narrows it to those products).

    Result counts: ``{"created", "updated", "deleted", "unchanged", "failed"}``.
    Raises the first retryable ``StoreError`` after recording every item, so
    the runner retries the job; items refused for good are counted as failed.
    """

    def __init__(self, job):
        self.job = job
        self.store = job.store
        self.plugin = self.store.plugin()

    def plan(self) -> SyncPlan:
        products = Product.objects.filter(organization_id=self.store.organization_id).prefetch_related("variants")
        product_ids = self.job.params.get("product_ids")
        if product_ids:
            products = products.filter(pk__in=product_ids)
        listings = {lst.product_id: lst for lst in self.store.listings.all()}
        plan = SyncPlan()
        for product in products.select_related("organization"):
            listing = listings.get(product.pk)
            if product.deleted_at:
                if listing and listing.external_id:
                    plan.delete.append((product, listing))
                elif listing:
                    listing.delete()
                continue
            payload = self.plugin.build_payload(product)
            digest = hash_json(payload)
            if listing is None or not listing.external_id:
                plan.create.append((product, payload, digest))
            elif listing.content_hash != digest or listing.state != ListingState.IN_SYNC:
                plan.update.append((product, listing, payload, digest))
            else:
                plan.unchanged += 1
        # A grouped product names its children by store id, so create it after
        # every other product, whichever batch the children land in.
        plan.create.sort(key=lambda entry: entry[0].kind == ProductKind.GROUPED)
        return plan

    def run(self) -> dict:
        plan = self.plan()
        counts = {"created": 0, "updated": 0, "deleted": 0, "unchanged": plan.unchanged, "failed": 0}
        self.job.add_log(
            f"plan: {len(plan.create)} to create, {len(plan.update)} to update, "
            f"{len(plan.delete)} to delete, {plan.unchanged} unchanged"
        )
        self.job.set_progress(0, plan.total)
        done = 0
        retryable: StoreError | None = None
        size = max(1, min(self.store.batch_size, self.plugin.max_batch))
        if plan.total and (Capability.BATCH_WRITES not in self.plugin.capabilities or self.plugin.max_batch <= 1):
            # The workaround DESIGN.md asks to be logged (StorePlugin: without batch_writes, one call per item).
            platform = self.plugin.label or self.plugin.platform
            self.job.add_log(f"no batch writes on {platform}: one call per product ({plan.total} calls)")
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
        for start in range(0, len(plan.delete), size):
            chunk = plan.delete[start : start + size]
            results = self._call(self.plugin.delete_listings, [lst for _, lst in chunk], chunk)
            retryable = self._record_deletes(chunk, results, counts) or retryable
            done += len(chunk)
            self.job.set_progress(done)
        self.plugin.close()
        self.store.last_synced_at = timezone.now()
        self.store.save(update_fields=["last_synced_at"])
        self.job.add_log("result: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if retryable is not None:
            self.job.result = counts
            raise retryable
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
                    listing.content_hash = digest
                    listing.state = ListingState.IN_SYNC
                    listing.last_error = ""
                    listing.last_synced_at = now
                    counts[verb] += 1
                else:
                    error = result.error if result else StoreError("the store gave no answer for this product")
                    if result is not None and result.listing is not None:
                        # Partly written (e.g. the parent but not a variation): keep the ids,
                        # not the hash, so the next run updates instead of creating.
                        listing.external_id = result.listing.external_id
                        listing.variant_ids = result.listing.variant_ids
                    listing.state = ListingState.ERROR
                    listing.last_error = f"{type(error).__name__}: {error}"
                    counts["failed"] += 1
                    self.job.add_log(f"{product.handle}: {listing.last_error}")
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
                    error = result.error if result else StoreError("the store gave no answer for this product")
                    listing.state = ListingState.ERROR
                    listing.last_error = f"{type(error).__name__}: {error}"
                    listing.save(update_fields=["state", "last_error"])
                    counts["failed"] += 1
                    if error.retryable and retryable is None:
                        retryable = error
        return retryable


def run_publish(job) -> dict:
    """Job handler for ``store.publish``."""
    return SyncAgent(job).run()
