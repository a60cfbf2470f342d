from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render

from approvals.diff import snapshot_diff
from approvals.filtersets import ApprovalFilterSet
from approvals.forms import DecisionForm
from approvals.models import ApprovalRequest
from approvals.services import decide, is_stale
from approvals.tables import ApprovalTable
from flashfusion.access import get_for_org
from flashfusion.choices import Role
from flashfusion.views import ObjectListView


class ApprovalListView(ObjectListView):
    filterset_class = ApprovalFilterSet
    table_class = ApprovalTable
    template_name = "approvals/approval_list.html"

    def get_queryset(self, request):
        return ApprovalRequest.objects.filter(organization=request.organization).select_related("requested_by")


def approval_detail(request, pk: int):
    approval = get_for_org(request, ApprovalRequest.objects.select_related("requested_by", "product"), pk)
    form = DecisionForm(request.POST or None)
    if request.method == "POST":
        request.membership.require(Role.MANAGER)
        if form.is_valid():
            try:
                decide(
                    approval,
                    membership=request.membership,
                    verdict=form.cleaned_data["verdict"],
                    comment=form.cleaned_data["comment"],
                    ip_address=request.META.get("REMOTE_ADDR"),
                )
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        form.add_error(field, errors)
                else:
                    messages.error(request, " ".join(exc.messages))
                    return redirect(approval)
            except PermissionDenied as exc:
                messages.error(request, str(exc))
                return redirect(approval)
            else:
                verb = "applied" if form.cleaned_data["verdict"] == "approve" else "rejected"
                messages.success(request, f"Request #{approval.pk} {verb}.")
                return redirect(approval)
    can_decide = (
        approval.status == "pending"
        and request.membership.has_role(Role.MANAGER)
    )
    return render(
        request,
        "approvals/approval_detail.html",
        {
            "approval": approval,
            "diff": snapshot_diff(approval.before, approval.after),
            "decisions": approval.decisions.select_related("reviewer"),
            "form": form,
            "can_decide": can_decide,
            "own_request": approval.requested_by_id == request.user.pk,
            "stale": approval.status == "pending" and is_stale(approval),
        },
    )
