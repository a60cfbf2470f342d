"""Dashboard figures: the KPI cards every live page can refresh."""

from datetime import timedelta

from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.utils import timezone

from agents.choices import JobStatus
from agents.models import Job
from approvals.choices import RequestStatus
from approvals.models import ApprovalRequest
from products.models import Product
from stores.choices import Health
from stores.models import Store

#: Finished jobs (failed, with failed items, refused) count on the dashboard for this long (seconds).
FAILED_JOBS_WINDOW = 24 * 3600


def kpis(organization_id: int) -> dict:
    """Counts for the KPI cards: products, stores (healthy/total), jobs running, queued and waiting to retry,
    jobs of the last 24 h that failed (dead letters: the system could not do them), that finished with
    failed items (counted apart) and whose input was refused (the operator's to fix, not a failure), and
    approvals waiting."""
    stores = Store.objects.filter(organization_id=organization_id).aggregate(
        total=Count("pk"),
        healthy=Count("pk", filter=Q(health=Health.HEALTHY)),
        failing=Count("pk", filter=Q(health__in=[Health.FAILING, Health.AUTH_FAILED])),
    )
    since = timezone.now() - timedelta(seconds=FAILED_JOBS_WINDOW)
    # One indexed count each (organization, status): an aggregate over every job would scan them all.
    org_jobs = Job.objects.filter(organization_id=organization_id)
    ended = org_jobs.filter(
        status__in=(JobStatus.DEAD, JobStatus.PARTIAL, JobStatus.REFUSED), finished_at__gte=since
    ).aggregate(
        failed=Count("pk", filter=Q(status=JobStatus.DEAD)),
        partial=Count("pk", filter=Q(status=JobStatus.PARTIAL)),
        refused=Count("pk", filter=Q(status=JobStatus.REFUSED)),
    )
    jobs = {
        "running": org_jobs.filter(status=JobStatus.RUNNING).count(),
        "queued": org_jobs.filter(status=JobStatus.QUEUED).count(),
        "retrying": org_jobs.filter(status=JobStatus.RETRY).count(),
        **ended,
    }
    return {
        "products": Product.objects.live().filter(organization_id=organization_id).count(),
        "stores_total": stores["total"],
        "stores_healthy": stores["healthy"],
        "stores_failing": stores["failing"],
        "jobs_running": jobs["running"],
        "jobs_queued": jobs["queued"],
        "jobs_retrying": jobs["retrying"],
        "jobs_failed": jobs["failed"],
        "jobs_partial": jobs["partial"],
        "jobs_refused": jobs["refused"],
        "approvals_waiting": ApprovalRequest.objects.filter(
            organization_id=organization_id, status=RequestStatus.PENDING
        ).count(),
    }


def render_kpis(organization_id: int, *, oob: bool = False) -> str:
    return render_to_string("dashboard/partials/kpis.html", {"kpis": kpis(organization_id), "oob": oob})
