from django.urls import path

from products import bulk_views, export_views, import_formats_view, import_views, matrix_views, views

app_name = "products"
urlpatterns = [
    path("", views.ProductListView.as_view(), name="list"),
    path("import/", import_views.catalog_import, name="import"),
    path("import/formats/", import_formats_view.import_formats, name="import_formats"),
    path("import/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("import/<int:pk>/apply/", import_views.import_apply, name="import_apply"),
    path("import/<int:pk>/check-again/", import_views.import_replan, name="import_replan"),
    path("bulk/", bulk_views.bulk_change, name="bulk"),
    path("export/", export_views.product_export, name="export"),
    path("export/review/", export_views.product_export_review, name="export_review"),
    path("export/left-out.txt", export_views.product_export_left_out, name="export_left_out"),
    path("matrix/", matrix_views.publishing_matrix, name="matrix"),
    path("<int:pk>/", views.product_detail, name="detail"),
    path("<int:pk>/delete/", views.product_delete, name="delete"),
    path("<int:pk>/stores/<int:store_id>/publish/", views.product_publish, name="publish"),
    path("<int:pk>/stores/<int:store_id>/unpublish/", views.product_unpublish, name="unpublish"),
    path("<int:pk>/stores/<int:store_id>/stock/", views.product_read_stock, name="read_stock"),
]
