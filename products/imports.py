"""Catalog imports as a service: store the file, plan it, apply the plan previewed — or hold it for approval.

One path for the page, ``manage.py import_catalog`` and scripts (issue 12):

1. ``start_import(organization, format=, filename=, file= | text=, mode=, user=, preview=True)`` keeps
   the file (``products.services.store_upload``) and queues a ``catalog.import`` job with step "plan".
2. The plan step (``run_import_job``) validates the whole file, matches it to the catalog and stores
   ``CatalogImport.plan`` / ``fingerprint`` (``products.importers.planning``), with the per-store
   republish cost (``products.bulk.store_costs``, as the bulk preview counts it) and whether an
   approval rule holds it. Nothing is written. Status "planned" (or "refused" with the file's problems).
3. ``confirm_import(catalog_import, fingerprint, user)`` applies the plan previewed: when a rule matches
   (``policy_for_plan``) it opens ONE approval request (action "import", the plan as its diff) and
   nothing is written until a reviewer approves; otherwise it queues the apply step. ``preview=False``
   confirms straight after planning (the command line without ``--dry-run``), in the same job.
4. The apply step plans again and writes only when the fingerprint is the one confirmed (the bulk
   operations' rule); then writes in resumable chunks (``products.importers.apply_catalog``) and asks
   each enabled store that lists a changed product for an incremental sync.
"""

from __future__ import annotations

import io
from dataclasses import replace

from django.db import transaction

from agents.choices import JobKind, Priority
from agents.runner import JobInputError, JobRetryLater
from agents.services import enqueue
from flashfusion import events
from products.importers import (
    CheckpointConflict,
    ImportValidationError,
    apply_catalog,
    check_against_catalog,
    parse_catalog,
)
from products.importers.planning import CatalogPlan, apply_renames, plan_catalog
from products.models import CatalogImport
from products.services import ImportFailed, store_upload

Status = CatalogImport.Status

#: Changed products shown to reviewers in the approval request's diff (the counts cover them all).
APPROVAL_ITEMS = 200


class ImportRefused(ValueError):
    """Confirming was refused; ``str(exc)`` is a sentence for the operator (nothing was written)."""


# --- starting ------------------------------------------------------------------------------------------------


def start_import(organization, *, format: str, filename: str, file=None, text: str | None = None,
                 mode: str = CatalogImport.Mode.MERGE, user=None, preview: bool = True) -> CatalogImport:
    """Keep the file and queue its plan step; returns the ``CatalogImport`` (status "uploaded", ``job`` set).

    ``file``: an uploaded file or binary file object (streamed to disk), or ``text``. ``preview``: stop
    at the plan for the operator to apply (the page); False applies it unless a rule holds it.
    Raises ``ValueError`` for a mode other than "merge" / "replace".
    """
    if mode not in CatalogImport.Mode.values:
        raise ValueError(f"expected the mode merge or replace, got {mode!r}")
    catalog_import = CatalogImport(organization=organization, format=format, filename=filename, created_by=user,
                                   mode=mode)
    store_upload(catalog_import, file if file is not None else io.BytesIO((text or "").encode()))
    catalog_import.save()
    _queue(catalog_import, "plan", user, apply=not preview)
    return catalog_import


def replan_import(catalog_import: CatalogImport, *, user=None) -> None:
    """Plan the kept file again against today's catalog (a new plan job; the old plan is dropped).

    Raises ``ImportRefused`` while the import is applying or after it was applied.
    """
    with transaction.atomic():
        locked = CatalogImport.objects.select_for_update().get(pk=catalog_import.pk)
        if locked.status not in (Status.PLANNED, Status.FAILED, Status.REJECTED):
            raise ImportRefused(f"This import is “{locked.get_status_display()}”: it cannot be checked again.")
        CatalogImport.objects.filter(pk=locked.pk).update(status=Status.UPLOADED, plan={}, fingerprint="",
                                                          checkpoint={})
        _queue(locked, "plan", user)


