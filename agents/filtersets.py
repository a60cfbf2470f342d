import django_filters

from agents.choices import JobKind, JobStatus
from agents.models import Job
from flashfusion.filters import BootstrapFilterSet
from stores.models import Store


def _stores(request):
    if request is None or request.organization is None:
        return Store.objects.none()
    return Store.objects.filter(organization=request.organization)


class JobFilterSet(BootstrapFilterSet):
    status = django_filters.ChoiceFilter(choices=JobStatus.choices, empty_label="Any status")
    kind = django_filters.ChoiceFilter(choices=JobKind.choices, empty_label="Any kind")
    store = django_filters.ModelChoiceFilter(queryset=_stores, empty_label="Any store")

    class Meta:
        model = Job
        fields = ["status", "kind", "store"]
