"""Import pages: the upload form, the preview of a stored plan, Apply / Check again, honest statuses.

Most previews are drawn from a stored ``CatalogImport.plan`` (the shape of ``products.importers.planning``),
so these tests check what the pages draw and what they refuse; applying goes through a real upload, its
plan job and its apply job, and asserts on stored state.
"""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from agents.models import Job
from products import import_views
from products.models import CatalogImport, Product

FINGERPRINT = "a" * 64

WOO_HEADER = "ID,Type,SKU,Name,Published,Regular price,Sale price,Parent,Attribute 1 name,Attribute 1 value(s)\n"


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def table_of(html: str, label: str) -> str:
    """The text of the table with ``aria-label=label`` (fails when the page has none)."""
    match = re.search(rf'<table[^>]*aria-label="{re.escape(label)}".*?</table>', html, re.S)
    assert match, f"no table “{label}” on the page"
    return text_of(match.group(0))


def sample_plan(mode="merge") -> dict:
    """A plan as the plan step stores it: 2 products created, 1 updated (a price drop, a removed variant), 1 left."""
    return {
        "format": "woocommerce", "mode": mode,
        "counts": {"products": 4, "create": 2, "update": 1, "unchanged": 1, "variants_create": 5,
                   "variants_update": 3, "variants_remove": 1, "variants_unchanged": 7},
        "products": [
            {"row": 2, "handle": "hoodie-with-logo", "title": "Hoodie with Logo", "action": "create",
             "product_id": None, "matched_by": None, "fields": ["title", "price"], "emptied": [],
             "variants": {"create": ["woo-hoodie-logo"], "update": [], "remove": []}},
            {"row": 5, "handle": "beanie", "title": "Beanie", "action": "update", "product_id": None,
             "matched_by": "sku", "fields": ["price", "barcode"], "emptied": ["barcode"],
             "variants": {"create": [], "update": ["woo-beanie"], "remove": ["woo-beanie-red"]}},
            {"row": 9, "handle": "cap", "title": "Cap", "action": "unchanged", "product_id": None,
             "matched_by": "handle", "fields": [], "emptied": [], "variants": {"create": [], "update": [], "remove": []}},
        ],
        "price_drops": [{"row": 5, "handle": "beanie", "sku": "woo-beanie", "old": "25.00", "new": "2.00",
                         "percent": "92.0"}],
        "removed_variants": [{"handle": "beanie", "sku": "woo-beanie-red", "title": "Beanie — Red"}],
        "emptied_fields": [{"row": 5, "handle": "beanie", "field": "barcode"}],
        "stores": [{"store_id": 1, "store": "Acme Woo", "platform": "WooCommerce", "listings": 3, "calls": 7,
                    "seconds": 150, "basis": "one batch call per 100 products"}],
        "warnings": [{"row": 7, "column": "SKU", "message": "blank SKU: a new product is created (handle cap-2)"}],
        "approval": {"required": True, "rules": ["Price drop over 20 %"],
                     "reasons": ["beanie: 25.00 → 2.00 (−92.0 %)"]},
    }


def planned_import(org, operator, **fields) -> CatalogImport:
    values = {"organization": org, "format": "woocommerce", "filename": "spring.csv", "created_by": operator,
              "status": CatalogImport.Status.PLANNED, "plan": sample_plan(), "fingerprint": FINGERPRINT}
    values.update(fields)
    return CatalogImport.objects.create(**values)


