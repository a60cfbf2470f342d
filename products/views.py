from dataclasses import dataclass

from django.contrib import messages
from django.db.models import Count, Max, Min, OuterRef, Subquery
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_tables2.paginators import LazyPaginator

from agents.choices import JobKind, Priority
from agents.services import StoreDisabled, enqueue
from approvals.services import request_delete
from flashfusion.access import get_for_org, membership_for
from flashfusion.choices import Role
from flashfusion.views import ObjectListView
from products.filtersets import ProductFilterSet
from products.forms import ProductEditForm, VariantPriceFormSet
from products.models import Product, Variant, hash_json
from products.services import StaleEdit, edit_product, edit_values, submitted_values
from products.tables import ProductTable
from stores.choices import LISTING_BADGES, ListingState
from stores.models import InventoryLevel, Listing, Store, StoreLocation
from stores.plugins import offline_plugin


class ProductListView(ObjectListView):
    filterset_class = ProductFilterSet
    table_class = ProductTable
    template_name = "products/product_list.html"
    #: No COUNT over 100,000 products on every load (bench/bench_products_page.py).
    paginator_class = LazyPaginator

    def get_queryset(self, request):
        return catalog_queryset(request.organization)

    def table_kwargs(self, request) -> dict:
        return {"currency": request.organization.currency}


#: The product columns the list shows (descriptions, images and the other JSON fields stay in the database).
LIST_FIELDS = ("id", "organization_id", "handle", "sku", "title", "kind", "status", "stock_total", "updated_at", "deleted_at")


def catalog_queryset(organization):
    """The organization's live products with the list's per-row figures (stock is the stored ``stock_total``)."""
    # Subqueries, not joins: joining variants and listings together
    # multiplies sums (stock × stores) and counts.
    variants = Variant.objects.filter(product=OuterRef("pk")).order_by().values("product")
    listings = Listing.objects.listed().filter(product=OuterRef("pk")).order_by().values("product")
    return (
        Product.objects.live()
        .filter(organization=organization)
        .only(*LIST_FIELDS)
        .annotate(
            variant_count=Subquery(variants.annotate(n=Count("pk")).values("n")),
            price_min=Subquery(variants.annotate(v=Min("price")).values("v")),
            price_max=Subquery(variants.annotate(v=Max("price")).values("v")),
            listing_count=Subquery(listings.annotate(n=Count("pk")).values("n")),
        )
    )


def product_detail(request, pk: int):
    """The product page: its stores (``store_rows``) and the edit form (operator+).

    A save is checked against what the page showed when it was opened (``edit_product``'s ``opened``): when
    the product changed meanwhile nothing is saved, the page names what changed, and the form comes back
    with the stored values and the operator's own edits on top (``rebased_edit``), to check and save again.
    """
    product = get_for_org(request, Product.objects.live().select_related("organization"), pk)
    can_edit = request.membership.has_role(Role.OPERATOR)
    stale = None
    if request.method == "POST":
        request.membership.require(Role.OPERATOR)
        form, formset = _edit_forms(product, request.POST)
        if form.is_valid() and formset.is_valid():
            variant_data = {f.instance.pk: f.cleaned_data for f in formset.forms}
            try:
                approval = edit_product(product, form.cleaned_data, variant_data, request.user,
                                        opened=form.cleaned_data["opened"])
            except StaleEdit as exc:
                stale = exc
                product.refresh_from_db()
                form, formset = rebased_edit(product, exc, submitted_values(form.cleaned_data, variant_data))
            else:
                if approval is not None:
                    messages.warning(request, f"This change waits for a manager's review: {approval.reason}.")
                    return redirect(approval)
                if product.listings.exists():
                    messages.success(request, "Saved. Stores that list this product are being updated.")
                else:
                    messages.success(request, "Saved. The product is in no store yet; publish from the Stores page.")
                return redirect(product)
        else:
            product.refresh_from_db()  # the form wrote its cleaned values onto the instance
    else:
        form, formset = _edit_forms(product)
    pending = list(product.organization.approval_requests.filter(product=product, status="pending"))
    return render(
        request,
        "products/product_detail.html",
        {
            "product": product, "form": form, "formset": formset, "can_edit": can_edit, "pending": pending,
            "store_rows": store_rows(product, pending), "stale": stale,
        },
    )


