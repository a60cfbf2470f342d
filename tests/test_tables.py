"""``flashfusion.tables.PythonRowsTable`` draws the same rows as django-tables2's own template."""

import re
from decimal import Decimal

import django_tables2 as tables
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from django.utils.html import format_html

from flashfusion.tables import PythonRowsTable
from products.models import Product
from products.tables import ProductTable
from products.views import catalog_queryset
from tests.factories import ProductFactory, VariantFactory


class SampleTable(PythonRowsTable):
    """One column of each kind the fast path draws, and two it leaves to django-tables2."""

    title = tables.Column(attrs={"td": {"class": "fw-bold", "data-id": lambda record: record.pk}})
    sku = tables.Column(default="(none)")
    kind = tables.Column()  # a choice field without a render method: its label
    status = tables.Column()
    weight_grams = tables.Column()
    handle = tables.Column(linkify=lambda record: f"/p/{record.pk}/")  # drawn by get_cell
    created_at = tables.DateTimeColumn(format="Y-m-d")  # a template column: drawn by get_cell

    class Meta:
        model = Product
        fields = ("title", "sku", "kind", "status", "weight_grams", "handle", "created_at")
        row_attrs = {"id": lambda record: f"row-{record.pk}", "data-kind": "product"}

    def render_status(self, value, record):
        return format_html("<i>{}</i> #{}", value, record.pk)

    def render_weight_grams(self, **kwargs):
        return f"{kwargs['value']} g ({kwargs['table'].__class__.__name__})"


def tbody(html: str) -> str:
    body = re.search(r"<tbody[^>]*>(.*?)</tbody>", html, re.S).group(1)
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", body)).strip()


def both(table_class, data, **kwargs) -> tuple[str, str]:
    """(django-tables2's own tbody, ours) for the same rows."""
    request = RequestFactory().get("/")
    theirs = table_class(data, template_name="django_tables2/bootstrap5.html", **kwargs).as_html(request)
    ours = table_class(data, **kwargs).as_html(request)
    return tbody(theirs), tbody(ours)


def test_rows_match_django_tables2(org):
    ProductFactory(organization=org, title="Fish & <Chips>", sku="", kind="variable", status="draft",
                   weight_grams=Decimal("1234.500"), handle="fish")
    ProductFactory(organization=org, title="Tent", sku="T-1", weight_grams=None, handle="tent")
    theirs, ours = both(SampleTable, Product.objects.order_by("pk"))
    assert "Fish &amp; &lt;Chips&gt;" in ours and "(none)" in ours and "Variable" in ours and 'data-id="' in ours
    assert "<i>Draft</i>" in ours and "1234.500 g (SampleTable)" in ours and 'href="/p/' in ours
    assert ours == theirs


def test_empty_table_says_so_like_django_tables2(org):
    theirs, ours = both(ProductTable, Product.objects.none(), currency="EUR")
    assert 'colspan="9"' in ours and "No products match" in ours
    assert ours == theirs
    assert both(SampleTable, Product.objects.none()) == ("", "")  # no empty text: no row


def test_the_products_table_matches_django_tables2(org):
    product = ProductFactory(organization=org, title="Alpine Tent", sku="TENT")
    VariantFactory(product=product, sku="TENT-1", price=Decimal("19.99"), stock=4)
    VariantFactory(product=product, sku="TENT-2", price=Decimal("24.99"), stock=None)
    ProductFactory(organization=org, title="Mug", sku="")
    theirs, ours = both(ProductTable, catalog_queryset(org), currency="EUR")
    assert "19.99 – 24.99 EUR" in ours and f'href="/products/{product.pk}/"' in ours
    assert ours == theirs


def test_a_localize_column_is_refused(org):
    class Localized(PythonRowsTable):
        title = tables.Column(localize=True)

        class Meta:
            model = Product
            fields = ("title",)

    ProductFactory(organization=org)
    with pytest.raises(ImproperlyConfigured, match="localize"):
        Localized(Product.objects.all()).body_html()


def test_the_jobs_table_matches_django_tables2(org):
    from datetime import timedelta

    from django.utils import timezone

    from agents.models import Job
    from agents.tables import JobTable
    from stores.models import Store

    store = Store.objects.create(organization=org, name="Fish & <Co>", base_url="http://127.0.0.1:9", consumer_key="k",
                                 consumer_secret="s")
    now = timezone.now()
    Job.objects.create(organization=org, kind="store.publish", store=store, status="dead", attempts=3,
                       error='HTTP 500: "<b>bad</b>"', finished_at=now, progress_done=2, progress_total=5)
    Job.objects.create(organization=org, kind="catalog.import", status="retry", attempts=1, error="timeout",
                       run_after=now + timedelta(minutes=4))
    Job.objects.create(organization=org, kind="store.pull", store=store, status="running", attempts=1)
    jobs = Job.objects.filter(organization=org).select_related("store").order_by("-id")
    theirs, ours = both(JobTable, jobs)
    assert 'title="HTTP 500: &quot;&lt;b&gt;bad&lt;/b&gt;&quot;"' in ours and "Fish &amp; &lt;Co&gt;" in ours
    assert ours == theirs


def test_the_listings_table_matches_django_tables2(org):
    from django.utils import timezone

    from stores.listing_views import listing_rows
    from stores.models import Listing, Store
    from stores.tables import ListingTable

    store = Store.objects.create(organization=org, name="Shop", base_url="http://127.0.0.1:9", consumer_key="k",
                                 consumer_secret="s")
    Listing.objects.create(organization=org, store=store, product=ProductFactory(organization=org, title="Tent <2p>"),
                           state="error", last_error="sku <taken>", external_id="77", last_synced_at=timezone.now())
    Listing.objects.create(organization=org, store=store, product=ProductFactory(organization=org, sku=""))
    theirs, ours = both(ListingTable, listing_rows(org))
    assert "Tent &lt;2p&gt;" in ours and 'title="sku &lt;taken&gt;"' in ours and ">Shop<" in ours
    assert ours == theirs
    assert ">Shop<" not in both(ListingTable, listing_rows(org), one_store=True)[1]
