"""The products list's filters: one FilterSet, reused by the list, the publishing matrix and the export."""

from decimal import Decimal

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce

from flashfusion.filters import BootstrapFilterSet
from products.choices import ProductKind, ProductStatus
from products.models import Product, Variant
from stores.choices import ListingState
from stores.models import Listing, Store

#: Total stock below this (and above 0) counts as low. Per organization later (issue 5 leaves it a constant).
LOW_STOCK_THRESHOLD = 5

NOT_LISTED = "none"
SYNC_CHOICES = [*ListingState.choices, (NOT_LISTED, "Not listed anywhere")]
#: Listing states that mean the store and the catalog disagree (``conflict``: changed in the store;
#: ``error``: our last write failed, so the store holds an older version or nothing).
DISCREPANCY_STATES = (ListingState.CONFLICT, ListingState.ERROR)


def stock_choices(threshold: int = LOW_STOCK_THRESHOLD):
    return [
        ("in", f"In stock ({threshold} or more)"),
        ("low", f"Low (1–{threshold - 1})"),
        ("out", "Out of stock (0)"),
    ]


class ProductFilterSet(BootstrapFilterSet):
    """Every filter narrows with ``IN`` / ``NOT EXISTS`` subqueries, never a join, so rows are never repeated
    and the list's per-row subquery annotations stay right. ``pk IN (SELECT product_id …)`` rather than a
    correlated ``EXISTS``: SQLite runs the subquery once instead of once per product (PostgreSQL plans
    both as a semi-join)."""

    q = django_filters.CharFilter(
        method="search", label="Search", help_text="Title, handle or SKU (variant SKUs too)",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Title, handle or SKU"}),
    )
    status = django_filters.ChoiceFilter(choices=ProductStatus.choices, empty_label="Any status")
    kind = django_filters.ChoiceFilter(choices=ProductKind.choices, empty_label="Any type", label="Type")
    store = django_filters.ModelChoiceFilter(
        queryset=Store.objects.none(), method="listed_on", empty_label="Any store", label="Listed on"
    )
    sync = django_filters.ChoiceFilter(choices=SYNC_CHOICES, method="sync_state", empty_label="Any sync state", label="Sync state")
    stock = django_filters.ChoiceFilter(choices=stock_choices(), method="stock_level", empty_label="Any stock", label="Stock")
    price_min = django_filters.NumberFilter(
        method="price_range", label="Price from", widget=forms.NumberInput(attrs={"min": "0", "step": "0.01", "placeholder": "min"})
    )
    price_max = django_filters.NumberFilter(
        method="price_range", label="Price to", widget=forms.NumberInput(attrs={"min": "0", "step": "0.01", "placeholder": "max"})
    )
    discrepancy = django_filters.BooleanFilter(
        method="has_discrepancy", label="Discrepancy",
        widget=forms.Select(choices=[("", "Any"), ("true", "Conflict or error in a store"), ("false", "None")]),
    )

    class Meta:
        model = Product
        fields = ["q", "status", "kind", "store", "sync", "stock", "price_min", "price_max", "discrepancy"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = getattr(getattr(self.request, "membership", None), "organization", None)
        if self.organization is not None:
            self.filters["store"].queryset = Store.objects.filter(organization=self.organization)
            self.form.fields["store"].queryset = Store.objects.filter(organization=self.organization)

    def _listings(self):
        listings = Listing.objects.all()
        return listings if self.organization is None else listings.filter(organization=self.organization)

    def _variants(self):
        variants = Variant.objects.all()
        return variants if self.organization is None else variants.filter(organization=self.organization)

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # ``pk IN (… UNION …)``: each branch reads its own trigram index on PostgreSQL (an OR with a
        # subquery made it filter every product), and a join to variants would repeat a product per match.
        products = Product.objects.all() if self.organization is None else Product.objects.filter(organization=self.organization)
        branches = [products.filter(**{f"{field}__icontains": value}).order_by().values("pk") for field in ("title", "handle", "sku")]
        branches.append(self._variants().filter(sku__icontains=value).order_by().values("product_id"))
        return queryset.filter(pk__in=branches[0].union(*branches[1:]))

    def listed_on(self, queryset, name, store):
        if store is None:
            return queryset
        return queryset.filter(pk__in=Listing.objects.filter(store=store).values("product_id"))

    def sync_state(self, queryset, name, value):
        if not value:
            return queryset
        if value == NOT_LISTED:
            return queryset.filter(~Exists(Listing.objects.filter(product=OuterRef("pk"))))
        return queryset.filter(pk__in=self._listings().filter(state=value).values("product_id"))

    def stock_level(self, queryset, name, value, threshold: int = LOW_STOCK_THRESHOLD):
        """Total tracked stock over the product's variants; products that track no stock match none."""
        if not value:
            return queryset
        totals = (
            self._variants().filter(stock__isnull=False).order_by().values("product_id")
            .annotate(total=Coalesce(Sum("stock"), 0))
        )
        bounds = {"in": Q(total__gte=threshold), "low": Q(total__gt=0, total__lt=threshold), "out": Q(total__lte=0)}
        return queryset.filter(pk__in=totals.filter(bounds[value]).values("product_id"))

    def price_range(self, queryset, name, value):
        """Products with a variant priced within [price from, price to] (both filters read together, once)."""
        if getattr(self, "_price_done", False):
            return queryset
        self._price_done = True
        data = self.form.cleaned_data
        low, high = data.get("price_min"), data.get("price_max")
        variants = self._variants()
        if low is not None:
            variants = variants.filter(price__gte=Decimal(low))
        if high is not None:
            variants = variants.filter(price__lte=Decimal(high))
        if low is None and high is None:
            return queryset
        return queryset.filter(pk__in=variants.values("product_id"))

    def has_discrepancy(self, queryset, name, value):
        if value is None:
            return queryset
        if value:
            return queryset.filter(pk__in=self._listings().filter(state__in=DISCREPANCY_STATES).values("product_id"))
        return queryset.filter(~Exists(Listing.objects.filter(product=OuterRef("pk"), state__in=DISCREPANCY_STATES)))
