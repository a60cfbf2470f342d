from django.urls import path

from approvals import views

app_name = "approvals"
urlpatterns = [
    # Requests
    path("", views.ApprovalListView.as_view(), name="list"),
    path("<int:pk>/", views.approval_detail, name="detail"),
    path("bulk/", views.approval_bulk, name="bulk"),
    # Audit trail
    path("audit/", views.AuditListView.as_view(), name="audit"),
    # Rules
    path("rules/", views.RuleListView.as_view(), name="rules"),
    path("rules/new/", views.rule_edit, name="rule_create"),
    path("rules/<int:pk>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
    # Notifications
    path("notifications/", views.notification_settings, name="settings"),
]
