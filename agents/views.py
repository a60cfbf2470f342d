"""Jobs pages: the list, a job's page, dead letters, and the operator's actions (cancel, retry, retry all that match).

Who may do what (roles from ``flashfusion.choices.Role``):

- read the list, a job and the dead letters: every member (viewers read);
- cancel or retry a job, retry the failed items of a job, retry all that match: operators and up (403 below).

Another organization's job is a 404 (``get_for_org``). Every action goes
through ``agents.services``, which writes the audit entry, and ends with a
redirect and a flash message.
"""

from django.contrib import messages
from django.db.models import Count, Max, Min
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_tables2.paginators import LazyPaginator

from agents.choices import JobStatus
from agents.filtersets import JobFilterSet
from agents.models import Job
from agents.services import (
    BULK_RETRY_LIMIT,
    StoreDisabled,
    cancel_job,
    retry_failed_items,
    retry_job,
    retry_matching,
    retryable,
)
from agents.tables import JobTable
from flashfusion.access import get_for_org, membership_for
from flashfusion.choices import Role
from flashfusion.views import ObjectListView

#: Product links shown on a job's page before "+N more".
PRODUCT_LINKS = 20
#: Dead-letter groups shown, most recently seen first.
DEAD_LETTER_GROUPS = 200
#: What a row of the jobs list reads (``JobTable``, ``Job.title``, ``retry_hint``).
JOB_LIST_FIELDS = ("id", "organization_id", "kind", "store_id", "status", "priority", "summary", "params",
                   "progress_done", "progress_total", "attempts", "max_attempts", "run_after", "error",
                   "error_class", "error_fingerprint", "cancel_requested_at", "created_at", "started_at",
                   "finished_at", "updated_at", "store__name", "store__organization_id")
#: Query parameters that are not filters (kept out of "retry all that match").
NOT_FILTERS = ("sort", "page", "per_page", "compact")


def client_address(request) -> str | None:
    """The address a request came from, as the web server saw it (``REMOTE_ADDR``)."""
    return request.META.get("REMOTE_ADDR") or None


def filter_query(request) -> str:
    """The request's filter parameters as a query string, without sort and page ("status=dead&kind=…")."""
    query = QueryDict(mutable=True)
    for key, values in request.GET.lists():
        if key not in NOT_FILTERS and any(values):
            query.setlist(key, [v for v in values if v])
    return query.urlencode()


class JobListView(ObjectListView):
    """The organization's jobs, newest first, filtered by ``JobFilterSet``.

    Paged without a COUNT (``LazyPaginator``): at a million rows each page is
    one index scan of ``per_page + 1`` rows. Rows reload live on the
    "jobs-changed" signal.
    """

    filterset_class = JobFilterSet
    table_class = JobTable
    template_name = "agents/job_list.html"
    partial_template = "agents/partials/job_table.html"
    paginator_class = LazyPaginator
    # 25 rows: at 50, drawing the table (not the database, ~4 ms) took the page past 150 ms at
    # p95 (bench/bench_jobs_page.py); ?per_page= still asks for more.
    per_page = 25
    live_signal = "jobs-changed"
    #: Every change of what a row shows writes an event (pruning past retention does not: the seconds bound
    #: it), so twenty pages reloading one view after a signal cost one render.
    fragment_cache_seconds = 2
    compact_exclude = ("store", "priority", "attempts", "created_at", "finished_at", "error")

    def get_queryset(self, request):
        # The columns the rows show: not the log or the result (kilobytes each), and of the store only its
        # name (a whole Store row decrypts its credentials).
        return Job.objects.filter(organization=request.organization).select_related("store").only(*JOB_LIST_FIELDS)

    def extra_context(self, request) -> dict:
        membership = request.membership
        context = {
            "can_act": membership.has_role(Role.OPERATOR),
            "filter_query": filter_query(request),
            "tab": "jobs",
        }
        group = request.GET.get("error_group", "").strip()
        if group:
            context["error_group_asked"] = group
            context["error_group"] = _group_sample(membership.organization, group)
        return context


def _group_sample(organization, fingerprint: str) -> Job | None:
    """The newest job of an error group (one row of the ``job_org_error_group`` index), or ``None``."""
    return (
        Job.objects.filter(organization=organization, error_fingerprint=fingerprint)
        .only("pk", "kind", "error", "error_class", "error_fingerprint", "organization_id")
        .order_by("-id")
        .first()
    )


