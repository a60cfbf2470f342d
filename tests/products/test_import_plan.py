"""Preview, then apply (issue 12, items 1–4): the plan writes nothing, applying runs exactly the plan
previewed, imports obey the approval rules, merge never empties or removes, products are never matched
by name. Real parts: the database, the job runner, the approvals service; assertions on stored state."""

import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from agents import runner
from agents.models import Job
from approvals.choices import ChangeAction, RequestStatus
from approvals.models import ApprovalRequest
from approvals.services import decide
from flashfusion.models import Membership
from products import imports
from products.models import CatalogImport, Product
from stores.models import Listing
from tests.factories import ProductFactory, StoreFactory, VariantFactory

Status = CatalogImport.Status
HEADER = ("ID,Type,SKU,Name,Published,Short description,Description,Regular price,Sale price,Stock,Parent,"
          "Attribute 1 name,Attribute 1 value(s)\n")


def woo(*rows: str) -> str:
    return HEADER + "".join(row + "\n" for row in rows)


def tent(org, price="25.00", **fields):
    """A variable product TENT with two variants, as a previous import left it."""
    product = ProductFactory(organization=org, handle="tent", sku="TENT", title="Tent", kind="variable",
                             short_description="Sleeps two", options=[{"name": "Color", "values": ["Red", "Blue"]}],
                             **fields)
    VariantFactory(product=product, sku="TENT-RED", position=1, price=Decimal(price), stock=3,
                   option_values={"Color": "Red"}, barcode="4006381333931")
    VariantFactory(product=product, sku="TENT-BLUE", position=2, price=Decimal(price), stock=4,
                   option_values={"Color": "Blue"})
    return product


TENT_PARENT = "1,variable,TENT,Tent,1,,A tent,,,,,Color,\"Red, Blue\""


def plan_of(org, user, text, mode="merge") -> CatalogImport:
    catalog_import = imports.start_import(org, format="woocommerce", filename="catalog.csv", text=text, mode=mode,
                                          user=user)
    assert runner.execute(catalog_import.job_id) == "succeeded"
    catalog_import.refresh_from_db()
    return catalog_import


def test_the_plan_writes_nothing_and_applying_runs_it(org, operator):
    product = tent(org)
    before = product.content_hash()
    text = woo(TENT_PARENT, "2,variation,TENT-RED,Tent Red,1,,,24.00,,5,TENT,Color,Red",
               "3,simple,MUG,Mug,1,,,9.50,,10,,,")
    catalog_import = plan_of(org, operator, text)
    assert catalog_import.status == Status.PLANNED
    counts = catalog_import.plan["counts"]
    assert (counts["create"], counts["update"], counts["unchanged"]) == (1, 1, 0)
    assert counts["variants_remove"] == 0  # merge keeps TENT-BLUE, which the file leaves out
    assert not Product.objects.filter(handle="mug").exists() and Product.objects.get(pk=product.pk).content_hash() == before
    assert not catalog_import.plan["approval"]["required"]  # 25.00 → 24.00 is a 4 % drop, under the 20 % rule

    job = imports.confirm_import(catalog_import, catalog_import.fingerprint, operator)
    assert runner.execute(job.pk) == "succeeded"
    catalog_import.refresh_from_db()
    assert catalog_import.status == Status.APPLIED and catalog_import.summary["created"] == 1
    red = product.variants.get(sku="TENT-RED")
    assert (red.price, red.stock, red.barcode) == (Decimal("24.00"), 5, "4006381333931")  # blank barcode kept
    assert product.variants.filter(sku="TENT-BLUE").exists()
    product.refresh_from_db()
    assert product.short_description == "Sleeps two"  # the file leaves it blank: merge keeps it
    assert Product.objects.get(handle="mug").variants.get().price == Decimal("9.50")


