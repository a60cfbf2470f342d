"""The shop's locations and the one this store's stock is set at (``StockLocations``, a part of
``ShopifyPlugin``)."""

from __future__ import annotations

from stores.plugins import Rejected, Transient

from .ids import LOCATION_GID
from .queries import INVENTORY_ACTIVATE, LOCATIONS_PAGE, MAX_PAGE, MUTATION_COST


class StockLocations:
    """Locations: the primary one, the store's chosen one, all of them, and stocking an item at one. Uses the
    plugin's ``client``, ``store`` and ``_location_id`` (the primary location's GID once read)."""

    def primary_location_id(self) -> str:
        """GID of the shop's primary location (``query { location { id } }``, 1 point), cached per connector."""
        if self._location_id is None:
            data = self.client.graphql("query FlashFusionPrimaryLocation { location { id } }", cost=1)
            location = data.get("location")
            if not isinstance(location, dict) or not location.get("id"):
                raise Rejected("the shop has no primary location to stock inventory at", status=200,
                             code="no_location", field="locationId")
            self._location_id = str(location["id"])
        return self._location_id

    def stock_location_id(self) -> str:
        """GID of the location this store's stock is set at: the store's chosen ``stock_location`` while it is
        active, else the shop's primary location (``primary_location_id``)."""
        chosen = getattr(self.store, "stock_location", None) if self.store is not None else None
        if chosen is not None and chosen.is_active and chosen.external_id:
            return chosen.external_id
        return self.primary_location_id()

    def list_locations(self) -> list[dict]:
        """Every location of the shop, deactivated ones included, in Shopify's order (by name)::

            [{"external_id": "gid://shopify/Location/1", "name": "Warehouse", "is_active": bool,
              "is_primary": bool}]

        ``locations(first: 250, includeInactive: true)`` paged by cursor (shopify.dev
        ``QueryRoot.locations``: inactive locations are left out unless asked for), with
        ``location { id }`` in the same request: without an id it is the shop's primary location
        (shopify.dev ``QueryRoot.location``), which is also cached for ``primary_location_id``. Declared
        cost 1 + 2 + 250 points a page; Shopify charges the locations returned. A node without a Location
        GID, a name or a boolean ``isActive`` is ``Transient`` (``bad_shape``): nothing is half-read.
        """
        found: dict[str, dict] = {}
        primary = None
        after = None
        while True:
            data = self.client.graphql(LOCATIONS_PAGE, {"first": MAX_PAGE, "after": after}, cost=3 + MAX_PAGE)
            if primary is None and isinstance(data.get("location"), dict):
                primary = str(data["location"].get("id") or "") or None
            connection = data.get("locations")
            if not isinstance(connection, dict):
                raise Transient("the locations query answered without locations", status=200, code="bad_shape")
            for node in connection.get("nodes") or []:
                gid = node.get("id") if isinstance(node, dict) else None
                name = node.get("name") if isinstance(node, dict) else None
                active = node.get("isActive") if isinstance(node, dict) else None
                if not (isinstance(gid, str) and gid.startswith(LOCATION_GID) and isinstance(name, str)
                        and isinstance(active, bool)):
                    raise Transient(f"unreadable location in the answer: {str(node)[:120]}", status=200,
                                    code="bad_shape")
                found[gid] = {"external_id": gid, "name": name.strip()[:255] or gid, "is_active": active,
                              "is_primary": False}
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage") or not page.get("endCursor"):
                break
            after = page["endCursor"]
        if primary in found:
            found[primary]["is_primary"] = True
            self._location_id = primary
        return list(found.values())

    def activate_inventory(self, inventory_item_id: str, location_id: str, *, available: int | None = None) -> None:
        """``inventoryActivate``: stock an inventory item (GID) at a location (GID), starting at ``available``
        units (shopify.dev: the quantities are *initial* ones; an item already stocked there keeps its level).

        Needed before an existing variant's stock can be set where it is not stocked yet: "if you're updating
        an existing variant, then you can only update the quantities at locations where the variant is already
        stocked" (shopify.dev ``ProductVariantSetInput.inventoryQuantities``); ``inventorySetQuantities``
        answers ``ITEM_NOT_STOCKED_AT_LOCATION``. Cost 10 + 1 points. A refusal (an inactive location, an
        unknown item) is ``Rejected`` with the userErrors.
        """
        variables = {"inventoryItemId": inventory_item_id, "locationId": location_id, "available": available}
        self.client.graphql(INVENTORY_ACTIVATE, variables, cost=MUTATION_COST + 1)
