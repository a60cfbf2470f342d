"""Live fragments for jobs: refresh signals for job tables and dead letters, and the summary on a job's page."""

from django.template.loader import render_to_string

from agents.models import Job


def render_job_fragments(job_id: int) -> list[tuple[str, str]]:
    """``[(region, html)]`` for one job: region "jobs" holds a signal that makes job tables
    reload themselves (keeping their filters, sort and page) and, for a job that is or was a dead
    letter (it has an error group), one that reloads the dead-letters page; region "job:<id>" the job's summary."""
    job = Job.objects.select_related("store").filter(pk=job_id).first()
    if job is None:
        return []
    stamp = job.updated_at.timestamp()
    parts = [("jobs", render_to_string("partials/live_signal.html", {"signal": "jobs-changed", "event_id": stamp}))]
    if job.error_fingerprint:  # became a dead letter, or a dead letter retried (it keeps its group)
        parts.append(("jobs", render_to_string("partials/live_signal.html",
                                               {"signal": "dead-letters-changed", "event_id": stamp})))
    parts.append((f"job:{job.pk}", render_to_string("agents/partials/job_summary.html", {"job": job, "oob": True})))
    return parts
