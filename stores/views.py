"""Store pages: the list, connect, the store page, edit (credentials, webhook secret, sync settings), disconnect.

Every view calls ``get_for_org`` (or ``membership_for``) first: another
organization's store is a 404; credentials, settings and disconnecting need
the admin role, actions (publish, health check) the operator role.
"""

import inspect
import time
from datetime import timedelta

from django.contrib import messages
from django.db import transaction
from django.db.models import Case, Count, F, FloatField, ProtectedError, Q, RestrictedError, Value, When
from django.db.models.functions import NullIf
from django.db.models.lookups import GreaterThan
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from agents.choices import UNFINISHED, JobKind, JobStatus, Priority
from flashfusion import events
from flashfusion.access import get_for_org, membership_for
from flashfusion.choices import Role
from flashfusion.views import ObjectListView
from stores.charts import latency_chart, latency_summary
from stores.choices import LISTING_BADGES, BreakerState, Health, ListingState, Platform, SyncStrategy
from stores.filtersets import StoreFilterSet
from stores.forms import DisconnectForm, StoreConnectForm, StoreEditForm, WebhookSecretForm, max_batch_for
from stores.inventory import has_locations, pick_stock_location, refresh_locations
from stores.models import Store, StoreLocation
from stores.plugins import StoreError, plugin_class
from stores.services import record_connect_check, record_health
from stores.tables import StoreTable, bucket_level, bucket_of, bucket_use, use_badge
from stores.webhook_registration import TOPICS, NotRegistered, supports_webhooks
from stores.webhook_registration import register as register_webhooks
from stores.webhook_registration import unregister as unregister_webhooks

#: How long the previous webhook secret still verifies after a rotation (Shopify's rule; Store docstring).
WEBHOOK_SECRET_GRACE = timedelta(hours=1)
#: Window of the latency chart on the store page.
CHART_WINDOW = timedelta(hours=24)


def store_rows(organization):
    """Stores of ``organization`` for tables: rate bucket joined, listing count and rate-limit use (percent, now).

    ``rate_use`` leaks the saved bucket level down to this second in SQL, so
    the column sorts by what the table shows; it is NULL before a store's
    first call (no bucket yet).
    """
    now = Value(time.time(), output_field=FloatField())
    saved = F("rate_bucket__level")
    leaked = saved - F("rate_bucket__leak_rate") * (now - F("rate_bucket__stamp"))
    capacity = NullIf(F("rate_bucket__capacity"), Value(0.0))
    rate_use = Case(
        When(rate_bucket__isnull=True, then=Value(None)),
        When(GreaterThan(F("rate_bucket__stamp"), now), then=saved * 100.0 / capacity),
        When(GreaterThan(leaked, 0.0), then=leaked * 100.0 / capacity),
        default=Value(0.0),
        output_field=FloatField(),
    )
    return (
        Store.objects.filter(organization=organization)
        .select_related("rate_bucket")
        # "Not publishable here" rows the store never held are no listing there (``ListingQuerySet.listed``).
        .annotate(listing_count=Count("listings", filter=~Q(listings__state=ListingState.NOT_PUBLISHABLE,
                                                            listings__external_id="")), rate_use=rate_use)
    )


class StoreListView(ObjectListView):
    filterset_class = StoreFilterSet
    table_class = StoreTable
    template_name = "stores/store_list.html"
    live_signal = "stores-changed"

    def get_queryset(self, request):
        return store_rows(request.organization)


#: POST fields that hold credentials: Django's error reports and debug pages show them as stars.
CREDENTIAL_FIELDS = ("consumer_key", "consumer_secret", "new_secret")


@sensitive_post_parameters(*CREDENTIAL_FIELDS)
def store_connect(request):
    """Connect a store (admin). Choosing a platform redraws only its credential fields through a GET that
    carries the platform alone (``?platform=shopify``): credentials travel only in the POST body, never in a
    URL or an access log line; the typed secret stays in its field across the redraw (``hx-preserve``)."""
    membership = membership_for(request, Role.ADMIN)
    platform = request.GET.get("platform", "")
    initial = {"platform": platform} if platform in Platform.values else None
    form = StoreConnectForm(request.POST or None, initial=initial, organization=membership.organization)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            store = form.save(commit=False)
            store.batch_size = min(store.batch_size, max_batch_for(store.platform))
            store.save()
            record_connect_check(store, form.latency)
            events.publish(store.organization_id, "store.connected", f"{store} connected", {"store_id": store.pk}, actor=request.user)
        messages.success(request, f"Connected {store.name}: the test call answered in {form.latency * 1000:.0f} ms.")
        _read_locations(request, store)
        _register_webhooks(request, store)
        return redirect(store)
    return render(request, "stores/store_connect.html", {"form": form, "membership": membership})


