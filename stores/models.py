"""Connected stores and the listings that bind catalog products to them."""

from django.db import models
from django.urls import reverse

from flashfusion.fields import EncryptedTextField
from flashfusion.models import Organization
from products.models import Product
from stores.choices import HEALTH_BADGES, LISTING_BADGES, Health, ListingState, Platform


class Store(models.Model):
    """One sales channel of an organization: platform, URL, credentials, health.

    ``consumer_key`` / ``consumer_secret`` are encrypted at rest
    (``EncryptedTextField``); ``timeout`` is the per-call HTTP timeout in seconds.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="stores")
    name = models.CharField(max_length=100)
    platform = models.CharField(max_length=32, choices=Platform.choices, default=Platform.WOOCOMMERCE)
    base_url = models.URLField("store URL", help_text="The site's address, e.g. https://shop.example.com")
    consumer_key = EncryptedTextField()
    consumer_secret = EncryptedTextField()
    timeout = models.FloatField(default=20.0, help_text="Seconds to wait for one call to the store.")
    health = models.CharField(max_length=16, choices=Health.choices, default=Health.UNKNOWN)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    health_latency = models.FloatField(null=True, blank=True, help_text="Seconds the last health check took.")
    health_error = models.TextField(blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="store_unique_name")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("stores:detail", args=[self.pk])

    @property
    def health_badge(self) -> str:
        return HEALTH_BADGES.get(self.health, "secondary")

    def plugin(self):
        """The connector for this store's platform (``stores.plugins.StorePlugin``)."""
        from stores.plugins import plugin_for

        return plugin_for(self)


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

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "product"], name="listing_unique_store_product")]
        indexes = [models.Index(fields=["store", "external_id"], name="listing_store_external")]

    def __str__(self):
        return f"{self.product} on {self.store}"

    @property
    def state_badge(self) -> str:
        return LISTING_BADGES.get(self.state, "secondary")
