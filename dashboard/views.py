from django.shortcuts import render

from dashboard.services import kpis
from flashfusion.access import membership_for
from flashfusion.models import Event


def index(request):
    membership = membership_for(request)
    events = Event.objects.filter(organization=membership.organization).exclude(payload__quiet=True)[:30]
    return render(request, "dashboard/index.html", {"kpis": kpis(membership.organization_id), "events": events})
