"""A made-up outdoor-gear shop's catalog as a WooCommerce product CSV, for the demo.

The product must run without ``../shared/data`` (a new user does not have
it), so the demo generates its catalog here: ``demo_catalog_csv()`` returns
the text of a WooCommerce product CSV in the exporter's layout (UTF-8 BOM,
the exporter's column names, weights in lbs, list cells comma-separated)
that ``products.importers.parse_catalog("woocommerce", …)`` reads.

Same ``count`` and ``seed`` → the same text, byte for byte. Prices are in
the organization's currency (the file has none), written like 24.99. Image
and download links point at ``images.example.com`` / ``downloads.example.com``:
they are URLs only, nothing is fetched.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from django.utils.text import slugify

DEFAULT_SEED = 20240611
MIN_COUNT = 5  # one simple, one variable, plus the grouped, external and downloadable products

HEADER = [
    "ID", "Type", "SKU", "Name", "Published", "Is featured?", "Visibility in catalog", "Short description",
    "Description", "Date sale price starts", "Date sale price ends", "Tax status", "Tax class", "In stock?", "Stock",
    "Backorders allowed?", "Sold individually?", "Weight (lbs)", "Length (in)", "Width (in)", "Height (in)",
    "Allow customer reviews?", "Purchase note", "Sale price", "Regular price", "Categories", "Tags",
    "Shipping class", "Images", "Download limit", "Download expiry days", "Parent", "Grouped products", "Upsells",
    "Cross-sells", "External URL", "Button text", "Position", "Attribute 1 name", "Attribute 1 value(s)",
    "Attribute 1 visible", "Attribute 1 global", "Attribute 2 name", "Attribute 2 value(s)", "Attribute 2 visible",
    "Attribute 2 global", "Download 1 name", "Download 1 URL", "Download 2 name", "Download 2 URL",
]  # fmt: skip

SERIES = [
    "Ridgeline", "Summit", "Cascade", "Timberline", "Granite", "Aspen", "Sierra", "Glacier", "Canyon", "Redwood",
    "Alpine", "Basecamp", "Switchback", "Tundra", "Coyote", "Juniper", "Talus", "Boulder", "Meridian", "Kestrel",
]  # fmt: skip

COLORS = ["Black", "Slate Blue", "Forest Green", "Ember Orange", "Sand", "Charcoal", "Glacier White", "Red Rock"]


@dataclass(frozen=True)
class Kind:
    """A kind of product the shop sells."""

    name: str
    code: str
    category: str
    prices: tuple[str, ...]
    weight_lbs: tuple[float, float]
    blurb: str
    tags: tuple[str, ...]
    sizes: tuple[str, ...] = ()  # empty: a simple product


APPAREL = [
    Kind("Rain Jacket", "RJK", "Clothing > Jackets", ("129.99", "149.99", "179.99"), (0.6, 0.9),
         "A fully seam-taped 2.5-layer shell that keeps steady rain out and still breathes on the climb.",
         ("waterproof", "packable"), ("XS", "S", "M", "L", "XL")),
    Kind("Down Jacket", "DJK", "Clothing > Jackets", ("189.99", "229.99", "249.99"), (0.7, 1.1),
         "800-fill responsibly sourced down in baffled chambers, warm at camp and light enough to forget in the pack.",
         ("insulated", "winter"), ("S", "M", "L", "XL")),
    Kind("Fleece Pullover", "FLP", "Clothing > Midlayers", ("69.99", "79.99", "89.99"), (0.6, 0.9),
         "Grid fleece that traps warmth and dries fast; a quarter zip dumps heat on steep trails.",
         ("midlayer",), ("S", "M", "L", "XL")),
    Kind("Hiking Pants", "HPT", "Clothing > Pants", ("74.99", "84.99", "99.99"), (0.5, 0.8),
         "Stretch-woven nylon with a DWR finish, articulated knees and a zip pocket that clears a hip belt.",
         ("quick-dry",), ("28", "30", "32", "34", "36")),
    Kind("Merino Base Layer", "MBL", "Clothing > Base layers", ("59.99", "69.99", "79.99"), (0.3, 0.4),
         "150 g/m² merino wool that regulates temperature and stays fresh for days on the trail.",
         ("merino", "odor-resistant"), ("XS", "S", "M", "L", "XL")),
    Kind("Sun Hoodie", "SHD", "Clothing > Shirts", ("44.99", "49.99", "54.99"), (0.3, 0.4),
         "UPF 50+ knit with a scuba hood and thumb loops for long, exposed days above treeline.",
         ("sun-protection",), ("S", "M", "L", "XL")),
    Kind("Trail Running Shoes", "TRS", "Footwear > Trail runners", ("119.99", "139.99", "149.99"), (1.3, 1.7),
         "A grippy 5 mm lug outsole, rock plate and roomy toe box for technical miles.",
         ("footwear",), ("7", "8", "9", "10", "11", "12")),
    Kind("Hiking Socks", "HSK", "Footwear > Socks", ("19.99", "22.99", "24.99"), (0.1, 0.2),
         "Cushioned merino blend with a seamless toe to keep blisters away on long days.",
         ("merino",), ("S", "M", "L")),
]  # fmt: skip

GEAR = [
    Kind("2-Person Tent", "T2P", "Camping > Tents", ("249.99", "299.99", "349.99"), (3.4, 4.6),
         "A freestanding double-wall tent with two doors, two vestibules and a 40-second pitch.",
         ("backpacking", "3-season")),
    Kind("45L Backpack", "B45", "Packs > Backpacks", ("159.99", "189.99", "209.99"), (2.4, 3.1),
         "A ventilated trampoline back panel, adjustable torso and a lid that converts to a summit pack.",
         ("backpacking",)),
    Kind("20°F Sleeping Bag", "S20", "Camping > Sleeping bags", ("179.99", "219.99", "259.99"), (2.1, 2.9),
         "A mummy bag with a draft collar and a full-length two-way zip, rated to 20°F (-7°C).",
         ("3-season",)),
    Kind("Trekking Poles", "TPL", "Hiking > Poles", ("89.99", "109.99", "129.99"), (0.9, 1.2),
         "Aluminium three-section poles with lever locks and cork grips that wick sweat.",
         ("hiking",)),
    Kind("Headlamp", "HLP", "Hiking > Lighting", ("34.99", "44.99", "59.99"), (0.1, 0.2),
         "300 lumens, a red night mode and a USB-C rechargeable battery that lasts a long weekend.",
         ("lighting", "usb-c")),
    Kind("Insulated Bottle 750 ml", "B75", "Camping > Hydration", ("29.99", "34.99", "39.99"), (0.8, 1.0),
         "Double-wall stainless steel keeps water cold for 24 hours or coffee hot until the summit.",
         ("hydration",)),
    Kind("Camp Stove", "CST", "Camping > Kitchen", ("49.99", "59.99", "69.99"), (0.2, 0.4),
         "A canister stove that boils a litre in three and a half minutes and folds to the size of an egg.",
         ("cooking", "ultralight")),
    Kind("Titanium Spork", "SPK", "Camping > Kitchen", ("11.99", "12.99", "14.99"), (0.03, 0.05),
         "One utensil for the whole trip: 17 grams of titanium that never bends.",
         ("cooking", "ultralight")),
    Kind("Sleeping Pad", "SPD", "Camping > Sleeping pads", ("99.99", "129.99", "149.99"), (0.9, 1.3),
         "An insulated air pad (R-value 4.2) that packs down to the size of a water bottle.",
         ("3-season",)),
    Kind("Water Filter", "WFL", "Camping > Hydration", ("39.99", "44.99", "49.99"), (0.2, 0.3),
         "A 0.1-micron hollow-fibre squeeze filter that screws onto standard bottles.",
         ("hydration",)),
    Kind("Camp Chair", "CCH", "Camping > Furniture", ("89.99", "99.99", "119.99"), (1.8, 2.4),
         "A shock-corded aluminium frame chair that sets up in seconds and holds 145 kg.",
         ("camp-comfort",)),
    Kind("Dry Bag 20L", "D20", "Packs > Dry bags", ("24.99", "27.99", "29.99"), (0.2, 0.3),
         "Roll-top, welded seams and a D-ring: what goes in stays dry on the river.",
         ("waterproof",)),
]  # fmt: skip


def demo_catalog_csv(count: int = 60, seed: int = DEFAULT_SEED) -> str:
    """The text of a WooCommerce product CSV with ``count`` products (variation rows come on top).

    About 40% of the simple/variable products are variable (apparel and
    footwear with Color × Size variations, each with its own stock, some at
    0); the rest are simple gear. There is always one grouped product (a kit
    of three simple products), one external product (sold on a partner's
    site) and one downloadable, virtual product (a PDF guide). About a
    quarter of the prices are on sale; a few products are drafts.
    """
    if count < MIN_COUNT:
        raise ValueError(f"count must be at least {MIN_COUNT}, got {count}")
    rng = random.Random(seed)
    writer = _Writer()
    regular = count - 3
    variable_count = max(1, round(regular * 0.4))
    simple_count = regular - variable_count

    models = _models(rng, APPAREL, variable_count) + _models(rng, GEAR, simple_count)
    rng.shuffle(models)
    simple_skus = []
    for model in models:
        if model.kind.sizes:
            _variable(writer, rng, model)
        else:
            simple_skus.append(_simple(writer, rng, model))

    _grouped(writer, simple_skus[:3])
    _external(writer)
    _downloadable(writer)
    return "\ufeff" + writer.text()


class _Writer:
    def __init__(self):
        self.buffer = io.StringIO()
        self.csv = csv.writer(self.buffer, lineterminator="\n")
        self.csv.writerow(HEADER)
        self.next_id = 100

    def row(self, **cells) -> int:
        row_id = self.next_id
        self.next_id += 1
        defaults = {
            "ID": row_id, "Published": 1, "Is featured?": 0, "Visibility in catalog": "visible",
            "Tax status": "taxable", "In stock?": 1, "Backorders allowed?": 0, "Sold individually?": 0,
            "Allow customer reviews?": 1, "Position": 0,
        }  # fmt: skip
        values = {**defaults, **cells}
        self.csv.writerow(["" if values.get(name) is None else values.get(name, "") for name in HEADER])
        return row_id

    def text(self) -> str:
        return self.buffer.getvalue()


@dataclass(frozen=True)
class _Model:
    """One product line: "Ridgeline Rain Jacket", or "Ridgeline Rain Jacket Mk 2" once every pair is used."""

    kind: Kind
    series: str
    generation: int = 1

    @property
    def name(self) -> str:
        return f"{self.series} {self.kind.name}" + (f" Mk {self.generation}" if self.generation > 1 else "")

    @property
    def sku(self) -> str:
        """RID-RJK for the Ridgeline Rain Jacket, RID-RJK-2 for its Mk 2."""
        return f"{self.series[:3].upper()}-{self.kind.code}" + (f"-{self.generation}" if self.generation > 1 else "")

    @property
    def slug(self) -> str:
        return slugify(self.name)


def _models(rng: random.Random, kinds: list[Kind], how_many: int) -> list[_Model]:
    """``how_many`` distinct product lines in a seeded random order (any count works)."""
    picked: list[_Model] = []
    generation = 1
    while len(picked) < how_many:
        batch = [_Model(kind, series, generation) for kind in kinds for series in SERIES]
        rng.shuffle(batch)
        picked += batch[: how_many - len(picked)]
        generation += 1
    return picked


def _price(rng: random.Random, kind: Kind) -> tuple[Decimal, Decimal | None]:
    """(regular, sale or None): a quarter of the prices are on sale, at a .99 price 15–30% lower."""
    regular = Decimal(rng.choice(kind.prices))
    if rng.random() >= 0.25:
        return regular, None
    cut = Decimal(rng.choice(["0.70", "0.75", "0.80", "0.85"]))
    sale = (regular * cut).quantize(Decimal("1"), rounding=ROUND_FLOOR) - Decimal("0.01")
    return regular, (sale if Decimal("0") < sale < regular else None)


def _weight(rng: random.Random, kind: Kind) -> str:
    low, high = kind.weight_lbs
    return f"{rng.uniform(low, high):.2f}"


def _stock(rng: random.Random, high: int, sold_out: float) -> int:
    return 0 if rng.random() < sold_out else rng.randint(1, high)


def _image(slug: str, suffix: str = "1") -> str:
    return f"https://images.example.com/products/{slug}-{suffix}.jpg"


def _common(rng: random.Random, model: _Model) -> dict:
    kind = model.kind
    return {
        "Name": model.name,
        "Published": 0 if rng.random() < 0.05 else 1,
        "Is featured?": 1 if rng.random() < 0.15 else 0,
        "Short description": kind.blurb,
        "Description": f"{kind.blurb} Part of our {model.series} line, tested on long weekends and longer trips. "
        "Backed by our two-year guarantee.",
        "Categories": kind.category,
        "Tags": ", ".join((*kind.tags, model.series.lower())),
    }


def _simple(writer: _Writer, rng: random.Random, model: _Model) -> str:
    regular, sale = _price(rng, model.kind)
    stock = _stock(rng, 60, 0.12)
    images = [_image(model.slug), _image(model.slug, "2")] if rng.random() < 0.5 else [_image(model.slug)]
    writer.row(
        Type="simple",
        SKU=model.sku,
        **_common(rng, model),
        **{
            "In stock?": 1 if stock else 0,
            "Stock": stock,
            "Weight (lbs)": _weight(rng, model.kind),
            "Regular price": regular,
            "Sale price": sale,
            "Images": ", ".join(images),
        },
    )
    return model.sku


def _variable(writer: _Writer, rng: random.Random, model: _Model) -> None:
    colors = sorted(rng.sample(COLORS, rng.choice([2, 3])), key=COLORS.index)
    sizes = list(model.kind.sizes)
    regular, sale = _price(rng, model.kind)
    writer.row(
        Type="variable",
        SKU=model.sku,
        **_common(rng, model),
        **{
            "Weight (lbs)": _weight(rng, model.kind),
            "Images": ", ".join(_image(model.slug, slugify(color)) for color in colors),
            "Attribute 1 name": "Color",
            "Attribute 1 value(s)": ", ".join(colors),
            "Attribute 1 visible": 1,
            "Attribute 1 global": 1,
            "Attribute 2 name": "Size",
            "Attribute 2 value(s)": ", ".join(sizes),
            "Attribute 2 visible": 1,
            "Attribute 2 global": 1,
        },
    )
    position = 0
    for color in colors:
        for size in sizes:
            position += 1
            stock = _stock(rng, 25, 0.2)
            # The largest sizes cost a little more; a product on sale is on sale in every variation.
            upcharge = Decimal("10.00") if size in ("XL", "36", "12") and regular >= 50 else Decimal("0")
            writer.row(
                Type="variation",
                SKU=f"{model.sku}-{slugify(color).upper().replace('-', '')[:5]}-{size}",
                Name=f"{model.name} - {color}, {size}",
                Parent=model.sku,
                Position=position,
                **{
                    "In stock?": 1 if stock else 0,
                    "Stock": stock,
                    "Allow customer reviews?": 0,
                    "Regular price": regular + upcharge,
                    "Sale price": sale + upcharge if sale is not None else None,
                    "Images": _image(model.slug, slugify(color)),
                    "Attribute 1 name": "Color",
                    "Attribute 1 value(s)": color,
                    "Attribute 1 global": 1,
                    "Attribute 2 name": "Size",
                    "Attribute 2 value(s)": size,
                    "Attribute 2 global": 1,
                },
            )


def _grouped(writer: _Writer, children: list[str]) -> None:
    writer.row(
        Type="grouped",
        SKU="KIT-CAMP-KITCHEN",
        Name="Backcountry Kitchen Kit",
        **{
            "Short description": "Everything to cook a hot dinner miles from the trailhead.",
            "Description": "Our favourite pieces for the trail kitchen, sold together or one at a time. "
            "Pick what you are missing.",
            "Categories": "Camping > Kitchen",
            "Tags": "cooking, kit",
            "Images": _image("backcountry-kitchen-kit"),
            "Grouped products": ", ".join(children),
        },
    )


def _external(writer: _Writer) -> None:
    writer.row(
        Type="external",
        SKU="PARTNER-SOLAR-21W",
        Name="SunTrail 21 W Solar Panel",
        **{
            "Short description": "Foldable solar charging for phones, headlamps and GPS units.",
            "Description": "A 21 W foldable panel with two USB outputs, made and shipped by our partner SunTrail.",
            "Regular price": "89.99",
            "Categories": "Hiking > Electronics",
            "Tags": "solar, usb-c",
            "Images": _image("suntrail-21w-solar-panel"),
            "External URL": "https://partner.example.com/products/suntrail-21w-solar-panel",
            "Button text": "Buy from SunTrail",
        },
    )


def _downloadable(writer: _Writer) -> None:
    writer.row(
        Type="simple, downloadable, virtual",
        SKU="GUIDE-NAV-PDF",
        Name="Backcountry Navigation Guide (PDF)",
        **{
            "Short description": "Map, compass and GPS skills in 64 illustrated pages.",
            "Description": "Learn to read contour lines, take a bearing and find yourself again when the trail "
            "disappears under snow. Delivered as a PDF you can keep on your phone offline.",
            "Regular price": "14.99",
            "Sale price": "9.99",
            "Categories": "Guides",
            "Tags": "navigation, ebook",
            "Images": _image("backcountry-navigation-guide"),
            "Download limit": -1,
            "Download expiry days": -1,
            "Download 1 name": "Backcountry Navigation Guide (PDF)",
            "Download 1 URL": "https://downloads.example.com/guides/backcountry-navigation-guide.pdf",
            "Download 2 name": "Printable compass card (PDF)",
            "Download 2 URL": "https://downloads.example.com/guides/compass-card.pdf",
        },
    )
