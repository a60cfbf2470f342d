import django_filters

from approvals.choices import ChangeAction, RequestStatus
from approvals.models import ApprovalRequest
from flashfusion.filters import BootstrapFilterSet


class ApprovalFilterSet(BootstrapFilterSet):
    status = django_filters.ChoiceFilter(choices=RequestStatus.choices, empty_label="Any status")
    action = django_filters.ChoiceFilter(choices=ChangeAction.choices, empty_label="Any change")

    class Meta:
        model = ApprovalRequest
        fields = ["status", "action"]
