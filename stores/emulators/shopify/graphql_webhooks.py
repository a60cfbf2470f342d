"""Webhook subscriptions over GraphQL: ``webhookSubscriptions``, ``webhookSubscription``,
``webhookSubscriptionCreate`` and ``webhookSubscriptionDelete``.

Names, arguments and payloads as shopify.dev documents them (Admin GraphQL
2025-07): a ``WebhookSubscription`` has ``id`` (GID), ``legacyResourceId``,
``topic`` (``WebhookSubscriptionTopic``: ``PRODUCTS_UPDATE`` for REST's
``products/update``), ``uri`` (the endpoint; ``callbackUrl`` and
``endpoint { ... on WebhookHttpEndpoint { callbackUrl } }`` are its
deprecated spellings, still answered), ``format``, ``includeFields``,
``filter``, ``apiVersion { handle }``, ``createdAt``, ``updatedAt``.
``WebhookSubscriptionInput`` takes ``uri`` (or the older ``callbackUrl``),
``format``, ``includeFields``, ``filter``, ``metafieldNamespaces``.

The subscriptions are the shop's REST ones (``Shop.data["webhooks"]``): one
made here is listed by ``GET webhooks.json`` and the other way round, and
the same rules apply (``Shop.rest_create_webhook``: a known topic, an
http(s) address, no second subscription of a topic to one address), its
422 errors becoming ``userErrors``. Deliveries are signed with the app's
client secret (the emulator's ``webhook_secret``), as Shopify signs every
subscription's. Only HTTPS endpoints: Pub/Sub and EventBridge URIs are
refused as an invalid address. Not emulated: ``webhookSubscriptionUpdate``
(delete and create instead), filters (kept, never applied), Pub/Sub and
EventBridge subscription mutations.
"""

from __future__ import annotations

from typing import Any

from .pagination import _page_args, connection
from .shop import RestError, gid, parse_gid

SDL = """
enum WebhookSubscriptionTopic {
  PRODUCTS_CREATE PRODUCTS_UPDATE PRODUCTS_DELETE
  INVENTORY_LEVELS_CONNECT INVENTORY_LEVELS_UPDATE INVENTORY_LEVELS_DISCONNECT
  INVENTORY_ITEMS_CREATE INVENTORY_ITEMS_UPDATE INVENTORY_ITEMS_DELETE
  LOCATIONS_CREATE LOCATIONS_UPDATE LOCATIONS_DELETE APP_UNINSTALLED SHOP_UPDATE
}
enum WebhookSubscriptionFormat { JSON XML }
enum WebhookSubscriptionSortKeys { CREATED_AT ID RELEVANCE }
type ApiVersion { handle: String! displayName: String! supported: Boolean! }
type WebhookHttpEndpoint { callbackUrl: URL! }
union WebhookSubscriptionEndpoint = WebhookHttpEndpoint
type WebhookSubscription implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  topic: WebhookSubscriptionTopic!
  uri: String!
  callbackUrl: URL!
  endpoint: WebhookSubscriptionEndpoint!
  format: WebhookSubscriptionFormat!
  includeFields: [String!]!
  metafieldNamespaces: [String!]!
  filter: String
  apiVersion: ApiVersion!
  createdAt: DateTime!
  updatedAt: DateTime!
}
type WebhookSubscriptionEdge { cursor: String! node: WebhookSubscription! }
type WebhookSubscriptionConnection {
  edges: [WebhookSubscriptionEdge!]! nodes: [WebhookSubscription!]! pageInfo: PageInfo!
}
input WebhookSubscriptionInput {
  uri: String
  callbackUrl: URL
  format: WebhookSubscriptionFormat
  includeFields: [String!]
  metafieldNamespaces: [String!]
  filter: String
}
type WebhookSubscriptionCreatePayload { webhookSubscription: WebhookSubscription userErrors: [UserError!]! }
type WebhookSubscriptionDeletePayload { deletedWebhookSubscriptionId: ID userErrors: [UserError!]! }

extend type Query {
  webhookSubscriptions(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
                       sortKey: WebhookSubscriptionSortKeys = CREATED_AT, topics: [WebhookSubscriptionTopic!],
                       format: WebhookSubscriptionFormat, uri: String, callbackUrl: URL,
                       query: String): WebhookSubscriptionConnection!
  webhookSubscription(id: ID!): WebhookSubscription
}
extend type Mutation {
  webhookSubscriptionCreate(topic: WebhookSubscriptionTopic!,
                            webhookSubscription: WebhookSubscriptionInput!): WebhookSubscriptionCreatePayload
  webhookSubscriptionDelete(id: ID!): WebhookSubscriptionDeletePayload
}
"""


