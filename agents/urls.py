from django.urls import path

from agents import views

app_name = "agents"
urlpatterns = [
    # The list and what acts on what it matches
    path("", views.JobListView.as_view(), name="job_list"),
    path("retry/", views.jobs_retry, name="jobs_retry"),
    path("dead-letters/", views.dead_letters, name="dead_letters"),
    # One job
    path("<int:pk>/", views.job_detail, name="job_detail"),
    path("<int:pk>/cancel/", views.job_cancel, name="job_cancel"),
    path("<int:pk>/retry/", views.job_retry, name="job_retry"),
    path("<int:pk>/retry-failed/", views.job_retry_failed, name="job_retry_failed"),
]
