"""Store plugins: one connector per platform behind one interface.

Every connector raises only the typed errors below, so agents decide retries
the same way for every platform: only ``RateLimited`` and ``Transient`` are
retried (DESIGN.md, Rules of the architecture).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from products.models import Product
    from stores.models import Listing, Store


class StoreError(Exception):
    """A call to a store failed. ``status`` is the HTTP status when there was one."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, status: int | None = None, code: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class RateLimited(StoreError):
    """The store refused for rate (HTTP 429). ``retry_after`` is seconds, or None when not given."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Transient(StoreError):
    """A 5xx answer, a timeout, a dropped connection or an unreadable body: worth retrying."""

    retryable = True


class AuthFailed(StoreError):
    """The credentials were refused (401/403). Not retried: an admin must fix them."""


class NotFound(StoreError):
    """The resource does not exist in the store (404)."""


class Rejected(StoreError):
    """The store refused the request's content (4xx naming a field or rule). Not retried."""


@dataclass
class RemoteListing:
    """What the store holds for one product after a write.

    ``external_id``: the store's product id; ``variant_ids``: our variant key
    (SKU, or ``"#<position>"`` when the SKU is blank) to the store's variant
    id; ``snapshot``: the store's own answer for the product.
    """

    external_id: str
    variant_ids: dict[str, str] = field(default_factory=dict)
    snapshot: dict = field(default_factory=dict)


@dataclass
class ItemResult:
    """Outcome for one product in a multi-item call: a listing or an error."""

    product_id: int
    listing: RemoteListing | None = None
    error: StoreError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def variant_key(sku: str, position: int) -> str:
    """Key of a variant in ``RemoteListing.variant_ids``."""
    return sku or f"#{position}"


class StorePlugin(ABC):
    """The connector interface every platform implements.

    ``capabilities`` names what the platform can do (``read_products``,
    ``write_products``, ``batch_writes``, ``variants``, ``delete``);
    ``max_batch`` is the most items one batch call may carry.
    Every method raises only ``StoreError`` subclasses.
    """

    platform: ClassVar[str]
    capabilities: ClassVar[frozenset[str]]
    max_batch: ClassVar[int] = 1

    @classmethod
    @abstractmethod
    def for_store(cls, store: Store) -> StorePlugin:
        """Build a connector from a saved store's URL, credentials and timeout."""

    @abstractmethod
    def check(self) -> None:
        """One cheap authenticated read; raises a ``StoreError`` when the store is unusable."""

    @abstractmethod
    def build_payload(self, product: Product) -> dict:
        """The platform body that publishes ``product`` (variants included).

        Its hash decides whether a listing needs a write, so it must be
        deterministic and hold everything the store should show.
        """

    @abstractmethod
    def create_listings(self, items: list[tuple[Product, dict]]) -> list[ItemResult]:
        """Create products in the store, idempotently.

        A product that already exists (same SKU, e.g. after a crashed
        attempt) is bound and updated, never created twice.
        """

    @abstractmethod
    def update_listings(self, items: list[tuple[Listing, Product, dict]]) -> list[ItemResult]:
        """Write new content to existing listings; a listing gone from the store is re-created."""

    @abstractmethod
    def delete_listings(self, listings: list[Listing]) -> list[ItemResult]:
        """Delete products from the store; one already gone counts as deleted."""

    def close(self) -> None:
        """Release connections."""


def plugin_for(store: Store) -> StorePlugin:
    """The connector for ``store.platform``; raises ``Rejected`` when no plugin serves that platform."""
    from stores.plugins.woocommerce import WooCommercePlugin

    registry = {WooCommercePlugin.platform: WooCommercePlugin}
    if store.platform not in registry:
        raise Rejected(f"No plugin is installed for the platform “{store.platform}”.", code="no_plugin")
    return registry[store.platform].for_store(store)
