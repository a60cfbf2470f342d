"""Store forms: connect, edit (credentials and sync settings), rotate the webhook secret, disconnect.

Credentials are always tried with a real call before they are saved. One
form serves every platform: the labels, help texts and plan choices follow
the chosen platform (``PLATFORM_FIELDS``, ``RATE_PLANS``).
"""

import secrets

from django import forms

from flashfusion.forms import BootstrapFormMixin
from stores.breaker import CircuitOpen
from stores.choices import Platform
from stores.models import Store, StoreLocation
from stores.plugins import AuthFailed, Capability, StoreError, plugin_class, registered_plugins
from stores.services import test_connection

#: Most items one batch call may carry whatever the platform allows (Shopify's page limit).
MAX_BATCH_SIZE = 250
#: Fewest seconds between two health checks of one store.
MIN_HEALTH_CHECK_INTERVAL = 60
#: Shortest webhook secret we accept when an admin types one.
MIN_WEBHOOK_SECRET = 16

#: Plans whose published limits a plugin's ``rate_limits(plan)`` knows, per platform
#: (Shopify REST: 2/s leak on standard plans, 4/s on Advanced, 20/s on Plus; PLATFORMS.md).
#: A platform without an entry has one limit for every store.
RATE_PLANS: dict[str, list[tuple[str, str]]] = {
    Platform.SHOPIFY: [
        ("standard", "Standard (Basic, Shopify)"),
        ("advanced", "Advanced"),
        ("plus", "Shopify Plus"),
    ],
}

BASE_URL_HELP = "The store's address: https://shop.example.com for WooCommerce, https://example.myshopify.com for Shopify."

#: Labels and help texts of the credential fields, per platform.
PLATFORM_FIELDS = {
    Platform.WOOCOMMERCE: {
        "consumer_key": ("Consumer key", "WooCommerce → Settings → Advanced → REST API → Add key, with Read/Write permission (starts with ck_)."),
        "consumer_secret": ("Consumer secret", "Shown once next to the key when WooCommerce creates it (starts with cs_)."),
    },
    Platform.SHOPIFY: {
        "consumer_secret": ("Admin API access token", "Shopify admin → Settings → Apps → Develop apps → your app → API credentials: the Admin API access token (starts with shpat_) goes here."),
    },
}


def rate_plan_choices(platform: str) -> list[tuple[str, str]]:
    """The plans a store of ``platform`` can be on; empty when the platform has no plans."""
    return list(RATE_PLANS.get(platform, []))


def max_batch_for(platform: str) -> int:
    """Largest batch size a store of ``platform`` may use: the plugin's ``max_batch``, at most 250."""
    try:
        return max(1, min(MAX_BATCH_SIZE, plugin_class(platform).max_batch))
    except StoreError:
        return MAX_BATCH_SIZE


class PlanField(forms.ChoiceField):
    """The plan select: its choices follow the platform, so the form's ``clean_rate_plan`` checks the value."""

    def valid_value(self, value):
        return True


class StoreCredentialsMixin:
    """Shared by connect and edit: platform-dependent labels, the plan, the timeout and the test call.

    ``self.platform`` is the platform the form is drawn and validated for;
    ``self.latency`` the test call's seconds when one was made.
    """

    credential_fields = ("base_url", "consumer_key", "consumer_secret")

    def setup_platform(self, platform: str) -> None:
        self.platform = platform if platform in Platform.values else Platform.WOOCOMMERCE
        self.latency = None
        if self.platform == Platform.SHOPIFY:
            # Shopify authenticates with the access token alone (in the secret field): no key to ask for.
            del self.fields["consumer_key"]
        for name, (label, help_text) in PLATFORM_FIELDS[self.platform].items():
            self.fields[name].label = label
            self.fields[name].help_text = help_text
        plans = rate_plan_choices(self.platform)
        plan = self.fields["rate_plan"]
        if plans:
            plan.choices = [("", "Default (standard)")] + plans
            plan.help_text = "The shop's plan sets how many calls per second the platform allows."
        else:
            plan.choices = [("", "No plans: one limit for every store")]
            plan.help_text = f"{Platform(self.platform).label} publishes no per-plan limits."

    @property
    def platform_label(self) -> str:
        return Platform(self.platform).label

    def clean_rate_plan(self):
        plan = self.cleaned_data.get("rate_plan", "")
        if plan and plan not in dict(rate_plan_choices(self.platform)):
            raise forms.ValidationError(f"{Platform(self.platform).label} has no plan “{plan}”.")
        return plan

    def clean_timeout(self):
        timeout = self.cleaned_data["timeout"]
        if not 1 <= timeout <= 120:
            raise forms.ValidationError("Use between 1 and 120 seconds.")
        return timeout

    def clean_name(self):
        """Store names are unique in an organization, whatever their case."""
        name = self.cleaned_data["name"].strip()
        clash = Store.objects.filter(organization=self.instance.organization, name__iexact=name).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("Another store already has this name; pick a different one.")
        return name

    def clean_consumer_key(self):
        return self.cleaned_data.get("consumer_key", "").strip()

    def try_credentials(self, candidate: Store, *, auth_field: str) -> None:
        """Make the test call with ``candidate``; a failure becomes an error next to the field that explains it."""
        try:
            self.latency = test_connection(candidate)
        except CircuitOpen as exc:
            self.add_error("base_url", f"Calls to this store are paused after repeated failed calls (its circuit "
                                       f"breaker is open until {exc.until:%H:%M:%S} UTC): try again then.")
        except AuthFailed as exc:
            if self.platform == Platform.SHOPIFY:
                what, check = "this token", "Check it and the app's Admin API access scopes (products: read and write)"
            else:
                what, check = "these keys", "Check them and their read/write permission"
            self.add_error(auth_field, f"The store refused {what}: {_reason(exc)}. {check}.")
        except StoreError as exc:
            self.add_error("base_url", f"Could not reach the store's API: {_reason(exc)}. Check the address and that the API is enabled.")


