"""The publishing matrix: products × stores, published or removed per ticked cell after a confirmation.

A cell whose store's platform cannot take the product (``StorePlugin.refusals``, asked without calling
the store) is shown "not publishable here" with the reasons and offers no box to tick; a posted cell that
is refused all the same (the product changed since the page loaded, or a hand-made request) is listed as
skipped on the confirmation and gets no job.
"""

from collections import Counter

from django.contrib import messages
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_tables2.paginators import LazyPaginator

from agents.services import StoreDisabled
from flashfusion.access import membership_for
from flashfusion.choices import Role
from products.filtersets import ProductFilterSet
from products.forms import MatrixSelectionForm
from products.models import Product
from products.views import _publish, _unpublish
from stores.choices import LISTING_BADGES, ListingState
from stores.models import Listing, Store
from stores.plugins import refusals_by_store

MATRIX_PER_PAGE = 50
#: The product fields the matrix shows and the capability checks read (``StorePlugin.refusals``).
MATRIX_FIELDS = ("pk", "organization_id", "title", "handle", "sku", "status", "kind", "options", "grouped_skus")


def _not_publishable() -> dict:
    """The "not publishable here" label and badge colour, as ``stores.choices`` defines them."""
    return {"not_publishable": ListingState.NOT_PUBLISHABLE.label,
            "not_publishable_badge": LISTING_BADGES[ListingState.NOT_PUBLISHABLE]}


def publishing_matrix(request):
    """Products (filtered like the list, 50 a page) × the organization's stores; operators publish or
    unpublish the ticked cells, one job per store, after a confirmation that counts them per store.

    Each cell is ``(store, listing or None, refusals)``; a refused cell has no box to tick (a disabled
    one, described by the reasons)."""
    membership = membership_for(request)
    organization = membership.organization
    can_edit = membership.has_role(Role.OPERATOR)
    stores = list(Store.objects.filter(organization=organization))
    if request.method == "POST":
        membership.require(Role.OPERATOR)
        return _matrix_action(request, organization, stores)
    products = Product.objects.live().filter(organization=organization).only(*MATRIX_FIELDS)
    filterset = ProductFilterSet(request.GET or None, queryset=products, request=request)
    paginator = LazyPaginator(filterset.qs.order_by("title", "id").prefetch_related("variants"),
                              MATRIX_PER_PAGE)  # no COUNT at 100,000 rows
    try:
        page = paginator.page(request.GET.get("page") or 1)
    except (EmptyPage, PageNotAnInteger):
        page = paginator.page(1)
    shown = list(page.object_list)
    ids = [p.pk for p in shown]
    states = {(lst.product_id, lst.store_id): lst for lst in Listing.objects.filter(product_id__in=ids, store__in=stores)
              .only("pk", "product_id", "store_id", "state", "last_error", "external_id")}
    refused = refusals_by_store(stores, shown)
    rows = [(product, [(store, states.get((product.pk, store.pk)), refused.get((store.pk, product.pk), []))
                       for store in stores]) for product in shown]
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "products/matrix.html", {
        "filterset": filterset, "page": page, "rows": rows, "stores": stores, "can_edit": can_edit,
        "membership": membership, "query": query.urlencode(), **_not_publishable(),
    })


def _matrix_url(request) -> str:
    """Where to go after a matrix action: the page it came from (same site only), else the matrix."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("products:matrix")


def _matrix_action(request, organization, stores):
    form = MatrixSelectionForm(request.POST)
    back = _matrix_url(request)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(back)
    action, cells = form.cleaned_data["action"], form.cleaned_data["cells"]
    by_store = {s.pk: s for s in stores}
    live = {p.pk: p for p in Product.objects.live().filter(organization=organization, pk__in={p for _, p in cells})
            .only(*MATRIX_FIELDS).prefetch_related("variants")}
    chosen: dict[int, list[int]] = {}
    for store_id, product_id in cells:
        if store_id in by_store and product_id in live:
            chosen.setdefault(store_id, []).append(product_id)
    skipped: dict[int, list] = {}
    if action == "unpublish":
        listed = set(Listing.objects.filter(store_id__in=chosen, product_id__in=live).values_list("store_id", "product_id"))
        chosen = {s: [p for p in ids if (s, p) in listed] for s, ids in chosen.items()}
    else:
        refused = refusals_by_store([by_store[s] for s in chosen], [live[p] for ids in chosen.values() for p in ids])
        for store_id, ids in chosen.items():
            skipped_here = sorted({p for p in ids if (store_id, p) in refused})
            if skipped_here:
                skipped[store_id] = [(live[p], refused[(store_id, p)]) for p in skipped_here]
        chosen = {s: [p for p in ids if (s, p) not in refused] for s, ids in chosen.items()}
    chosen = {s: sorted(set(ids)) for s, ids in chosen.items() if ids}
    if not chosen and not skipped:
        messages.info(request, "Nothing to do: no selected cell " + ("is listed." if action == "unpublish" else "was chosen."))
        return redirect(back)
    order = [*chosen, *(s for s in skipped if s not in chosen)]
    #: (store, products to write, cells skipped as not publishable there)
    summary = [(by_store[s], len(chosen.get(s, [])), len(skipped.get(s, []))) for s in order]
    if not form.cleaned_data["confirm"]:
        return render(request, "products/matrix_confirm.html", {
            "action": action, "summary": summary, "total": sum(n for _, n, _ in summary),
            "skipped": [(by_store[s], items) for s, items in skipped.items()],
            "skipped_total": sum(len(items) for items in skipped.values()),
            "cells": [f"{s}:{p}" for s, ids in chosen.items() for p in ids], "next": back,
            "membership": request.membership, **_not_publishable(),
        })
    queued, refused_stores = Counter(), []
    for store_id, ids in chosen.items():
        store = by_store[store_id]
        try:
            (_unpublish if action == "unpublish" else _publish)(store, ids, request.user)
            queued[store.name] += len(ids)
        except StoreDisabled:
            refused_stores.append(store.name)
    verb = "Removing" if action == "unpublish" else "Publishing"
    if queued:
        parts = ", ".join(f"{n} product{'s' if n != 1 else ''} {'from' if action == 'unpublish' else 'to'} {name}"
                          for name, n in queued.items())
        messages.success(request, f"{verb} {parts}: {len(queued)} job{'s' if len(queued) != 1 else ''} queued.")
    if skipped:
        n = sum(len(items) for items in skipped.values())
        messages.info(request, f"{n} selected cell{'s' if n != 1 else ''} skipped: not publishable in "
                               f"{', '.join(by_store[s].name for s in skipped)}.")
    if refused_stores:
        messages.error(request, f"{', '.join(refused_stores)}: disabled, so no job was queued.")
    return redirect(back)
