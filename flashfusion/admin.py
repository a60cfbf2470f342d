"""Django admin for what has no console page yet: organizations and memberships."""

from django.contrib import admin

from flashfusion.models import Event, Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "currency", "price_drop_approval_percent"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Events are immutable: the admin only lists them."""

    list_display = ["created_at", "organization", "topic", "message"]
    list_filter = ["topic"]
    search_fields = ["message"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
