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
