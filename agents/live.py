"""Live fragments for jobs: a refresh signal for job tables and the summary on a job's page."""

from django.template.loader import render_to_string

from agents.models import Job


def render_job_fragments(job_id: int) -> list[tuple[str, str]]:
    """``[(region, html)]`` for one job: region "jobs" holds a signal that makes job tables
    reload themselves (keeping their filters, sort and page), region "job:<id>" the job's summary."""
    job = Job.objects.select_related("store").filter(pk=job_id).first()
    if job is None:
        return []
    return [
        ("jobs", render_to_string("partials/live_signal.html", {"signal": "jobs-changed", "event_id": job.updated_at.timestamp()})),
        (f"job:{job.pk}", render_to_string("agents/partials/job_summary.html", {"job": job, "oob": True})),
    ]