def test_a_price_drop_over_the_rule_waits_for_approval_and_nothing_is_written_until_approved(org, operator, manager):
    product = tent(org)
    text = woo(TENT_PARENT, "2,variation,TENT-RED,Tent Red,1,,,2.00,,3,TENT,Color,Red",
               "3,variation,TENT-BLUE,Tent Blue,1,,,25.00,,4,TENT,Color,Blue")
    catalog_import = plan_of(org, operator, text)
    plan = catalog_import.plan
    assert plan["approval"]["required"]
    assert plan["price_drops"] == [{"row": 3, "handle": "tent", "sku": "TENT-RED", "old": "25.00", "new": "2.00",
                                    "percent": "92.0"}]
    assert "TENT-RED drops 92.0%" in plan["approval"]["reasons"][0]

    approval = imports.confirm_import(catalog_import, catalog_import.fingerprint, operator)
    assert isinstance(approval, ApprovalRequest) and approval.action == ChangeAction.IMPORT
    assert approval.status == RequestStatus.PENDING and approval.object_id == catalog_import.pk
    items = approval.after["bulk"]["items"]
    assert [(i["title"], i["action"]) for i in items] == [("Tent", "update")]
    assert [v["price"] for v in items[0]["after"]["variants"]] == ["2.00", "25.00"]
    catalog_import.refresh_from_db()
    assert catalog_import.status == Status.AWAITING_APPROVAL
    assert product.variants.get(sku="TENT-RED").price == Decimal("25.00")
    assert not Job.objects.filter(params__step="apply").exists()

    decide(approval, membership=Membership.objects.get(user=manager), verdict="approve")
    apply_job = Job.objects.get(params__step="apply", params__import_id=catalog_import.pk)
    assert runner.execute(apply_job.pk) == "succeeded"
    catalog_import.refresh_from_db()
    assert catalog_import.status == Status.APPLIED
    assert product.variants.get(sku="TENT-RED").price == Decimal("2.00")


def test_replace_removes_variants_only_after_a_manager_approves_and_a_rejection_writes_nothing(org, operator, manager):
    product = tent(org)
    text = woo(TENT_PARENT, "2,variation,TENT-RED,Tent Red,1,,,25.00,,3,TENT,Color,Red")
    merge = plan_of(org, operator, text)
    assert merge.plan["counts"]["variants_remove"] == 0 and not merge.plan["approval"]["required"]

    replace = plan_of(org, operator, text, mode="replace")
    assert replace.plan["removed_variants"] == [{"handle": "tent", "sku": "TENT-BLUE", "title": "Blue"}]
    assert {"row": 2, "handle": "tent", "field": "short_description"} in replace.plan["emptied_fields"]
    assert replace.plan["approval"]["required"]  # no variant delete rule: removing variants waits, as a delete does
    approval = imports.confirm_import(replace, replace.fingerprint, operator)
    decide(approval, membership=Membership.objects.get(user=manager), verdict="reject", comment="Blue still sells")
    replace.refresh_from_db()
    assert replace.status == Status.REJECTED
    assert product.variants.count() == 2 and not Job.objects.filter(params__step="apply").exists()


def test_applying_a_plan_the_catalog_moved_away_from_is_refused(org, operator):
    product = tent(org)
    catalog_import = plan_of(org, operator, woo(TENT_PARENT, "2,variation,TENT-RED,Tent Red,1,,,24.00,,3,TENT,Color,Red"))
    with pytest.raises(imports.ImportRefused, match="changed since the preview"):
        imports.confirm_import(catalog_import, "0" * 64, operator)
    job = imports.confirm_import(catalog_import, catalog_import.fingerprint, operator)
    Product.objects.filter(pk=product.pk).update(title="Tent (edited meanwhile)", updated_at="2030-01-01T00:00:00Z")

    assert runner.execute(job.pk) == "refused"
    catalog_import.refresh_from_db()
    assert catalog_import.status == Status.FAILED
    assert product.variants.get(sku="TENT-RED").price == Decimal("25.00")
    assert Product.objects.get(pk=product.pk).title == "Tent (edited meanwhile)"


