"""What Shopify cannot take of a product, known without calling the store (``CapabilityChecks``, a part
of ``ShopifyPlugin``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stores.plugins import Refusal, few, variant_label

from .payload import _options

if TYPE_CHECKING:
    from products.models import Product, Variant


class CapabilityChecks:
    """``refusals``: Shopify's limits on options and variants, and the product kinds it has no place for."""

    #: Most options one product may have: "List of custom product options and option values (maximum of 3 per
    #: product)" (shopify.dev ``ProductSetInput.productOptions`` / ``OptionSetInput``; the emulator answers
    #: ``OPTIONS_OVER_LIMIT``).
    MAX_OPTIONS = 3
    #: Most variants ``productSet`` writes to one product: 2,048 for every shop since 2025-10-15 (shopify.dev
    #: changelog "The product variant limit is now 2048 for all merchants"; the ``productSet`` reference says
    #: "By default, stores have a limit of 2048 product variants for each product"). Before that the default
    #: was 100, 2,048 only with the Extended Variants preview. The REST product endpoints still stop at 100
    #: (shopify.dev "Using the latest GraphQL product APIs"), but this connector writes through GraphQL
    #: ``productSet`` at ``API_VERSION`` (2025-07, past the 2024-04 product model that lifted the old limit).
    MAX_VARIANTS = 2048

    @classmethod
    def refusals(cls, product: Product) -> list[Refusal]:
        """What Shopify cannot take of ``product`` as ``build_payload`` would send it (no store call).

        * ``grouped_product`` (field ``kind``): Shopify has no grouped products (its product model has
          simple products with variants only; shopify.dev "Shopify's product model").
        * ``too_many_options`` (``options``): more than ``MAX_OPTIONS`` options.
        * ``too_many_variants`` (``variants``): more than ``MAX_VARIANTS`` variants.
        * ``option_value_missing`` (``variants.option_values``): a variant without a value (or with a blank
          one) for one of the product's options — WooCommerce's "any Size" variation. Every Shopify variant
          has one value of every option (``ProductVariantSetInput.optionValues`` is required; ``productSet``
          answers ``OPTION_VALUES_MISSING``). Options come from ``_options``, as in the payload.
        * ``duplicate_variant`` (``variants.option_values``): two variants with the same values of every
          option; Shopify keeps one variant per combination ("The variant … already exists").

        SKUs are not required: the product is found by handle and variants are bound by SKU, else by option
        values, else by position (``_remote_listing``).
        """
        if product.kind == "grouped":
            return [Refusal("grouped_product", "kind",
                            "Shopify has no grouped products (Type “Grouped”): publish each product of the group on "
                            "its own, or build the bundle in Shopify.")]
        variants = list(product.variants.all())
        options = _options(product, variants)
        names = [name for name, _values in options]
        out = []
        if len(names) > cls.MAX_OPTIONS:
            out.append(Refusal("too_many_options", "options",
                               f"Shopify takes at most {cls.MAX_OPTIONS} options per product and this one has "
                               f"{len(names)} ({', '.join(names)}): merge or remove options until "
                               f"{cls.MAX_OPTIONS} are left."))
        if len(variants) > cls.MAX_VARIANTS:
            out.append(Refusal("too_many_variants", "variants",
                               f"Shopify takes at most {cls.MAX_VARIANTS:,} variants per product and this one has "
                               f"{len(variants):,}: split it into several products."))
        declared = any(str(o.get("name", "")).strip() for o in product.options or [])
        if not declared and not any(v.option_values for v in variants):
            return out  # no options: Shopify's "Title" option, told apart by SKU or position (``_options``)
        missing: dict[str, list[str]] = {}
        for v in variants:
            values = v.option_values or {}
            for name in names:
                if not str(values.get(name) if values.get(name) is not None else "").strip():
                    missing.setdefault(name, []).append(variant_label(v))
        for name, labels in missing.items():
            out.append(Refusal("option_value_missing", "variants.option_values",
                               f"Shopify needs a value of every option on every variant (OPTION_VALUES_MISSING): "
                               f"{few(labels)} {'has' if len(labels) == 1 else 'have'} no {name} (WooCommerce's "
                               f"“any {name}”); give each variant its own {name}, one variant per {name}, or remove "
                               f"{name} from the product's options."))
        if missing:
            return out
        seen: dict[tuple[str, ...], Variant] = {}
        for v in variants:
            combo = tuple(str(v.option_values[name]) for name in names)
            if combo in seen:
                out.append(Refusal("duplicate_variant", "variants.option_values",
                                   f"Shopify takes each combination of option values once, and "
                                   f"{variant_label(seen[combo])} and {variant_label(v)} are both "
                                   f"{' / '.join(combo)}: change the option values of one of them, or remove it."))
                break
            seen[combo] = v
        return out