def _reason(exc: StoreError) -> str:
    """The store's own words, made fit for a sentence: no page markup, no closing full stop, not too long."""
    text = str(exc).strip()
    if "<" in text and ">" in text:
        status = f"HTTP {exc.status} " if exc.status else ""
        return f"the address answered {status}with a web page, not the platform's API"
    text = text.rstrip(".")
    return text if len(text) <= 200 else text[:197] + "…"


def _same_shop(organization, base_url: str, exclude_pk=None) -> Store | None:
    """Another store of the organization at the same address (scheme, case and trailing slash ignored)."""
    def key(url: str) -> str:
        return url.split("://", 1)[-1].rstrip("/").lower()

    for store in Store.objects.filter(organization=organization).exclude(pk=exclude_pk).only("name", "base_url"):
        if key(store.base_url) == key(base_url):
            return store
    return None


class StoreConnectForm(StoreCredentialsMixin, BootstrapFormMixin, forms.ModelForm):
    """Connect a store: the credentials are tried with a real call before anything is saved."""

    base_url = forms.URLField(label="Store URL", assume_scheme="https", help_text=BASE_URL_HELP)
    consumer_secret = forms.CharField(label="Consumer secret", widget=forms.PasswordInput(render_value=False))
    rate_plan = PlanField(label="Plan", required=False)

    class Meta:
        model = Store
        fields = ["name", "platform", "base_url", "consumer_key", "consumer_secret", "rate_plan", "timeout"]
        labels = {"timeout": "Timeout (seconds)"}
        help_texts = {"name": "How this store is called in FlashFusion.", "platform": "Which platform the store runs on."}
        widgets = {"consumer_key": forms.TextInput(attrs={"autocomplete": "off"})}

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.organization = organization
        platform = self.data.get("platform") if self.is_bound else self.initial.get("platform")
        self.setup_platform(platform or self.instance.platform)
        self.fields["consumer_secret"].widget.attrs["autocomplete"] = "new-password"
        # Typed credentials survive the platform redraw (the GET that redraws them carries none).
        for name in ("consumer_key", "consumer_secret"):
            if name in self.fields:
                self.fields[name].widget.attrs["hx-preserve"] = "true"

    def clean_platform(self):
        platform = self.cleaned_data["platform"]
        if platform not in registered_plugins():
            raise forms.ValidationError(f"No plugin for {Platform(platform).label} is installed here yet, so it cannot connect.")
        return platform

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        twin = _same_shop(self.instance.organization, cleaned["base_url"])
        if twin is not None:
            # Two stores on one shop would publish every product twice into it.
            self.add_error("base_url", f"“{twin.name}” is already connected to this address; edit that store instead.")
            return cleaned
        candidate = Store(organization=self.instance.organization, **{k: cleaned.get(k, "") for k in self.Meta.fields})
        auth_field = "consumer_secret" if self.platform == Platform.SHOPIFY else "consumer_key"
        self.try_credentials(candidate, auth_field=auth_field)
        return cleaned


