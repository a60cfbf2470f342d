from decimal import Decimal

import django_tables2 as tables
from django.utils.html import format_html

from products.models import Product


class ProductTable(tables.Table):
    title = tables.Column(linkify=True)
    sku = tables.Column(verbose_name="SKU", default="—")
    # Sortable: title, SKU and updated, each read from an index at 100,000 products. The figures
    # computed per row (variants, price, stock, stores) and the few-valued type and status would sort
    # every product first; filter on them instead.
    kind = tables.Column(verbose_name="Type", orderable=False)
    status = tables.Column(orderable=False)
    variant_count = tables.Column(verbose_name="Variants", orderable=False)
    price_min = tables.Column(verbose_name="Price", orderable=False)
    stock_total = tables.Column(verbose_name="Stock", default="—", orderable=False)
    listing_count = tables.Column(verbose_name="Stores", orderable=False)
    updated_at = tables.DateTimeColumn(verbose_name="Updated", format="M j, H:i")

    class Meta:
        model = Product
        fields = ("title", "sku", "kind", "status", "variant_count", "price_min", "stock_total", "listing_count", "updated_at")
        row_attrs = {"id": lambda record: f"product-row-{record.pk}"}
        empty_text = "No products match. Import a WooCommerce or Shopify CSV to fill the catalog."

    def render_status(self, record):
        return format_html('<span class="badge text-bg-{}">{}</span>', record.status_badge, record.get_status_display())

    def render_price_min(self, record, value):
        # SQLite's MIN/MAX come back as float-derived Decimals (69.9900000000000): show cents.
        low, high = _cents(value), _cents(record.price_max)
        if high is not None and high != low:
            return f"{low} – {high} {record.organization.currency}"
        return f"{low} {record.organization.currency}"


def _cents(value):
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))
