"""What WooCommerce cannot take of a product, known without calling the store (``CapabilityChecks``, a
part of ``WooCommercePlugin``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stores.plugins import Refusal, few, variant_label

if TYPE_CHECKING:
    from products.models import Product


class CapabilityChecks:
    """``refusals``: options WooCommerce would drop, and group children it cannot find."""

    @classmethod
    def refusals(cls, product: Product) -> list[Refusal]:
        """What WooCommerce cannot take of ``product`` as ``build_payload`` would send it (no store call).

        * ``undeclared_option`` (field ``variants.option_values``): a variation of a variable product with a
          value for an option the product does not declare. WooCommerce drops it without an error: its
          variations controller skips every attribute the parent lacks (``if ( ! isset(
          $parent_attributes[ $attribute_name ] ) … ) continue;`` in
          ``class-wc-rest-product-variations-controller.php``, names compared as ``sanitize_title`` slugs),
          so the store would hold a variation that is not the catalog's.
        * ``grouped_child_is_variant`` (``grouped_skus``): a grouped product naming the SKU of a variation.
          A group holds whole products; this connector looks children up among products only
          (``_ids_by_sku``), so such a child is never found and the write fails on every run.

        Not refused, though they look odd: a grouped product whose children are not in the store yet (they
        are created first in the same run, and a later run finds them); an external product without a URL
        (``WC_Product_External::set_product_url`` takes any string and the shop shows no buy button); a
        variation with no value for an option (WooCommerce's own "any …" value); a product without a SKU
        (variations are matched by SKU, else by position, and nothing else needs one).
        """
        from django.utils.text import slugify

        if product.kind == "variable":
            declared = {slugify(str(o.get("name", ""))) for o in product.options or []
                        if str(o.get("name", "")).strip()}
            undeclared: dict[str, list[str]] = {}
            for v in product.variants.all():
                for name in v.option_values or {}:
                    if slugify(str(name)) not in declared:
                        undeclared.setdefault(str(name), []).append(variant_label(v))
            return [Refusal("undeclared_option", "variants.option_values",
                            f"WooCommerce drops a variation's value for an option its product does not have: "
                            f"{few(labels)} {'has' if len(labels) == 1 else 'have'} a {name} value but the product "
                            f"has no {name} option; add {name} to the product's options, or remove it from "
                            f"{'that variant' if len(labels) == 1 else 'those variants'}.")
                    for name, labels in undeclared.items()]
        if product.kind == "grouped" and product.grouped_skus:
            from products.models import Product as CatalogProduct, Variant as CatalogVariant

            skus = [str(s) for s in product.grouped_skus if s]
            products = set(CatalogProduct.objects.live().filter(organization_id=product.organization_id, sku__in=skus)
                           .values_list("sku", flat=True))
            whole = set(CatalogVariant.objects.filter(
                organization_id=product.organization_id, sku__in=skus, product__deleted_at__isnull=True,
                product__kind__in=("simple", "external")).values_list("sku", flat=True))
            variations = CatalogVariant.objects.filter(
                organization_id=product.organization_id, sku__in=set(skus) - products - whole,
                product__deleted_at__isnull=True).values_list("sku", "product__sku", "product__title")
            return [Refusal("grouped_child_is_variant", "grouped_skus",
                            f"A WooCommerce group holds whole products, and {sku} is a variant of “{title}”: name "
                            f"{f'its product {parent}' if parent else 'its product'} in “Grouped products” "
                            "instead, or remove it.")
                    for sku, parent, title in sorted(variations)]
        return []
