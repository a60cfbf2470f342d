import django_tables2 as tables
from django.utils.html import format_html

from approvals.models import ApprovalRequest


class ApprovalTable(tables.Table):
    id = tables.Column(linkify=True, verbose_name="Request")
    action = tables.Column()
    product_title = tables.Column(verbose_name="Product")
    reason = tables.Column(orderable=False)
    requested_by = tables.Column(verbose_name="Requested by", default="—")
    status = tables.Column()
    created_at = tables.DateTimeColumn(verbose_name="Requested", format="M j, H:i")

    class Meta:
        model = ApprovalRequest
        fields = ("id", "action", "product_title", "reason", "requested_by", "status", "created_at")
        row_attrs = {"id": lambda record: f"approval-row-{record.pk}"}
        empty_text = "Nothing waits for review. Deletes and large price cuts will appear here."

    def render_id(self, value):
        return f"#{value}"

    def render_status(self, record):
        return format_html('<span class="badge text-bg-{}">{}</span>', record.status_badge, record.get_status_display())
