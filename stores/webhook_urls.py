from django.urls import path

from stores import webhook_views

app_name = "webhooks"
urlpatterns = [
    # the ledger (login required, organization-scoped)
    path("", webhook_views.WebhookListView.as_view(), name="list"),
    path("<int:pk>/", webhook_views.webhook_detail, name="detail"),
    path("<int:pk>/replay/", webhook_views.webhook_replay, name="replay"),
    # what stores post to (no login, no CSRF: the HMAC signature authenticates)
    path("in/<str:token>/", webhook_views.webhook_receive, name="receive"),
]
