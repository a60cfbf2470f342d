"""Webhook pages: the endpoint stores post to, and the ledger of what they sent (list, detail, replay).

The ledger's FilterSet and Table live here, next to their only view, until
``stores/filtersets.py`` and ``stores/tables.py`` take them in.
"""

import json

import django_filters
import django_tables2 as tables
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from flashfusion.access import get_for_org
from flashfusion.choices import Role
from flashfusion.filters import BootstrapFilterSet
from flashfusion.views import ObjectListView
from stores.choices import DeliveryStatus
from stores.models import Store, WebhookDelivery
from stores.webhooks import DELIVERY_BADGES, TOPIC_CHOICES, receive, replay, store_for_token, webhook_url

# --------------------------------------------------------------------------- inbound


@csrf_exempt
@login_not_required
@require_POST
def webhook_receive(request, token: str):
    """``POST /webhooks/in/<token>/``: a store's webhook. Verified and recorded; the work is a queued job.

    No session, no CSRF token: the HMAC signature over the raw body is the
    authentication (``stores.webhooks.receive``). An unknown or forged token
    is a 404, so the URL tells nothing about which stores exist.
    """
    store = store_for_token(token)
    if store is None:
        raise Http404("No such webhook endpoint.")
    outcome = receive(store, request.body, request.headers)
    return HttpResponse(outcome.message, status=outcome.status, content_type="text/plain; charset=utf-8")


# --------------------------------------------------------------------------- ledger


def _stores(request):
    if request is None or request.organization is None:
        return Store.objects.none()
    return Store.objects.filter(organization=request.organization)


class WebhookDeliveryFilterSet(BootstrapFilterSet):
    store = django_filters.ModelChoiceFilter(queryset=_stores, empty_label="Any store")
    topic = django_filters.ChoiceFilter(choices=TOPIC_CHOICES, empty_label="Any topic")
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices, empty_label="Any status")
    q = django_filters.CharFilter(method="search_ids", label="Delivery or store product id")

    class Meta:
        model = WebhookDelivery
        fields = ["store", "topic", "status", "q"]

    def search_ids(self, queryset, name, value):
        """Exact store product id, or a delivery id (WooCommerce keys start with the platform's id)."""
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(resource_id=value) | Q(delivery_id=value) | Q(delivery_id__startswith=f"{value}:"))


class WebhookDeliveryTable(tables.Table):
    id = tables.Column(verbose_name="#", linkify=lambda record: reverse("webhooks:detail", args=[record.pk]))
    received_at = tables.DateTimeColumn(verbose_name="Received", format="M j, H:i:s")
    store = tables.Column(linkify=True)
    topic = tables.Column()
    resource_id = tables.Column(verbose_name="Store product", default="—")
    status = tables.Column()
    job = tables.Column(linkify=True, default="—", order_by=("job_id",))
    replays = tables.Column()
    error = tables.Column(default="", attrs={"td": {"class": "text-danger small text-truncate",
                                                    "style": "max-width: 24rem"}})

    class Meta:
        model = WebhookDelivery
        fields = ("id", "received_at", "store", "topic", "resource_id", "status", "job", "replays", "error")
        row_attrs = {"id": lambda record: f"webhook-row-{record.pk}"}
        empty_text = ("No webhook received yet. Give a store its delivery URL and a secret, and what it sends "
                      "shows up here.")

    def render_status(self, record):
        return render_to_string("stores/partials/webhook_status_badge.html",
                                {"delivery": record, "badge": DELIVERY_BADGES.get(record.status)})


class WebhookListView(ObjectListView):
    """``/webhooks/``: every delivery of the organization's stores, newest first (``?store=<id>`` for one)."""

    filterset_class = WebhookDeliveryFilterSet
    table_class = WebhookDeliveryTable
    template_name = "stores/webhook_list.html"
    # Rows change when a delivery arrives (store events) and when its pull job ends (job events).
    # object_table.html appends " from:body delay:250ms" to the last trigger.
    live_signal = "stores-changed from:body delay:250ms, jobs-changed"
    compact_exclude = ("replays", "error", "job")

    def get_queryset(self, request):
        return (WebhookDelivery.objects.filter(organization=request.organization)
                .select_related("store", "job__store").defer("body", "headers"))

    def extra_context(self, request) -> dict:
        """The delivery URL of the one store filtered on, for admins (they configure stores)."""
        store_id = request.GET.get("store", "")
        if not store_id.isdigit() or not request.membership.has_role(Role.ADMIN):
            return {}
        store = Store.objects.filter(organization=request.organization, pk=int(store_id)).first()
        return {"delivery_store": store, "delivery_url": webhook_url(store, request)} if store else {}


def webhook_detail(request, pk: int):
    """One delivery: its headers, its body as pretty JSON, the job that acted on it, and Replay."""
    delivery = get_for_org(request, WebhookDelivery.objects.select_related("store", "job__store"), pk)
    try:
        pretty = json.dumps(json.loads(delivery.body), indent=2, ensure_ascii=False, sort_keys=False)
    except ValueError:
        pretty = delivery.body
    return render(request, "stores/webhook_detail.html", {
        "delivery": delivery,
        "body": pretty,
        "badge": DELIVERY_BADGES.get(delivery.status),
    })


@require_POST
def webhook_replay(request, pk: int):
    """Run the pull job for this delivery again (operator or higher)."""
    delivery = get_for_org(request, WebhookDelivery.objects.select_related("store"), pk, role=Role.OPERATOR)
    job, replayed = replay(delivery, user=request.user)
    if replayed:
        messages.info(request, f"Replaying delivery #{delivery.pk}: follow job #{job.pk}.")
    else:
        messages.info(request, f"Delivery #{delivery.pk} is already being pulled: job #{job.pk}.")
    return redirect("webhooks:detail", pk=delivery.pk)