def _read_locations(request, store: Store) -> None:
    """After a connect or new credentials: read the store's locations (platforms with locations only). A
    failure does not undo the save; the message says how to retry."""
    if not has_locations(store):
        return
    try:
        rows = refresh_locations(store)
    except StoreError as exc:
        messages.warning(request, f"{store.name}: its locations could not be read ({exc}). "
                                  "Use “Refresh locations” on the store page to try again.")
        return
    active = sum(1 for row in rows if row.is_active)
    messages.info(request, f"{store.name}: {active} active location{'s' if active != 1 else ''} read from the store.")


def _register_webhooks(request, store: Store, *, repair: bool = False) -> bool:
    """Register the store's webhooks (``stores.webhook_registration.register``) and say what happened; a failure
    changes nothing saved before it, and the message says what failed and how to retry. True when all are in
    place."""
    if not supports_webhooks(store):
        return False
    try:
        outcome = register_webhooks(store, request=request, repair=repair)
    except NotRegistered as exc:
        messages.warning(request, f"{store.name}: webhooks not registered. {exc}")
        return False
    if outcome.ok:
        topics = len(outcome.created) + len(outcome.reactivated) + len(outcome.moved) + len(outcome.kept)
        messages.info(request, f"{store.name}: {topics} webhooks deliver to {outcome.address} "
                               f"({outcome.summary()}).")
        return True
    messages.warning(request, f"{store.name}: webhooks not all registered: {outcome.summary()}. "
                              "Use “Repair webhooks” on the store page to try again; the health check also "
                              "retries every few minutes.")
    return False


def _webhooks_context(store: Store) -> dict:
    """The store page's Webhooks card: the registered subscriptions, the last delivery, whether it applies."""
    return {"webhooks_supported": supports_webhooks(store),
            "subscriptions": list(store.webhook_subscriptions.all()),
            "expected_topics": TOPICS.get(store.platform, ()),
            "last_delivery": store.webhook_deliveries.order_by("-id").only("received_at", "topic", "status").first()}


def _locations_context(store: Store) -> dict:
    """The store page's Locations card: the store's rows, which one receives our stock, whether to show it."""
    rows = list(StoreLocation.objects.filter(store=store)) if has_locations(store) else []
    return {"show_locations": has_locations(store), "locations": rows,
            "stock_location": pick_stock_location(store, rows),
            "locations_refreshed_at": max((row.refreshed_at for row in rows), default=None)}


def _webhook_links(request, store: Store) -> tuple[str | None, str | None]:
    """The store's webhook endpoint URL (absolute) and its deliveries ledger URL, each None while that part is not installed."""
    try:
        from stores.webhooks import webhook_url
    except ImportError:
        webhook_url = None
    endpoint = None
    if webhook_url is not None:
        try:
            if "request" in inspect.signature(webhook_url).parameters:
                endpoint = webhook_url(store, request=request)
            else:
                endpoint = request.build_absolute_uri(webhook_url(store))
        except NoReverseMatch:  # the module is there, its URLs are not wired yet
            endpoint = None
    try:
        ledger = f"{reverse('webhooks:list')}?store={store.pk}"
    except NoReverseMatch:
        ledger = None
    return endpoint, ledger