def _edit_forms(product: Product, data=None):
    """The edit form and the variants' formset, unbound (drawn from the stored product) or bound to ``data``."""
    opened = None if data is not None else edit_values(product)
    form = ProductEditForm(data, instance=product, prefix="product", opened=opened)
    formset = VariantPriceFormSet(data, queryset=product.variants.all(), prefix="variants")
    return form, formset


def rebased_edit(product: Product, stale: StaleEdit, submitted: dict[str, str]):
    """The edit form again after a refused stale save: the stored values, with the fields the operator changed
    from what they had opened set to what they typed, and ``opened`` now the stored values — so saving again
    applies exactly their edits. A field both they and someone else changed keeps theirs and says what it is
    now. When the variants themselves changed (added or removed), the form is drawn fresh from the store."""
    current = stale.current
    form, formset = _edit_forms(product)
    if {k for k in submitted if "." in k} != {k for k in current if "." in k}:
        return form, formset
    mine = {k: v for k, v in submitted.items() if v != stale.opened.get(k)}
    values = {**current, **mine}
    data = {form.add_prefix(name): values.get(name, "") for name in ("title", "status", "description")}
    data[form.add_prefix("opened")] = form.initial["opened"]
    data.update({f"{formset.prefix}-{key}": value for key, value in formset.management_form.initial.items()})
    for i, variant_form in enumerate(formset.forms):
        pk = variant_form.instance.pk
        data[f"{formset.prefix}-{i}-id"] = str(pk)
        for name in ("price", "compare_at_price", "stock"):
            data[f"{formset.prefix}-{i}-{name}"] = values.get(f"{pk}.{name}", "")
    form, formset = _edit_forms(product, data)
    form.is_valid(), formset.is_valid()  # draw their own errors, if any
    by_key = {**{n: (form, n) for n in ("title", "status", "description")},
              **{f"{f.instance.pk}.{n}": (f, n) for f in formset.forms for n in ("price", "compare_at_price", "stock")}}
    for key in stale.changed:
        if key in mine and mine[key] != current.get(key) and key in by_key:
            owner, name = by_key[key]
            owner.add_error(name, f"Changed meanwhile to {current.get(key) or '(empty)'}; yours is kept here. "
                                  "Save again to apply it.")
    product.refresh_from_db()  # the bound forms wrote their values onto the instance
    return form, formset


@dataclass
class StoreRow:
    """One store on a product's page: its listing (``None`` when the store does not list the product) and
    how the catalog compares with what the store last answered.

    ``in_sync``: the listing is in sync and the payload we would send now hashes to its ``content_hash`` (or,
    when the hash cannot be rebuilt without the store, every compared field matches). Never true beside a
    listing in error, pending or changed in the store. ``state_label`` / ``state_badge``: the listing's state
    as the page shows it — an "In sync" listing whose catalog changed since the last publish reads "Update
    pending" (the stored state moves when the sync writes it). ``differences``: ``agents.pull.Difference``
    rows, catalog vs the store's last answer, on the fields the pull agent compares. ``review``: the waiting
    approval request of a listing changed in the store. ``lag``: when the catalog changed after the last sync
    and differs from what was pushed, the time it changed (the store has been behind since), else ``None``.
    """

    store: Store
    listing: Listing | None = None
    in_sync: bool = False
    differences: list = None
    diff_note: str = ""
    lag: object = None
    admin_url: str = ""
    state_label: str = ""
    state_badge: str = "secondary"
    review: object = None
    #: Why this store's platform cannot take the product as the catalog holds it (``StorePlugin.refusals``).
    refusals: list = None
    #: ``StockLine`` per variant, for a listed product: the catalog's stock, what this store's rule publishes,
    #: what the store held at its last answer and, for stores with locations, the levels per location.
    stock: list = None
    #: The store's locations shown as stock columns: active ones, and inactive ones still holding a level.
    locations: list = None
    #: The location our stock is written at (chosen, else primary); None without location rows.
    stock_location: StoreLocation | None = None
    #: When a level of this product in this store was last written (``record_pushed``) or read (``read_levels``).
    levels_read_at: object = None
    has_locations: bool = False


