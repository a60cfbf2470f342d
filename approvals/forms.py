"""Forms of the approvals pages: a decision, a bulk decision, a rule with its escalation tiers, notification settings."""

from django import forms
from django.forms import BaseInlineFormSet, inlineformset_factory

from approvals.choices import Verdict
from approvals.models import ApprovalRule, EscalationTier, NotificationSettings
from flashfusion.choices import Role
from flashfusion.forms import BootstrapFormMixin


class DecisionForm(BootstrapFormMixin, forms.Form):
    comment = forms.CharField(
        label="Comment", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required when rejecting; the requester sees it.",
    )
    verdict = forms.ChoiceField(choices=Verdict.choices, widget=forms.HiddenInput)


class IdListField(forms.Field):
    """A list of positive integers from repeated form values (``select=3&select=5``)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        if not isinstance(value, (list, tuple)):
            value = [value]
        try:
            ids = sorted({int(v) for v in value})
        except (TypeError, ValueError):
            raise forms.ValidationError("The selection holds something that is not a request number.") from None
        if any(i <= 0 for i in ids):
            raise forms.ValidationError("The selection holds something that is not a request number.")
        return ids


class BulkDecisionForm(BootstrapFormMixin, forms.Form):
    """Approve or reject the selected requests; ``select`` comes from the table's checkboxes."""

    MAX_ITEMS = 100

    select = IdListField(label="Selected requests", required=False)
    comment = forms.CharField(
        label="Comment for the selected requests",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when rejecting; each requester sees it.",
    )
    verdict = forms.ChoiceField(choices=Verdict.choices, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if not data.get("select") and "select" not in self.errors:
            self.add_error("select", "Select at least one request in the table.")
        elif len(data.get("select") or []) > self.MAX_ITEMS:
            self.add_error("select", f"Select at most {self.MAX_ITEMS} requests at a time.")
        if data.get("verdict") == Verdict.REJECT and not (data.get("comment") or "").strip():
            self.add_error("comment", "Say why you reject them, so the requesters can fix their changes.")
        return data


class ApprovalRuleForm(BootstrapFormMixin, forms.ModelForm):
    """A rule's own fields; the model's ``clean`` puts condition errors next to their fields."""

    class Meta:
        model = ApprovalRule
        fields = [
            "resource_type",
            "action",
            "price_drop_over_percent",
            "listings_touched_over",
            "approver_role",
            "min_approvals",
            "expiry_minutes",
            "notify_on_request",
            "notify_on_decision",
            "is_enabled",
        ]


class EscalationTierForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = EscalationTier
        fields = ["after_hours", "role"]


class BaseTierFormSet(BaseInlineFormSet):
    """Escalation tiers of one rule, checked against the rule: each tier asks a higher role than the rule
    and the tier before it, comes at a later hour, and before the request expires.

    Set ``rule_data`` (the rule form's ``cleaned_data``) before ``is_valid()``.
    """

    rule_data: dict | None = None

    def active_forms(self) -> list:
        """Forms that hold a tier to keep (filled in and not marked for deletion)."""
        kept = []
        for form in self.forms:
            if not getattr(form, "cleaned_data", None) or (self.can_delete and self._should_delete_form(form)):
                continue
            kept.append(form)
        return kept

    def clean(self):
        super().clean()
        if any(self.errors) or not self.rule_data:
            return
        approver = self.rule_data.get("approver_role")
        expiry = self.rule_data.get("expiry_minutes")
        tiers = sorted(self.active_forms(), key=lambda f: f.cleaned_data["after_hours"])
        previous_role, previous_hours = approver, None
        for form in tiers:
            hours, role = form.cleaned_data["after_hours"], form.cleaned_data["role"]
            if previous_hours is not None and hours == previous_hours:
                form.add_error("after_hours", "Another tier already starts at this hour.")
            if approver and Role.rank(role) <= Role.rank(previous_role):
                form.add_error(
                    "role",
                    f"Ask a higher role than {Role(previous_role).label.lower()}s, who are asked before this tier.",
                )
            if expiry and hours * 60 >= expiry:
                form.add_error("after_hours", f"The request expires after {expiry} minutes, before this tier would start.")
            previous_role, previous_hours = role, hours

    def tiers(self) -> list[dict]:
        """The valid tiers as ``[{"after_hours": 4, "role": "admin"}]``, earliest first."""
        return sorted(
            ({"after_hours": f.cleaned_data["after_hours"], "role": f.cleaned_data["role"]} for f in self.active_forms()),
            key=lambda t: t["after_hours"],
        )


EscalationTierFormSet = inlineformset_factory(
    ApprovalRule,
    EscalationTier,
    form=EscalationTierForm,
    formset=BaseTierFormSet,
    extra=2,
    max_num=3,
    validate_max=True,
    can_delete=True,
)


def rule_snapshot(form: ApprovalRuleForm, formset: BaseTierFormSet) -> dict:
    """The rule as the two valid forms describe it, in ``ApprovalRule.snapshot()``'s shape."""
    data = form.cleaned_data
    percent = data.get("price_drop_over_percent")
    return {
        "resource_type": data["resource_type"],
        "action": data["action"],
        "price_drop_over_percent": None if percent is None else str(percent),
        "listings_touched_over": data.get("listings_touched_over"),
        "approver_role": data["approver_role"],
        "min_approvals": data["min_approvals"],
        "expiry_minutes": data["expiry_minutes"],
        "notify_on_request": data["notify_on_request"],
        "notify_on_decision": data["notify_on_decision"],
        "is_enabled": data["is_enabled"],
        "tiers": formset.tiers(),
    }


class NotificationSettingsForm(BootstrapFormMixin, forms.ModelForm):
    """Email on or off, and the organization's webhook; an empty secret keeps the current one."""

    webhook_url = forms.URLField(
        label="Webhook URL",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="We POST each approval event here as signed JSON. Leave empty for no webhook.",
    )
    webhook_secret = forms.CharField(
        label="Webhook secret",
        required=False,
        min_length=16,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="At least 16 characters; used to sign each delivery (HMAC-SHA256). Leave empty to keep the current secret.",
    )

    class Meta:
        model = NotificationSettings
        fields = ["email_enabled", "webhook_url", "webhook_secret"]
        help_texts = {"email_enabled": "Reviewers and requesters with an email address get one per notification."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._current_secret = self.instance.webhook_secret if self.instance.pk else ""

    def clean(self):
        data = super().clean()
        if data.get("webhook_url") and not (data.get("webhook_secret") or self._current_secret):
            self.add_error("webhook_secret", "Set a secret so that receivers can check each delivery came from us.")
        return data

    def save(self, commit=True):
        if not self.cleaned_data.get("webhook_secret"):
            self.instance.webhook_secret = self._current_secret
        return super().save(commit=commit)

    def changed_fields(self) -> list[str]:
        """Names of the fields that changed (the secret only when a new one was typed)."""
        return [name for name in self.changed_data if name != "webhook_secret" or self.cleaned_data.get("webhook_secret")]
