"""The catalog: products and variants, the source of truth."""

import hashlib
import json
from decimal import Decimal

from django.db import models
from django.urls import reverse

from flashfusion.models import Organization
from products.choices import STATUS_BADGES, ProductKind, ProductStatus
from products.storage import import_storage, import_upload_to


class ProductQuerySet(models.QuerySet):
    def live(self):
        """Products not deleted from the catalog."""
        return self.filter(deleted_at__isnull=True)

    def refresh_stock_totals(self, product_ids=None, **also) -> int:
        """Store ``stock_total`` again from the variants: every product of this queryset, or only ``product_ids``.

        The one place ``stock_total`` is written (``stock_total_of`` gives a new product its first value);
        call it in the same transaction after writing variants' stock or adding or removing variants.
        ``also``: other fields to set in the same UPDATE. One UPDATE per 500 ids; returns the rows updated.
        """
        values = {"stock_total": stock_sum(), **also}
        if product_ids is None:
            return self.update(**values)
        ids = sorted(set(product_ids))
        return sum(self.filter(pk__in=ids[i:i + 500]).update(**values) for i in range(0, len(ids), 500))


def stock_sum():
    """The product's tracked stock as SQL: the sum over its variants that track stock, NULL when none does."""
    variants = Variant.objects.filter(product=models.OuterRef("pk"), stock__isnull=False).order_by().values("product")
    return models.Subquery(variants.annotate(total=models.Sum("stock")).values("total"))


def stock_total_of(stocks) -> int | None:
    """``stock_sum`` for a product created together with its variants (an import), so its row is written once:
    an UPDATE of every new row doubles the work and bloats PostgreSQL's trigram indexes."""
    tracked = [stock for stock in stocks if stock is not None]
    return sum(tracked) if tracked else None


class Product(models.Model):
    """One catalog product.

    ``handle`` is the product's key within its organization (Shopify's
    Handle; for WooCommerce files the parent SKU, or a slug of the name).
    ``options`` is ``[{"name": "Color", "values": ["Blue", "Red"]}]``.
    ``images`` is a list of absolute URLs, first is the main image.
    A deleted product keeps its row (``deleted_at``) until every store that
    listed it has removed the listing.
    ``stock_total`` is the sum of the variants' tracked stock (``None`` when no
    variant tracks stock), stored so the list's stock filter reads an index;
    ``ProductQuerySet.refresh_stock_totals`` keeps it right.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="products")
    handle = models.SlugField(max_length=255, allow_unicode=True)
    sku = models.CharField("parent SKU", max_length=100, blank=True)
    title = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=ProductKind.choices, default=ProductKind.SIMPLE)
    status = models.CharField(max_length=16, choices=ProductStatus.choices, default=ProductStatus.ACTIVE)
    description = models.TextField(blank=True)
    short_description = models.TextField(blank=True)
    vendor = models.CharField(max_length=255, blank=True)
    product_type = models.CharField(max_length=255, blank=True)
    categories = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)
    options = models.JSONField(default=list, blank=True)
    images = models.JSONField(default=list, blank=True)
    external_url = models.URLField(max_length=500, blank=True)
    button_text = models.CharField(max_length=100, blank=True)
    grouped_skus = models.JSONField(default=list, blank=True, help_text="SKUs of a grouped product's children.")
    downloads = models.JSONField(default=list, blank=True, help_text='[{"name": …, "url": …}] for downloadable products.')
    weight_grams = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    # Package dimensions in millimetres (WooCommerce's "Length/Width/Height" columns, converted from the file's unit).
    length_mm = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    width_mm = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    height_mm = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    stock_total = models.IntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["title", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "handle"], name="product_unique_handle")]
        indexes = [
            # Partial (live products only): PostgreSQL does not treat ``deleted_at IS NULL`` as fixing a
            # column, so an index with deleted_at in the middle could not give the (title, id) order.
            models.Index(
                fields=["organization", "title", "id"], condition=models.Q(deleted_at__isnull=True), name="product_live_title"
            ),
            models.Index(
                fields=["organization", "sku", "id"], condition=models.Q(deleted_at__isnull=True), name="product_live_sku"
            ),
            models.Index(fields=["organization", "updated_at"], name="product_org_updated"),
            # The stock filter: a range of stock_total. "IS NOT NULL" in the condition keeps SQLite from taking
            # this index for any query on (organization, live), where it is worse than the others.
            models.Index(
                fields=["organization", "stock_total"],
                condition=models.Q(deleted_at__isnull=True, stock_total__isnull=False), name="product_live_stock",
            ),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("products:detail", args=[self.pk])

    def refresh_stock_total(self) -> None:
        """``ProductQuerySet.refresh_stock_totals`` for this product, and read the stored value back."""
        Product.objects.filter(pk=self.pk).refresh_stock_totals()
        self.refresh_from_db(fields=["stock_total"])

    @property
    def status_badge(self) -> str:
        return STATUS_BADGES.get(self.status, "secondary")

    @property
    def currency(self) -> str:
        return self.organization.currency

    def snapshot(self) -> dict:
        """JSON-safe copy of the product and its variants (for diffs and hashes).

        Money is a string of the Decimal; variants are ordered by position.
        """
        return {
            "handle": self.handle,
            "sku": self.sku,
            "title": self.title,
            "kind": self.kind,
            "status": self.status,
            "description": self.description,
            "short_description": self.short_description,
            "vendor": self.vendor,
            "product_type": self.product_type,
            "categories": list(self.categories),
            "tags": list(self.tags),
            "options": list(self.options),
            "images": list(self.images),
            "external_url": self.external_url,
            "button_text": self.button_text,
            "grouped_skus": list(self.grouped_skus),
            "downloads": list(self.downloads),
            "weight_grams": _money(self.weight_grams),
            "currency": self.organization.currency,
            "variants": [v.snapshot() for v in self.variants.all()],
        }

    def content_hash(self) -> str:
        """SHA-256 hex of the canonical snapshot: equal hashes mean equal content."""
        return hash_json(self.snapshot())


class Variant(models.Model):
    """A sellable variant: SKU, price, stock and option values.

    ``price`` and ``compare_at_price`` are Decimals in the organization's
    currency; ``compare_at_price`` is the "was" price shown struck through.
    ``stock`` is ``None`` when stock is not tracked. ``option_values`` is
    ``{"Color": "Blue", "Size": "M"}``. Whoever writes ``stock`` or adds or
    removes variants refreshes the product's ``stock_total``
    (``ProductQuerySet.refresh_stock_totals``).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField("SKU", max_length=100, blank=True)
    position = models.PositiveIntegerField(default=1)
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    compare_at_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    stock = models.IntegerField(null=True, blank=True)
    option_values = models.JSONField(default=dict, blank=True)
    image_url = models.URLField(max_length=500, blank=True)
    barcode = models.CharField(max_length=64, blank=True)
    weight_grams = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    length_mm = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    width_mm = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    height_mm = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [
            # The list's price filter: a range of prices, the product ids read from the index.
            models.Index(fields=["organization", "price", "product"], name="variant_org_price"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "sku"], condition=~models.Q(sku=""), name="variant_unique_sku"
            )
        ]

    def __str__(self):
        return self.sku or f"{self.product} #{self.position}"

    @property
    def title(self) -> str:
        return " / ".join(str(v) for v in self.option_values.values()) or "Default"

    def snapshot(self) -> dict:
        return {
            "sku": self.sku,
            "position": self.position,
            "price": _money(self.price),
            "compare_at_price": _money(self.compare_at_price),
            "stock": self.stock,
            "option_values": dict(self.option_values),
            "image_url": self.image_url,
            "barcode": self.barcode,
            "weight_grams": _money(self.weight_grams),
        }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def hash_json(data) -> str:
    """SHA-256 hex digest of ``data`` serialized canonically (sorted keys)."""
    encoded = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


