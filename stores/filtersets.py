import django_filters
from django import forms

from flashfusion.filters import BootstrapFilterSet
from stores.choices import Health, ListingState, Platform
from stores.models import Listing, Store


class StoreFilterSet(BootstrapFilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Search")
    platform = django_filters.ChoiceFilter(choices=Platform.choices, empty_label="Any platform")
    health = django_filters.ChoiceFilter(choices=Health.choices, empty_label="Any health")

    class Meta:
        model = Store
        fields = ["q", "platform", "health"]


class ListingFilterSet(BootstrapFilterSet):
    """The listings list (a store's page shows it filtered by that store): store, state, and a search of the
    product's title, handle or SKU (variant SKUs too), the products list's own search (``ProductFilterSet``)."""

    q = django_filters.CharFilter(
        method="search", label="Search", help_text="Product title, handle or SKU",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Product title or SKU"}),
    )
    state = django_filters.ChoiceFilter(choices=ListingState.choices, empty_label="Any state", label="State")
    store = django_filters.ModelChoiceFilter(queryset=Store.objects.none(), empty_label="Any store", label="Store")

    class Meta:
        model = Listing
        fields = ["q", "state", "store"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        organization = getattr(getattr(self.request, "membership", None), "organization", None)
        if organization is not None:
            # Names only: a whole Store row decrypts its credentials.
            stores = Store.objects.filter(organization=organization).only("pk", "name")
            self.filters["store"].queryset = stores
            self.form.fields["store"].queryset = stores

    def search(self, queryset, name, value):
        from products.filtersets import ProductFilterSet
        from products.models import Product

        if not value.strip():
            return queryset
        products = ProductFilterSet(request=self.request, queryset=Product.objects.none())
        matching = products.search(Product.objects.all(), "q", value)
        if products.organization is not None:
            matching = matching.filter(organization=products.organization)
        return queryset.filter(product__in=matching.values("pk"))
