from django.urls import path

from stores import listing_views, views

app_name = "stores"
urlpatterns = [
    path("", views.StoreListView.as_view(), name="list"),
    path("connect/", views.store_connect, name="connect"),
    path("listings/", listing_views.ListingListView.as_view(), name="listings"),
    path("<int:pk>/", views.store_detail, name="detail"),
    path("<int:pk>/edit/", views.store_edit, name="edit"),
    path("<int:pk>/webhook-secret/", views.store_rotate_webhook_secret, name="rotate_webhook_secret"),
    path("<int:pk>/webhooks/repair/", views.store_repair_webhooks, name="repair_webhooks"),
    path("<int:pk>/disconnect/", views.store_disconnect, name="disconnect"),
    path("<int:pk>/publish/", views.store_publish, name="publish"),
    path("<int:pk>/check/", views.store_check, name="check"),
    path("<int:pk>/locations/refresh/", views.store_refresh_locations, name="refresh_locations"),
]
