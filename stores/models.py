"""Connected stores and the listings that bind catalog products to them."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from flashfusion.fields import EncryptedTextField
from flashfusion.models import Organization
from products.models import Product
from stores.choices import (
    BREAKER_BADGES,
    HEALTH_BADGES,
    LISTING_BADGES,
    SYNC_INTERVALS,
    BreakerState,
    ConflictResolution,
    DeliveryStatus,
    Health,
    ListingState,
    Platform,
    StockRule,
    SyncScope,
    SyncStrategy,
)


class Store(models.Model):
    """One sales channel of an organization: platform, URL, credentials, sync settings, health.

    Credentials are encrypted at rest (``EncryptedTextField``). WooCommerce:
    ``consumer_key`` / ``consumer_secret``. Shopify: ``consumer_secret`` holds
    the Admin API access token (``consumer_key`` is unused). ``webhook_secret``
    signs inbound webhooks; after a rotation ``previous_webhook_secret`` is
    still accepted until ``webhook_secret_rotated_at`` + 1 hour (Shopify docs).
    ``timeout`` is the per-call HTTP timeout in seconds; ``rate_plan`` names
    the platform plan whose published limits the limiter uses (e.g. Shopify
    "standard", "advanced", "plus").
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="stores")
    name = models.CharField(max_length=100)
    platform = models.CharField(max_length=32, choices=Platform.choices, default=Platform.WOOCOMMERCE)
    base_url = models.URLField("store URL", help_text="The site's address, e.g. https://shop.example.com")
    consumer_key = EncryptedTextField()
    consumer_secret = EncryptedTextField()
    timeout = models.FloatField(default=20.0, help_text="Seconds to wait for one call to the store.")
    rate_plan = models.CharField(max_length=32, blank=True, help_text="Platform plan that sets the rate limits.")
    webhook_secret = EncryptedTextField(blank=True)
    previous_webhook_secret = EncryptedTextField(blank=True)
    webhook_secret_rotated_at = models.DateTimeField(null=True, blank=True)
    is_enabled = models.BooleanField(default=True, help_text="A disabled store gets no jobs.")
    auto_sync = models.BooleanField(default=False)
    sync_interval = models.PositiveIntegerField(choices=SYNC_INTERVALS, default=3600, help_text="Seconds between automatic syncs.")
    sync_strategy = models.CharField(max_length=16, choices=SyncStrategy.choices, default=SyncStrategy.INCREMENTAL)
    conflict_resolution = models.CharField(max_length=16, choices=ConflictResolution.choices, default=ConflictResolution.MANUAL)
    batch_size = models.PositiveSmallIntegerField(default=100, help_text="Items per batch call (the platform's maximum caps it).")
    health_check_interval = models.PositiveIntegerField(default=300, help_text="Seconds between health checks.")
    disable_on_auth_failure = models.BooleanField(default=False, help_text="Disable the store when its credentials are refused.")
    breaker_state = models.CharField(max_length=16, choices=BreakerState.choices, default=BreakerState.CLOSED)
    breaker_failures = models.PositiveIntegerField(default=0, help_text="Consecutive failed calls.")
    breaker_opened_at = models.DateTimeField(null=True, blank=True)
    health = models.CharField(max_length=16, choices=Health.choices, default=Health.UNKNOWN)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    health_latency = models.FloatField(null=True, blank=True, help_text="Seconds the last health check took.")
    health_error = models.TextField(blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    sync_cursor = models.DateTimeField(
        null=True, blank=True,
        help_text="Start of the last complete full or incremental sync: catalog changes after it are not in the store yet.",
    )
    sync_scope = models.CharField(
        max_length=16, choices=SyncScope.choices, default=SyncScope.ALL,
        help_text="What a sync writes. Price and/or stock only leaves titles, descriptions and images to the store's own admin.",
    )
    stock_rule = models.CharField(max_length=16, choices=StockRule.choices, default=StockRule.ALL)
    stock_buffer = models.PositiveIntegerField(default=0, help_text="Units held back per variant (rule: buffer).")
    stock_percent = models.PositiveSmallIntegerField(
        default=100, validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Share of each variant's stock offered here, rounded down (rule: percentage).",
    )
    stock_location = models.ForeignKey(
        "StoreLocation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Where this store's stock is set, on platforms with locations. Empty: the store's primary location.",
    )
    webhooks_checked_at = models.DateTimeField(
        null=True, blank=True, help_text="When the store's webhook subscriptions were last registered or verified.")
    webhooks_error = models.TextField(blank=True, help_text="What failed at that registration or check.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="store_unique_name")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("stores:detail", args=[self.pk])

    def widen_sync_scope(self, previous: str) -> bool:
        """After ``sync_scope`` changed from ``previous``: when the store now takes fields it did not, forget
        what its listings were last written with, so the next sync compares every product and writes them
        whole (content edited in the catalog while the store took only prices or stock was never sent).

        Clears ``sync_cursor`` and every listing's ``content_hash`` and ``field_hashes``; saves
        ``sync_cursor``. Returns True when it did. Call it in the transaction that saves the new scope.
        """
        from stores.choices import SCOPE_FIELDS

        before = SCOPE_FIELDS.get(previous, frozenset())  # empty: everything, nothing wider
        now = SCOPE_FIELDS.get(self.sync_scope, frozenset())
        if not before or (now and now <= before):
            return False
        self.sync_cursor = None
        self.save(update_fields=["sync_cursor"])
        self.listings.update(content_hash="", field_hashes={})
        return True

    def published_stock(self, quantity: int | None) -> int | None:
        """The stock this store may sell of ``quantity`` catalog units, by ``stock_rule``.

        ``None`` (stock not tracked) stays ``None``; never below 0. Buffer:
        ``quantity - stock_buffer``; percentage: ``floor(quantity × stock_percent / 100)``.
        E.g. 10 units, buffer 3 → 7; 10 units, 50 % → 5; 1 unit, 50 % → 0.
        """
        if quantity is None:
            return None
        if self.stock_rule == StockRule.BUFFER:
            return max(0, quantity - self.stock_buffer)
        if self.stock_rule == StockRule.PERCENT:
            return max(0, quantity * self.stock_percent // 100)
        return max(0, quantity)

    @property
    def health_badge(self) -> str:
        return HEALTH_BADGES.get(self.health, "secondary")

    @property
    def breaker_badge(self) -> str:
        return BREAKER_BADGES.get(self.breaker_state, "secondary")

    def plugin(self):
        """The connector for this store's platform (``stores.plugins.StorePlugin``)."""
        from stores.plugins import plugin_for

        return plugin_for(self)


class ListingQuerySet(models.QuerySet):
    def listed(self):
        """Listings that stand for the product in the store, or on its way there: all but the "not publishable
        here" ones the store never held (no store id). For counts and "listed on" filters."""
        return self.exclude(state=ListingState.NOT_PUBLISHABLE, external_id="")


class Listing(models.Model):
    """A product published to a store (OCA connector's "binding").

    ``external_id`` is the store's product id; ``variant_ids`` maps our
    variant SKU (or position when blank) to the store's variant id.
    ``content_hash`` is the hash of the payload last pushed, so an unchanged
    product is not written again; ``remote_snapshot`` is the store's answer.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="listings")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="listings")
    external_id = models.CharField(max_length=64, blank=True)
    variant_ids = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    remote_snapshot = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=ListingState.choices, default=ListingState.PENDING)
    last_error = models.TextField(blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    #: "content", "price", "stock" → hash of that part of the payload as last written, so a sync writes only
    #: the prices or stock of a listing whose content is unchanged (``agents.sync``).
    field_hashes = models.JSONField(default=dict, blank=True)

    objects = ListingQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "product"], name="listing_unique_store_product")]
        indexes = [
            models.Index(fields=["store", "external_id"], name="listing_store_external"),
            # The incremental plan's "not in sync yet" set.
            models.Index(fields=["store", "state"], name="listing_store_state"),
        ]

    def __str__(self):
        return f"{self.product} on {self.store}"

    @property
    def state_badge(self) -> str:
        return LISTING_BADGES.get(self.state, "secondary")


class StoreLocation(models.Model):
    """A place where a store keeps stock (a Shopify location: shop, warehouse, retail outlet).

    Read from the platform (``external_id`` is its id, e.g. ``gid://shopify/Location/1``); WooCommerce has
    no locations, so its stores have none and their stock is one number per variant. ``is_primary``: the
    location the platform fulfils online orders from by default.
    """

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="locations")
    external_id = models.CharField(max_length=128)
    name = models.CharField(max_length=255)
    is_active = models.BooleanField(default=True)
    is_primary = models.BooleanField(default=False)
    refreshed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_primary", "name"]
        constraints = [models.UniqueConstraint(fields=["store", "external_id"], name="location_unique_external")]

    def __str__(self):
        return self.name


class InventoryLevel(models.Model):
    """Stock of one catalog variant at one store location, as last written or read (units).

    ``available`` is the sellable quantity at the location; ``pushed`` tells whether FlashFusion wrote it
    (our stock location) or read it from the store (a location the merchant manages there).
    """

    location = models.ForeignKey(StoreLocation, on_delete=models.CASCADE, related_name="levels")
    variant = models.ForeignKey("products.Variant", on_delete=models.CASCADE, related_name="inventory_levels")
    available = models.IntegerField()
    pushed = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["location", "variant"], name="inventory_level_unique")]
        indexes = [models.Index(fields=["variant"], name="inventory_level_variant")]


class HealthCheck(models.Model):
    """One health check of a store: when, whether it answered, how fast (seconds), what failed."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="health_checks")
    checked_at = models.DateTimeField(auto_now_add=True, db_index=True)
    ok = models.BooleanField()
    health = models.CharField(max_length=16, choices=Health.choices)
    latency = models.FloatField(null=True, blank=True, help_text="Seconds.")
    error = models.TextField(blank=True)
    notes = models.TextField(blank=True, help_text="What the check found or repaired besides the connection "
                                                    "(e.g. webhooks re-created).")

    class Meta:
        ordering = ["-checked_at"]
        indexes = [models.Index(fields=["store", "-checked_at"], name="healthcheck_store_recent")]


class RateLimitBucket(models.Model):
    """A store's leaky bucket, shared by every worker process through the database.

    ``level`` is the bucket content in the platform's units (REST calls, or
    GraphQL cost points), ``capacity`` its size, ``leak_rate`` units per
    second; ``stamp`` is the epoch second ``level`` was last computed at.
    ``blocked_until`` (epoch seconds) holds calls back after a 429 with
    Retry-After. ``calls`` and ``throttled`` count calls made and 429s seen.
    """

    store = models.OneToOneField(Store, on_delete=models.CASCADE, related_name="rate_bucket")
    level = models.FloatField(default=0)
    capacity = models.FloatField()
    leak_rate = models.FloatField()
    stamp = models.FloatField(default=0)
    blocked_until = models.FloatField(default=0)
    calls = models.PositiveBigIntegerField(default=0)
    throttled = models.PositiveBigIntegerField(default=0)


class WebhookDelivery(models.Model):
    """One inbound webhook delivery, kept as received (the ledger).

    ``delivery_id`` is the platform's id (Shopify ``X-Shopify-Webhook-Id``,
    WooCommerce ``X-WC-Webhook-Delivery-ID``): a repeat is not stored twice.
    ``body`` is the raw text whose HMAC was verified; ``headers`` the
    platform headers; ``job`` the pull job that acted on it (several
    deliveries for one product share one: ``stores.webhooks``); ``note``
    what was decided without a pull (e.g. why it is an echo of our write).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="webhook_deliveries")
    delivery_id = models.CharField(max_length=128)
    topic = models.CharField(max_length=64)
    resource_id = models.CharField(max_length=64, blank=True)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.RECEIVED)
    error = models.TextField(blank=True)
    note = models.TextField(blank=True)
    job = models.ForeignKey("agents.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    replays = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["store", "delivery_id"], name="webhook_unique_delivery")]
        indexes = [models.Index(fields=["organization", "-id"], name="webhook_org_recent")]


class WebhookSubscription(models.Model):
    """A webhook the store sends us, as registered in the store (``stores.webhook_registration``).

    ``topic`` in the platform's spelling (WooCommerce ``product.updated``,
    Shopify ``products/update``); ``external_id`` the store's id for it
    (WooCommerce webhook id, Shopify ``WebhookSubscription`` GID);
    ``address`` the delivery URL it was registered with (our
    ``/webhooks/in/<token>/``; never a secret); ``status`` the store's
    (WooCommerce: active, paused, disabled; Shopify: active).
    """

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="webhook_subscriptions")
    topic = models.CharField(max_length=64)
    external_id = models.CharField(max_length=128)
    address = models.URLField(max_length=500)
    status = models.CharField(max_length=16, default="active")
    registered_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["topic"]
        constraints = [models.UniqueConstraint(fields=["store", "topic"], name="webhook_subscription_unique_topic")]

    def __str__(self):
        return f"{self.topic} → {self.store}"
