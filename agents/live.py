"""Live fragments for jobs: the row on the jobs page and the summary on a job's page."""

from django.template.loader import render_to_string

from agents.models import Job
from agents.tables import JobTable


def render_job_fragments(job_id: int, *, created: bool = False) -> str:
    """OOB fragments for one job: its table row (prepended when ``created``) and its summary card."""
    job = Job.objects.select_related("store").filter(pk=job_id).first()
    if job is None:
        return ""
    row = JobTable([job]).rows[0]
    return render_to_string("agents/partials/job_oob.html", {"job": job, "row": row, "created": created})