def test_a_product_without_sku_is_never_matched_by_name(org, operator):
    """The Beanie defect: a new blank-SKU "Beanie" overwrote the catalog's Beanie (price 18 → 99)."""
    beanie = ProductFactory(organization=org, handle="beanie", sku="", title="Beanie", description="Warm")
    VariantFactory(product=beanie, sku="", price=Decimal("18.00"))
    catalog_import = plan_of(org, operator, woo("7,simple,,Beanie,1,,Another beanie,99.00,,,,,"))
    assert catalog_import.plan["counts"]["create"] == 1 and catalog_import.plan["counts"]["update"] == 0
    assert catalog_import.plan["renamed"] == {"beanie": "beanie-2"}
    assert any("never matched by name" in w["message"] for w in catalog_import.plan["warnings"])
    runner.execute(imports.confirm_import(catalog_import, catalog_import.fingerprint, operator).pk)
    beanie.refresh_from_db()
    assert (beanie.description, beanie.variants.get().price) == ("Warm", Decimal("18.00"))
    assert Product.objects.get(handle="beanie-2").variants.get().price == Decimal("99.00")


def test_the_plan_counts_each_store_that_republishes(org, operator):
    product = tent(org)
    store = StoreFactory(organization=org, name="Acme Woo")
    Listing.objects.create(organization=org, store=store, product=product, external_id="101")
    catalog_import = plan_of(org, operator, woo(TENT_PARENT, "2,variation,TENT-RED,Tent Red,1,,,24.00,,3,TENT,Color,Red"))
    [cost] = catalog_import.plan["stores"]
    assert (cost["store"], cost["listings"]) == ("Acme Woo", 1) and cost["calls"] >= 1 and cost["basis"]

    job = imports.confirm_import(catalog_import, catalog_import.fingerprint, operator)
    assert runner.execute(job.pk) == "succeeded"
    [sync] = Job.objects.filter(kind="store.publish", store=store)  # the store is asked to take the change
    job.refresh_from_db()
    assert sync.params["trigger"] == "catalog" and any("Asked Acme Woo for an incremental sync" in line for line in job.log)


def test_the_command_line_dry_run_prints_the_plan_as_json_and_writes_nothing(org, tmp_path, capsys):
    tent(org)
    path = tmp_path / "catalog.csv"
    path.write_text(woo(TENT_PARENT, "2,variation,TENT-RED,Tent Red,1,,,2.00,,3,TENT,Color,Red",
                        "3,simple,MUG,Mug,1,,,9.50,,10,,,"))
    call_command("import_catalog", str(path), "--organization", "acme", "--dry-run", "--json")
    plan = json.loads(capsys.readouterr().out)
    assert plan["counts"]["create"] == 1 and plan["counts"]["update"] == 1
    assert plan["price_drops"][0]["sku"] == "TENT-RED" and plan["approval"]["required"]
    assert plan["errors"] == []
    assert not Product.objects.filter(handle="mug").exists() and not CatalogImport.objects.exists()


def test_the_command_line_refuses_a_bad_file_with_rows_and_columns(org, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text(woo("3,simple,MUG,,1,,,9.50,,10,,,"))
    with pytest.raises(SystemExit) as exit_:
        call_command("import_catalog", str(path), "--organization", "acme", "--dry-run", "--json")
    assert exit_.value.code == 1
    [error] = json.loads(capsys.readouterr().out)["errors"]
    assert (error["row"], error["column"]) == (2, "Name") and error["message"]
    assert not Product.objects.exists()


def test_the_command_line_applies_or_says_it_waits_for_approval(org, operator, tmp_path, capsys):
    product = tent(org)
    path = tmp_path / "catalog.csv"
    path.write_text(woo("3,simple,MUG,Mug,1,,,9.50,,10,,,"))
    call_command("import_catalog", str(path), "--organization", "acme")
    assert "1 created" in capsys.readouterr().out
    assert Product.objects.get(handle="mug").variants.get().stock == 10

    path.write_text(woo(TENT_PARENT, "2,variation,TENT-RED,Tent Red,1,,,2.00,,3,TENT,Color,Red"))
    call_command("import_catalog", str(path), "--organization", "acme", "--user", operator.username)
    out = capsys.readouterr().out
    assert "waits for approval" in out and "TENT-RED drops 92.0%" in out
    assert product.variants.get(sku="TENT-RED").price == Decimal("25.00")
    assert ApprovalRequest.objects.get(action=ChangeAction.IMPORT).requested_by == operator
