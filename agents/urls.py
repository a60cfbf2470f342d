from django.urls import path

from agents import views

app_name = "agents"
urlpatterns = [
    path("", views.JobListView.as_view(), name="job_list"),
    path("<int:pk>/", views.job_detail, name="job_detail"),
]
