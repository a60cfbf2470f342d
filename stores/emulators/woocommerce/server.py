"""The HTTP server: turns requests into ``_Request`` objects, applies faults, writes the answers."""

from __future__ import annotations

import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from stores.emulators.faults import MAINTENANCE_PAGE, PHP_WARNING_BODY, Decision, html_error, retry_after_header

from .constants import API_ROOT, CONTROL_PREFIX
from .errors import RestError
from .php import _php_parse_query
from .wire import _is_api_path, _json_bytes, _Request, _Response

log = logging.getLogger("stores.emulators.woocommerce")


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into ``_Request`` objects for the emulator and writes its answers."""

    protocol_version = "HTTP/1.1"
    server_version = "Apache"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body go out in two writes; without this each answer waits ~40 ms

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve()

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def do_PUT(self) -> None:  # noqa: N802
        self._serve()

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve()

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self, head: bool = False) -> None:
        emulator = self.server.emulator  # type: ignore[attr-defined]  # the WooCommerceEmulator serving it
        body = self._read_body()
        target = urlsplit(self.path)
        raw_path = target.path or "/"
        path = unquote(raw_path)
        query = _php_parse_query(target.query)
        method = self.command
        if query.get("_method"):
            method = query["_method"].upper()
        elif self.headers.get("X-HTTP-Method-Override"):
            method = self.headers["X-HTTP-Method-Override"].strip().upper()
        request = _Request(method=method, http_method=self.command, raw_path=raw_path, path=path, query=query,
                           headers=self.headers, body=body,
                           https=(self.headers.get("X-Forwarded-Proto") or "").lower() == "https")
        if path.startswith(CONTROL_PREFIX):
            status, payload = emulator._control(request)
            self._send(status, payload, {"Content-Type": "application/json; charset=UTF-8"}, head)
            return
        if not _is_api_path(path):
            self._send(404, b"<!DOCTYPE html><title>Page not found</title>", {"Content-Type": "text/html"}, head)
            return
        emulator._record(self.command, path)
        fate = emulator._faults.decide(is_write=request.method in ("POST", "PUT", "PATCH", "DELETE"))
        if fate.kind or fate.malform:
            self._send_fault(emulator, request, fate, fate.kind or "malformed", head)  # nothing applied
            return
        try:
            response = emulator._api.respond(request)
        except Exception:  # a bug here must still answer like PHP's fatal error handler, not drop the socket
            log.exception("woocommerce emulator: %s %s failed", self.command, path)
            response = _Response(500, RestError("internal_server_error",
                                                "There has been a critical error on this website.", 500).body())
        if fate.lose_answer and response.status < 300:
            self._send_fault(emulator, request, fate, "lost_answer", head)  # the write above WAS applied
            return
        if fate.latency:
            emulator._stopping.wait(fate.latency)
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "X-Robots-Tag": "noindex",
            # the pagination Link, when there is one, replaces this one (PHP header(); source)
            "Link": f'<{emulator.base_url}{API_ROOT}/>; rel="https://api.w.org/"',
            "X-Content-Type-Options": "nosniff",
            "Access-Control-Expose-Headers": "X-WP-Total, X-WP-TotalPages, Link",
            "Access-Control-Allow-Headers": "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, "
                                            "Content-Type",
        }
        if request.authenticated:
            headers["Expires"] = "Wed, 11 Jan 1984 05:00:00 GMT"
            headers["Cache-Control"] = "no-cache, must-revalidate, max-age=0"
        headers.update(response.headers)
        self._send(response.status, _json_bytes(response.body), headers, head)
        log.info("%s %s -> %s", self.command, path, response.status)

    def _send_fault(self, emulator: Any, request: _Request, fate: Decision, kind: str,
                    head: bool) -> None:
        """Answer (or, for a timeout, don't) as ``fate`` says; see ``stores.emulators.faults``."""
        emulator._faults.record(request.method, request.path, kind)
        if fate.latency:
            emulator._stopping.wait(fate.latency)
        if kind == "timeout":
            emulator._stopping.wait(fate.hang_seconds)
            self.close_connection = True  # drop the connection without an answer
            return
        headers = {}
        if fate.retry_after is not None:
            headers["Retry-After"] = retry_after_header(fate.retry_after)
        if kind == "malformed":
            status, payload, headers["Content-Type"] = 200, PHP_WARNING_BODY, "application/json; charset=UTF-8"
        elif kind == "outage":
            status, payload, headers["Content-Type"] = 503, MAINTENANCE_PAGE, "text/html; charset=UTF-8"
        elif kind == "lost_answer":
            status, payload, headers["Content-Type"] = 502, html_error(502), "text/html"
        elif fate.status == 500:  # PHP's fatal error, as WordPress's shutdown handler answers it
            status, headers["Content-Type"] = 500, "application/json; charset=UTF-8"
            payload = _json_bytes(RestError("internal_server_error",
                                            "There has been a critical error on this website.", 500).body())
        else:  # a proxy's or the host's limiter's own page (429, 502, 503, 504)
            status, payload, headers["Content-Type"] = fate.status, html_error(fate.status), "text/html"
        self._send(status, payload, headers, head)

    def _send(self, status: int, payload: bytes, headers: dict[str, str], head: bool) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if not head:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's default backlog of 5 resets bursts of parallel connections