@dataclass
class StockLine:
    """One variant's stock for one store: ``catalog`` and ``to_publish`` units (None: not tracked); ``in_store``:
    the store's own figure at its last answer (a string as the pull agent reads it: "7", "not tracked"; None when
    the answer does not say); ``levels``: an ``InventoryLevel`` or None per column of ``StoreRow.locations``."""

    variant: Variant
    catalog: int | None
    to_publish: int | None
    levels: list
    in_store: str | None = None

    @property
    def store_differs(self) -> bool:
        """The store's last answer holds another figure than this store's rule publishes."""
        if self.in_store is None:
            return False
        return self.in_store != ("not tracked" if self.to_publish is None else str(self.to_publish))


def store_rows(product: Product, pending=()) -> list[StoreRow]:
    """Every store of the product's organization, listing or not, for the product page (no store is called).

    ``pending``: the product's waiting approval requests (the page has them already): a listing changed in
    the store links to its review. Four queries whatever the number of stores: stores, listings, the stores'
    locations and the product's inventory levels (the variants come from the caller's queryset cache when
    prefetched).
    """
    from stores.inventory import has_locations
    from stores.plugins import refusals_by_store

    listings = {lst.store_id: lst for lst in product.listings.all()}
    stores = list(Store.objects.filter(organization_id=product.organization_id))
    locations: dict[int, list[StoreLocation]] = {}
    for location in StoreLocation.objects.filter(store__in=stores):
        locations.setdefault(location.store_id, []).append(location)
    levels = {(lv.location_id, lv.variant_id): lv for lv in InventoryLevel.objects.filter(variant__product=product)}
    variants = list(product.variants.all())
    reviews = {((a.before or {}).get("store_snapshot") or {}).get("_listing", {}).get("id"): a for a in pending}
    refused = refusals_by_store(stores, [product])
    rows = []
    for store in stores:
        listing = listings.get(store.pk)
        row = StoreRow(store=store, listing=listing, differences=[], stock=[], locations=[],
                       refusals=refused.get((store.pk, product.pk), []))
        if listing is not None:
            row.review = reviews.get(listing.pk)
            _compare(row, product, listing)
            row.admin_url = store_admin_url(store, listing.external_id)
            if listing.last_synced_at and product.updated_at > listing.last_synced_at and not row.in_sync:
                row.lag = product.updated_at
            _stock(row, variants, locations.get(store.pk, []), levels, has_locations(store))
        rows.append(row)
    return rows


def _stock(row: StoreRow, variants: list[Variant], locations: list[StoreLocation], levels: dict,
           by_location: bool) -> None:
    """Fill ``row.stock``: per variant the catalog's units, the store rule's, the store's last answer, and the
    level per location."""
    store = row.store
    row.has_locations = by_location
    if by_location:
        ids = {v.pk for v in variants}
        held = {loc_id for (loc_id, variant_id) in levels if variant_id in ids}
        row.locations = [loc for loc in locations if loc.is_active or loc.pk in held]
        active = [loc for loc in locations if loc.is_active]
        row.stock_location = (next((loc for loc in active if loc.pk == store.stock_location_id), None)
                              or next((loc for loc in active if loc.is_primary), None))
        mine = {loc.pk for loc in locations}
        row.levels_read_at = max((lv.updated_at for (loc_id, variant_id), lv in levels.items()
                                  if variant_id in ids and loc_id in mine), default=None)
    if row.review is not None:  # the store changed since our last write: its values are in the review
        in_store = _reviewed_stock(row.review, variants)
    else:
        in_store = _store_stock(store.platform, row.listing.remote_snapshot if row.listing else None, variants)
    for variant in variants:
        row.stock.append(StockLine(variant=variant, catalog=variant.stock, to_publish=store.published_stock(variant.stock),
                                   levels=[levels.get((loc.pk, variant.pk)) for loc in row.locations],
                                   in_store=in_store.get(variant.pk)))


