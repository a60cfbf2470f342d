"""Issue 5: indexes for the products list at 100,000 products.

The default order (title, id) reads ``product_org_title_id``, sorting by
"Updated" reads ``product_org_updated``. On PostgreSQL the search
box (title, handle, parent SKU, variant SKU: ``icontains``) gets trigram GIN
indexes matching the SQL Django writes for it,
``UPPER(col::text) LIKE UPPER(%s)``; SQLite has no such index and scans.
"""

from django.db import migrations, models

TRIGRAM_SQL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS product_title_trgm ON products_product USING gin ((UPPER(title::text)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS product_handle_trgm ON products_product USING gin ((UPPER(handle::text)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS product_sku_trgm ON products_product USING gin ((UPPER(sku::text)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS variant_sku_trgm ON products_variant USING gin ((UPPER(sku::text)) gin_trgm_ops)",
]
TRIGRAM_DROP = [
    "DROP INDEX IF EXISTS product_title_trgm",
    "DROP INDEX IF EXISTS product_handle_trgm",
    "DROP INDEX IF EXISTS product_sku_trgm",
    "DROP INDEX IF EXISTS variant_sku_trgm",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in TRIGRAM_SQL:
            schema_editor.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in TRIGRAM_DROP:
            schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("products", "0001_initial"),
        ("flashfusion", "0001_initial"),
    ]

    operations = [
        # The list's default order is (title, id): with id in the index PostgreSQL reads the first page
        # straight from it instead of sorting every product.
        migrations.RemoveIndex(model_name="product", name="product_org_title"),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(fields=["organization", "deleted_at", "title", "id"], name="product_org_title_id"),
        ),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(fields=["organization", "updated_at"], name="product_org_updated"),
        ),
        migrations.RunPython(forwards, backwards),
    ]
