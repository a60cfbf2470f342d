"""Shopify's rate limits: the REST call bucket, the GraphQL cost bucket and the query cost calculation.

Figures per plan (``PLANS``), with their sources:

============  ===========================  ==================================
plan          REST bucket / leak per s     GraphQL maximumAvailable / restore
============  ===========================  ==================================
standard      40 / 2                       2000 / 100
advanced      80 / 4                       4000 / 200
plus          400 / 20                     20000 / 1000
enterprise    800 / 40                     40000 / 2000
============  ===========================  ==================================

* leak and restore rates: shopify.dev "REST Admin API rate limits" (2, 4,
  20, 40 requests/s) and "GraphQL Admin API rate limits" (100, 200, 1000,
  2000 points/s);
* REST bucket 40 for standard: shopify.dev; the others are 20 s of leak, the
  ratio Shopify uses (ShopifySharp issue #655 quoting Shopify: "always
  divide the bucket size by 20"; Plus' 400 confirmed in MONEI/Shopify-api-node
  issue #582);
* GraphQL bucket: 20 s of restore as well. Seen in real answers:
  ``maximumAvailable 2000.0, restoreRate 100.0`` on a Basic shop and
  ``20000.0 / 1000.0`` on a Plus shop (captured responses in public test
  suites); advanced and enterprise follow the same ratio (inferred).

REST: every call adds one to the bucket; a call that would overflow it is
answered 429 with ``Retry-After: 2.0`` and does not count. Every answer
carries ``X-Shopify-Shop-Api-Call-Limit: used/size``.

GraphQL (shopify.dev "GraphQL Admin API rate limits", "Cost calculation"):
the requested cost is computed before running the query; if the bucket holds
less, the answer is ``THROTTLED`` and nothing runs. Otherwise the requested
cost is taken, the query runs, and the difference to the actual cost (the
same rules applied to what was returned) is given back. Rules used here:

* scalar and enum fields: 0; an object field: 1 plus its selections; a list
  of objects is charged like one object (the docs do not say otherwise);
* a connection (a type named ``...Connection``): 2 + n x (1 + the cost of
  the node's selections), n = ``first``/``last`` when requested, the number
  of items returned for the actual cost; ``pageInfo`` and ``cursor`` are
  free. E.g. ``productVariants(first: 250) { pageInfo {...} nodes { id } }``
  requests 252, as Shopify answers;
* a mutation: 10, plus the connections inside its payload (the payload's
  plain objects are free: ``bulkOperationRunQuery { bulkOperation {...}
  userErrors {...} }`` costs 10 on Shopify). ``productSet`` costs 50 up to
  API version 2025-07 and ``10 + 0.2 x variants`` (rounded up) from 2025-10
  (shopify.dev changelog "Dynamic complexity cost for productSet mutation");
* a single query may not request more than 1000: ``MAX_COST_EXCEEDED``,
  "Query cost is N, which exceeds the single query max cost limit (1000)."
* a connection needs ``first`` or ``last`` ("you must provide one of first
  or last"), at most 250 (shopify.dev "API limits": input arrays and pages).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
)
from graphql.execution.values import get_argument_values

MAX_QUERY_COST = 1000
MAX_PAGE_SIZE = 250
MUTATION_COST = 10


@dataclass(frozen=True)
class Plan:
    """One Shopify plan's published limits (see the module docstring for sources)."""

    name: str
    display_name: str  # shop.plan.displayName / shop.json plan_display_name
    plan_name: str  # shop.json plan_name
    rest_bucket: int
    rest_leak: float
    graphql_maximum: float
    graphql_restore: float


PLANS: dict[str, Plan] = {
    "standard": Plan("standard", "Basic", "basic", 40, 2.0, 2000.0, 100.0),
    "advanced": Plan("advanced", "Advanced", "advanced", 80, 4.0, 4000.0, 200.0),
    "plus": Plan("plus", "Shopify Plus", "shopify_plus", 400, 20.0, 20000.0, 1000.0),
    "enterprise": Plan("enterprise", "Shopify for enterprise", "enterprise", 800, 40.0, 40000.0, 2000.0),
}


def plan_for(name: str) -> Plan:
    try:
        return PLANS[name]
    except KeyError:
        raise ValueError(f"unknown Shopify plan {name!r}; choose one of {', '.join(PLANS)}") from None