def _store_stock(platform: str, snapshot: dict | None, variants: list[Variant]) -> dict[int, str]:
    """Variant pk → the stock the store's last answer holds (``agents.pull``'s reading of it, e.g. "7")."""
    from agents.pull import FIELD_READERS

    reader = FIELD_READERS.get(platform)
    if reader is None or not snapshot:
        return {}
    fields = reader(snapshot)
    found = {}
    for variant in variants:
        keys = [f"variant {variant.sku or f'#{variant.position}'} stock"]
        if len(variants) == 1:
            keys.insert(0, "stock")
        value = next((fields[key] for key in keys if key in fields), None)
        if value is not None:
            found[variant.pk] = value
    return found


def _reviewed_stock(review, variants: list[Variant]) -> dict[int, str]:
    """Variant pk → the store's stock as the Pull agent read it for a review (``store_snapshot``'s variants)."""
    seen = (review.before or {}).get("store_snapshot") or {}
    by_key = {(v.get("sku") or f"#{v.get('position')}"): v for v in seen.get("variants") or []}
    found = {}
    for variant in variants:
        remote = by_key.get(variant.sku or f"#{variant.position}")
        if remote is not None and "stock" in remote:
            found[variant.pk] = "not tracked" if remote["stock"] is None else str(remote["stock"])
    return found


def _compare(row: StoreRow, product: Product, listing: Listing) -> None:
    """Fill ``in_sync``, ``differences``, ``diff_note`` and the shown state of a listed product's row."""
    from agents.pull import FIELD_READERS, compare

    row.state_label, row.state_badge = listing.get_state_display(), listing.state_badge
    if listing.state == ListingState.NOT_PUBLISHABLE:
        row.diff_note = "Syncs skip it until the product changes so that the store can take it."
        return
    if listing.state == ListingState.CONFLICT:
        row.diff_note = ("Deleted in the store since the last sync." if listing.last_error == "deleted in store"
                         else "Changed in the store since the last sync.")
        row.diff_note += " A reviewer decides which side wins." if row.review else ""
        return
    if not listing.content_hash:
        row.diff_note = "Not published yet: nothing to compare." if not listing.last_synced_at else \
            "The store holds only part of the catalog's content (a field-only write): nothing to compare whole."
        return
    try:
        payload = offline_plugin(listing.store).build_payload(product)
    except Exception as exc:  # a plugin that needs its store to build a payload: say so, do not call it
        row.diff_note = f"Cannot compare without calling the store ({type(exc).__name__})."
        return
    if hash_json(payload) == listing.content_hash:
        row.in_sync = listing.state == ListingState.IN_SYNC
        if not row.in_sync:
            row.diff_note = "The store holds the catalog's content; the listing's last write did not finish."
        return
    if listing.state == ListingState.IN_SYNC:
        row.state_label, row.state_badge = "Update pending", LISTING_BADGES[ListingState.PENDING]
    reader = FIELD_READERS.get(listing.store.platform)
    if reader is None or not listing.remote_snapshot:
        row.diff_note = "The catalog changed since the last publish."
        return
    row.differences = compare(reader(payload), reader(listing.remote_snapshot))
    if not row.differences:
        # Shopify stock carries the shop's location id: without its location rows read, the offline payload
        # has a stand-in and the hash cannot match, so equal fields of an in-sync listing count as in sync.
        row.in_sync = listing.state == ListingState.IN_SYNC
        if row.in_sync:
            row.state_label, row.state_badge = listing.get_state_display(), listing.state_badge
        row.diff_note = "" if row.in_sync else "The compared fields match; other fields (images, tags…) changed."
    elif listing.state == ListingState.ERROR:
        row.diff_note = "The last write failed (see the error): the next sync tries again."
    else:
        row.diff_note = "The catalog changed since the last publish: the next sync writes it."


def store_admin_url(store: Store, external_id: str) -> str:
    """The store admin's page for a listed product (WooCommerce post editor, Shopify product page)."""
    if not external_id:
        return ""
    base = store.base_url.rstrip("/")
    if store.platform == "woocommerce":
        return f"{base}/wp-admin/post.php?post={external_id}&action=edit"
    if store.platform == "shopify":
        return f"{base}/admin/products/{external_id.rsplit('/', 1)[-1]}"
    return ""


