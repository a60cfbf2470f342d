"""Live fragments for approvals: a refresh signal for approval tables and the status card on a request's page."""

from django.template.loader import render_to_string

from approvals.models import ApprovalRequest


def render_approval_fragments(approval_id: int) -> list[tuple[str, str]]:
    """``[(region, html)]`` for one request: region "approvals" holds a signal that makes approval tables
    reload themselves (keeping filters, sort and page); region "approval:<id>" the request's status card."""
    approval = ApprovalRequest.objects.select_related("rule", "requested_by").filter(pk=approval_id).first()
    if approval is None:
        return []
    return [
        ("approvals", render_to_string("partials/live_signal.html", {"signal": "approvals-changed", "event_id": approval_id})),
        (
            f"approval:{approval.pk}",
            render_to_string("approvals/partials/status_card.html", {"approval": approval, "oob": True}),
        ),
    ]
