import django_tables2 as tables
from django.template.loader import render_to_string

from stores.models import Store


class StoreTable(tables.Table):
    name = tables.Column(linkify=True)
    platform = tables.Column()
    base_url = tables.Column(verbose_name="URL")
    health = tables.Column(verbose_name="Health")
    health_latency = tables.Column(verbose_name="Latency", default="—")
    listings = tables.Column(accessor="listing_count", verbose_name="Listings", default=0)
    last_synced_at = tables.DateTimeColumn(verbose_name="Last sync", format="M j, H:i", default="never")
    actions = tables.TemplateColumn(template_name="stores/partials/store_actions.html", orderable=False, verbose_name="")

    class Meta:
        model = Store
        fields = ("name", "platform", "base_url", "health", "health_latency", "listings", "last_synced_at")
        row_attrs = {"id": lambda record: f"store-row-{record.pk}"}
        empty_text = "No store connected yet. Connect your first store to publish the catalog to it."

    def render_health(self, record):
        return render_to_string("stores/partials/health_badge.html", {"store": record})

    def render_health_latency(self, value):
        return f"{value * 1000:.0f} ms"