def _queue(catalog_import: CatalogImport, step: str, user, *, apply: bool = False):
    params = {"import_id": catalog_import.pk, "step": step, "filename": catalog_import.filename}
    if apply:
        params["apply"] = True
    job = enqueue(catalog_import.organization, JobKind.CATALOG_IMPORT, params=params, priority=Priority.HIGH,
                  created_by=user)
    CatalogImport.objects.filter(pk=catalog_import.pk).update(job=job)
    catalog_import.job = job
    return job


# --- the job --------------------------------------------------------------------------------------------------


def run_import_job(job) -> dict:
    """Job handler for ``catalog.import`` (params ``{"import_id", "step": "plan" | "apply", "apply"?}``).

    A retried attempt of an import that already committed chunks resumes the write, whatever its step.
    Raises ``ImportFailed`` (job refused) for a file that does not validate, ``JobInputError`` for a plan
    that no longer matches the catalog, ``JobRetryLater`` when another process writes the same import.
    """
    catalog_import = CatalogImport.objects.select_related("organization", "created_by").get(
        pk=job.params["import_id"], organization_id=job.organization_id)
    if job.params.get("step") == "apply" or (catalog_import.checkpoint or {}).get("chunks_done"):
        return _apply(job, catalog_import)
    products, plan = _plan(job, catalog_import)
    if not job.params.get("apply"):
        return {"planned": plan.counts, "approval_required": plan.approval["required"]}
    outcome = confirm_import(catalog_import, plan.fingerprint, catalog_import.created_by, job=job,
                             planned=(products, plan))
    if isinstance(outcome, dict):
        return outcome
    return {"planned": plan.counts, "approval_id": outcome.pk}


def _read(catalog_import: CatalogImport, warnings: list | None = None):
    """The file's validated products, checked against the catalog; ``ImportFailed`` (import refused) if not."""
    from products.services import open_import

    try:
        with open_import(catalog_import) as stream:
            products = parse_catalog(catalog_import.format, stream, warnings=warnings)
        check_against_catalog(catalog_import.organization, products)
    except ImportValidationError as exc:
        CatalogImport.objects.filter(pk=catalog_import.pk).update(
            status=Status.REFUSED, summary={"errors": [vars(e) for e in exc.errors]})
        raise ImportFailed(exc.errors) from None
    return products


def make_plan(catalog_import: CatalogImport, products, warnings=()) -> CatalogPlan:
    """The import's plan for ``products`` against today's catalog, with store costs and its approval."""
    plan = plan_catalog(catalog_import.organization, products, mode=catalog_import.mode,
                        file_sha256=catalog_import.sha256, format=catalog_import.format,
                        warnings=[{"row": w.row, "column": w.column, "message": w.message} for w in warnings])
    plan.stores = store_estimate(catalog_import.organization, plan)
    plan.policy = policy = policy_for_plan(catalog_import.organization, plan)
    plan.approval = {"required": policy is not None,
                     "rules": [_rule_name(policy)] if policy else [], "reasons": [policy.reason] if policy else []}
    return plan


def _plan(job, catalog_import: CatalogImport):
    CatalogImport.objects.filter(pk=catalog_import.pk).update(status=Status.PLANNING)
    warnings: list = []
    products = _read(catalog_import, warnings)
    job.add_log(f"{catalog_import.filename}: {len(products)} products validated; planning")
    plan = make_plan(catalog_import, products, warnings)
    catalog_import.plan, catalog_import.fingerprint = plan.as_json(), plan.fingerprint
    catalog_import.warnings, catalog_import.status = plan.warnings, Status.PLANNED
    catalog_import.save(update_fields=["plan", "fingerprint", "warnings", "status"])
    counts = plan.counts
    job.add_log(f"Plan: {counts['create']} to create, {counts['update']} to update, {counts['unchanged']} unchanged"
                + ("; needs approval" if plan.approval["required"] else ""))
    return products, plan


# --- confirming: apply, or ask for approval ---------------------------------------------------------------------


