from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("dashboard.urls")),
    path("products/", include("products.urls")),
    path("stores/", include("stores.urls")),
    path("webhooks/", include("stores.webhook_urls")),
    path("plugins/", include("stores.plugin_urls")),
    path("", include("agents.ops_urls")),  # jobs/metrics/ and schedules/: before jobs/
    path("jobs/", include("agents.urls")),
    path("approvals/", include("approvals.urls")),
]

# Error pages in the product's layout (flashfusion.errors); 500 is Django's view with templates/500.html.
handler403 = "flashfusion.errors.permission_denied"
handler404 = "flashfusion.errors.page_not_found"
