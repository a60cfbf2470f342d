from django.db import models


class Platform(models.TextChoices):
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    SHOPIFY = "shopify", "Shopify"


class SyncStrategy(models.TextChoices):
    FULL = "full", "Full (every listing)"
    INCREMENTAL = "incremental", "Incremental (only what changed)"
    SELECTIVE = "selective", "Selective (chosen products or fields)"


class ConflictResolution(models.TextChoices):
    MANUAL = "manual", "Ask a reviewer"
    SOURCE_WINS = "source_wins", "Catalog wins"
    TARGET_WINS = "target_wins", "Store wins"
    NEWEST_WINS = "newest_wins", "Newest change wins"


class StockRule(models.TextChoices):
    """How much of the catalog's stock a store may sell (oversell protection for shared stock)."""

    ALL = "all", "All stock"
    BUFFER = "buffer", "Hold back a fixed buffer"
    PERCENT = "percent", "A percentage of stock"


class SyncScope(models.TextChoices):
    """Which fields a sync writes to a store. Anything but ``all`` is a field-selective sync: it updates the
    chosen fields of listings the store already has and creates or deletes nothing."""

    ALL = "all", "Everything (content, price and stock)"
    PRICE_STOCK = "price_stock", "Price and stock only"
    PRICE = "price", "Price only"
    STOCK = "stock", "Stock only"


#: Field groups a field-selective sync can write (``SyncScope`` value → groups). ``price`` is the price and the
#: compare-at price of every variant, ``stock`` the published quantity (after the store's stock rule).
FIELD_GROUPS = ("price", "stock")
#: ``Listing.field_hashes`` key of everything in a payload but the field groups (titles, descriptions, images…).
CONTENT = "content"
SCOPE_FIELDS = {
    SyncScope.ALL: frozenset(),
    SyncScope.PRICE_STOCK: frozenset({"price", "stock"}),
    SyncScope.PRICE: frozenset({"price"}),
    SyncScope.STOCK: frozenset({"stock"}),
}


#: Seconds between automatic syncs a store may choose (5 min … 24 h).
SYNC_INTERVALS = [(300, "Every 5 minutes"), (900, "Every 15 minutes"), (1800, "Every 30 minutes"),
                  (3600, "Every hour"), (21600, "Every 6 hours"), (86400, "Every 24 hours")]


class BreakerState(models.TextChoices):
    CLOSED = "closed", "Closed (calls flow)"
    OPEN = "open", "Open (calls paused)"
    HALF_OPEN = "half_open", "Half-open (probing)"


BREAKER_BADGES = {BreakerState.CLOSED: "success", BreakerState.OPEN: "danger", BreakerState.HALF_OPEN: "warning"}


#: Product webhook topics the pull agent acts on, in each platform's spelling (WooCommerce ``resource.event``,
#: Shopify ``resource/action``): a product created, updated or restored, and one deleted.
WEBHOOK_UPDATE_TOPICS = frozenset({"product.created", "product.updated", "product.restored",
                                   "products/create", "products/update"})
WEBHOOK_DELETE_TOPICS = frozenset({"product.deleted", "products/delete"})


class DeliveryStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"
    #: The delivery's compared fields equal what we last wrote (or the catalog being written): not pulled.
    ECHO = "echo", "Echo of our write"


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
    """A listing's sync state. ``not_publishable``: the platform cannot take the product as the catalog holds
    it (``StorePlugin.refusals``; the reasons are in ``Listing.last_error``): skipped, not failed, until the
    product changes."""

    PENDING = "pending", "Pending"
    IN_SYNC = "in_sync", "In sync"
    ERROR = "error", "Error"
    CONFLICT = "conflict", "Changed in store"
    NOT_PUBLISHABLE = "not_publishable", "Not publishable here"


LISTING_BADGES = {
    ListingState.PENDING: "info",
    ListingState.IN_SYNC: "success",
    ListingState.ERROR: "danger",
    ListingState.CONFLICT: "warning",
    ListingState.NOT_PUBLISHABLE: "secondary",
}