class StoreEditForm(StoreCredentialsMixin, BootstrapFormMixin, forms.ModelForm):
    """Change a store's credentials and sync settings.

    An empty secret keeps the saved one. When the URL, key or secret change,
    the new credentials are tried with a real call first; a refusal saves
    nothing. The platform cannot change (its listings belong to it).
    """

    base_url = forms.URLField(label="Store URL", assume_scheme="https", help_text=BASE_URL_HELP)
    consumer_secret = forms.CharField(label="Consumer secret", required=False, widget=forms.PasswordInput(render_value=False))
    rate_plan = PlanField(label="Plan", required=False)

    connection_fields = ("name", "base_url", "consumer_key", "consumer_secret", "rate_plan", "timeout")
    sync_fields = ("is_enabled", "auto_sync", "sync_interval", "sync_strategy", "sync_scope", "conflict_resolution",
                   "batch_size", "stock_rule", "stock_buffer", "stock_percent", "stock_location")
    health_fields = ("health_check_interval", "disable_on_auth_failure")

    class Meta:
        model = Store
        fields = [
            "name", "base_url", "consumer_key", "consumer_secret", "rate_plan", "timeout",
            "is_enabled", "auto_sync", "sync_interval", "sync_strategy", "sync_scope", "conflict_resolution", "batch_size",
            "stock_rule", "stock_buffer", "stock_percent", "stock_location",
            "health_check_interval", "disable_on_auth_failure",
        ]
        labels = {
            "timeout": "Timeout (seconds)",
            "is_enabled": "Enabled",
            "auto_sync": "Sync automatically",
            "sync_interval": "Sync every",
            "sync_strategy": "Sync strategy",
            "sync_scope": "What a sync writes",
            "conflict_resolution": "When the store and the catalog disagree",
            "batch_size": "Batch size",
            "stock_rule": "Stock offered in this store",
            "stock_buffer": "Units held back per variant",
            "stock_percent": "Share of stock offered (%)",
            "stock_location": "Stock location",
            "health_check_interval": "Health check every (seconds)",
            "disable_on_auth_failure": "Disable the store when its credentials are refused",
        }
        help_texts = {
            "name": "How this store is called in FlashFusion.",
            "is_enabled": "A disabled store gets no jobs: no syncs, no publishing.",
            "auto_sync": "Publish catalog changes on a schedule, not only when someone asks.",
            "sync_strategy": "Incremental looks only at products changed since the last complete sync; full compares every product.",
            "sync_scope": "“Price and stock only” keeps this store's titles, descriptions and images as edited in its own "
                          "admin and adds no products (“Publish now” on a product's page writes it whole); products "
                          "deleted from the catalog are still removed.",
            "stock_rule": "Hold stock back so two stores selling the same units do not oversell.",
            "health_check_interval": "At least 60 seconds.",
            "sync_interval": "How often an automatic sync runs.",
            "disable_on_auth_failure": "Stops every job until an admin enters working credentials.",
        }
        widgets = {"consumer_key": forms.TextInput(attrs={"autocomplete": "off"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_platform(self.instance.platform)
        secret = self.fields["consumer_secret"]
        secret.widget.attrs["autocomplete"] = "new-password"
        secret.widget.attrs["placeholder"] = "•••••••• (unchanged)"
        secret.help_text = f"{secret.help_text} Leave empty to keep the saved one."
        if "consumer_key" in self.fields:
            # Like WooCommerce's own key list: the saved key is never drawn into the page, only its last characters.
            key = self.fields["consumer_key"]
            key.required = False
            saved = self.instance.consumer_key or ""
            key.widget.attrs["placeholder"] = f"…{saved[-4:]} (unchanged)" if len(saved) > 8 else "(unchanged)"
            key.help_text = f"{key.help_text} Leave empty to keep the saved one."
            self.initial["consumer_key"] = ""
        self.max_batch = max_batch_for(self.instance.platform)
        batch = self.fields["batch_size"]
        batch.widget.attrs.update(min=1, max=self.max_batch)
        if self.max_batch == 1:
            batch.help_text = f"{self.instance.get_platform_display()} writes one product per call, so this is 1."
        else:
            batch.help_text = f"Items per batch call: 1 to {self.max_batch} for {self.instance.get_platform_display()}."
        if not self.is_bound and self.instance.batch_size > self.max_batch:
            self.initial["batch_size"] = self.max_batch
        self.fields["timeout"].widget.attrs.update(min=1, max=120, step="any")
        self.fields["health_check_interval"].widget.attrs["min"] = MIN_HEALTH_CHECK_INTERVAL
        self.saved = {name: getattr(self.instance, name) for name in self.credential_fields}
        self.setup_stock_location()

    def setup_stock_location(self) -> None:
        """The "Stock location" select: this store's active locations, only for platforms with locations.

        The empty choice is the primary location (``Store.stock_location`` null). The queryset is the
        store's own active rows, so another store's location, or one deactivated since the page was drawn,
        is refused with ``invalid_choice``.
        """
        try:
            by_location = Capability.INVENTORY_BY_LOCATION in plugin_class(self.instance.platform).capabilities
        except StoreError:
            by_location = False
        if not by_location:
            del self.fields["stock_location"]
            return
        active = StoreLocation.objects.filter(store=self.instance, is_active=True) if self.instance.pk else \
            StoreLocation.objects.none()
        primary = next((row for row in active if row.is_primary), None)
        field = self.fields["stock_location"]
        field.queryset = active
        field.empty_label = f"Primary location ({primary.name})" if primary else "Primary location"
        field.error_messages["invalid_choice"] = (
            "Choose one of this store's active locations, or the primary location. "
            "Refresh the locations on the store page if the list is out of date.")
        if active:
            field.help_text = (f"Where {self.instance.get_platform_display()} receives this store's stock. "
                               "Changing it republishes every product's stock there on the next sync; "
                               "stock already published at the old location stays there.")
        else:
            field.help_text = "No locations read yet: use “Refresh locations” on the store page to choose one."

    def clean_consumer_secret(self):
        return self.cleaned_data.get("consumer_secret") or self.saved["consumer_secret"]

    def clean_consumer_key(self):
        return self.cleaned_data.get("consumer_key", "").strip() or self.saved["consumer_key"]

    def clean_batch_size(self):
        size = self.cleaned_data["batch_size"]
        if not 1 <= size <= self.max_batch:
            raise forms.ValidationError(
                f"Use between 1 and {self.max_batch}: {self.instance.get_platform_display()} takes at most {self.max_batch} items per batch call."
            )
        return size

    def clean_health_check_interval(self):
        seconds = self.cleaned_data["health_check_interval"]
        if seconds < MIN_HEALTH_CHECK_INTERVAL:
            raise forms.ValidationError(f"Check at most once a minute: use {MIN_HEALTH_CHECK_INTERVAL} seconds or more.")
        return seconds

    @property
    def changed_credentials(self) -> list[str]:
        """The credential fields whose cleaned value differs from the saved one."""
        cleaned = self.cleaned_data
        return [name for name in self.credential_fields if name in cleaned and cleaned[name] != self.saved[name]]

    def clean(self):
        cleaned = super().clean()
        if self.errors or not self.changed_credentials:
            return cleaned
        candidate = Store(
            organization=self.instance.organization,
            platform=self.instance.platform,
            rate_plan=cleaned["rate_plan"],
            timeout=cleaned["timeout"],
            **{name: cleaned.get(name, self.saved[name]) for name in self.credential_fields},
        )
        if cleaned.get("base_url") == self.saved["base_url"]:
            # The same address: the test call is a call to this store, under its rate limiter and breaker
            # (a refused connection counts; an open breaker refuses the test). A new address starts afresh.
            candidate.pk = self.instance.pk
        changed = self.changed_credentials
        auth_field = next((n for n in ("consumer_secret", "consumer_key") if n in changed), "base_url")
        self.try_credentials(candidate, auth_field=auth_field)
        return cleaned


class WebhookSecretForm(BootstrapFormMixin, forms.Form):
    """Rotate the secret that signs a store's webhooks; empty generates a strong random one."""

    new_secret = forms.CharField(
        label="New webhook secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to generate one, then paste it into the store's webhook settings. "
        "Shopify signs webhooks with your app's client secret: paste that here instead.",
    )

    def clean_new_secret(self):
        secret = self.cleaned_data["new_secret"]
        if secret and len(secret) < MIN_WEBHOOK_SECRET:
            raise forms.ValidationError(f"Use at least {MIN_WEBHOOK_SECRET} characters, or leave empty to generate one.")
        return secret or secrets.token_urlsafe(32)


class DisconnectForm(BootstrapFormMixin, forms.Form):
    """Type the store's name to confirm that it and everything bound to it goes."""

    confirm_name = forms.CharField(label="Type the store's name to confirm", widget=forms.TextInput(attrs={"autocomplete": "off"}))

    def __init__(self, *args, store: Store, **kwargs):
        super().__init__(*args, **kwargs)
        self.store = store
        self.fields["confirm_name"].help_text = f"Type “{store.name}”."

    def clean_confirm_name(self):
        name = self.cleaned_data["confirm_name"].strip()
        if name != self.store.name:
            raise forms.ValidationError("The name does not match; nothing was removed.")
        return name
