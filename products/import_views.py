"""Catalog import pages: upload a file, see its preview (the plan), apply it or check it again.

Views parse, authorize, call one service and render (STYLE.md). The calls into the import service layer
(``products.imports``: start, confirm, re-plan) go through the three ``_*_import`` adapters below, which
turn its refusals into sentences for the page.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from agents.choices import JobStatus
from flashfusion.access import get_for_org, membership_for
from flashfusion.choices import Role
from products import imports
from products.forms import CatalogImportForm
from products.models import CatalogImport

Status = CatalogImport.Status

#: Badge colour of each import status (Bootstrap ``text-bg-*``), defined once for the list and the preview.
IMPORT_BADGES = {
    Status.UPLOADED: "secondary",
    Status.PLANNING: "info",
    Status.PLANNED: "primary",
    Status.AWAITING_APPROVAL: "warning",
    Status.APPLYING: "info",
    Status.APPLIED: "success",
    Status.REFUSED: "danger",
    Status.REJECTED: "dark",
    Status.FAILED: "danger",
}

#: Statuses in which the import still moves by itself: its page reloads its live part when jobs change.
MOVING = {Status.UPLOADED, Status.PLANNING, Status.AWAITING_APPROVAL, Status.APPLYING}

#: Problems of a refused file listed on its page (the import keeps them all).
ERRORS_SHOWN = 200

#: Products listed in the preview's table of changes (the plan keeps those that change + 50 unchanged).
PRODUCTS_SHOWN = 200

#: Statuses from which "Check again" plans the kept file anew (a refused file needs a corrected upload instead).
REPLANNABLE = {Status.PLANNED, Status.FAILED, Status.REJECTED}

REFUSED_JOB = {JobStatus.REFUSED}
DEAD_JOB = {JobStatus.DEAD, JobStatus.CANCELLED}


# --- the service layer, called from here only ----------------------------------------------------------


class PlanRefused(Exception):
    """Applying or re-checking was refused; ``str(exc)`` is a sentence for the operator."""


def _start_import(organization, form: CatalogImportForm, user) -> CatalogImport:
    """Store the upload and queue its plan step (``products.imports.start_import``, preview only)."""
    data, upload = form.cleaned_data, form.cleaned_data["file"]
    upload.seek(0)
    return imports.start_import(organization, format=data["format"], filename=upload.name, file=upload,
                                mode=data["mode"], user=user)


def _confirm_import(catalog_import: CatalogImport, fingerprint: str, user) -> None:
    """Apply the previewed plan (``products.imports.confirm_import``).

    Raises ``PlanRefused`` when the import is not ready to apply, or the fingerprint posted is not the
    stored plan's (it was re-planned since, or the catalog moved).
    """
    try:
        imports.confirm_import(catalog_import, fingerprint, user)
    except imports.ImportRefused as exc:
        raise PlanRefused(str(exc)) from None


def _replan_import(catalog_import: CatalogImport, user) -> None:
    """Plan the kept file again against today's catalog (``products.imports.replan_import``)."""
    if catalog_import.status not in REPLANNABLE:
        raise PlanRefused(f"This import is “{catalog_import.get_status_display()}”: it cannot be checked again.")
    try:
        imports.replan_import(catalog_import, user=user)
    except imports.ImportRefused as exc:
        raise PlanRefused(str(exc)) from None


# --- what the pages show -----------------------------------------------------------------------------------


@dataclass
class ImportState:
    """What an import's badge says: ``status`` (a ``CatalogImport.Status`` value), its ``label``, ``badge``
    colour and ``moving`` (its page keeps refreshing)."""

    status: str
    label: str
    badge: str
    moving: bool


def import_state(catalog_import: CatalogImport) -> ImportState:
    """The honest status of an import: its stored status, corrected by its job when the job ended.

    A job that ended refused makes the import "refused" and one that died "failed", even if the import's
    status was never moved (imports made before statuses existed, or a worker killed mid-step), so a refused
    or dead import never reads "Waiting for a worker". An import without a status but with counts is applied.
    """
    status, job = catalog_import.status, catalog_import.job
    summary = catalog_import.summary or {}
    if status in MOVING and status != Status.AWAITING_APPROVAL:
        if summary.get("errors") or (job is not None and job.status in REFUSED_JOB):
            status = Status.REFUSED
        elif job is not None and job.status in DEAD_JOB:
            status = Status.FAILED
        elif status == Status.UPLOADED and "created" in summary:
            status = Status.APPLIED
        elif status == Status.UPLOADED and job is not None and job.status == JobStatus.RUNNING:
            status = Status.PLANNING
    return ImportState(status, Status(status).label, IMPORT_BADGES[status], status in MOVING)


def import_errors(catalog_import: CatalogImport) -> tuple[list[dict], int]:
    """The refused file's problems ``[{"row", "column", "message"}]`` (at most ``ERRORS_SHOWN``) and how many."""
    errors = (catalog_import.summary or {}).get("errors")
    total = len(errors or [])
    if not errors and catalog_import.job is not None:
        result = catalog_import.job.result or {}
        errors, total = result.get("input_errors") or [], result.get("input_error_count") or 0
    return list(errors or [])[:ERRORS_SHOWN], total