class CatalogImport(models.Model):
    """An uploaded catalog file, the plan made from it, and the outcome of applying that plan.

    The file is kept on disk (``file``, under ``CATALOG_IMPORT_ROOT``; ``size`` bytes, ``sha256`` of its
    bytes) so the import job can read it as a stream, be retried and resume; ``content`` holds the text of
    imports made before files were kept. Life: ``uploaded`` → ``planning`` → ``planned`` (the operator
    reviews ``plan``) → ``awaiting_approval`` (a rule matched) → ``applying`` → ``applied``; or
    ``refused`` (the file did not validate: ``summary["errors"]``), ``rejected`` (its approval was
    rejected), ``failed`` (the job died). ``plan`` is ``CatalogPlan.as_json()`` and ``fingerprint`` its
    SHA-256: applying runs exactly that plan. ``warnings``: ``[{"row", "column", "message"}]`` kept from
    validation. ``checkpoint``: ``{"chunks_done": n, "counts": {…}}``, the last committed chunk of the
    write, so a killed import continues and never applies a chunk twice. ``summary`` holds the counts
    written (created, updated, unchanged) or the validation errors.
    """

    class Format(models.TextChoices):
        WOOCOMMERCE = "woocommerce", "WooCommerce product CSV"
        SHOPIFY = "shopify", "Shopify product CSV"
        MAGENTO = "magento", "Magento 2 product CSV"

    class Mode(models.TextChoices):
        MERGE = "merge", "Merge: keep what the file leaves blank"
        REPLACE = "replace", "Replace products as the file has them"

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        PLANNING = "planning", "Checking the file"
        PLANNED = "planned", "Ready to apply"
        AWAITING_APPROVAL = "awaiting_approval", "Waiting for approval"
        APPLYING = "applying", "Applying"
        APPLIED = "applied", "Applied"
        REFUSED = "refused", "Refused"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="catalog_imports")
    format = models.CharField(max_length=16, choices=Format.choices)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.MERGE)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UPLOADED)
    filename = models.CharField(max_length=255)
    file = models.FileField(storage=import_storage, upload_to=import_upload_to, max_length=500, blank=True)
    size = models.BigIntegerField(default=0, help_text="Bytes of the uploaded file.")
    sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the uploaded file's bytes.")
    content = models.TextField(blank=True)
    plan = models.JSONField(default=dict, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    checkpoint = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey("agents.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approval = models.ForeignKey(
        "approvals.ApprovalRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.filename} ({self.get_format_display()})"
