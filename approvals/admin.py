"""Django admin for approvals: rules and settings are edited on the console's pages; here everything is read-only."""

from django.contrib import admin

from approvals.models import ApprovalRequest, ApprovalRule, AuditEntry, WebhookDelivery


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and shows rows; never adds, changes or deletes them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The audit trail is never edited, not even here."""

    list_display = ["created_at", "organization", "actor_name", "ip_address", "action", "request", "message"]
    list_filter = ["action"]
    search_fields = ["message", "actor_name"]
    list_select_related = ["organization", "request"]


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "organization", "action", "product_title", "status", "required_role", "created_at"]
    list_filter = ["status", "action", "resource_type"]
    search_fields = ["product_title", "reason"]


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(ReadOnlyAdmin):
    list_display = ["organization", "resource_type", "action", "approver_role", "min_approvals", "expiry_minutes", "is_enabled"]
    list_filter = ["resource_type", "action", "is_enabled"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "organization", "event", "status", "attempts", "response_status", "error"]
    list_filter = ["status", "event"]
