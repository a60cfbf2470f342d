from django.db import models


class Platform(models.TextChoices):
    WOOCOMMERCE = "woocommerce", "WooCommerce"


class Health(models.TextChoices):
    UNKNOWN = "unknown", "Not checked"
    HEALTHY = "healthy", "Healthy"
    FAILING = "failing", "Failing"
    AUTH_FAILED = "auth_failed", "Credentials rejected"


HEALTH_BADGES = {
    Health.UNKNOWN: "secondary",
    Health.HEALTHY: "success",
    Health.FAILING: "danger",
    Health.AUTH_FAILED: "warning",
}


class ListingState(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_SYNC = "in_sync", "In sync"
    ERROR = "error", "Error"


LISTING_BADGES = {ListingState.PENDING: "info", ListingState.IN_SYNC: "success", ListingState.ERROR: "danger"}