def formats_url() -> str | None:
    """The formats' documentation page (``products:import_formats``), or None where it is not installed."""
    try:
        return reverse("products:import_formats")
    except NoReverseMatch:
        return None


def duration_text(seconds) -> str:
    """A wait in words for the per-store table: "under a second", "about 40 s", "about 3 min", "about 2.5 h"."""
    try:
        seconds = float(seconds or 0)
    except (TypeError, ValueError):
        return "—"
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"about {seconds:.0f} s"
    if seconds < 90 * 60:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"


def _approval_items(approval: dict) -> list[tuple[str, str]]:
    """``(rule, reason)`` pairs of the plan's ``approval`` (``rules`` and ``reasons`` are parallel lists)."""
    rules, reasons = list(approval.get("rules") or []), list(approval.get("reasons") or [])
    width = max(len(rules), len(reasons))
    rules, reasons = rules + [""] * (width - len(rules)), reasons + [""] * (width - len(reasons))
    return list(zip(rules, reasons))


def _is_unsupported(errors: list[dict]) -> bool:
    return any("not a supported format" in str(error.get("message", "")).lower() for error in errors)


def _preview_context(catalog_import: CatalogImport, membership) -> dict:
    """Everything the preview draws from the stored plan (``CatalogImport.plan``, shape in ``products.importers.planning``)."""
    plan = catalog_import.plan or {}
    state = import_state(catalog_import)
    errors, error_count = import_errors(catalog_import) if state.status == Status.REFUSED else ([], 0)
    changing = [item for item in plan.get("products", []) if item.get("action") != "unchanged"]
    warnings = plan.get("warnings") or catalog_import.warnings or []
    job = catalog_import.job
    return {
        "catalog_import": catalog_import,
        "state": state,
        "plan": plan,
        "counts": plan.get("counts") or {},
        "changing": changing[:PRODUCTS_SHOWN],
        "changing_more": max(0, len(changing) - PRODUCTS_SHOWN),
        "warnings": warnings,
        "stores": [{**store, "duration": duration_text(store.get("seconds"))} for store in plan.get("stores", [])],
        "currency": catalog_import.organization.currency,
        "approval": plan.get("approval") or {},
        "approval_items": _approval_items(plan.get("approval") or {}),
        "errors": errors,
        "error_count": error_count,
        "unsupported": _is_unsupported(errors),
        "formats_url": formats_url(),
        "job": job,
        "can_act": membership.has_role(Role.OPERATOR),
        "can_replan": state.status in REPLANNABLE and catalog_import.status in REPLANNABLE,
        "summary": catalog_import.summary or {},
    }


# --- views ---------------------------------------------------------------------------------------------------


def catalog_import(request):
    """Upload form and the organization's recent imports, each with its status and a link to its preview."""
    membership = membership_for(request, Role.OPERATOR)
    form = CatalogImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        started = _start_import(membership.organization, form, request.user)
        messages.info(request, f"Checking {started.filename}: the preview below fills in when every row has "
                               "been read. Nothing is written until you apply it.")
        return redirect("products:import_detail", pk=started.pk)
    recent = [
        (item, import_state(item))
        for item in CatalogImport.objects.filter(organization=membership.organization)
        .select_related("created_by", "job")
        .defer("content")[:20]
    ]
    return render(request, "products/import.html", {
        "form": form, "recent": recent, "formats_url": formats_url(), "modes": CatalogImport.Mode,
    })


def import_detail(request, pk: int):
    """The preview: status, and for a planned import what applying would do, with Apply / Check again."""
    membership = membership_for(request)
    catalog_import = get_for_org(request, CatalogImport.objects.select_related("job", "approval", "created_by", "organization")
                                 .defer("content"), pk)
    return render(request, "products/import_detail.html", _preview_context(catalog_import, membership))


@require_POST
def import_apply(request, pk: int):
    """Apply the plan previewed: the form posts the plan's ``fingerprint``; another one is refused."""
    catalog_import = get_for_org(request, CatalogImport.objects.defer("content"), pk, role=Role.OPERATOR)
    try:
        _confirm_import(catalog_import, request.POST.get("fingerprint", ""), request.user)
    except PlanRefused as exc:
        messages.error(request, str(exc))
    else:
        catalog_import.refresh_from_db()
        if catalog_import.status == Status.AWAITING_APPROVAL:
            messages.warning(request, "This import waits for a manager's approval: nothing is written until then.")
        else:
            messages.success(request, f"Applying {catalog_import.filename}: progress shows below.")
    return redirect("products:import_detail", pk=catalog_import.pk)


@require_POST
def import_replan(request, pk: int):
    """Check the kept file again against today's catalog (after the catalog changed since the preview)."""
    catalog_import = get_for_org(request, CatalogImport.objects.defer("content"), pk, role=Role.OPERATOR)
    try:
        _replan_import(catalog_import, request.user)
    except PlanRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, f"Checking {catalog_import.filename} again against today's catalog.")
    return redirect("products:import_detail", pk=catalog_import.pk)
