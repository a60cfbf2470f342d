"""Create the demo organization, its users, store (its webhooks registered in the emulator) and catalog;
print the logins.

Idempotent: ``scripts/run-demo`` runs it at every start. Passwords are made
once, kept in ``var/demo-credentials.json`` (mode 0600) and reapplied when a
user's password no longer matches the file, so the printed logins always work.
"""

import json
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from flashfusion.choices import Role
from flashfusion.models import Membership, Organization
from stores.choices import Platform
from stores.models import Store

ORGANIZATION_NAME = "Demo Outfitters"
ORGANIZATION_SLUG = "demo"
USERS = [("admin", Role.ADMIN), ("manager", Role.MANAGER), ("operator", Role.OPERATOR)]
STORE = {
    "name": "Demo WooCommerce",
    "platform": Platform.WOOCOMMERCE,
    "base_url": "http://127.0.0.1:8765",
    "consumer_key": "ck_demo",
    "consumer_secret": "cs_demo",
}
CATALOG_FILENAME = "demo-catalog.csv"


def credentials_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.json"


class Command(BaseCommand):
    help = "Create the demo organization, users (admin, manager, operator), WooCommerce store and catalog."

    def handle(self, *args, **options):
        passwords = self._passwords(credentials_path())
        with transaction.atomic():
            organization, created = Organization.objects.get_or_create(
                slug=ORGANIZATION_SLUG, defaults={"name": ORGANIZATION_NAME}
            )
            self._line(f"Organization “{organization.name}” ({'created' if created else 'exists'})")
            users = {username: self._user(organization, username, role, passwords[username]) for username, role in USERS}
            self._schedule_rights(users["admin"])
            self._store(organization)
        self._webhooks(organization)
        self._catalog(organization, users["admin"])

        self.stdout.write("")
        self.stdout.write(f"Demo users (passwords kept in {credentials_path()}):")
        for username, role in USERS:
            self.stdout.write(f"  {username:<9} password: {passwords[username]}   role: {role.label.lower()}")

    def _line(self, text: str) -> None:
        self.stdout.write(f"  {text}")

    def _passwords(self, path: Path) -> dict[str, str]:
        """Read the kept passwords; make the missing ones and write the file (0600)."""
        passwords: dict[str, str] = {}
        if path.exists():
            try:
                loaded = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                self.stderr.write(f"{path} is unreadable ({exc}); making new demo passwords.")
                loaded = {}
            if isinstance(loaded, dict):
                passwords = {k: v for k, v in loaded.items() if isinstance(k, str) and isinstance(v, str) and v}
        missing = [username for username, _role in USERS if username not in passwords]
        for username in missing:
            passwords[username] = secrets.token_urlsafe(12)
        if missing or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(passwords, handle, indent=2)
                handle.write("\n")
            os.replace(tmp, path)
        os.chmod(path, 0o600)
        return passwords

    def _user(self, organization: Organization, username: str, role: str, password: str):
        user, created = get_user_model().objects.get_or_create(username=username)
        if created or not user.check_password(password):
            user.set_password(password)
            user.save()
            self._line(f"User {username}: {'created' if created else 'password reset to the kept one'}")
        membership, made = Membership.objects.get_or_create(
            user=user, organization=organization, defaults={"role": role}
        )
        if not made and membership.role != role:
            membership.role = role
            membership.save(update_fields=["role"])
        return user

    def _schedule_rights(self, user) -> None:
        """The demo runs one merchant on one machine: its admin also runs the installation's schedules.

        Schedules are shared by every organization, so an organization role
        does not grant changing them (``agents.schedules.can_change``); the
        demo admin gets Django's three permissions on ``django_q.Schedule``.
        """
        from django.contrib.auth.models import Permission

        from agents.schedules import PERMISSIONS

        codenames = [perm.split(".", 1)[1] for perm in PERMISSIONS.values()]
        user.user_permissions.add(*Permission.objects.filter(content_type__app_label="django_q", codename__in=codenames))

    def _store(self, organization: Organization) -> None:
        if organization.stores.exists():
            self._line(f"Stores: {', '.join(organization.stores.values_list('name', flat=True))}")
            return
        store = Store(organization=organization, **STORE)
        store.full_clean()
        store.save()
        self._line(f"Store “{store.name}” connected ({store.base_url})")

    def _webhooks(self, organization: Organization) -> None:
        """Register the demo store's webhooks in the emulator (``stores.webhook_registration``), at
        ``PUBLIC_BASE_URL`` (``scripts/run-demo`` sets it to the web server). Safe at every start: ours are
        found again by their URL. A failure (the emulator is not running) is printed, not raised: the store
        page's "Repair webhooks" and the health check try again."""
        from stores.webhook_registration import NotRegistered, register, supports_webhooks

        store = organization.stores.filter(name=STORE["name"]).first()
        if store is None or not supports_webhooks(store):
            return
        try:
            outcome = register(store)
        except NotRegistered as exc:
            self._line(f"Webhooks of “{store.name}”: not registered. {exc}")
            return
        if outcome.ok:
            self._line(f"Webhooks of “{store.name}”: {outcome.summary()} → {outcome.address}")
        else:
            self._line(f"Webhooks of “{store.name}”: not registered ({outcome.summary()}); “Repair webhooks” on "
                       "the store page, or the next health check, tries again")

    def _catalog(self, organization: Organization, admin_user) -> None:
        """Import the demo catalog once: when the organization has no products and no import is under way."""
        from agents.choices import UNFINISHED, JobKind
        from agents.models import Job
        from products.models import Product

        count = Product.objects.filter(organization=organization).count()
        if count:
            self._line(f"Catalog: {count} products")
            return
        pending = Job.objects.filter(
            organization=organization, kind=JobKind.CATALOG_IMPORT, status__in=UNFINISHED
        ).first()
        if pending:
            self._line(f"Catalog: import job #{pending.pk} is {pending.get_status_display().lower()}")
            return
        from products import demo, services

        with transaction.atomic():
            job = services.start_import(
                organization,
                format="woocommerce",
                filename=CATALOG_FILENAME,
                text=demo.demo_catalog_csv(),
                user=admin_user,
            )
        self._line(f"Catalog: import of {CATALOG_FILENAME} queued as job #{job.pk} (the workers run it)")
