import django_tables2 as tables
from django.template.loader import render_to_string

from agents.models import Job


class JobTable(tables.Table):
    id = tables.Column(linkify=True, verbose_name="Job")
    kind = tables.Column(verbose_name="What")
    store = tables.Column(linkify=True, default="—")
    status = tables.Column()
    progress = tables.Column(empty_values=(), orderable=False)
    attempts = tables.Column()
    created_at = tables.DateTimeColumn(verbose_name="Queued", format="M j, H:i:s")
    finished_at = tables.DateTimeColumn(verbose_name="Finished", format="M j, H:i:s", default="—")
    error = tables.Column(default="", attrs={"td": {"class": "text-danger small text-truncate", "style": "max-width: 28rem"}})

    class Meta:
        model = Job
        fields = ("id", "kind", "store", "status", "progress", "attempts", "created_at", "finished_at", "error")
        row_attrs = {"id": lambda record: f"job-row-{record.pk}"}
        empty_text = "No jobs yet. Import a catalog or publish to a store and its job appears here."

    def render_id(self, value):
        return f"#{value}"

    def render_kind(self, record):
        return record.title

    def render_status(self, record):
        return render_to_string("agents/partials/status_badge.html", {"job": record})

    def render_progress(self, record):
        return render_to_string("agents/partials/progress.html", {"job": record})