def job_detail(request, pk: int):
    """A job's page: status, timings, progress (live), attempts, log, result, error group, and what it touched."""
    job = get_for_org(request, Job.objects.select_related("store", "created_by"), pk)
    membership = membership_for(request)
    return render(request, "agents/job_detail.html", {
        "job": job,
        "touched": touched_objects(job),
        "can_act": membership.has_role(Role.OPERATOR),
    })


def touched_objects(job: Job) -> dict:
    """What ``job.params`` names, fetched within the job's organization, for links on its page.

    Returns ``{"products": [Product, …] (at most PRODUCT_LINKS, in the order given),
    "more_products": int, "catalog_import": CatalogImport | None,
    "delivery": WebhookDelivery | None, "retry_of": Job | None (the job whose failed
    items this one retries), "other": [(key, value), …]}``;
    ids that no longer exist are left out (``missing_products`` counts them). A
    parameter with choices shows its label ("strategy": "Full (every listing)").
    """
    from products.models import CatalogImport, Product
    from stores.choices import SyncStrategy
    from stores.models import WebhookDelivery

    params = job.params if isinstance(job.params, dict) else {}
    ids = [i for i in (params.get("product_ids") or []) if isinstance(i, int)]
    shown = ids[:PRODUCT_LINKS]
    found = Product.objects.filter(organization_id=job.organization_id, pk__in=shown).only("pk", "title", "sku").in_bulk()
    touched = {
        "products": [found[i] for i in shown if i in found],
        "missing_products": len([i for i in shown if i not in found]),
        "more_products": max(0, len(ids) - PRODUCT_LINKS),
        "catalog_import": None,
        "delivery": None,
        "other": [],
    }
    if isinstance(params.get("import_id"), int):
        touched["catalog_import"] = (
            CatalogImport.objects.filter(organization_id=job.organization_id, pk=params["import_id"])
            .only("pk", "filename", "format", "created_at").first()
        )
    if isinstance(params.get("delivery_id"), int):
        touched["delivery"] = (
            WebhookDelivery.objects.filter(organization_id=job.organization_id, pk=params["delivery_id"])
            .only("pk", "topic", "resource_id", "status", "received_at", "store_id").first()
        )
    touched["retry_of"] = None
    if isinstance(params.get("retry_of"), int):
        touched["retry_of"] = (
            Job.objects.filter(organization_id=job.organization_id, pk=params["retry_of"])
            .select_related("store").first()
        )
    labels = {"strategy": dict(SyncStrategy.choices)}
    known = {"product_ids", "import_id", "delivery_id", "filename", "retry_of"}
    touched["other"] = [(k, labels[k].get(v, v) if k in labels and isinstance(v, str) else v)
                        for k, v in params.items() if k not in known]
    return touched


@require_POST
def job_cancel(request, pk: int):
    """Cancel one job (operator+): a queued one at once, a running one at its next checkpoint."""
    job = get_for_org(request, Job.objects.select_related("store"), pk, role=Role.OPERATOR)
    outcome = cancel_job(job, actor=request.user, ip_address=client_address(request))
    if outcome == "cancelled":
        messages.success(request, f"Job #{job.pk} cancelled.")
    elif outcome == "requested":
        messages.info(request, f"Job #{job.pk} is running: it was asked to stop and stops at its next checkpoint.")
    else:
        messages.warning(request, f"Job #{job.pk} had already finished ({job.get_status_display().lower()}); nothing to cancel.")
    return redirect(job)


@require_POST
def job_retry(request, pk: int):
    """Queue a dead or cancelled job again with a fresh attempt budget (operator+)."""
    job = get_for_org(request, Job.objects.select_related("store"), pk, role=Role.OPERATOR)
    if retry_job(job, actor=request.user, ip_address=client_address(request)):
        messages.success(request, f"Job #{job.pk} queued again with {job.max_attempts - job.attempts} more attempts.")
    else:
        messages.warning(
            request, f"Job #{job.pk} is {job.get_status_display().lower()}: only dead or cancelled jobs can be retried.")
    return redirect(job)


