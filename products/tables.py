"""The products table.

Sortable: title, SKU and updated, each read from an index of ``Product.Meta.indexes`` at 100,000
products. The figures computed per row (variants, price, stores), stock and the few-valued type and
status would sort every product first; filter on them instead.

Rows are drawn in Python (``flashfusion.tables.PythonRowsTable``), cells with ``format_html``, no
per-row query: drawing the rows, not the database, was most of the page's time
(bench/bench_products_page.py).
"""

from decimal import Decimal

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.html import format_html

from flashfusion.tables import PythonRowsTable
from products.models import Product

#: A product id no real row has, swapped for each row's own in the link to its page.
_PK = 987654321987


class ProductTable(PythonRowsTable):
    """The catalog list. ``currency``: the organization's, shown with every price (read once, not per row)."""

    title = tables.Column()
    sku = tables.Column(verbose_name="SKU", default="—")
    kind = tables.Column(verbose_name="Type", orderable=False)
    status = tables.Column(orderable=False)
    variant_count = tables.Column(verbose_name="Variants", orderable=False)
    price_min = tables.Column(verbose_name="Price", orderable=False)
    stock_total = tables.Column(verbose_name="Stock", default="—", orderable=False)
    listing_count = tables.Column(verbose_name="Stores", orderable=False)
    updated_at = tables.Column(verbose_name="Updated")

    class Meta:
        model = Product
        fields = ("title", "sku", "kind", "status", "variant_count", "price_min", "stock_total", "listing_count", "updated_at")
        row_attrs = {"id": lambda record: f"product-row-{record.pk}"}
        empty_text = "No products match. Import a WooCommerce or Shopify CSV to fill the catalog."

    def __init__(self, *args, currency: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        # Once a page, not once a row: reverse() and the month names' translations cost ~50 µs a call.
        self._detail_url = reverse("products:detail", args=[_PK])
        self._months = {number: str(name).title() for number, name in MONTHS_3.items()}

    def render_title(self, record):
        return format_html('<a href="{}">{}</a>', self._detail_url.replace(str(_PK), str(record.pk)), record.title)

    def render_status(self, record, value):  # value: the status's label
        return format_html('<span class="badge text-bg-{}">{}</span>', record.status_badge, value)

    def render_price_min(self, record, value):
        # SQLite's MIN/MAX come back as float-derived Decimals (69.9900000000000): show cents.
        low, high = _cents(value), _cents(record.price_max)
        if high is not None and high != low:
            return f"{low} – {high} {self.currency}"
        return f"{low} {self.currency}"

    def render_updated_at(self, value):
        local = timezone.localtime(value)  # as date_format(local, "M j, H:i")
        return f"{self._months[local.month]} {local.day}, {local:%H:%M}"


def _cents(value):
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))
