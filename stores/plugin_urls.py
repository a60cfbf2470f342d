from django.urls import path

from stores import plugin_views

app_name = "plugins"
urlpatterns = [
    path("", plugin_views.PluginListView.as_view(), name="list"),
]
