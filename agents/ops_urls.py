"""Operations pages: job metrics (``/jobs/metrics/``) and django-q2 schedules (``/schedules/``).

Included at the site root *before* ``agents.urls`` (``jobs/``), so
``jobs/metrics/`` is ours while ``jobs/<int:pk>/`` stays the job page. Each
page has its own namespace, which the navigation uses as its section.
"""

from django.urls import include, path

from agents import metrics_views, schedule_views

metrics_patterns = ([path("", metrics_views.job_metrics_page, name="index")], "job_metrics")

schedule_patterns = (
    [
        path("", schedule_views.schedule_list, name="list"),
        path("new/", schedule_views.schedule_create, name="create"),
        path("restore/", schedule_views.schedule_restore, name="restore"),
        path("<int:pk>/", schedule_views.schedule_edit, name="edit"),
        path("<int:pk>/delete/", schedule_views.schedule_delete, name="delete"),
    ],
    "schedules",
)

urlpatterns = [
    path("jobs/metrics/", include(metrics_patterns)),
    path("schedules/", include(schedule_patterns)),
]
