import django_filters

from flashfusion.filters import BootstrapFilterSet
from stores.choices import Health, Platform
from stores.models import Store


class StoreFilterSet(BootstrapFilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Search")
    platform = django_filters.ChoiceFilter(choices=Platform.choices, empty_label="Any platform")
    health = django_filters.ChoiceFilter(choices=Health.choices, empty_label="Any health")

    class Meta:
        model = Store
        fields = ["q", "platform", "health"]