def confirm_import(catalog_import: CatalogImport, fingerprint: str, user, *, job=None, planned=None):
    """Apply the plan with ``fingerprint`` (the one previewed), or hold it for review.

    Returns the pending ``ApprovalRequest`` when a rule matches (``policy_for_plan``); else the apply step's
    ``Job`` — or, called from a running plan job (``job`` and ``planned``), the write's counts, written in
    that job. Raises ``ImportRefused`` when the import is not "planned" or ``fingerprint`` is not its plan's.
    """
    with transaction.atomic():
        locked = CatalogImport.objects.select_for_update().select_related("organization").get(pk=catalog_import.pk)
        if locked.status != Status.PLANNED:
            raise ImportRefused(f"This import is “{locked.get_status_display()}”, not ready to apply: nothing was "
                                "written.")
        if not fingerprint or fingerprint != locked.fingerprint:
            raise ImportRefused("The catalog changed since the preview; check again. Nothing was written.")
        if locked.plan.get("approval", {}).get("required"):
            approval = _request_approval(locked, user, plan=planned[1] if planned else None)
            CatalogImport.objects.filter(pk=locked.pk).update(status=Status.AWAITING_APPROVAL, approval=approval)
            return approval
        CatalogImport.objects.filter(pk=locked.pk).update(status=Status.APPLYING)
        if job is None:
            return _queue(locked, "apply", user)
    locked.status = Status.APPLYING
    return _apply(job, locked, planned=planned)


def _rule_name(policy) -> str:
    return policy.rule.describe() if policy.rule is not None else "Built-in: removing variants needs review"


def policy_for_plan(organization, plan: CatalogPlan):
    """The approval policy that holds this import (action "import"), or None to apply it at once.

    The rules see the import as resource "product" with the actions ``import`` plus ``create`` /
    ``update`` / ``price_change`` as the plan has them, and as resource "variant" with ``create`` /
    ``update`` / ``delete`` / ``price_change``; ``price_drop_percent`` is the plan's largest price cut
    and ``listings_touched`` the store listings it republishes (``store_estimate``). A plan that removes
    variants always waits, as a delete does (``FALLBACK_DELETE``'s rule: one manager, within a day).
    """
    from approvals.choices import ChangeAction as A
    from approvals.choices import ResourceType
    from approvals.models import ApprovalRule
    from approvals.rules import FALLBACK_DELETE, ProposedChange, evaluate, strictness

    counts = plan.counts
    drop, item = plan.largest_price_drop()
    touched = sum(int(store.get("listings") or 0) for store in plan.stores)
    prices = any(d.prices_changed for d in plan.decisions)
    product_actions = [A.IMPORT] + [A.CREATE] * bool(counts["create"]) + [A.UPDATE] * bool(counts["update"]) \
        + [A.PRICE_CHANGE] * prices
    variant_actions = [A.CREATE] * bool(counts["variants_create"]) + [A.UPDATE] * bool(counts["variants_update"]) \
        + [A.DELETE] * bool(counts["variants_remove"]) + [A.PRICE_CHANGE] * prices
    changes = [ProposedChange(ResourceType.PRODUCT, tuple(product_actions), drop, item, touched),
               ProposedChange(ResourceType.VARIANT, tuple(variant_actions), drop, item, touched)]
    rules = list(ApprovalRule.objects.filter(organization=organization, is_enabled=True,
                                             resource_type__in=[ResourceType.PRODUCT, ResourceType.VARIANT])
                 .prefetch_related("tiers"))
    policies = [p for change in changes if change.actions and (p := evaluate(None, change, rules=rules))]
    if policies:
        policy = sorted(policies, key=lambda p: strictness(p.rule))[0]
    elif counts["variants_remove"]:
        policy = replace(FALLBACK_DELETE, reason=f"removes {counts['variants_remove']} variant"
                         f"{'s' if counts['variants_remove'] != 1 else ''} the file does not list (replace mode); "
                         "removing variants needs review (no variant delete rule is enabled, so a manager decides)")
    else:
        return None
    return replace(policy, action=A.IMPORT, reason=f"Catalog import: {policy.reason}"[:300])