@require_POST
def job_retry_failed(request, pk: int):
    """"Retry the failed items" (operator+): a new publish of just the products that failed in this job."""
    job = get_for_org(request, Job.objects.select_related("store", "organization"), pk, role=Role.OPERATOR)
    try:
        new = retry_failed_items(job, actor=request.user, ip_address=client_address(request))
    except StoreDisabled as exc:
        messages.error(request, str(exc))
        return redirect(job)
    if new is None:
        messages.warning(request, f"Job #{job.pk} has no failed items to retry ({job.status_label.lower()}).")
        return redirect(job)
    count = len(new.params.get("product_ids") or [])
    messages.success(request, f"Publishing the {count} failed item{'s' if count != 1 else ''} of job #{job.pk} "
                              f"again: job #{new.pk} is queued.")
    return redirect(new)


def jobs_retry(request):
    """"Retry all that match": GET shows how many dead or cancelled jobs the filter in the query string
    matches and the filter in words; POST retries them (``agents.services.retry_matching``, at most
    ``BULK_RETRY_LIMIT``), audited with the filter's description. Operators and up.
    """
    membership = membership_for(request, Role.OPERATOR)
    organization = membership.organization
    filterset = JobFilterSet(request.GET or None, queryset=Job.objects.filter(organization=organization), request=request)
    description = filterset.in_words() or "all jobs"
    query = filter_query(request)
    list_url = reverse("agents:job_list") + (f"?{query}" if query else "")
    if not filterset.is_bound or filterset.is_valid():
        matching = retryable(filterset.qs)
    else:
        matching = Job.objects.none()
    if request.method == "POST":
        # The audit message holds 300 characters; the filter's words get at most 240 of them.
        said = description if len(description) <= 240 else description[:239] + "…"
        count = retry_matching(
            organization, matching, actor=request.user, ip_address=client_address(request), description=said)
        if count:
            messages.success(request, f"{count} job{'s' if count != 1 else ''} queued again ({description}).")
        else:
            messages.info(request, f"No dead or cancelled job matched ({description}); nothing was retried.")
        return redirect(list_url)
    # A bounded count: at most BULK_RETRY_LIMIT + 1 rows are read, however many match.
    count = matching.order_by().values("pk")[: BULK_RETRY_LIMIT + 1].count()
    return render(request, "agents/job_retry_confirm.html", {
        "count": min(count, BULK_RETRY_LIMIT),
        "over_limit": count > BULK_RETRY_LIMIT,
        "limit": BULK_RETRY_LIMIT,
        "description": description,
        "filterset": filterset,
        "list_url": list_url,
        "query": query,
    })


def dead_letters(request):
    """Dead jobs grouped by ``error_fingerprint``, most recently seen group first; the groups update live.

    One grouped query over the ``job_org_error_group`` index (count, first
    and last seen, newest id per group; at most ``DEAD_LETTER_GROUPS``
    groups), then one query for each group's newest job (kind, error class,
    sample message).
    """
    membership = membership_for(request)
    organization = membership.organization
    rows = list(
        Job.objects.filter(organization=organization, status=JobStatus.DEAD)
        .exclude(error_fingerprint="")
        .values("error_fingerprint")
        .annotate(count=Count("id"), first_seen=Min("finished_at"), last_seen=Max("finished_at"), newest=Max("id"))
        .order_by("-newest")[:DEAD_LETTER_GROUPS]
    )
    samples = Job.objects.filter(pk__in=[r["newest"] for r in rows]).only(
        "pk", "kind", "error", "error_class", "params", "store_id", "summary").in_bulk()
    groups = []
    for row in rows:
        sample = samples.get(row["newest"])
        if sample is None:  # deleted between the two queries
            continue
        query = f"status=dead&error_group={row['error_fingerprint']}"
        groups.append({
            **row,
            "sample": sample,
            "shape": sample.error_shape,
            "list_url": f"{reverse('agents:job_list')}?{query}",
            "retry_url": f"{reverse('agents:jobs_retry')}?{query}",
        })
    # The page reloads its groups in place on "dead-letters-changed" (agents.live): htmx gets the groups only.
    template = "agents/partials/dead_letter_groups.html" if request.htmx else "agents/dead_letters.html"
    return render(request, template, {
        "groups": groups,
        "total": sum(g["count"] for g in groups),
        "can_act": membership.has_role(Role.OPERATOR),
        "limit": DEAD_LETTER_GROUPS,
        "tab": "dead",
    })

