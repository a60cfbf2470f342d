from django import forms

from flashfusion.forms import BootstrapFormMixin
from stores.models import Store
from stores.plugins import AuthFailed, StoreError
from stores.services import test_connection


class StoreConnectForm(BootstrapFormMixin, forms.ModelForm):
    """Connect a store: the credentials are tried with a real call before anything is saved."""

    base_url = forms.URLField(
        label="Store URL", assume_scheme="https", help_text="The site's address, e.g. https://shop.example.com"
    )
    consumer_secret = forms.CharField(label="Consumer secret", widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = Store
        fields = ["name", "platform", "base_url", "consumer_key", "consumer_secret", "timeout"]
        labels = {"consumer_key": "Consumer key", "base_url": "Store URL", "timeout": "Timeout (seconds)"}
        help_texts = {
            "consumer_key": "WooCommerce → Settings → Advanced → REST API; read/write access.",
            "name": "How this store is called in FlashFusion.",
        }
        widgets = {"consumer_key": forms.TextInput(attrs={"autocomplete": "off"})}

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.organization = organization
        self.latency = None

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        clash = Store.objects.filter(organization=self.instance.organization, name__iexact=name).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("Another store already has this name; pick a different one.")
        return name

    def clean_timeout(self):
        timeout = self.cleaned_data["timeout"]
        if not 1 <= timeout <= 120:
            raise forms.ValidationError("Use between 1 and 120 seconds.")
        return timeout

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        candidate = Store(organization=self.instance.organization, **{k: cleaned[k] for k in self.Meta.fields})
        try:
            self.latency = test_connection(candidate)
        except AuthFailed as exc:
            self.add_error("consumer_key", f"The store refused these keys: {exc}. Check the key, the secret and their read/write permission.")
        except StoreError as exc:
            self.add_error("base_url", f"Could not reach the store's API: {exc}. Check the address and that the REST API is enabled.")
        return cleaned