def csv_upload(text: str, name="catalog.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


# --- the upload form ---------------------------------------------------------------------------------------


def test_form_offers_detection_magento_and_both_modes_merge_first(client, operator):
    client.force_login(operator)
    response = client.get(reverse("products:import"))
    form = response.context["form"]
    assert form.fields["format"].choices[0] == ("", "Detect from the header")
    assert "magento" in dict(form.fields["format"].choices)
    assert form["mode"].value() == "merge"
    html = response.content.decode()
    assert 'type="radio" name="mode"' in html and "<legend" in html
    assert "Merge (keep what the file leaves blank, never remove variants)" in html
    assert "Replace products as the file has them (removes variants the file does not list" in html
    assert "up to 200 MiB" in html


def test_a_file_over_the_limit_is_refused_naming_the_limit_in_mib(client, operator, settings):
    settings.CATALOG_IMPORT_MAX_BYTES = 1024 * 1024
    client.force_login(operator)
    big = WOO_HEADER + "x" * (1024 * 1024)
    response = client.post(reverse("products:import"), {"file": csv_upload(big), "mode": "merge"})
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [
        "The file is larger than 1 MiB (the upload limit); split it into smaller files."]
    assert 'id="id_file_error"' in response.content.decode()
    assert not CatalogImport.objects.exists()


def test_an_unsupported_file_says_what_is_read_and_links_the_formats_page(client, operator, monkeypatch):
    monkeypatch.setattr(import_views, "formats_url", lambda: "/products/import/formats/")
    client.force_login(operator)
    response = client.post(reverse("products:import"),
                           {"file": csv_upload('{"products": []}\n', "catalog.json"), "mode": "merge"})
    error = response.context["form"].errors["format"][0]
    assert error.startswith("Not a supported format: we read WooCommerce CSV, Shopify CSV, Magento 2 CSV.")
    html = response.content.decode()
    assert 'id="id_format_error"' in html and 'href="/products/import/formats/"' in html
    assert not CatalogImport.objects.exists() and not Job.objects.exists()


def test_the_formats_link_is_left_out_when_that_page_is_not_installed(client, operator, monkeypatch):
    monkeypatch.setattr(import_views, "formats_url", lambda: None)
    client.force_login(operator)
    response = client.post(reverse("products:import"), {"file": csv_upload("a;b;c\n1;2;3\n"), "mode": "merge"})
    assert response.status_code == 200 and "Not a supported format" in response.content.decode()


def test_upload_stores_the_import_with_its_mode_and_opens_its_preview(client, org, operator):
    client.force_login(operator)
    text = WOO_HEADER + "1,simple,CAP-1,Cap,1,18,,,,\n"
    response = client.post(reverse("products:import"), {"file": csv_upload(text), "mode": "replace"})
    catalog_import = CatalogImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("products:import_detail", args=[catalog_import.pk])
    assert (catalog_import.organization, catalog_import.format, catalog_import.mode) == (org, "woocommerce", "replace")
    assert catalog_import.job is not None and catalog_import.job.params["import_id"] == catalog_import.pk
    assert not Product.objects.exists()  # nothing is written before a worker runs (and, with plans, before Apply)


# --- the preview ---------------------------------------------------------------------------------------------


def test_preview_draws_the_stored_plan(client, org, operator):
    catalog_import = planned_import(org, operator)
    client.force_login(operator)
    html = client.get(reverse("products:import_detail", args=[catalog_import.pk])).content.decode()
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', html))
    assert counts == {"create": "2", "update": "1", "unchanged": "1", "variants_remove": "1"}
    assert "Ready to apply" in html and "Waiting for a worker" not in html
    assert "Beanie — Red" in table_of(html, "Variants the file would remove")
    assert "5 beanie woo-beanie 25.00 USD 2.00 USD −92.0 %" in table_of(html, "Prices that would drop")
    assert "5 beanie barcode" in table_of(html, "Fields the file would empty")
    assert "Acme Woo WooCommerce 3 ≈ 7 about 2 min" in table_of(html, "Listings to republish and API calls per store")
    assert "7 SKU blank SKU: a new product is created (handle cap-2)" in table_of(html, "Warnings about the file")
    changes = table_of(html, "Products that change")
    assert "Hoodie with Logo" in changes and "Beanie" in changes and "Cap" not in changes
    assert "Price drop over 20 %" in html and "needs a manager's approval" in html
    apply_form = re.search(r'<form method="post" action="([^"]+)">.*?</form>', html, re.S)
    assert apply_form.group(1) == reverse("products:import_apply", args=[catalog_import.pk])
    assert f'name="fingerprint" value="{FINGERPRINT}"' in apply_form.group(0)
    assert "Apply this plan" in apply_form.group(0)
    assert reverse("products:import_replan", args=[catalog_import.pk]) in html


def test_viewer_sees_the_preview_without_the_buttons(client, org, operator, viewer):
    catalog_import = planned_import(org, operator)
    client.force_login(viewer)
    html = client.get(reverse("products:import_detail", args=[catalog_import.pk])).content.decode()
    assert 'data-count="create">2<' in html and "Apply this plan" not in html and "Check again" not in html


def test_it_rejects_outsider(client, org, operator, outsider):
    catalog_import = planned_import(org, operator)
    client.force_login(outsider)
    assert client.get(reverse("products:import_detail", args=[catalog_import.pk])).status_code == 404
    assert client.post(reverse("products:import_apply", args=[catalog_import.pk]),
                       {"fingerprint": FINGERPRINT}).status_code == 404
    assert CatalogImport.objects.get().status == CatalogImport.Status.PLANNED


def test_refused_import_lists_row_column_problem_in_plain_words(client, org, operator):
    errors = [{"row": 4, "column": "Name", "message": "the product needs a name"},
              {"row": 9, "column": "Regular price", "message": "“abc” is not a price; write it like 19.99"}]
    catalog_import = CatalogImport.objects.create(
        organization=org, format="woocommerce", filename="bad.csv", status=CatalogImport.Status.REFUSED,
        summary={"errors": errors})
    client.force_login(operator)
    html = client.get(reverse("products:import_detail", args=[catalog_import.pk])).content.decode()
    problems = table_of(html, "Problems to fix in the file")
    assert problems.startswith("Row Column Problem")
    assert "4 Name the product needs a name" in problems and "9 Regular price" in problems
    assert "Nothing was imported: 2 problems in the file" in text_of(html)
    assert "Waiting for a worker" not in html and "ImportValidationError" not in html
    assert "Apply this plan" not in html


def test_an_import_refused_by_its_job_never_says_waiting(client, org, operator):
    """Item 10: an import whose status was never moved (made before statuses, or a worker that only ended
    its job) but whose job refused the file reads "Refused" with its problems, on its page and in the list."""
    job = Job.objects.create(organization=org, kind="catalog.import", status="refused",
                             result={"input_errors": [{"row": 3, "column": "SKU", "message": "SKU used twice"}],
                                     "input_error_count": 1})
    catalog_import = CatalogImport.objects.create(organization=org, format="shopify", filename="cut.csv", job=job)
    assert catalog_import.status == CatalogImport.Status.UPLOADED
    client.force_login(operator)
    html = client.get(reverse("products:import_detail", args=[catalog_import.pk])).content.decode()
    assert 'data-import-status="refused"' in html and "3 SKU SKU used twice" in table_of(html, "Problems to fix in the file")
    listing = client.get(reverse("products:import")).content.decode()
    assert 'data-import-status="refused"' in listing
    assert "Waiting for a worker" not in html + listing and "queued for checking" not in listing


def test_an_import_whose_job_died_reads_failed(client, org, operator):
    job = Job.objects.create(organization=org, kind="catalog.import", status="dead",
                             error="worker stopped answering, lease expired")
    catalog_import = CatalogImport.objects.create(organization=org, format="shopify", filename="big.csv", job=job,
                                                  status=CatalogImport.Status.APPLYING,
                                                  checkpoint={"chunks_done": 3, "counts": {}})
    client.force_login(operator)
    html = client.get(reverse("products:import_detail", args=[catalog_import.pk])).content.decode()
    assert 'data-import-status="failed"' in html and "3 chunks had been written" in html
    assert "Waiting for a worker" not in html and "hx-trigger" not in html.split('id="import-preview"')[1][:300]


def test_the_page_listens_for_changes_only_while_the_import_moves(client, org, operator):
    moving = CatalogImport.objects.create(organization=org, format="woocommerce", filename="a.csv",
                                          status=CatalogImport.Status.PLANNING)
    settled = planned_import(org, operator)
    client.force_login(operator)
    head = '<div id="import-preview"'
    moving_html = client.get(reverse("products:import_detail", args=[moving.pk])).content.decode()
    tag = moving_html[moving_html.index(head):].split(">", 1)[0]
    assert 'hx-trigger="jobs-changed from:body' in tag and 'hx-select="#import-preview"' in tag
    assert 'ws-connect="/ws/live/?regions=jobs,approvals"' in moving_html
    settled_html = client.get(reverse("products:import_detail", args=[settled.pk])).content.decode()
    assert "hx-trigger" not in settled_html[settled_html.index(head):].split(">", 1)[0]


def test_import_list_shows_status_words_and_links_each_import(client, org, operator):
    planned = planned_import(org, operator)
    applied = CatalogImport.objects.create(organization=org, format="shopify", filename="done.csv",
                                           status=CatalogImport.Status.APPLIED,
                                           summary={"created": 3, "updated": 1, "unchanged": 0})
    client.force_login(operator)
    html = client.get(reverse("products:import")).content.decode()
    for item in (planned, applied):
        assert f'href="{reverse("products:import_detail", args=[item.pk])}"' in html
    assert "Ready to apply" in html and "would create 2 · update 1 · leave 1" in html
    assert "Applied" in html and "3 created · 1 updated · 0 unchanged" in html


# --- apply and check again -------------------------------------------------------------------------------------


def real_plan(org, operator) -> CatalogImport:
    """A real upload through the page, planned by its job: the preview of a one-product file."""
    from agents import runner

    client = Client()
    client.force_login(operator)
    client.post(reverse("products:import"), {"file": csv_upload(WOO_HEADER + "1,simple,CAP-1,Cap,1,18,,,,\n"),
                                             "mode": "merge"})
    catalog_import = CatalogImport.objects.get()
    assert runner.execute(catalog_import.job_id) == "succeeded"
    catalog_import.refresh_from_db()
    assert catalog_import.status == CatalogImport.Status.PLANNED and not Product.objects.exists()
    return catalog_import


def test_apply_with_the_previewed_fingerprint_applies_that_plan(client, org, operator):
    from agents import runner

    catalog_import = real_plan(org, operator)
    client.force_login(operator)
    response = client.post(reverse("products:import_apply", args=[catalog_import.pk]),
                           {"fingerprint": catalog_import.fingerprint})
    assert response["Location"] == reverse("products:import_detail", args=[catalog_import.pk])
    stored = CatalogImport.objects.get()
    assert stored.status == CatalogImport.Status.APPLYING and stored.job.params["step"] == "apply"
    assert runner.execute(stored.job_id) == "succeeded"
    assert Product.objects.get().variants.get().sku == "CAP-1"
    assert CatalogImport.objects.get().status == CatalogImport.Status.APPLIED


def test_apply_with_a_stale_fingerprint_is_refused_and_writes_nothing(client, org, operator):
    catalog_import = real_plan(org, operator)
    client.force_login(operator)
    response = client.post(reverse("products:import_apply", args=[catalog_import.pk]),
                           {"fingerprint": "b" * 64}, follow=True)
    stored = CatalogImport.objects.get()
    assert (stored.status, stored.fingerprint, stored.job_id) == (
        CatalogImport.Status.PLANNED, catalog_import.fingerprint, catalog_import.job_id)
    assert Job.objects.count() == 1 and not Product.objects.exists()
    assert "The catalog changed since the preview; check again." in response.content.decode()


def test_apply_refuses_an_import_that_is_not_ready(client, org, operator):
    catalog_import = planned_import(org, operator, status=CatalogImport.Status.REFUSED)
    client.force_login(operator)
    response = client.post(reverse("products:import_apply", args=[catalog_import.pk]), {"fingerprint": FINGERPRINT},
                           follow=True)
    assert CatalogImport.objects.get().status == CatalogImport.Status.REFUSED and not Job.objects.exists()
    assert "not ready to apply: nothing was written" in response.content.decode()


def test_a_viewer_cannot_apply(client, org, operator, viewer):
    catalog_import = planned_import(org, operator)
    client.force_login(viewer)
    assert client.post(reverse("products:import_apply", args=[catalog_import.pk]),
                       {"fingerprint": FINGERPRINT}).status_code == 403
    assert not Job.objects.exists() and CatalogImport.objects.get().status == CatalogImport.Status.PLANNED


def test_check_again_queues_a_new_plan_of_the_kept_file(client, org, operator):
    catalog_import = planned_import(org, operator)
    client.force_login(operator)
    client.post(reverse("products:import_replan", args=[catalog_import.pk]))
    stored = CatalogImport.objects.get()
    job = Job.objects.get()
    assert (job.kind, job.params) == ("catalog.import", {"import_id": catalog_import.pk, "step": "plan",
                                                         "filename": "spring.csv"})
    assert (stored.job, stored.status, stored.fingerprint, stored.plan) == (job, CatalogImport.Status.UPLOADED, "", {})


def test_check_again_is_refused_while_applying(client, org, operator):
    catalog_import = planned_import(org, operator, status=CatalogImport.Status.APPLYING)
    client.force_login(operator)
    client.post(reverse("products:import_replan", args=[catalog_import.pk]))
    assert not Job.objects.exists() and CatalogImport.objects.get().status == CatalogImport.Status.APPLYING
