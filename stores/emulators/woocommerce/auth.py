"""Authentication: Basic over HTTPS, else OAuth 1.0a one-legged, as ``WC_REST_Authentication`` does it."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import time
from types import SimpleNamespace
from urllib.parse import unquote, unquote_plus, urlsplit

from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from .constants import OAUTH_WINDOW
from .errors import RestError
from .php import _is_numeric, _php_empty, _php_parse_query
from .wire import _content_type, _Request


class Authenticator:
    """The authentication half of ``_Api``: needs ``state``, ``site_url``, ``consumer_key`` and
    ``consumer_secret``."""

    def _authenticate(self, request: _Request) -> None:
        """``WC_REST_Authentication::authenticate``: Basic over HTTPS, else OAuth 1.0a (source).

        Sets ``request.authenticated``; raises the 401 WooCommerce would. A
        request without credentials passes as a visitor.
        """
        if request.https and self._basic(request):
            request.authenticated = True
            return
        params = self._oauth_params(request)
        if not params:
            return
        if params["oauth_consumer_key"] != self.consumer_key:
            raise RestError("woocommerce_rest_authentication_error", "Consumer key is invalid.", 401)
        self._check_signature(request, params)
        self._check_timestamp_and_nonce(params["oauth_timestamp"], params["oauth_nonce"])
        request.authenticated = True

    def _basic(self, request: _Request) -> bool:
        """``perform_basic_authentication``: query keys first, then the Basic header; an unknown key is no error."""
        key = secret = ""
        if request.query.get("consumer_key") and request.query.get("consumer_secret"):
            key, secret = request.query["consumer_key"], request.query["consumer_secret"]
        header = request.headers.get("Authorization", "")
        if not key and header[:6].lower() == "basic ":
            try:
                key, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                key = secret = ""
        if not key or not secret or key != self.consumer_key:
            return False
        if not hmac.compare_digest(secret.encode(), self.consumer_secret.encode()):
            raise RestError("woocommerce_rest_authentication_error", "Consumer secret is invalid.", 401)
        return True

    @staticmethod
    def _oauth_params(request: _Request) -> dict[str, str]:
        """``get_oauth_parameters``: $_GET + $_POST + ``Authorization: OAuth`` header; all five or none (source)."""
        params = dict(request.query)
        if request.http_method == "POST" and _content_type(request) == "application/x-www-form-urlencoded":
            params.update(_php_parse_query(request.body.decode("utf-8", "replace")))
        header = request.headers.get("Authorization", "").strip()
        if header.startswith("OAuth "):
            for name, quoted, bare in re.findall(r'(oauth_[a-z_-]*)=(?::?"([^"]*)"|([^,]*))', header):
                params[name] = unquote_plus(quoted or bare)
        required = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature",
                    "oauth_signature_method")
        missing = [name for name in required if _php_empty(params.get(name))]
        if len(missing) == len(required):
            return {}
        if missing:
            noun = "parameter" if len(missing) == 1 else "parameters"
            raise RestError("woocommerce_rest_authentication_missing_parameter",
                            f"Missing OAuth {noun} {', '.join(missing)}", 401)
        return params

    def _check_signature(self, request: _Request, params: dict[str, str]) -> None:
        """``check_oauth_signature``: the base string over the site URL and every query/form parameter (source)."""
        provided = unquote(params["oauth_signature"].replace(" ", "+"))
        scheme = "https" if request.https else "http"
        site = urlsplit(self.site_url)
        uri = oauth_signature.base_string_uri(f"{scheme}://{site.netloc}{request.raw_path}")
        pairs = [(k, v) for k, v in params.items() if k != "oauth_signature"]
        base = oauth_signature.signature_base_string(
            request.http_method, uri, oauth_signature.normalize_parameters(pairs))
        method = params["oauth_signature_method"]
        key_holder = SimpleNamespace(client_secret=self.consumer_secret, resource_owner_secret="")  # key "secret&"
        if method == "HMAC-SHA1":
            expected = oauth_signature.sign_hmac_sha1_with_client(base, key_holder)
        elif method == "HMAC-SHA256":
            expected = oauth_signature.sign_hmac_sha256_with_client(base, key_holder)
        else:
            raise RestError("woocommerce_rest_authentication_error",
                            "Invalid signature - signature method is invalid.", 401)
        if not hmac.compare_digest(expected.encode(), provided.encode()):
            raise RestError("woocommerce_rest_authentication_error",
                            "Invalid signature - provided signature does not match.", 401)

    def _check_timestamp_and_nonce(self, timestamp: str, nonce: str) -> None:
        """``check_oauth_timestamp_and_nonce``: ±15 minutes; a nonce seen in the window is refused (source).

        Used nonces are kept per key as ``{timestamp: nonce}``, exactly as
        WooCommerce keeps them, so a second request with the same timestamp
        replaces the first one's nonce.
        """
        now = int(time.time())
        if not _is_numeric(timestamp) or not now - OAUTH_WINDOW <= float(timestamp) <= now + OAUTH_WINDOW:
            raise RestError("woocommerce_rest_authentication_error", "Invalid timestamp.", 401)
        with self.state.lock:
            used = self.state.data["nonces"].setdefault(self.consumer_key, {})
            if nonce in used.values():
                raise RestError("woocommerce_rest_authentication_error",
                                "Invalid nonce - nonce has already been used.", 401)
            used[str(timestamp)] = nonce
            for stamp in [s for s in used if not _is_numeric(s) or float(s) < now - OAUTH_WINDOW]:
                del used[stamp]
            self.state.save()
