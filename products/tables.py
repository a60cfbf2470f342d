import django_tables2 as tables
from django.utils.html import format_html

from products.models import Product


class ProductTable(tables.Table):
    title = tables.Column(linkify=True)
    sku = tables.Column(verbose_name="SKU", default="—")
    kind = tables.Column(verbose_name="Type")
    status = tables.Column()
    variant_count = tables.Column(verbose_name="Variants")
    price_min = tables.Column(verbose_name="Price")
    stock_total = tables.Column(verbose_name="Stock", default="—")
    listing_count = tables.Column(verbose_name="Stores")
    updated_at = tables.DateTimeColumn(verbose_name="Updated", format="M j, H:i")

    class Meta:
        model = Product
        fields = ("title", "sku", "kind", "status", "variant_count", "price_min", "stock_total", "listing_count", "updated_at")
        row_attrs = {"id": lambda record: f"product-row-{record.pk}"}
        empty_text = "No products match. Import a WooCommerce or Shopify CSV to fill the catalog."

    def render_status(self, record):
        return format_html('<span class="badge text-bg-{}">{}</span>', record.status_badge, record.get_status_display())

    def render_price_min(self, record, value):
        if record.price_max is not None and record.price_max != value:
            return f"{value} – {record.price_max} {record.organization.currency}"
        return f"{value} {record.organization.currency}"
