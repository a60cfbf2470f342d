from django.contrib import messages
from django.db import transaction
from django.db.models import Count
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from agents.choices import JobKind, Priority
from agents.services import enqueue
from flashfusion import events
from flashfusion.access import get_for_org, membership_for
from flashfusion.choices import Role
from flashfusion.views import ObjectListView
from stores.choices import Health
from stores.filtersets import StoreFilterSet
from stores.forms import StoreConnectForm
from stores.models import Store
from stores.services import record_health
from stores.tables import StoreTable


class StoreListView(ObjectListView):
    filterset_class = StoreFilterSet
    table_class = StoreTable
    template_name = "stores/store_list.html"
    live_signal = "stores-changed"

    def get_queryset(self, request):
        return Store.objects.filter(organization=request.organization).annotate(listing_count=Count("listings"))


def store_connect(request):
    membership = membership_for(request, Role.ADMIN)
    form = StoreConnectForm(request.POST or None, organization=membership.organization)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            store = form.save(commit=False)
            store.health = Health.HEALTHY
            store.health_latency = form.latency
            store.health_checked_at = timezone.now()
            store.save()
            events.publish(store.organization_id, "store.connected", f"{store} connected", {"store_id": store.pk}, actor=request.user)
        messages.success(request, f"Connected {store.name}: the test call answered in {form.latency * 1000:.0f} ms.")
        return redirect(store)
    return render(request, "stores/store_connect.html", {"form": form})


def store_detail(request, pk: int):
    store = get_for_org(request, Store, pk)
    listings = store.listings.select_related("product").order_by("product__title")[:200]
    jobs = store.jobs.order_by("-id")[:10]
    return render(request, "stores/store_detail.html", {"store": store, "listings": listings, "jobs": jobs, "listing_count": store.listings.count()})


@require_POST
def store_publish(request, pk: int):
    store = get_for_org(request, Store, pk, role=Role.OPERATOR)
    job = enqueue(
        store.organization,
        JobKind.STORE_PUBLISH,
        store=store,
        priority=Priority.NORMAL,
        idempotency_key=f"publish:{store.pk}:full",
        created_by=request.user,
    )
    messages.info(request, f"Publishing the catalog to {store.name}: follow job #{job.pk} below.")
    return redirect(job)


@require_POST
def store_check(request, pk: int):
    store = get_for_org(request, Store, pk, role=Role.OPERATOR)
    record_health(store)
    level = messages.SUCCESS if store.health == Health.HEALTHY else messages.ERROR
    messages.add_message(request, level, f"{store.name}: {store.get_health_display().lower()}. {store.health_error}")
    return redirect(store)
