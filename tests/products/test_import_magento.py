"""Magento 2 product CSV (System → Export) → catalog. No Magento file in ../shared/data: a small export-shaped file."""

from decimal import Decimal

import pytest

from products.importers import ImportValidationError, apply_catalog, detect_format, parse_catalog
from products.models import Product

HEADER = (
    "sku,store_view_code,attribute_set_code,product_type,categories,product_websites,name,description,"
    "short_description,weight,product_online,price,special_price,url_key,qty,is_in_stock,"
    "additional_attributes,configurable_variations,base_image,additional_images\n"
)
TEXT = HEADER + (
    'MH01-XS-Black,,Top,simple,"Default Category/Men/Tops",base,Chaz Hoodie-XS-Black,,,1,1,52.00,,'
    "chaz-hoodie-xs-black,100,1,\"color=Black,size=XS\",,,\n"
    'MH01-S-Black,,Top,simple,"Default Category/Men/Tops",base,Chaz Hoodie-S-Black,,,1,1,52.00,,'
    "chaz-hoodie-s-black,80,1,\"color=Black,size=S\",,,\n"
    'MH01,,Top,configurable,"Default Category/Men/Tops,Default Category/Sale",base,Chaz Hoodie,<p>Warm</p>,'
    "Soft,,1,52.00,,chaz-hoodie,,1,,"
    '"sku=MH01-XS-Black,color=Black,size=XS|sku=MH01-S-Black,color=Black,size=S",'
    "https://media.example.com/mh01.jpg,\n"
    "24-MB01,,Bag,simple,Default Category/Gear/Bags,base,Joust Duffle Bag,,,2.5,2,34.00,30.00,"
    "joust-duffle-bag,12,1,,,,\n"
    "24-MB01,de,Bag,simple,,,Joust Reisetasche,,,,,,,,,,,,,\n"
)


def test_magento_export_is_detected_and_imported(org):
    assert detect_format(TEXT) == "magento"
    warnings = []
    products = {p.handle: p for p in parse_catalog("magento", TEXT, warnings=warnings)}
    assert set(products) == {"chaz-hoodie", "joust-duffle-bag"}  # the configurable's children are its variants
    hoodie = products["chaz-hoodie"]
    assert hoodie.kind == "variable" and hoodie.categories == ["Default Category > Men > Tops", "Default Category > Sale"]
    assert hoodie.options == [{"name": "color", "values": ["Black"]}, {"name": "size", "values": ["XS", "S"]}]
    assert [(v.sku, v.stock, v.option_values) for v in hoodie.variants] == [
        ("MH01-XS-Black", 100, {"color": "Black", "size": "XS"}),
        ("MH01-S-Black", 80, {"color": "Black", "size": "S"}),
    ]
    bag = products["joust-duffle-bag"]
    assert bag.status == "draft" and bag.weight_grams == Decimal("2500.000")
    assert (bag.variants[0].price, bag.variants[0].compare_at_price) == (Decimal("30.00"), Decimal("34.00"))
    assert [(w.row, w.column) for w in warnings] == [(6, "store_view_code")]
    counts = apply_catalog(org, list(products.values()))
    assert counts["created"] == 2
    assert Product.objects.get(organization=org, handle="chaz-hoodie").variants.count() == 2


def test_a_configurable_naming_a_missing_child_is_refused():
    text = TEXT.replace("sku=MH01-S-Black,color", "sku=MH01-M-Black,color")
    with pytest.raises(ImportValidationError) as caught:
        parse_catalog("magento", text)
    assert (caught.value.errors[0].row, caught.value.errors[0].column) == (4, "configurable_variations")
