from django import forms

from approvals.choices import Verdict
from flashfusion.forms import BootstrapFormMixin


class DecisionForm(BootstrapFormMixin, forms.Form):
    comment = forms.CharField(
        label="Comment", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required when rejecting; the requester sees it.",
    )
    verdict = forms.ChoiceField(choices=Verdict.choices, widget=forms.HiddenInput)