def _summary_context(store: Store) -> dict:
    """What the store page's live header and cards show (re-rendered on the ``stores-changed`` signal)."""
    bucket = bucket_of(store)
    budget = None
    if bucket is not None:
        use = bucket_use(bucket)
        budget = {"bucket": bucket, "level": bucket_level(bucket), "use": use, "badge": use_badge(use),
                  "held_for": max(0.0, bucket.blocked_until - time.time())}
    try:
        limit = plugin_class(store.platform).rate_limits(store.rate_plan)
    except StoreError:
        limit = None
    states = dict(store.listings.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    running = store.jobs.filter(kind=JobKind.STORE_PUBLISH, status=JobStatus.RUNNING).order_by("-id").first()
    return {
        "store": store,
        "budget": budget,
        "limit": limit,
        # Products the platform cannot take are counted apart: the store does not list them.
        "listing_count": sum(states.values()) - states.get(ListingState.NOT_PUBLISHABLE, 0),
        "error_count": states.get(ListingState.ERROR, 0),
        "not_publishable_count": states.get(ListingState.NOT_PUBLISHABLE, 0),
        "listing_states": [(state, label, states.get(state, 0), LISTING_BADGES.get(state, "secondary"))
                           for state, label in ListingState.choices],
        "sync_lag": sync_lag(store),
        "field_sync": field_sync_button(store),
        "running_sync": running,
        "breaker_is_open": store.breaker_state != BreakerState.CLOSED,
    }


def field_sync_button(store: Store) -> tuple[str, str]:
    """(POST ``fields`` value, label) of the store page's fields-only sync: prices and stock, narrowed to what
    the store takes from the catalog (a price-only store gets "Prices")."""
    from stores.choices import SCOPE_FIELDS

    fields = SCOPE_FIELDS.get(store.sync_scope) or frozenset({"price", "stock"})
    label = {frozenset({"price"}): "Prices", frozenset({"stock"}): "Stock"}.get(fields, "Prices and stock")
    return ",".join(sorted(fields)), label


def sync_lag(store: Store) -> float | None:
    """Seconds the store is behind the catalog: age of the oldest catalog change after its sync cursor (0: none).

    ``None`` when the store was never fully synced (no cursor).
    """
    if store.sync_cursor is None:
        return None
    from products.models import Product

    oldest = (
        Product.objects.filter(organization_id=store.organization_id, deleted_at__isnull=True,
                               updated_at__gt=store.sync_cursor)
        .order_by("updated_at").values_list("updated_at", flat=True).first()
    )
    return (timezone.now() - oldest).total_seconds() if oldest else 0.0


def store_detail(request, pk: int):
    store = get_for_org(request, Store.objects.select_related("rate_bucket"), pk)
    context = _summary_context(store)
    if request.htmx:
        return render(request, "stores/partials/store_summary.html", context)
    since = timezone.now() - CHART_WINDOW
    day_checks = list(store.health_checks.filter(checked_at__gte=since).order_by("checked_at"))
    endpoint, ledger = _webhook_links(request, store)
    context.update(
        chart=latency_chart(day_checks, start=since, end=timezone.now()) if day_checks else "",
        chart_summary=latency_summary(day_checks),
        day_checks=day_checks,
        failed_day_checks=sum(1 for check in day_checks if not check.ok),
        health_history=store.health_checks.order_by("-checked_at")[:20],
        error_listings=store.listings.filter(state=ListingState.ERROR).select_related("product").order_by("-last_synced_at", "-pk")[:20],
        failed_jobs=store.jobs.filter(status=JobStatus.DEAD).order_by("-id")[:10],
        jobs=store.jobs.order_by("-id")[:10],
        sync_runs=store.sync_runs.select_related("job")[:15],
        webhook_endpoint=endpoint,
        webhook_ledger=ledger,
        **_webhooks_context(store),
        **_locations_context(store),
    )
    return render(request, "stores/store_detail.html", context)


def _edit_page(request, store: Store, form: StoreEditForm, secret_form: WebhookSecretForm):
    previous_until = None
    if store.previous_webhook_secret and store.webhook_secret_rotated_at:
        until = store.webhook_secret_rotated_at + WEBHOOK_SECRET_GRACE
        previous_until = until if until > timezone.now() else None
    context = {"store": store, "form": form, "secret_form": secret_form, "previous_until": previous_until}
    return render(request, "stores/store_edit.html", context)


@sensitive_post_parameters(*CREDENTIAL_FIELDS)
def store_edit(request, pk: int):
    store = get_for_org(request, Store, pk, role=Role.ADMIN)
    # The form edits its own copy: a refused change must not show up in the page header.
    form = StoreEditForm(request.POST or None, instance=Store.objects.get(pk=store.pk))
    if request.method == "POST" and form.is_valid():
        retested = form.changed_credentials
        # An empty key or secret field keeps the saved one, though Django may count it as changed.
        changed = [name for name in form.changed_data if name not in ("consumer_key", "consumer_secret")
                   or name in retested]
        previous_scope = store.sync_scope
        with transaction.atomic():
            store = form.save(commit=False)
            # Only what the form edits: the breaker and health fields are the workers' (and the test call's,
            # made through this store's gate), and a full save would write back what was read before it.
            fields = [name for name in form.Meta.fields if name in form.fields]
            if "base_url" in retested:  # another address: the old one's failures say nothing about it
                store.breaker_state, store.breaker_failures, store.breaker_opened_at = BreakerState.CLOSED, 0, None
                fields += ["breaker_state", "breaker_failures", "breaker_opened_at"]
            store.save(update_fields=fields)
            if retested:
                record_connect_check(store, form.latency)
            widened = store.widen_sync_scope(previous_scope)
            labels = ", ".join(str(form[name].label).lower() for name in changed)
            events.publish(
                store.organization_id,
                "store.updated",
                f"{store} settings changed: {labels or 'nothing'}",
                {"store_id": store.pk, "fields": changed, "quiet": not changed},
                actor=request.user,
            )
        note = f" The new credentials answered in {form.latency * 1000:.0f} ms." if retested else ""
        if widened:
            note += (f" It now takes {store.get_sync_scope_display().lower()} from the catalog: the next sync "
                     "compares every product and writes what the store lacks.")
        messages.success(request, f"Saved {store.name}.{note}")
        if retested:
            _read_locations(request, store)
            _register_webhooks(request, store)  # the credentials (or the address) may be another shop's
        return redirect(store)
    return _edit_page(request, store, form, WebhookSecretForm())


@sensitive_post_parameters(*CREDENTIAL_FIELDS)
@require_POST
def store_rotate_webhook_secret(request, pk: int):
    store = get_for_org(request, Store, pk, role=Role.ADMIN)
    secret_form = WebhookSecretForm(request.POST)
    if not secret_form.is_valid():
        return _edit_page(request, store, StoreEditForm(instance=store), secret_form)
    had_secret = bool(store.webhook_secret)
    with transaction.atomic():
        store.previous_webhook_secret = store.webhook_secret
        store.webhook_secret = secret_form.cleaned_data["new_secret"]
        store.webhook_secret_rotated_at = timezone.now()
        store.save(update_fields=["webhook_secret", "previous_webhook_secret", "webhook_secret_rotated_at"])
        events.publish(store.organization_id, "store.webhook_secret_rotated", f"{store}: webhook secret rotated",
                       {"store_id": store.pk}, actor=request.user)
    if had_secret:
        until = timezone.localtime(store.webhook_secret_rotated_at + WEBHOOK_SECRET_GRACE)
        messages.success(request, f"New webhook secret saved. The previous one is still accepted until {until:%H:%M} UTC.")
    else:
        messages.success(request, "Webhook secret saved.")
    # WooCommerce signs with the secret its webhooks were given: they get the new one (Shopify signs with the
    # app's client secret, which is what was entered: its webhooks can now be registered)
    _register_webhooks(request, store, repair=True)
    return redirect("stores:edit", store.pk)


@require_POST
def store_repair_webhooks(request, pk: int):
    """"Repair webhooks" (admin): make the store's webhooks exist, deliver here and be active; re-send the secret."""
    store = get_for_org(request, Store, pk, role=Role.ADMIN)
    if not supports_webhooks(store):
        messages.info(request, f"{store.get_platform_display()} webhooks are not managed by FlashFusion.")
    else:
        _register_webhooks(request, store, repair=True)
    return redirect(f"{store.get_absolute_url()}#webhooks")


def store_disconnect(request, pk: int):
    store = get_for_org(request, Store, pk, role=Role.ADMIN)
    form = DisconnectForm(request.POST or None, store=store)
    counts = {
        "listings": store.listings.count(),
        "jobs": store.jobs.count(),
        "running_jobs": store.jobs.filter(status__in=UNFINISHED).count(),
        "health_checks": store.health_checks.count(),
        "deliveries": store.webhook_deliveries.count(),
    }
    if request.method == "POST" and form.is_valid():
        name, store_id = store.name, store.pk
        subscriptions = list(store.webhook_subscriptions.values_list("topic", "external_id"))
        try:
            with transaction.atomic():
                store.delete()
                events.publish(
                    store.organization_id,
                    "store.disconnected",
                    f"{name} disconnected: {counts['listings']} listings and {counts['jobs']} jobs removed",
                    {"store_id": store_id, **counts},
                    actor=request.user,
                )
        except (ProtectedError, RestrictedError) as exc:
            blocking = getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", ())
            blockers = sorted({str(obj._meta.verbose_name_plural) for obj in blocking})
            form.add_error(None, f"{name} cannot be disconnected while {', '.join(blockers)} still refer to it.")
        else:
            messages.success(request, f"Disconnected {name}. Its {counts['listings']} listings and {counts['jobs']} jobs are gone; the products stay in the catalog.")
            # the store's webhooks would go on calling an endpoint that is gone
            removed, error = unregister_webhooks(store, subscriptions)
            if error:
                messages.warning(request, f"{name}: its webhooks could not all be removed from the store ({error}); "
                                          "delete those delivering to FlashFusion in the store's admin.")
            elif removed:
                messages.info(request, f"{name}: its {len(removed)} webhooks were removed from the store.")
            return redirect("stores:list")
    return render(request, "stores/store_disconnect.html", {"store": store, "form": form, "counts": counts})


#: Most products a "sync now" may write without a confirmation: an incremental (or prices-and-stock) sync that
#: writes more, any full sync and a first sync (no cursor: it runs full) show the dry-run counts first.
ONE_CLICK_WRITES = 25


def _back_to(request, store: Store) -> str:
    """Where a sync confirmation's Cancel goes: the page that posted (same site only), else the store page."""
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return store.get_absolute_url()


@require_POST
def store_publish(request, pk: int):
    """"Sync now": POST ``strategy`` = incremental (default: what changed since the last sync) or full; or
    ``fields`` = "price,stock" (a full comparison that writes only those fields of listed products).

    Without ``confirm`` a full sync, a first sync, and any sync whose dry run (``agents.publishable.preview_sync``)
    writes more than ``ONE_CLICK_WRITES`` products render a confirmation with the counts per action (create,
    update, prices or stock alone, delete, unchanged, not publishable here, drafts) and queue nothing; the
    confirmation posts again with ``confirm``. A small incremental sync (or prices-and-stock sync, which
    creates nothing) is queued at once: it writes only catalog changes made since the last write, which each
    passed the approval rules when made.
    """
    from agents.publishable import preview_sync
    from agents.sync import parse_fields
    from agents.triggers import request_sync

    store = get_for_org(request, Store, pk, role=Role.OPERATOR)
    if not store.is_enabled:
        messages.error(request, f"{store.name} is disabled: enable it in its settings before publishing.")
        return redirect(store)
    try:
        fields = sorted(parse_fields(request.POST.get("fields", "")))
    except ValueError:
        messages.error(request, f"Unknown fields {request.POST.get('fields')!r}: choose price, stock or both.")
        return redirect(store)
    strategy = request.POST.get("strategy") or (SyncStrategy.FULL if fields else SyncStrategy.INCREMENTAL)
    if strategy not in (SyncStrategy.INCREMENTAL, SyncStrategy.FULL):
        messages.error(request, f"Unknown sync strategy {strategy!r}: choose incremental or full.")
        return redirect(store)
    if not request.POST.get("confirm"):
        preview = preview_sync(store, strategy=strategy, fields=fields)
        # "Full sync" always asks; a first sync runs full, so it asks too. Prices and stock create nothing.
        routine = bool(fields) or (strategy == SyncStrategy.INCREMENTAL and store.sync_cursor is not None)
        one_click = routine and not preview.error and preview.writes <= ONE_CLICK_WRITES
        if not one_click:
            return render(request, "stores/publish_confirm.html", {
                "store": store, "preview": preview, "requested": strategy, "fields": ",".join(fields),
                "next": _back_to(request, store), "one_click_writes": ONE_CLICK_WRITES,
                "not_publishable": ListingState.NOT_PUBLISHABLE.label,
                "not_publishable_badge": LISTING_BADGES[ListingState.NOT_PUBLISHABLE],
            })
    job = request_sync(store, trigger="manual", strategy=strategy, fields=fields, priority=Priority.NORMAL,
                       actor=request.user)
    if fields:
        label = f"the {' and '.join(fields)} of every listed product"
    else:
        label = "every product" if strategy == SyncStrategy.FULL else "what changed since the last sync"
    messages.info(request, f"Syncing {label} to {store.name}: follow job #{job.pk} below.")
    return redirect(job)


@require_POST
def store_refresh_locations(request, pk: int):
    """"Refresh locations" (admin): read the store's locations now (``stores.inventory.refresh_locations``)."""
    store = get_for_org(request, Store, pk, role=Role.ADMIN)
    if not has_locations(store):
        messages.info(request, f"{store.get_platform_display()} has no locations: one stock number per variant.")
        return redirect(store)
    chosen = store.stock_location_id
    try:
        rows = refresh_locations(store)
    except StoreError as exc:
        messages.error(request, f"{store.name}: the locations could not be read: {exc}")
        return redirect(f"{store.get_absolute_url()}#locations")
    active = sum(1 for row in rows if row.is_active)
    note = ""
    if chosen and store.stock_location_id is None:
        note = " The chosen stock location is no longer active: stock goes to the primary location from the next sync."
    messages.success(request, f"{store.name}: {active} active location{'s' if active != 1 else ''} "
                              f"of {len(rows)} known.{note}")
    return redirect(f"{store.get_absolute_url()}#locations")


@require_POST
def store_check(request, pk: int):
    store = get_for_org(request, Store, pk, role=Role.OPERATOR)
    record_health(store)
    level = messages.SUCCESS if store.health == Health.HEALTHY else messages.ERROR
    messages.add_message(request, level, f"{store.name}: {store.get_health_display().lower()}. {store.health_error}")
    return redirect(store)