def _request_approval(catalog_import: CatalogImport, user, *, plan: CatalogPlan | None = None):
    from approvals.choices import ChangeAction, ResourceType
    from approvals.services import open_request

    if plan is None:  # the stored plan keeps no snapshots: plan again for the reviewers' diff
        plan = make_plan(catalog_import, _read(catalog_import))
    if plan.fingerprint != catalog_import.fingerprint:
        raise ImportRefused("The catalog changed since the preview; check again. Nothing was written.")
    items = []
    for decision in plan.changed[:APPROVAL_ITEMS]:
        before, after = decision.snapshots()
        items.append({"store": "Catalog", "action": decision.action, "title": decision.data.title,
                      "before": before, "after": after})
    counts = plan.counts
    description = (f"Import {catalog_import.filename}: {counts['create']} to create, {counts['update']} to update, "
                   f"{counts['variants_remove']} variants to remove")
    summary = {"import_id": catalog_import.pk, "fingerprint": plan.fingerprint, "counts": counts}
    return open_request(
        catalog_import.organization, resource_type=ResourceType.PRODUCT, action=ChangeAction.IMPORT,
        title=description, before=summary,
        after={**summary, "bulk": {"description": description, "items": items}},
        policy=plan.policy, user=user, object_id=catalog_import.pk,
    )


# --- applying --------------------------------------------------------------------------------------------------


def _apply(job, catalog_import: CatalogImport, *, planned=None) -> dict:
    """Write the confirmed plan in chunks; re-planned first unless resuming, and refused if it moved."""
    checkpoint = catalog_import.checkpoint or {}
    resumed = checkpoint.get("products_done", 0)
    if planned is not None:
        products, _plan = planned
    else:
        products = _read(catalog_import)
        # A resumed write is the confirmed plan half applied: planning again would not match it.
        moved = not checkpoint.get("chunks_done") and make_plan(catalog_import, products).fingerprint != \
            catalog_import.fingerprint
        apply_renames(products, catalog_import.plan.get("renamed") or {})
        if moved:
            CatalogImport.objects.filter(pk=catalog_import.pk).update(
                status=Status.FAILED, summary={"stale": "The catalog changed since the preview; nothing was written."})
            raise JobInputError("The catalog changed since the preview (another edit or import touched these "
                                "products): nothing was written. Check the file again and apply the new plan.")
    CatalogImport.objects.filter(pk=catalog_import.pk).update(status=Status.APPLYING)
    job.add_log(f"Applying {catalog_import.filename}: {len(products)} products"
                + (f"; resuming after {resumed} written" if resumed else ""))
    job.set_progress(resumed, len(products))
    try:
        counts = apply_catalog(catalog_import.organization, products, mode=catalog_import.mode or "merge",
                               catalog_import=catalog_import, progress=job.set_progress)
    except CheckpointConflict as exc:
        raise JobRetryLater(str(exc)) from None
    CatalogImport.objects.filter(pk=catalog_import.pk).update(status=Status.APPLIED, summary=counts)
    catalog_import.status, catalog_import.summary = Status.APPLIED, counts
    _sync_stores(catalog_import, products, job)
    events.publish(
        catalog_import.organization_id, "catalog.imported",
        f"Imported {catalog_import.filename}: {counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged",
        {"import_id": catalog_import.pk, **counts}, actor=catalog_import.created_by,
    )
    return counts


def _sync_stores(catalog_import: CatalogImport, products, job) -> None:
    """Ask each enabled store listing a product of the file for an incremental sync (unchanged products are
    skipped there by their content hash)."""
    from agents.triggers import request_sync
    from stores.choices import SyncStrategy
    from stores.models import Store

    handles = [p.handle for p in products]
    enabled = Store.objects.filter(organization=catalog_import.organization, is_enabled=True)
    store_ids: set[int] = set()
    for start in range(0, len(handles), 500):
        store_ids |= set(enabled.filter(listings__product__handle__in=handles[start:start + 500])
                         .values_list("pk", flat=True))
    for store in enabled.filter(pk__in=store_ids).order_by("name"):
        if request_sync(store, trigger="catalog", strategy=SyncStrategy.INCREMENTAL, actor=catalog_import.created_by):
            job.add_log(f"Asked {store.name} for an incremental sync")


