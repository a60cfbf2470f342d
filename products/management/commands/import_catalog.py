"""``manage.py import_catalog PATH --organization SLUG``: the import page's code path, for operators and scripts.

``--dry-run`` validates and plans the file against the catalog and writes nothing (no import is kept);
``--json`` prints one JSON object: the plan (``products.importers.planning``), or ``{"errors": [...]}``.
Without ``--dry-run`` the file is kept and its import runs in this process exactly as a worker runs it
(``products.imports``): applied, or held for approval when a rule matches (and the command says which).
Exit status: 0 planned / applied / waiting for approval, 1 the file was refused, 2 bad arguments.
"""

import hashlib
import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from flashfusion.models import Organization
from products.importers import ImportValidationError, check_against_catalog, detect_format, parse_catalog
from products.models import CatalogImport


class Command(BaseCommand):
    help = "Import a WooCommerce, Shopify or Magento 2 product CSV into an organization's catalog."

    def add_arguments(self, parser):
        parser.add_argument("path", help="the CSV file to import")
        parser.add_argument("--organization", required=True, help="the organization's slug")
        parser.add_argument("--format", choices=CatalogImport.Format.values,
                            help="the file's format (default: read from its header)")
        parser.add_argument("--mode", choices=CatalogImport.Mode.values, default=CatalogImport.Mode.MERGE,
                            help="merge (default): keep what the file leaves blank and every variant it does not "
                                 "list; replace: the products as the file has them")
        parser.add_argument("--dry-run", action="store_true", help="plan only: print what would change, write nothing")
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of sentences")
        parser.add_argument("--user", help="the username the import is made as (its requester for approvals)")

    def handle(self, *args, **options):
        path, organization, format, mode = options["path"], options["organization"], options["format"], options["mode"]
        user, as_json = options["user"], options["json"]
        source = Path(path)
        if not source.is_file():
            raise CommandError(f"--path: no file at {path}; give the path of a product CSV.")
        org = Organization.objects.filter(slug=organization).first()
        if org is None:
            raise CommandError(f"--organization: no organization with the slug {organization!r}.")
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"--user: no user named {user!r}.")
        if format is None:
            with source.open(encoding="utf-8-sig", newline="") as stream:
                format = detect_format(stream)
            if format is None:
                return self._refused([{"row": 1, "column": "", "message": (
                    "not a supported format: we read WooCommerce CSV, Shopify CSV, Magento 2 CSV "
                    "(see docs/import-formats.md for each format's columns)")}], as_json)
        if options["dry_run"]:
            return self._dry_run(org, source, format, mode, as_json)
        return self._import(org, source, format, mode, actor, as_json)

    def _dry_run(self, org, source: Path, format: str, mode: str, as_json: bool):
        from products.imports import make_plan

        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        warnings: list = []
        try:
            with source.open(encoding="utf-8-sig", newline="") as stream:
                products = parse_catalog(format, stream, warnings=warnings)
            check_against_catalog(org, products)
        except ImportValidationError as exc:
            return self._refused([vars(e) for e in exc.errors], as_json)
        unsaved = CatalogImport(organization=org, format=format, mode=mode, filename=source.name, sha256=digest)
        plan = make_plan(unsaved, products, warnings).as_json()
        plan["errors"] = []
        if as_json:
            self.stdout.write(json.dumps(plan, default=str))
            return
        counts = plan["counts"]
        self.stdout.write(_counts_sentence(counts) + " Dry run: nothing was written.")
        for warning in plan["warnings"]:
            self.stdout.write(f"warning: row {warning['row']}, {warning['column']}: {warning['message']}")
        if plan["approval"]["required"]:
            self.stdout.write("Applying it would wait for approval: " + "; ".join(plan["approval"]["reasons"]))

    def _import(self, org, source: Path, format: str, mode: str, actor, as_json: bool):
        from agents import runner
        from products.imports import start_import

        with source.open("rb") as handle:
            catalog_import = start_import(org, format=format, filename=source.name, file=handle,
                                          mode=mode, user=actor, preview=False)
        runner.execute(catalog_import.job_id)
        catalog_import.refresh_from_db()
        status = catalog_import.status
        if status == CatalogImport.Status.REFUSED:
            return self._refused(catalog_import.summary.get("errors") or [], as_json)
        outcome = {"import_id": catalog_import.pk, "status": status, "plan": catalog_import.plan,
                   "summary": catalog_import.summary, "approval_id": catalog_import.approval_id}
        if as_json:
            self.stdout.write(json.dumps(outcome, default=str))
        elif status == CatalogImport.Status.APPLIED:
            s = catalog_import.summary
            self.stdout.write(f"Applied import #{catalog_import.pk}: {s['created']} created, {s['updated']} updated, "
                              f"{s['unchanged']} unchanged.")
        elif status == CatalogImport.Status.AWAITING_APPROVAL:
            self.stdout.write(f"Import #{catalog_import.pk} waits for approval (request #{catalog_import.approval_id}): "
                              + "; ".join(catalog_import.plan["approval"]["reasons"]) + ". Nothing was written.")
        else:
            job = catalog_import.job
            raise CommandError(f"Import #{catalog_import.pk} ended “{catalog_import.get_status_display()}”: "
                               f"{job.error if job else 'no job'}")

    def _refused(self, errors: list[dict], as_json: bool):
        if as_json:
            self.stdout.write(json.dumps({"errors": errors}, default=str))
        else:
            for error in errors:
                self.stderr.write(f"row {error['row']}, {error['column'] or '—'}: {error['message']}")
            self.stderr.write(f"Nothing was imported: {len(errors)} problem{'s' if len(errors) != 1 else ''} in the file.")
        raise SystemExit(1)


def _counts_sentence(counts: dict) -> str:
    return (f"{counts['create']} to create, {counts['update']} to update, {counts['unchanged']} unchanged; "
            f"variants: {counts['variants_create']} new, {counts['variants_update']} changed, "
            f"{counts['variants_remove']} removed.")
