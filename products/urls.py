from django.urls import path

from products import bulk_views, export_views, matrix_views, views

app_name = "products"
urlpatterns = [
    path("", views.ProductListView.as_view(), name="list"),
    path("import/", views.catalog_import, name="import"),
    path("bulk/", bulk_views.bulk_change, name="bulk"),
    path("export/", export_views.product_export, name="export"),
    path("matrix/", matrix_views.publishing_matrix, name="matrix"),
    path("<int:pk>/", views.product_detail, name="detail"),
    path("<int:pk>/delete/", views.product_delete, name="delete"),
    path("<int:pk>/stores/<int:store_id>/publish/", views.product_publish, name="publish"),
    path("<int:pk>/stores/<int:store_id>/unpublish/", views.product_unpublish, name="unpublish"),
    path("<int:pk>/stores/<int:store_id>/stock/", views.product_read_stock, name="read_stock"),
]
