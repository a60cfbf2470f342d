"""No page offers a role an action it may not take: every form, button and link a viewer, operator or manager
is shown is followed (POST for forms, GET for links and htmx gets), and none answers 403.

Pages are drawn as the role, with the real data each shows actions for: a store (at an address that refuses
connections, so any call fails at once), products with listings, finished and dead jobs, a waiting approval,
a webhook delivery. An action a role cannot take must be hidden, or drawn ``disabled`` with its reason.
"""

from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.urls import reverse

from agents.models import Job
from approvals.services import request_delete
from flashfusion.choices import Role
from stores.models import Listing, Store, WebhookDelivery
from tests.factories import MembershipFactory, ProductFactory, VariantFactory

#: Where a link may lead without being an action of the page (signing out, static files, Django admin).
SKIP_PREFIXES = ("/logout/", "/static/", "/admin/", "/ws/", "/webhooks/in/")


class Actions(HTMLParser):
    """Every form (with its fields and submit buttons), link and htmx request of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.links: set[str] = set()
        self.hx: set[tuple[str, str]] = set()
        self._form = None
        self._textarea = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for verb in ("get", "post", "put", "delete", "patch"):
            if a.get(f"hx-{verb}"):
                self.hx.add((verb, a[f"hx-{verb}"]))
        if tag == "a" and a.get("href"):
            self.links.add(a["href"])
        if tag == "form":
            self._form = {"method": (a.get("method") or "get").lower(), "action": a.get("action"), "id": a.get("id"),
                          "fields": [], "buttons": []}
            self.forms.append(self._form)
            return
        form = self._form
        owner = a.get("form")
        if owner:
            form = next((f for f in self.forms if f["id"] == owner), None)
        if form is None:
            return
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind == "submit":
                form["buttons"].append(a)
            elif kind in ("checkbox", "radio"):
                if "checked" in a and a.get("name"):
                    form["fields"].append((a["name"], a.get("value", "on")))
            elif a.get("name") and kind != "file":
                form["fields"].append((a["name"], a.get("value", "")))
        elif tag == "button" and (a.get("type") or "submit").lower() == "submit":
            form["buttons"].append(a)
        elif tag == "textarea" and a.get("name"):
            self._textarea = [a["name"], ""]
            form["fields"].append(self._textarea)
        elif tag == "select" and a.get("name"):
            self._select = {"name": a["name"], "first": None, "chosen": None, "form": form}
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in a:
                self._select["chosen"] = value

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = self._select["chosen"] if self._select["chosen"] is not None else self._select["first"]
            self._select["form"]["fields"].append((self._select["name"], chosen or ""))
            self._select = None


def _internal(page_url: str, href: str) -> str | None:
    if not href or href.startswith(("#", "javascript:", "mailto:", "data:")):
        return None
    url = urljoin("http://testserver" + page_url, href)
    parts = urlsplit(url)
    if parts.netloc != "testserver" or parts.path.startswith(SKIP_PREFIXES):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture
def world(org, operator, manager, admin_user, viewer):
    """One of everything the pages draw actions for; returns the pages to crawl."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = Store.objects.create(organization=org, name="Northwind", base_url=f"http://127.0.0.1:{port}",
                                 consumer_key="ck", consumer_secret="cs", timeout=2)
    tent = ProductFactory(organization=org, title="Alpine Tent", sku="TENT")
    VariantFactory(product=tent, sku="TENT-1", price=Decimal("100.00"), stock=4)
    mug = ProductFactory(organization=org, title="Camp Mug", sku="MUG")
    VariantFactory(product=mug, sku="MUG-1", price=Decimal("12.00"), stock=9)
    Listing.objects.create(organization=org, store=store, product=tent, external_id="11", state="error",
                           last_error="Rejected: bad title")
    dead = Job.objects.create(organization=org, kind="store.publish", store=store, status="dead", attempts=3,
                              max_attempts=3, summary="Publish to Northwind", error="Transient: 503",
                              error_class="Transient", error_fingerprint="f" * 16)
    done = Job.objects.create(organization=org, kind="store.health_check", store=store, status="succeeded",
                              summary="Health check of Northwind")
    queued = Job.objects.create(organization=org, kind="store.publish", store=store, status="queued",
                                summary="Another publish")
    other = MembershipFactory(organization=org, role=Role.OPERATOR, user__username="requester-acme").user
    approval = request_delete(mug, user=other)
    delivery = WebhookDelivery.objects.create(organization=org, store=store, delivery_id="d-1", topic="product.updated",
                                              resource_id="11", headers={}, body="{}", status="failed", error="x")
    return {
        "dashboard": reverse("dashboard:index"),
        "products": reverse("products:list"),
        "product": reverse("products:detail", args=[tent.pk]),
        "matrix": reverse("products:matrix"),
        "stores": reverse("stores:list"),
        "store": reverse("stores:detail", args=[store.pk]),
        "plugins": reverse("plugins:list"),
        "webhooks": reverse("webhooks:list"),
        "webhook": reverse("webhooks:detail", args=[delivery.pk]),
        "jobs": reverse("agents:job_list"),
        "dead job": reverse("agents:job_detail", args=[dead.pk]),
        "finished job": reverse("agents:job_detail", args=[done.pk]),
        "queued job": reverse("agents:job_detail", args=[queued.pk]),
        "dead letters": reverse("agents:dead_letters"),
        "metrics": reverse("job_metrics:index"),
        "schedules": reverse("schedules:list"),
        "approvals": reverse("approvals:list"),
        "approval": reverse("approvals:detail", args=[approval.pk]),
        "rules": reverse("approvals:rules"),
        "audit": reverse("approvals:audit"),
    }


