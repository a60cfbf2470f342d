"""Echo suppression: is an inbound webhook only our own write coming back?

A store sends a webhook for every write, ours included: a price change
published to 300 products comes back as 300 (or more: one per variation)
deliveries. ``stores.webhooks.receive`` asks ``judge`` before it queues a
pull; the pull agent asks again before it fetches (``agents.pull``).

What is compared: the fields the pull agent compares (``agents.fields``:
title, status, SKU, descriptions, per variant price, compare-at price and
stock), read from the webhook body as it came, against two references:

1. what we last wrote: the listing's ``remote_snapshot``, the store's own
   answer to our last write (the pull agent's "last synced");
2. the catalog now: the plugin's ``build_payload`` of the product, built
   offline (no call to the store), i.e. what a publish writes.

Equal on every compared field the body carries, to either of them, is an
echo: the delivery is kept in the ledger with status "Echo of our write" and
a note, and no job is queued. Fields the store adds (dates, permalinks,
``price_html``, Shopify ids) are never compared, so they cannot make a
difference. A body that equals the catalog can also be a shop-side edit
that set what the catalog says, or an edit of a field we do not manage:
the pull agent would conclude "the store matches the catalog" and change
nothing, so nothing is lost by not asking it.

Why two references, and when the first one is not trusted. The store sends
its webhook while our write is still in flight: WooCommerce queues the
delivery during our ``products/batch`` call and sends it (built from the
product as it is then) before the Sync agent has read the answer and saved
it on the listing. Such a body no longer matches the old snapshot, but it
matches the catalog, which is exactly what is being written (reference 2).
Conversely, while a publish of the store runs, the snapshot may be older
than the store: a shop-side edit made just after our write landed, that
happened to restore the old values, would match the stale snapshot and be
lost. So while a ``store.publish`` job of the store is running (or waits to
retry an attempt whose answer may have been lost), only the catalog counts.
What neither reference explains (the catalog moved again after the write
was planned) gets a debounced pull, whose own check finds the echo once the
write is recorded, and drops it without calling the store.

Parts of a product: a WooCommerce variation's delivery carries that
variation alone (type ``variation``, its ``parent_id``): only that variant's
fields are compared, with the parent's listing. A WooCommerce variable
product's delivery lists its variations by id only: its product fields are
compared, and each variation's price or stock edit sends a delivery of its
own. WooCommerce sends bodies in the ``view`` context, where descriptions
have gone through ``wpautop``: they are compared without the paragraph and
line-break tags it adds. A Shopify delivery carries every variant (REST
shape); its stock is the total over all locations, so a product stocked at
several locations is never called an echo on stock (it is pulled).

Never an echo: a delete topic, a listing in conflict (its pull settles or
updates the review), a delivery for which no listing or catalog product
can be found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from django.db.models import Q

from agents.fields import (
    NONE,
    SHOPIFY_STATUSES,
    _money,
    _text,
    _woo_offer,
    only_groups,
    shopify_fields,
    woocommerce_fields,
)
from stores.choices import SCOPE_FIELDS, ListingState
from stores.choices import WEBHOOK_UPDATE_TOPICS as UPDATE_TOPICS
from stores.plugins import offline_plugin

#: What a delivery's note says when it was not pulled.
MATCHES_LAST_WRITE = "matches what FlashFusion last wrote to the store"
MATCHES_CATALOG = "matches the catalog (what a publish writes)"

_AUTOP = re.compile(r"</?p>|<br\s*/?>", re.I)
DESCRIPTIONS = ("description", "short description")


@dataclass(frozen=True)
class DeliveryFields:
    """What one webhook body says about our compared fields.

    ``fields``: reader output (``agents.pull`` terms). ``part``: which fields
    of the product the body covers: ``""`` all of them, ``"product"`` the
    product's own (not its variants'), or ``"variant <key> "`` one variant.
    """

    fields: dict[str, str]
    part: str = ""


def _plain(value: str) -> str:
    """A description without the ``<p>`` / ``<br />`` tags ``wpautop`` adds, whitespace collapsed."""
    return _text(_AUTOP.sub(" ", value)) if value != NONE else value


def woocommerce_delivery(body: dict) -> DeliveryFields:
    """A WooCommerce webhook body (``GET /products/<id>`` in the view context, a variation as a product of type
    ``variation``) in ``agents.pull`` terms."""
    if body.get("type") == "variation":
        key = body.get("sku") or f"#{body.get('menu_order') or 0}"
        prefix = f"variant {key} "
        return DeliveryFields(_woo_offer(body, prefix), prefix)
    fields = woocommerce_fields({k: v for k, v in body.items() if k != "variations_detail"})
    for name in DESCRIPTIONS:
        fields[name] = _plain(fields.get(name, NONE))
    return DeliveryFields(fields, "product" if body.get("type") in ("variable", "grouped") else "")


def shopify_delivery(body: dict) -> DeliveryFields:
    """A Shopify ``products/create`` / ``products/update`` body (REST shape) in ``agents.pull`` terms, as
    ``agents.fields.shopify_fields`` reads a GraphQL product: variants keyed by SKU (``#<position>`` when blank),
    one variant speaking of "price", "stock" and "SKU". Stock: ``inventory_quantity`` (every location) when
    ``inventory_management`` is ``shopify``, else not tracked."""
    fields = {
        "title": _text(body.get("title")),
        "status": SHOPIFY_STATUSES.get(str(body.get("status") or "").upper(), str(body.get("status") or NONE)),
        "description": _text(body.get("body_html")),
    }
    variants = sorted(body.get("variants") or [], key=lambda v: v.get("position") or 0)
    single = len(variants) == 1
    for position, variant in enumerate(variants, start=1):
        if single:
            prefix = ""
            fields["SKU"] = _text(variant.get("sku"))
        else:
            prefix = f"variant {variant.get('sku') or f'#{position}'} "
        fields[f"{prefix}price"] = _money(variant.get("price"))
        fields[f"{prefix}compare-at price"] = _money(variant.get("compare_at_price"))
        tracked = variant.get("inventory_management") == "shopify"
        fields[f"{prefix}stock"] = str(variant.get("inventory_quantity")) if tracked else "not tracked"
    return DeliveryFields(fields)


#: Platform → reader of a webhook body; the references are read with ``agents.fields``.
DELIVERY_READERS: dict[str, Callable[[dict], DeliveryFields]] = {"woocommerce": woocommerce_delivery,
                                                                  "shopify": shopify_delivery}
REFERENCE_READERS: dict[str, Callable[[dict], dict[str, str]]] = {"woocommerce": woocommerce_fields,
                                                                    "shopify": shopify_fields}


def echo_note(reason: str) -> str:
    """The ledger note of a delivery that was not pulled because its compared fields ``reason``."""
    return (f"Not pulled: title, status, SKU, descriptions, prices and stock in this delivery {reason} "
            "(our own write coming back, or a change to fields FlashFusion does not manage).")


def same_fields(delivery: DeliveryFields, reference: dict[str, str], *, platform: str) -> bool:
    """True when every field of ``delivery.part`` reads the same in the delivery and in ``reference``.

    A variant part needs that variant in the reference; fields of other parts are not compared.
    """
    def keep(name: str) -> bool:
        if delivery.part == "product":
            return not name.startswith("variant ")
        if delivery.part:
            return name.startswith(delivery.part)
        return True

    if delivery.part.startswith("variant ") and not any(name.startswith(delivery.part) for name in reference):
        return False
    names = [n for n in dict.fromkeys([*delivery.fields, *reference]) if keep(n)]
    for name in names:
        ours, theirs = reference.get(name, NONE), delivery.fields.get(name, NONE)
        if platform == "woocommerce" and name in DESCRIPTIONS:
            ours = _plain(ours)
        if ours != theirs:
            return False
    return True


@dataclass(frozen=True)
class Judgement:
    """``judge``'s answer: the listing and catalog product the delivery is about (when found), the key that
    coalesces its pulls (``target``), and ``echo``: why no pull is needed ("" when one is)."""

    listing: object | None
    product: object | None
    target: str
    echo: str = ""


def find_listing(store, resource_id: str, body: dict):
    """Our listing of ``store`` for the store product a delivery names; a variation's finds its parent's.

    Shopify's webhook body gives the REST number; our listing holds the product GID (``admin_graphql_api_id``).
    """
    from stores.models import Listing

    listings = Listing.objects.select_related("product__organization").filter(store=store)
    candidates = [resource_id] if resource_id else []
    if store.platform == "shopify":
        candidates += [str(body.get("admin_graphql_api_id") or ""),
                       f"gid://shopify/Product/{resource_id}" if resource_id else ""]
    candidates = [c for c in candidates if c]
    listing = listings.filter(external_id__in=candidates).first() if candidates else None
    parent = body.get("parent_id")
    if listing is None and parent and str(parent) != "0":
        listing = listings.filter(external_id=str(parent)).first()
    return listing


def _skus(platform: str, body: dict) -> list[str]:
    if platform == "shopify":
        return [str(v.get("sku")) for v in body.get("variants") or [] if v.get("sku")]
    return [str(body["sku"])] if body.get("sku") else []


def _product_by_sku(store, skus: list[str]):
    """The catalog product holding one of ``skus`` (its own SKU or a variant's), while the store has no other
    product bound to it: a delivery for a product we are creating, sent before our write's answer was saved."""
    from products.models import Product

    if not skus:
        return None
    product = (Product.objects.select_related("organization")
               .filter(organization_id=store.organization_id, deleted_at__isnull=True)
               .filter(Q(sku__in=skus) | Q(variants__sku__in=skus)).order_by("pk").first())
    if product is None:
        return None
    bound = product.listings.filter(store=store).exclude(external_id="").exists()
    return None if bound else product


def publish_running(store) -> bool:
    """True while a ``store.publish`` job of ``store`` runs or waits for its next attempt: a write may have
    landed in the store without its answer being saved on the listing."""
    from agents.choices import JobKind, JobStatus
    from agents.models import Job

    return Job.objects.filter(organization_id=store.organization_id, store=store, kind=JobKind.STORE_PUBLISH,
                              status__in=(JobStatus.RUNNING, JobStatus.RETRY)).exists()


def references(store, listing, product) -> list[tuple[str, dict[str, str]]]:
    """``[(reason, fields)]`` to compare a delivery with: the last write (unless a publish of the store runs:
    module docstring) and the catalog's payload now, each narrowed to the store's sync scope."""
    reader = REFERENCE_READERS.get(store.platform)
    if reader is None:
        return []
    scope = SCOPE_FIELDS.get(store.sync_scope, frozenset())
    found = []
    if listing is not None and listing.remote_snapshot and not publish_running(store):
        found.append((MATCHES_LAST_WRITE, only_groups(reader(listing.remote_snapshot), scope)))
    if product is not None and product.deleted_at is None:
        try:
            payload = offline_plugin(store).build_payload(product)
        except Exception:  # a plugin that needs its store to build a payload: no catalog reference
            payload = None
        if payload is not None and not payload.get("_unsupported"):
            found.append((MATCHES_CATALOG, only_groups(reader(payload), scope)))
    return found


def judge(store, topic: str, resource_id: str, body: dict) -> Judgement:
    """Decide, without calling the store, whether a delivery for ``store`` needs a pull (module docstring).

    ``body`` is the parsed JSON the store signed. Reads the listing, the catalog product and whether a publish
    of the store runs. Never raises for an odd body: what it cannot read is not an echo.
    """
    listing = find_listing(store, resource_id, body) if isinstance(body, dict) else None
    product = listing.product if listing is not None else None
    if listing is None and isinstance(body, dict) and topic in UPDATE_TOPICS:
        product = _product_by_sku(store, _skus(store.platform, body))
        if product is not None:
            from stores.models import Listing

            listing = Listing.objects.filter(store=store, product=product).first()
        else:
            # our write's answer may have been saved since the first look: the product is bound to it now
            listing = find_listing(store, resource_id, body)
            product = listing.product if listing is not None else None
    if listing is not None:
        target = f"listing:{listing.pk}"
    elif product is not None:
        target = f"product:{product.pk}"
    else:
        target = f"resource:{resource_id or '?'}"
    reader = DELIVERY_READERS.get(store.platform)
    if (topic not in UPDATE_TOPICS or reader is None or product is None or not isinstance(body, dict)
            or (listing is not None and listing.state == ListingState.CONFLICT)):
        return Judgement(listing, product, target)
    try:
        delivery = reader(body)
    except (AttributeError, TypeError, ValueError):  # a body of another shape than the platform documents
        return Judgement(listing, product, target)
    scope = SCOPE_FIELDS.get(store.sync_scope, frozenset())
    delivery = DeliveryFields(only_groups(delivery.fields, scope), delivery.part)
    for reason, reference in references(store, listing, product):
        if same_fields(delivery, reference, platform=store.platform):
            return Judgement(listing, product, target, reason)
    return Judgement(listing, product, target)
