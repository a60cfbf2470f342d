"""Batch routes: ``products/batch`` and ``products/<id>/variations/batch`` (``WC_REST_Controller::batch_items``)."""

from __future__ import annotations

from .constants import BATCH_LIMIT
from .errors import RestError
from .php import _absint, _intval, _php_empty
from .schema import PRODUCT_ARGS, PRODUCT_DEFAULTS, VARIATION_ARGS, VARIATION_DEFAULTS, _check_args
from .wire import _Request, _Response


class BatchRoutes:
    """The batch half of ``_Api``."""

    def _products_batch_update(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {})
        _check_args(params, PRODUCT_ARGS)  # the batch route's arguments are the item schema's (source)
        self._require_user(request, "woocommerce_rest_cannot_batch",
                           "Sorry, you are not allowed to batch manipulate this resource.")
        return self._batch(params, self._create_product, self._update_product,
                           lambda post_id: self._delete_product(post_id, True), PRODUCT_DEFAULTS, {})

    def _batch(self, params: dict, create, update, delete, defaults: dict, inject: dict) -> _Response:
        """``WC_REST_Controller::batch_items``: at most 100 items; per-item errors; delete forces (source).

        Items are not validated against the schema (``create_item`` is called
        directly), and the answer is 200 even when every item failed.
        """
        ops = {}
        for op in ("create", "update", "delete"):
            value = params.get(op)
            if _php_empty(value):
                continue
            if not isinstance(value, list):
                raise RestError("internal_server_error", "There has been a critical error on this website.", 500)
            ops[op] = value
        if sum(len(v) for v in ops.values()) > BATCH_LIMIT:
            raise RestError("woocommerce_rest_request_entity_too_large",
                            f"Unable to accept more than {BATCH_LIMIT} items for this request.", 413)
        answer: dict[str, list] = {}
        with self.state.lock:
            for item in ops.get("create", []):
                body = {**defaults, **inject, **(item if isinstance(item, dict) else {})}
                answer.setdefault("create", []).append(self._attempt(create, body, 0))
            for item in ops.get("update", []):
                body = {**inject, **(item if isinstance(item, dict) else {})}
                answer.setdefault("update", []).append(self._attempt(update, body, body.get("id")))
            for item in ops.get("delete", []):
                post_id = _intval(item)
                if post_id:
                    answer.setdefault("delete", []).append(self._attempt(delete, post_id, post_id))
            self.state.save()
        return _Response(200, answer if answer else [])

    @staticmethod
    def _attempt(action, argument, item_id) -> dict:
        try:
            return action(argument)
        except RestError as error:
            return {"id": item_id, "error": {"code": error.code, "message": error.message, "data": error.data()}}

    def _variations_batch_update(self, request: _Request, url_params: dict) -> _Response:
        params = self._params(request, url_params, {})
        _check_args(params, VARIATION_ARGS)
        self._require_user(request, "woocommerce_rest_cannot_batch",
                           "Sorry, you are not allowed to batch manipulate this resource.")
        product_id = _absint(url_params["product_id"])
        # each item gets the route's product_id unless it brings its own (v2 batch_items; source)
        return self._batch(params, self._create_variation, self._update_variation,
                           lambda post_id: self._delete_variation(post_id, True, product_id),
                           VARIATION_DEFAULTS, {"product_id": product_id})
