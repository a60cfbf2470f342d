"""What a platform cannot take, for the Sync agent and the pages that confirm a publish.

* ``record_refused``: the Sync agent's "not publishable here" listings (``StorePlugin.refusals``);
* ``preview_sync``: a dry run of a store's sync (``SyncAgent.dry_run``), counted for the confirmation
  that the Stores list's "Publish" and the store page's "Full sync" ask for before queuing the job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from products.choices import ProductStatus
from stores.choices import ListingState
from stores.models import Listing
from stores.plugins import refusal_text

#: Refused products named one by one in a job log; past this many the log gives the count.
REFUSALS_LOGGED = 100


def record_refused(store, refused: list, *, platform: str, log: Callable[[str], None]) -> int:
    """Save each refused product's listing as "not publishable here" with the reasons, in one transaction;
    ``log`` the ones whose state or reasons are new; return how many products were skipped.

    ``refused``: ``SyncPlan.refused`` — ``(product, listing or None, [Refusal])``. No listing yet: one is
    made, without a store id. A listing the store holds keeps its ids (the store keeps the version last
    written); once the product changes and can be taken, the incremental plan finds it again (changed
    after the cursor) and writes it whole, as it is no longer "in sync". Not counted as failed: nothing
    was sent, and retrying cannot help until the catalog changes.
    """
    logged = 0
    with transaction.atomic():
        for product, listing, refusals in refused:
            reason = refusal_text(refusals)
            if listing is None:
                listing = Listing(store=store, product=product, organization_id=store.organization_id)
            elif listing.state == ListingState.NOT_PUBLISHABLE and listing.last_error == reason:
                continue
            listing.state = ListingState.NOT_PUBLISHABLE
            listing.last_error = reason
            listing.save()
            logged += 1
            if logged <= REFUSALS_LOGGED:
                log(f"{product.handle}: not publishable on {platform}, skipped: {reason}")
    if logged > REFUSALS_LOGGED:
        log(f"… and {logged - REFUSALS_LOGGED} more not publishable on {platform}")
    if len(refused) > logged:
        log(f"{len(refused) - logged} product{'s' if len(refused) - logged != 1 else ''} still not publishable on "
            f"{platform} for the reasons their listings give, skipped")
    return len(refused)


@dataclass
class SyncPreview:
    """What a sync of ``store`` would do now (``preview_sync``), in counts of products.

    ``strategy``: the one that would run (an incremental sync without a cursor runs full); ``fields``: the
    field groups of a field-selective sync (empty: whole products). ``create`` / ``update`` (whole) /
    ``patch`` (prices or stock alone) / ``delete`` / ``unchanged``; ``refused``: ``(product, [Refusal])``
    skipped as not publishable here; ``conflicts``: listings changed in the store, left for review;
    ``not_listed``: products a field-selective sync leaves alone; ``drafts`` / ``archived``: how many of
    the products written carry that catalog status (written with the platform's own draft or
    archived status). ``error``: why the plan could not be made (a ``StoreError``); the counts are then 0.
    """

    store: object
    strategy: str
    fields: list[str] = field(default_factory=list)
    create: int = 0
    update: int = 0
    patch: int = 0
    delete: int = 0
    unchanged: int = 0
    refused: list = field(default_factory=list)
    conflicts: int = 0
    not_listed: int = 0
    considered: int = 0
    drafts: int = 0
    archived: int = 0
    notes: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def writes(self) -> int:
        """Products the sync would write to or delete from the store."""
        return self.create + self.update + self.patch + self.delete


def preview_sync(store, *, strategy: str, fields=()) -> SyncPreview:
    """A dry run (``agents.sync.SyncAgent.dry_run``) of the sync an operator's "sync now" would queue:
    ``strategy`` "incremental" or "full", ``fields`` e.g. ``["price", "stock"]`` (the job's params, as
    ``agents.triggers.request_sync`` builds them). Writes nothing; a store that cannot be read for the plan
    gives a preview with ``error`` set instead of raising."""
    from agents.sync import SyncAgent
    from stores.plugins import StoreError

    params = {"strategy": strategy, "trigger": "manual"}
    if fields:
        params["fields"] = sorted(set(fields))
    try:
        agent, plan = SyncAgent.dry_run(store, params)
    except StoreError as exc:
        return SyncPreview(store, strategy, sorted(fields), error=f"{type(exc).__name__}: {exc}")
    written = ([product for product, _payload, _digest in plan.create]
               + [product for product, _listing, _payload, _digest in plan.update]
               + [write.update.product for write in plan.patch])
    return SyncPreview(
        store, agent.strategy, sorted(agent.fields) if agent.fields_only else [],
        create=len(plan.create), update=len(plan.update), patch=len(plan.patch), delete=len(plan.delete),
        unchanged=plan.unchanged, refused=[(product, refusals) for product, _listing, refusals in plan.refused],
        conflicts=agent.conflicts_left, not_listed=plan.not_listed, considered=agent.considered,
        drafts=sum(1 for p in written if p.status == ProductStatus.DRAFT),
        archived=sum(1 for p in written if p.status == ProductStatus.ARCHIVED),
        notes=list(agent.notes),
    )
