"""factory_boy factories: the one place test data is built."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from flashfusion.choices import Role
from flashfusion.models import Membership, Organization
from products.models import Product, Variant


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.VIEWER


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    organization = factory.SubFactory(OrganizationFactory)
    title = factory.Sequence(lambda n: f"Product {n}")
    handle = factory.Sequence(lambda n: f"product-{n}")
    sku = factory.Sequence(lambda n: f"SKU-{n}")


class VariantFactory(factory.django.DjangoModelFactory):
    """A variant; like every catalog writer it refreshes its product's ``stock_total``."""

    class Meta:
        model = Variant

    product = factory.SubFactory(ProductFactory)
    organization = factory.SelfAttribute("product.organization")
    sku = factory.SelfAttribute("product.sku")
    price = Decimal("20.00")
    stock = 10

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        variant = super()._create(model_class, *args, **kwargs)
        variant.product.refresh_stock_total()
        return variant


class StoreFactory(factory.django.DjangoModelFactory):
    """A WooCommerce store pointing at a closed port: for tests that never call it."""

    class Meta:
        model = "stores.Store"

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Shop {n}")
    base_url = factory.Sequence(lambda n: f"http://127.0.0.1:9/shop-{n}")
    consumer_key = "ck_test"
    consumer_secret = "cs_test"