PAGES = ["dashboard", "products", "product", "matrix", "stores", "store", "plugins", "webhooks", "webhook", "jobs",
         "dead job", "finished job", "queued job", "dead letters", "metrics", "schedules", "approvals", "approval",
         "rules", "audit"]


def _crawl(client, page_url: str, *, depth: int = 1, html: str | None = None) -> list[str]:
    """Follow every action of ``page_url``; returns those that answered 403, as "METHOD url (what)".

    Fragments a page loads with htmx (dashboard tiles) are crawled too, ``depth`` levels down. A form without
    a submit button (fields drawn read-only for the role) offers nothing to send and is left alone.
    """
    if html is None:
        response = client.get(page_url)
        if response.status_code == 403:
            return []  # the page itself is refused: a link to it is what the other pages' crawls catch
        assert response.status_code == 200, (page_url, response.status_code)
        html = response.content.decode()
    parser = Actions()
    parser.feed(html)
    refused = []
    for href in sorted(parser.links):
        url = _internal(page_url, href)
        if url and client.get(url).status_code == 403:
            refused.append(f"GET {url} (link on {page_url})")
    for verb, target in sorted(parser.hx):
        url = _internal(page_url, target)
        if url is None:
            continue
        response = getattr(client, verb)(url, HTTP_HX_REQUEST="true")
        if response.status_code == 403:
            refused.append(f"{verb.upper()} {url} (hx-{verb} on {page_url})")
        elif verb == "get" and depth and response.status_code == 200 and url.split("?")[0] != page_url.split("?")[0]:
            refused += _crawl(client, url, depth=depth - 1, html=response.content.decode())
    for form in parser.forms:
        if form["method"] != "post":
            continue
        base = dict_of(form["fields"])
        for button in form["buttons"]:
            if "disabled" in button:
                continue
            url = _internal(page_url, button.get("formaction") or form["action"] or page_url)
            if url is None:
                continue
            data = dict(base)
            if button.get("name"):
                data[button["name"]] = button.get("value", "")
            if client.post(url, data).status_code == 403:
                label = button.get("aria-label") or button.get("value") or button.get("name") or "submit"
                refused.append(f"POST {url} (button {label!r} on {page_url})")
    return refused


def dict_of(pairs) -> dict:
    data: dict = {}
    for name, value in pairs:
        data.setdefault(name, [])
        data[name].append(value)
    return data


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", ["viewer", "operator", "manager"])
def test_no_action_on_the_page_answers_403(client, world, request, role, page):
    client.force_login(request.getfixturevalue(role))
    refused = _crawl(client, world[page])
    assert not refused, f"{role} on the {page} page is offered actions that answer 403:\n" + "\n".join(refused)


#: Pages with empty states that offer a first step (import, connect, add a rule…).
EMPTY_PAGES = {
    "dashboard": "dashboard:index", "products": "products:list", "stores": "stores:list", "jobs": "agents:job_list",
    "dead letters": "agents:dead_letters", "webhooks": "webhooks:list", "approvals": "approvals:list",
    "rules": "approvals:rules", "plugins": "plugins:list",
}


@pytest.mark.parametrize("page", sorted(EMPTY_PAGES))
@pytest.mark.parametrize("role", ["viewer", "operator", "manager"])
def test_no_first_step_of_an_empty_page_answers_403(client, request, role, page):
    """A new organization: nothing yet, so the pages show their empty states."""
    from approvals.models import ApprovalRule

    user = request.getfixturevalue(role)
    ApprovalRule.objects.filter(organization=user.memberships.get().organization).delete()
    client.force_login(user)
    refused = _crawl(client, reverse(EMPTY_PAGES[page]))
    assert not refused, f"{role} on the empty {page} page is offered actions that answer 403:\n" + "\n".join(refused)
