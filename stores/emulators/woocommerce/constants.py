"""The site's fixed facts: API paths, post types, enums and limits (each names its source)."""

from __future__ import annotations

API_ROOT = "/wp-json"
NAMESPACE = "wc/v3"
STATE_VERSION = 1
FIRST_POST_ID = 10  # a fresh WordPress + WooCommerce already holds posts and pages below this
FIRST_META_ID = 1000
UNCATEGORIZED = {"id": 15, "name": "Uncategorized", "slug": "uncategorized"}  # default_product_cat
OAUTH_WINDOW = 15 * 60  # seconds either side of now (source: check_oauth_timestamp_and_nonce)
BATCH_LIMIT = 100  # woocommerce_rest_batch_items_limit (source; seen: 101 answers 413)
MAX_PER_PAGE = 100

PRODUCT = "product"
VARIATION = "product_variation"
ATTACHMENT = "attachment"

PRODUCT_TYPES = ("simple", "grouped", "external", "variable")  # wc_get_product_types()
PRODUCT_STATUSES = ("draft", "pending", "private", "publish", "future")  # v3 product schema enum
VARIATION_STATUSES = ("draft", "pending", "private", "publish")
LIST_STATUSES = ("any", "future", "trash", "draft", "pending", "private", "publish")
REGISTERED_STATUSES = ("publish", "future", "draft", "pending", "private", "trash", "auto-draft", "inherit")
CATALOG_VISIBILITY = ("visible", "catalog", "search", "hidden")
TAX_STATUSES = ("taxable", "shipping", "none")
TAX_CLASSES = ("", "reduced-rate", "zero-rate")  # the tax classes of a fresh WooCommerce
BACKORDERS = ("no", "notify", "yes")
STOCK_STATUSES = ("instock", "outofstock", "onbackorder")
ORDERBY = ("date", "id", "include", "title", "slug", "modified", "menu_order", "price", "popularity", "rating")
IMAGE_EXTENSIONS = {"jpg", "jpeg", "jpe", "gif", "png", "bmp", "tif", "tiff", "webp", "ico", "heic"}

CONTROL_PREFIX = "/__emulator__/"  # the emulator's own routes, outside the REST API