# --------------------------------------------------------------------------- buckets


class CallBucket:
    """The REST leaky bucket: ``size`` calls, leaking ``leak`` calls per second."""

    def __init__(self, size: int, leak: float, clock=time.monotonic):
        self.size = size
        self.leak = leak
        self._clock = clock
        self._level = 0.0
        self._at = clock()
        self._lock = threading.Lock()

    def _drain(self) -> None:
        now = self._clock()
        self._level = max(0.0, self._level - (now - self._at) * self.leak)
        self._at = now

    def add(self) -> tuple[bool, int]:
        """Count one call: ``(accepted, used)``, ``used`` as the header shows it (rounded up)."""
        with self._lock:
            self._drain()
            if self._level + 1 > self.size + 1e-9:
                return False, self.size
            self._level += 1
            return True, min(self.size, math.ceil(self._level - 1e-9))

    def used(self) -> int:
        with self._lock:
            self._drain()
            return math.ceil(self._level - 1e-9)


class CostBucket:
    """The GraphQL cost bucket: holds up to ``maximum`` points, restores ``restore`` per second."""

    def __init__(self, maximum: float, restore: float, clock=time.monotonic):
        self.maximum = maximum
        self.restore = restore
        self._clock = clock
        self._available = maximum
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._available = min(self.maximum, self._available + (now - self._at) * self.restore)
        self._at = now

    def take(self, cost: int) -> bool:
        """Take ``cost`` points if the bucket holds them; ``False`` (nothing taken) when it does not."""
        with self._lock:
            self._refill()
            if cost > self._available + 1e-9:
                return False
            self._available -= cost
            return True

    def give_back(self, points: float) -> None:
        with self._lock:
            self._refill()
            self._available = min(self.maximum, self._available + max(0.0, points))

    def status(self) -> dict:
        """``throttleStatus`` as Shopify sends it: floats for the limits, an int for what is left."""
        with self._lock:
            self._refill()
            return {"maximumAvailable": float(self.maximum), "currentlyAvailable": int(self._available),
                    "restoreRate": float(self.restore)}


# --------------------------------------------------------------------------- query cost


