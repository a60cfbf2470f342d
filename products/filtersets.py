import django_filters
from django import forms
from django.db.models import Q

from flashfusion.filters import BootstrapFilterSet
from products.choices import ProductKind, ProductStatus
from products.models import Product


class ProductFilterSet(BootstrapFilterSet):
    q = django_filters.CharFilter(
        method="search", label="Search", help_text="Title, handle or SKU",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Title, handle or SKU"}),
    )
    status = django_filters.ChoiceFilter(choices=ProductStatus.choices, empty_label="Any status")
    kind = django_filters.ChoiceFilter(choices=ProductKind.choices, empty_label="Any type", label="Type")

    class Meta:
        model = Product
        fields = ["q", "status", "kind"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value) | Q(handle__icontains=value) | Q(sku__icontains=value) | Q(variants__sku__icontains=value)
        ).distinct()
