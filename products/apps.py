from django.apps import AppConfig


class ProductsConfig(AppConfig):
    name = "products"

    def ready(self):
        from products.bulk import register

        register()  # approved bulk changes (approvals action "bulk") run products.bulk.execute_approved