class CostError(Exception):
    """A query refused before it runs (missing ``first``, page too large, cost over 1000)."""

    def __init__(self, message: str, *, path: list | None = None, node=None, extensions: dict | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.node = node
        self.extensions = extensions or {}

    def formatted(self) -> dict:
        error: dict[str, Any] = {"message": self.message}
        if self.node is not None and self.node.loc is not None:
            source = self.node.loc.source
            line, column = _line_column(source.body, self.node.loc.start)
            error["locations"] = [{"line": line, "column": column}]
        if self.path:
            error["path"] = self.path
        if self.extensions:
            error["extensions"] = self.extensions
        return error


def _line_column(body: str, offset: int) -> tuple[int, int]:
    before = body[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


_REQUESTED = object()  # "walk the query, not a result"


def mutation_base_cost(field_name: str, args: dict, api_version: str) -> int:
    """What a mutation field costs on its own (see the module docstring)."""
    if field_name == "productSet":
        if api_version >= "2025-10":  # "unstable" sorts after every dated version, as it should
            variants = (args.get("input") or {}).get("variants") or []
            return math.ceil(10 + 0.2 * len(variants))
        return 50
    return MUTATION_COST


class QueryCost:
    """Requested and actual cost of one operation of a validated document."""

    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode],
                 operation: OperationDefinitionNode, variables: dict, api_version: str):
        self.schema = schema
        self.fragments = fragments
        self.operation = operation
        self.variables = variables
        self.api_version = api_version
        root = schema.mutation_type if operation.operation.value == "mutation" else schema.query_type
        self.root: GraphQLObjectType = root

    def requested(self) -> int:
        return self._selections(self.operation.selection_set, self.root, payload=False, data=_REQUESTED, path=[])

    def actual(self, data: dict | None) -> int:
        return self._selections(self.operation.selection_set, self.root, payload=False, data=data or {}, path=[])

    # ------------------------------------------------------------------ walking

    def _fields(self, selection_set: SelectionSetNode | None, parent: GraphQLObjectType):
        """The field nodes of a selection set, fragments expanded, each with the type it is selected on."""
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                on = self.schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
                yield from self._fields(selection.selection_set, on if isinstance(on, GraphQLObjectType) else parent)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                on = self.schema.get_type(fragment.type_condition.name.value)
                yield from self._fields(fragment.selection_set, on if isinstance(on, GraphQLObjectType) else parent)

    def _selections(self, selection_set, parent, *, payload: bool, data, path: list) -> int:
        total = 0
        for node, on in self._fields(selection_set, parent):
            total += self._field(node, on, payload=payload, data=data, path=path)
        return total

    def _field(self, node: FieldNode, parent: GraphQLObjectType, *, payload: bool, data, path: list) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0
        field_def = parent.fields.get(name)
        if field_def is None:
            return 0
        named = get_named_type(field_def.type)
        if is_leaf_type(named):
            return 0
        key = node.alias.value if node.alias else name
        here = path + [key]
        value = _REQUESTED if data is _REQUESTED else (data.get(key) if isinstance(data, dict) else None)
        args = get_argument_values(field_def, node, self.variables)
        if parent is self.schema.mutation_type:
            base = mutation_base_cost(name, args, self.api_version)
            if value is None:
                return base
            return base + self._selections(node.selection_set, named, payload=True, data=value, path=here)
        if named.name.endswith("Connection"):
            return self._connection(node, named, args, data=value, path=here)
        own = 0 if payload else 1
        if value is _REQUESTED:
            return own + self._selections(node.selection_set, named, payload=payload, data=_REQUESTED, path=here)
        if value is None:
            return own
        if isinstance(value, list):
            children = [self._selections(node.selection_set, named, payload=payload, data=item, path=here)
                        for item in value]
            return own + max(children, default=0)
        return own + self._selections(node.selection_set, named, payload=payload, data=value, path=here)

    def _connection(self, node: FieldNode, connection: GraphQLObjectType, args: dict, *, data, path: list) -> int:
        if data is _REQUESTED:
            size = args.get("first") if args.get("first") is not None else args.get("last")
            if size is None:
                raise CostError("you must provide one of first or last", path=path, node=node)
            if size < 0 or size > MAX_PAGE_SIZE:
                raise CostError(f"Argument 'first'/'last' on Field '{node.name.value}' must be between 0 and "
                                f"{MAX_PAGE_SIZE} (got {size}).", path=path, node=node,
                                extensions={"code": "argumentLiteralsIncompatible"})
            return 2 + size * max(1, self._item_cost(node, connection, None, path))
        if not isinstance(data, dict):
            return 2
        count = max(len(data.get("edges") or []), len(data.get("nodes") or []))
        return 2 + sum(max(1, self._item_cost(node, connection, index, path, data)) for index in range(count))

    def _item_cost(self, node: FieldNode, connection: GraphQLObjectType, index: int | None, path: list,
                   data: dict | None = None) -> int:
        """Cost of one item of a connection: 1 + its node's selections (``edges.node`` or ``nodes``, the larger)."""
        best = 0
        for child, on in self._fields(node.selection_set, connection):
            name = child.name.value
            key = child.alias.value if child.alias else name
            if name == "nodes":
                node_type = get_named_type(on.fields["nodes"].type)
                item = _REQUESTED if index is None else _nth(data.get(key), index)
                if item is None:
                    continue
                best = max(best, 1 + self._selections(child.selection_set, node_type, payload=False, data=item,
                                                      path=path + [key]))
            elif name == "edges":
                edge_type = get_named_type(on.fields["edges"].type)
                edge = _REQUESTED if index is None else _nth(data.get(key), index)
                if edge is None:
                    continue
                for grandchild, edge_on in self._fields(child.selection_set, edge_type):
                    if grandchild.name.value != "node":
                        continue
                    node_type = get_named_type(edge_on.fields["node"].type)
                    node_key = grandchild.alias.value if grandchild.alias else "node"
                    item = _REQUESTED if edge is _REQUESTED else edge.get(node_key)
                    if item is None:
                        continue
                    best = max(best, 1 + self._selections(grandchild.selection_set, node_type, payload=False,
                                                          data=item, path=path + [key]))
        return best


def _nth(items: Any, index: int) -> Any:
    if isinstance(items, list) and index < len(items):
        return items[index]
    return None
