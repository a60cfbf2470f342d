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
from django.db.models import Case, Count, F, FloatField, ProtectedError, RestrictedError, Value, When
from django.db.models.functions import NullIf
from django.db.models.lookups import GreaterThan
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from agents.choices import UNFINISHED, JobKind, JobStatus, Priority
from flashfusion import events
from flashfusion.access import get_for_org, membership_for
from flashfusion.choices import Role
from flashfusion.views import ObjectListView
from stores.charts import latency_chart, latency_summary
from stores.choices import LISTING_BADGES, BreakerState, Health, ListingState, SyncStrategy
from stores.filtersets import StoreFilterSet
from stores.forms import DisconnectForm, StoreConnectForm, StoreEditForm, WebhookSecretForm, max_batch_for
from stores.inventory import has_locations, pick_stock_location, refresh_locations
from stores.models import Store, StoreLocation
from stores.plugins import StoreError, plugin_class
from stores.services import record_health
from stores.tables import StoreTable, bucket_level, bucket_of, bucket_use, use_badge

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
        .annotate(listing_count=Count("listings"), rate_use=rate_use)
    )


class StoreListView(ObjectListView):
    filterset_class = StoreFilterSet
    table_class = StoreTable
    template_name = "stores/store_list.html"
    live_signal = "stores-changed"

    def get_queryset(self, request):
        return store_rows(request.organization)


def store_connect(request):
    membership = membership_for(request, Role.ADMIN)
    # Choosing a platform redraws the form from what was typed so far (the secret is never echoed back).
    kept = ("platform", "name", "base_url", "consumer_key", "rate_plan", "timeout")
    initial = {name: request.GET[name] for name in kept if request.GET.get(name)} or None
    form = StoreConnectForm(request.POST or None, initial=initial, organization=membership.organization)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            store = form.save(commit=False)
            store.batch_size = min(store.batch_size, max_batch_for(store.platform))
            store.health = Health.HEALTHY
            store.health_latency = form.latency
            store.health_checked_at = timezone.now()
            store.save()
            events.publish(store.organization_id, "store.connected", f"{store} connected", {"store_id": store.pk}, actor=request.user)
        messages.success(request, f"Connected {store.name}: the test call answered in {form.latency * 1000:.0f} ms.")
        _read_locations(request, store)
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
        "listing_count": sum(states.values()),
        "error_count": states.get(ListingState.ERROR, 0),
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


def store_edit(request, pk: int):
    store = get_for_org(request, Store, pk, role=Role.ADMIN)
    # The form edits its own copy: a refused change must not show up in the page header.
    form = StoreEditForm(request.POST or None, instance=Store.objects.get(pk=store.pk))
    if request.method == "POST" and form.is_valid():
        retested = form.changed_credentials
        # An empty secret field keeps the saved secret, though Django counts it as changed.
        changed = [name for name in form.changed_data if name != "consumer_secret" or name in retested]
        previous_scope = store.sync_scope
        with transaction.atomic():
            store = form.save(commit=False)
            if retested:
                store.health, store.health_error = Health.HEALTHY, ""
                store.health_latency, store.health_checked_at = form.latency, timezone.now()
            store.save()
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
        return redirect(store)
    return _edit_page(request, store, form, WebhookSecretForm())


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
        messages.success(request, "Webhook secret saved. Paste it into the store's webhook settings.")
    return redirect("stores:edit", store.pk)


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
            return redirect("stores:list")
    return render(request, "stores/store_disconnect.html", {"store": store, "form": form, "counts": counts})


@require_POST
def store_publish(request, pk: int):
    """"Sync now": POST ``strategy`` = incremental (default: what changed since the last sync) or full; or
    ``fields`` = "price,stock" (a full comparison that writes only those fields of listed products)."""
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
