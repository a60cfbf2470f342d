from django.db import models


class ProductKind(models.TextChoices):
    """How a product is sold (WooCommerce's product types; Shopify products are simple or variable)."""

    SIMPLE = "simple", "Simple"
    VARIABLE = "variable", "Variable"
    GROUPED = "grouped", "Grouped"
    EXTERNAL = "external", "External / affiliate"


class ProductStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DRAFT = "draft", "Draft"
    ARCHIVED = "archived", "Archived"


STATUS_BADGES = {
    ProductStatus.ACTIVE: "success",
    ProductStatus.DRAFT: "secondary",
    ProductStatus.ARCHIVED: "dark",
}