@require_POST
def product_publish(request, pk: int, store_id: int):
    """Publish one product to one store now (operator+): a ``store.publish`` job for that product."""
    product = get_for_org(request, Product.objects.live().select_related("organization"), pk, role=Role.OPERATOR)
    store = get_for_org(request, Store, store_id, role=Role.OPERATOR)
    from stores.plugins import refusal_text, refusals_by_store

    refusals = refusals_by_store([store], [product]).get((store.pk, product.pk))
    if refusals:
        messages.error(request, f"{store} cannot take “{product.title}” as it is: {refusal_text(refusals)} "
                                "Nothing was queued.")
        return redirect(product)
    try:
        job = enqueue(
            product.organization, JobKind.STORE_PUBLISH, store=store,
            params={"product_ids": [product.pk], "whole": True},  # the whole product, whatever the store's scope
            priority=Priority.HIGH, created_by=request.user,
            idempotency_key=f"publish:{store.pk}:product:{product.pk}:{product.content_hash()[:16]}:False",
        )
    except StoreDisabled as exc:
        messages.error(request, str(exc))
        return redirect(product)
    messages.success(request, f"Publishing “{product.title}” to {store}: job #{job.pk} is queued.")
    return redirect(product)


@require_POST
def product_read_stock(request, pk: int, store_id: int):
    """"Read stock by location" (operator+): this product's stock at each of the store's locations, read now
    (``stores.inventory.read_levels``), then back to the product page."""
    from stores.inventory import read_levels
    from stores.plugins import StoreError

    product = get_for_org(request, Product.objects.live().select_related("organization"), pk, role=Role.OPERATOR)
    store = get_for_org(request, Store, store_id, role=Role.OPERATOR)
    listing = product.listings.filter(store=store).select_related("product").first()
    back = f"{product.get_absolute_url()}#store-row-{store.pk}"
    if listing is None or not listing.external_id:
        messages.info(request, f"{store} does not list “{product.title}” yet: nothing to read.")
        return redirect(back)
    try:
        levels = read_levels(store, listing)
    except StoreError as exc:
        messages.error(request, f"{store}: the stock could not be read: {exc}")
        return redirect(back)
    places = len({level.location_id for level in levels})
    messages.success(request, f"Read the stock of “{product.title}” in {store}: {len(levels)} level"
                              f"{'s' if len(levels) != 1 else ''} at {places} location{'s' if places != 1 else ''}.")
    return redirect(back)


@require_POST
def product_unpublish(request, pk: int, store_id: int):
    """Remove one product from one store (operator+): the store's listing is deleted there, then here."""
    product = get_for_org(request, Product.objects.live().select_related("organization"), pk, role=Role.OPERATOR)
    store = get_for_org(request, Store, store_id, role=Role.OPERATOR)
    if not product.listings.filter(store=store).exists():
        messages.info(request, f"{store} does not list “{product.title}”.")
        return redirect(product)
    try:
        job = _unpublish(store, [product.pk], request.user)
    except StoreDisabled as exc:
        messages.error(request, str(exc))
        return redirect(product)
    messages.success(request, f"Removing “{product.title}” from {store}: job #{job.pk} is queued.")
    return redirect(product)


def _publish(store: Store, product_ids: list[int], user):
    """Publish these products whole (``whole``: whatever the store's sync scope), as the operator chose them."""
    return enqueue(store.organization, JobKind.STORE_PUBLISH, store=store,
                   params={"product_ids": product_ids, "whole": True}, priority=Priority.HIGH, created_by=user)


def _unpublish(store: Store, product_ids: list[int], user):
    """``store.publish`` with ``unpublish``: ``agents.sync.SyncAgent`` deletes these products from the store."""
    return enqueue(store.organization, JobKind.STORE_PUBLISH, store=store,
                   params={"product_ids": product_ids, "unpublish": True}, priority=Priority.HIGH, created_by=user)


@require_POST
def product_delete(request, pk: int):
    product = get_for_org(request, Product.objects.live(), pk, role=Role.OPERATOR)
    approval = request_delete(product, user=request.user)
    messages.warning(request, f"Deleting “{product.title}” waits for a manager's approval.")
    return redirect(approval)
