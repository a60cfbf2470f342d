from django.contrib import messages
from django.db.models import Count, Max, Min, OuterRef, Subquery, Sum
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from approvals.services import request_delete
from flashfusion.access import get_for_org, membership_for
from flashfusion.choices import Role
from flashfusion.views import ObjectListView
from products.filtersets import ProductFilterSet
from products.forms import CatalogImportForm, ProductEditForm, VariantPriceFormSet
from products.models import CatalogImport, Product, Variant
from products.services import edit_product, start_import
from products.tables import ProductTable
from stores.models import Listing


class ProductListView(ObjectListView):
    filterset_class = ProductFilterSet
    table_class = ProductTable
    template_name = "products/product_list.html"

    def get_queryset(self, request):
        # Subqueries, not joins: joining variants and listings together
        # multiplies sums (stock × stores) and counts.
        variants = Variant.objects.filter(product=OuterRef("pk")).order_by().values("product")
        listings = Listing.objects.filter(product=OuterRef("pk")).order_by().values("product")
        return (
            Product.objects.live()
            .filter(organization=request.organization)
            .select_related("organization")
            .annotate(
                variant_count=Subquery(variants.annotate(n=Count("pk")).values("n")),
                price_min=Subquery(variants.annotate(v=Min("price")).values("v")),
                price_max=Subquery(variants.annotate(v=Max("price")).values("v")),
                stock_total=Subquery(variants.annotate(v=Sum("stock")).values("v")),
                listing_count=Subquery(listings.annotate(n=Count("pk")).values("n")),
            )
        )


def product_detail(request, pk: int):
    product = get_for_org(request, Product.objects.live().select_related("organization"), pk)
    can_edit = request.membership.has_role(Role.OPERATOR)
    variants = product.variants.all()
    form = ProductEditForm(request.POST or None, instance=product, prefix="product")
    formset = VariantPriceFormSet(request.POST or None, queryset=variants, prefix="variants")
    if request.method == "POST":
        request.membership.require(Role.OPERATOR)
        if form.is_valid() and formset.is_valid():
            variant_data = {f.instance.pk: f.cleaned_data for f in formset.forms}
            approval = edit_product(product, form.cleaned_data, variant_data, request.user)
            if approval is not None:
                messages.warning(request, f"This change waits for a manager's review: {approval.reason}.")
                return redirect(approval)
            if product.listings.exists():
                messages.success(request, "Saved. Stores that list this product are being updated.")
            else:
                messages.success(request, "Saved. The product is in no store yet; publish from the Stores page.")
            return redirect(product)
        product.refresh_from_db()
    listings = product.listings.select_related("store")
    pending = product.organization.approval_requests.filter(product=product, status="pending")
    return render(
        request,
        "products/product_detail.html",
        {"product": product, "form": form, "formset": formset, "listings": listings, "can_edit": can_edit, "pending": pending},
    )


@require_POST
def product_delete(request, pk: int):
    product = get_for_org(request, Product.objects.live(), pk, role=Role.OPERATOR)
    approval = request_delete(product, user=request.user)
    messages.warning(request, f"Deleting “{product.title}” waits for a manager's approval.")
    return redirect(approval)


def catalog_import(request):
    membership = membership_for(request, Role.OPERATOR)
    form = CatalogImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = start_import(
            membership.organization,
            format=form.cleaned_data["format"],
            filename=form.cleaned_data["file"].name,
            text=form.cleaned_data["text"],
            user=request.user,
        )
        messages.info(request, f"Importing {form.cleaned_data['file'].name}: progress shows below.")
        return redirect(job)
    recent = CatalogImport.objects.filter(organization=membership.organization).select_related("created_by")[:10]
    return render(request, "products/import.html", {"form": form, "recent": recent})