def store_estimate(organization, plan: CatalogPlan) -> list[dict]:
    """Per enabled store listing a product the plan updates: ``[{"store_id", "store", "platform", "listings",
    "calls", "seconds", "basis"}]``, counted as the bulk preview counts a whole-product publish
    (``products.bulk.store_costs``: the platforms' batch sizes and rate limits, with their sources)."""
    from products.bulk import Kind, Operation, Plan, ProductChange, store_costs, write_action
    from stores.models import Listing, Store

    changed = [d.product for d in plan.changed if d.product is not None]
    if not changed:
        return []
    stores = list(Store.objects.filter(organization=organization, is_enabled=True).order_by("name"))
    ids = [p.pk for p in changed]
    listings = {}
    for start in range(0, len(ids), 500):
        for listing in Listing.objects.filter(product_id__in=ids[start:start + 500], store__in=stores):
            listings[(listing.store_id, listing.product_id)] = listing
    changes = []
    for product in changed:
        actions = {store.pk: write_action(listings[(store.pk, product.pk)])
                   for store in stores if (store.pk, product.pk) in listings}
        if actions:
            changes.append(ProductChange(product, store_actions=actions))
    if not changes:
        return []
    operation = Operation(kind=Kind.PUBLISH, store_ids=tuple(s.pk for s in stores))
    costs = store_costs(operation, Plan(operation, changed, changes, stores, listings, []))
    return [{"store_id": c.store.pk, "store": c.store.name, "platform": c.store.get_platform_display(),
             "listings": c.listings, "calls": c.calls, "seconds": round(c.seconds, 1), "basis": c.basis}
            for c in costs]


# --- the approval executor --------------------------------------------------------------------------------------


def _import_of(approval) -> CatalogImport:
    return CatalogImport.objects.select_related("organization").get(
        pk=approval.object_id, organization_id=approval.organization_id)


def execute_approved(approval, actor):
    """An approved import request: queue its apply step (inside the deciding transaction)."""
    catalog_import = _import_of(approval)
    if catalog_import.status != Status.AWAITING_APPROVAL:
        raise ImportRefused(f"This import is “{catalog_import.get_status_display()}”, no longer waiting for approval.")
    CatalogImport.objects.filter(pk=catalog_import.pk).update(status=Status.APPLYING)
    return _queue(catalog_import, "apply", actor)


def reject_import(approval, actor) -> None:
    """A rejected import request: the import is "rejected" and nothing of it is written."""
    CatalogImport.objects.filter(pk=approval.object_id, organization_id=approval.organization_id,
                                 status=Status.AWAITING_APPROVAL).update(status=Status.REJECTED)


def _is_stale(approval) -> bool:
    """The apply step re-plans and refuses a plan the catalog moved away from, so a request never goes stale."""
    return False


def register() -> None:
    """Make approved import requests executable and declare what ``policy_for_plan`` asks the rules."""
    from approvals.choices import ChangeAction as A
    from approvals.choices import ResourceType
    from approvals.rules import register_checkpoint
    from approvals.services import Executor, register_executor

    register_executor(ResourceType.PRODUCT, [A.IMPORT],
                      Executor(apply=execute_approved, is_stale=_is_stale, reject=reject_import))
    register_checkpoint("catalog imports", ResourceType.PRODUCT, [A.IMPORT, A.CREATE, A.UPDATE, A.PRICE_CHANGE])
    register_checkpoint("catalog imports", ResourceType.VARIANT, [A.CREATE, A.UPDATE, A.DELETE, A.PRICE_CHANGE])
