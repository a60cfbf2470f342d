from django.shortcuts import render

from agents.filtersets import JobFilterSet
from agents.models import Job
from agents.tables import JobTable
from flashfusion.access import get_for_org
from flashfusion.views import ObjectListView


class JobListView(ObjectListView):
    filterset_class = JobFilterSet
    table_class = JobTable
    template_name = "agents/job_list.html"
    live_signal = "jobs-changed"
    compact_exclude = ("store", "attempts", "created_at", "finished_at", "error")

    def get_queryset(self, request):
        return Job.objects.filter(organization=request.organization).select_related("store")


def job_detail(request, pk: int):
    job = get_for_org(request, Job.objects.select_related("store", "created_by"), pk)
    return render(request, "agents/job_detail.html", {"job": job})
