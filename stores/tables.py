"""The store and listing tables: every column available, a short default set shown (STYLE.md, habit 4).

Rows come from ``stores.views.store_rows`` (listing count and rate-limit use
annotated, the rate bucket joined), so no column makes a query of its own.
"""

import time

import django_tables2 as tables
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from flashfusion.tables import PythonRowsTable
from stores.forms import rate_plan_choices
from stores.models import Listing, RateLimitBucket, Store

#: Rate-limit use (percent of the bucket) from which the badge turns amber, then red.
USE_WARNING, USE_DANGER = 50, 80
#: An id no real row has, swapped for each row's own in a link.
_PK = 987654321987


def bucket_of(store: Store) -> RateLimitBucket | None:
    """The store's rate bucket, or None before its first call (no query when ``rate_bucket`` was joined)."""
    try:
        return store.rate_bucket
    except ObjectDoesNotExist:
        return None


def bucket_level(bucket: RateLimitBucket, now: float | None = None) -> float:
    """The bucket's content now: the saved ``level`` minus what leaked since ``stamp``."""
    now = time.time() if now is None else now
    return max(0.0, bucket.level - bucket.leak_rate * max(0.0, now - bucket.stamp))


def bucket_use(bucket: RateLimitBucket, now: float | None = None) -> float:
    """Percent of the bucket in use now (0 for a bucket without capacity)."""
    return 100 * bucket_level(bucket, now) / bucket.capacity if bucket.capacity > 0 else 0.0


def use_badge(percent: float) -> str:
    """Bootstrap colour of a rate-limit use figure."""
    if percent >= USE_DANGER:
        return "danger"
    if percent >= USE_WARNING:
        return "warning"
    return "success"