def rest_topic(topic: str) -> str:
    """``PRODUCTS_UPDATE`` → ``products/update``."""
    resource, _, action = topic.lower().rpartition("_")
    return f"{resource}/{action}"


def graphql_topic(topic: str) -> str:
    """``products/update`` → ``PRODUCTS_UPDATE``."""
    return topic.replace("/", "_").upper()


def _shop(info):
    return info.context.shop


def _address(subscription: dict | None) -> str | None:
    if not subscription:
        return None
    return subscription.get("uri") or subscription.get("callbackUrl")


def _user_errors(error: RestError) -> list[dict]:
    """A ``rest_create_webhook`` refusal (``{"address": ["is invalid"]}``) as ``userErrors``."""
    fields = {"address": "callbackUrl", "topic": "topic", "format": "format"}
    errors = error.errors if isinstance(error.errors, dict) else {"base": [str(error.errors)]}
    out = []
    for name, messages in errors.items():
        for message in messages if isinstance(messages, list) else [messages]:
            label = "Address" if name == "address" else name.capitalize()
            path = ["webhookSubscription", fields.get(name, name)] if name != "topic" else ["topic"]
            out.append({"field": path, "message": f"{label} {message}"})
    return out


def resolve_webhook_subscriptions(_root, info, **args) -> dict:
    hooks = list(_shop(info).data["webhooks"].values())
    if args.get("topics"):
        wanted = {rest_topic(t) for t in args["topics"]}
        hooks = [h for h in hooks if h["topic"] in wanted]
    address = args.get("uri") or args.get("callbackUrl")
    if address:
        hooks = [h for h in hooks if h["address"] == address]
    if args.get("format"):
        hooks = [h for h in hooks if h["format"].upper() == args["format"]]
    key = (lambda h: h["created_at"]) if (args.get("sortKey") or "CREATED_AT") == "CREATED_AT" else (lambda h: 0)
    return connection(hooks, key=key, ident=lambda h: h["id"], wrap=lambda h: h, **_page_args(args))


def resolve_webhook_subscription(_root, info, id) -> dict | None:  # noqa: A002 - the GraphQL argument's name
    number = parse_gid(id, "WebhookSubscription")
    return _shop(info).data["webhooks"].get(str(number)) if number is not None else None


def mutate_create(_root, info, topic, webhookSubscription) -> dict:  # noqa: N803 - GraphQL's names
    ctx = info.context
    body = {"webhook": {"topic": rest_topic(topic), "address": _address(webhookSubscription),
                        "format": (webhookSubscription.get("format") or "JSON").lower(),
                        "fields": webhookSubscription.get("includeFields") or []}}
    try:
        hook = ctx.shop.rest_create_webhook(body, ctx.api_version)
    except RestError as error:
        return {"webhookSubscription": None, "userErrors": _user_errors(error)}
    if webhookSubscription.get("filter"):
        hook["filter"] = webhookSubscription["filter"]
    ctx.changed = True
    return {"webhookSubscription": hook, "userErrors": []}


def mutate_delete(_root, info, id) -> dict:  # noqa: A002
    ctx = info.context
    number = parse_gid(id, "WebhookSubscription")
    if number is None or ctx.shop.data["webhooks"].pop(str(number), None) is None:
        return {"deletedWebhookSubscriptionId": None,
                "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}]}
    ctx.changed = True
    return {"deletedWebhookSubscriptionId": gid("WebhookSubscription", number), "userErrors": []}


def _field(name: str):
    return lambda hook, info: hook[name]


RESOLVERS: dict[str, dict[str, Any]] = {
    "Query": {"webhookSubscriptions": resolve_webhook_subscriptions,
              "webhookSubscription": resolve_webhook_subscription},
    "Mutation": {"webhookSubscriptionCreate": mutate_create, "webhookSubscriptionDelete": mutate_delete},
    "WebhookSubscription": {
        "id": lambda h, info: gid("WebhookSubscription", h["id"]),
        "legacyResourceId": lambda h, info: str(h["id"]),
        "topic": lambda h, info: graphql_topic(h["topic"]),
        "uri": _field("address"), "callbackUrl": _field("address"),
        "endpoint": lambda h, info: {"__typename": "WebhookHttpEndpoint", "callbackUrl": h["address"]},
        "format": lambda h, info: h["format"].upper(),
        "includeFields": lambda h, info: list(h.get("fields") or []),
        "metafieldNamespaces": lambda h, info: [],
        "filter": lambda h, info: h.get("filter"),
        "apiVersion": lambda h, info: {"handle": h["api_version"], "displayName": h["api_version"],
                                       "supported": True},
        "createdAt": _field("created_at"), "updatedAt": _field("updated_at"),
    },
}
