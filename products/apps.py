from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ProductsConfig(AppConfig):
    name = "products"

    def ready(self):
        from products.bulk import register

        register()  # approved bulk changes (approvals action "bulk") run products.bulk.execute_approved
        from products import imports

        imports.register()  # approved imports (approvals action "import") run their apply step
        post_migrate.connect(_ensure_search, sender=self)


def _ensure_search(using, **kwargs):
    """SQLite's search index after every migrate: an ALTER that rebuilds a table drops its triggers."""
    from django.db import connections

    from products.search import ensure_sqlite_search

    ensure_sqlite_search(connections[using])