class ListingTable(PythonRowsTable):
    """A store's listings: the product, the store's id for it, its sync state and last sync.

    Rows come from ``stores.listing_views.listing_rows`` (product and store names joined, nothing else
    read per row). ``one_store``: the list is filtered to one store (its own page), so the store column
    is left out.
    """

    product = tables.Column(accessor="product__title", verbose_name="Product", order_by=("product__title", "pk"))
    sku = tables.Column(accessor="product__sku", verbose_name="SKU", default="—", orderable=False)
    store = tables.Column(accessor="store__name", verbose_name="Store", order_by=("store__name", "pk"))
    external_id = tables.Column(verbose_name="Store id", default="—", orderable=False,
                                attrs={"td": {"class": "font-monospace small"}})
    state = tables.Column(verbose_name="State", order_by=("state", "pk"))
    last_synced_at = tables.Column(verbose_name="Last synced", default="—", order_by=("last_synced_at", "pk"),
                                   attrs={"td": {"class": "small text-nowrap"}})

    class Meta:
        model = Listing
        fields = ("product", "sku", "store", "external_id", "state", "last_synced_at")
        row_attrs = {"id": lambda record: f"listing-row-{record.pk}"}
        empty_text = "No listings yet: a publish or a full sync creates them."

    def __init__(self, *args, one_store: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if one_store:
            self.columns.hide("store")
        # Once a page, not once a row: reverse() costs ~50 µs a call, date_format() ~0.4 ms.
        self._product_url = reverse("products:detail", args=[_PK])
        self._months = {number: str(name).title() for number, name in MONTHS_3.items()}

    def render_product(self, record, value):
        return format_html('<a href="{}">{}</a>', self._product_url.replace(str(_PK), str(record.product_id)), value)

    def render_state(self, record, value):  # value: the state's label
        return format_html('<span class="badge text-bg-{}" title="{}">{}</span>', record.state_badge, record.last_error, value)

    def render_last_synced_at(self, value):
        local = timezone.localtime(value)  # as date_format(local, "M j, H:i:s")
        return f"{self._months[local.month]} {local.day}, {local:%H:%M:%S}"


class StoreTable(tables.Table):
    name = tables.Column(linkify=True)
    platform = tables.Column()
    base_url = tables.Column(verbose_name="URL")
    rate_plan = tables.Column(verbose_name="Plan", default="—")
    health = tables.Column(verbose_name="Health")
    breaker_state = tables.Column(verbose_name="Breaker")
    health_latency = tables.Column(verbose_name="Latency", default="—", attrs={"td": {"class": "text-end text-nowrap"}, "th": {"class": "text-end"}})
    rate_use = tables.Column(verbose_name="Rate-limit use", default="—", attrs={"td": {"class": "text-nowrap"}})
    rate_level = tables.Column(accessor="rate_use", verbose_name="Bucket", orderable=False, default="—", attrs={"td": {"class": "text-nowrap"}})
    rate_calls = tables.Column(accessor="rate_bucket__calls", verbose_name="Calls", default=0, attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}})
    rate_throttled = tables.Column(accessor="rate_bucket__throttled", verbose_name="429s", default=0, attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}})
    rate_blocked = tables.Column(accessor="rate_bucket__blocked_until", verbose_name="Held back", orderable=False, default="—")
    listings = tables.Column(accessor="listing_count", verbose_name="Listings", default=0, attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}})
    last_synced_at = tables.DateTimeColumn(verbose_name="Last sync", format="M j, H:i", default="never")
    is_enabled = tables.Column(verbose_name="Enabled")
    actions = tables.Column(accessor="pk", orderable=False, verbose_name="", attrs={"td": {"class": "text-end"}})

    #: Columns available but not shown by default (a subclass shows another set of the same columns).
    hidden_by_default: tuple[str, ...] = ("base_url", "rate_plan", "rate_level", "rate_calls", "rate_throttled", "rate_blocked")

    class Meta:
        # The project's table attributes, with cells kept on one line (the wrapper scrolls sideways).
        attrs = {**settings.DJANGO_TABLES2_TABLE_ATTRS, "class": f"{settings.DJANGO_TABLES2_TABLE_ATTRS['class']} text-nowrap"}
        row_attrs = {"id": lambda record: f"store-row-{record.pk}"}
        empty_text = "No store connected yet. Connect your first store to publish the catalog to it."

    def __init__(self, *args, exclude=(), **kwargs):
        super().__init__(*args, exclude=(*self.hidden_by_default, *(exclude or ())), **kwargs)

    def render_actions(self, record):
        # Rendered without the request's context processors: one query per row otherwise (the live cursor).
        request = getattr(self, "request", None)
        context = {
            "record": record,
            "membership": getattr(request, "membership", None),
            "csrf_token": get_token(request) if request is not None else "",
        }
        return render_to_string("stores/partials/store_actions.html", context)

    def render_health(self, record):
        return render_to_string("stores/partials/health_badge.html", {"store": record})

    def render_breaker_state(self, record):
        return render_to_string("stores/partials/breaker_badge.html", {"store": record})

    def render_rate_plan(self, record, value):
        return dict(rate_plan_choices(record.platform)).get(value, value)

    def render_health_latency(self, value):
        return f"{value * 1000:.0f} ms"

    def render_rate_use(self, record, value):
        bucket = bucket_of(record)
        title = f"{bucket_level(bucket):.1f} of {bucket.capacity:g} used" if bucket else ""
        return format_html('<span class="badge text-bg-{}" title="{}">{}%</span>', use_badge(value), title, f"{value:.0f}")

    def render_rate_level(self, record):
        bucket = bucket_of(record)
        if bucket is None:
            return "—"
        return format_html('{} / {} <span class="text-secondary small">({}/s)</span>', f"{bucket_level(bucket):.1f}", f"{bucket.capacity:g}", f"{bucket.leak_rate:g}")

    def render_rate_blocked(self, value):
        wait = value - time.time()
        if wait <= 0:
            return "—"
        return format_html('<span class="badge text-bg-warning">{} s more</span>', f"{wait:.0f}")

    def render_is_enabled(self, value):
        if value:
            return mark_safe('<span class="badge bg-success-subtle text-success-emphasis border border-success-subtle">Enabled</span>')
        return mark_safe('<span class="badge text-bg-secondary">Disabled</span>')


class StoreBudgetTable(StoreTable):
    """The stores' live rate-limit budgets (the Plugins page): same columns, another default set."""

    hidden_by_default = ("base_url", "health", "breaker_state", "health_latency", "listings", "last_synced_at", "is_enabled", "actions")

    class Meta(StoreTable.Meta):
        empty_text = "No store connected yet: budgets appear here once a store makes calls."
        row_attrs = {"id": lambda record: f"budget-row-{record.pk}"}
