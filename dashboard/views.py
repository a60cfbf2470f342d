from django.db.models import Q
from django.shortcuts import render

from dashboard.services import kpis
from flashfusion.access import membership_for
from flashfusion.models import Event


def index(request):
    membership = membership_for(request)
    events = Event.objects.filter(organization=membership.organization).filter(
        Q(payload__quiet__isnull=True) | Q(payload__quiet=False)
    )[:30]
    return render(request, "dashboard/index.html", {"kpis": kpis(membership.organization_id), "events": events})
