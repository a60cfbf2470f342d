"""Shared set-up for the benchmarks that drive a real web server: daphne as a child process on the scratch
database, signed-in HTTP clients, and a minimal websocket client that reads the live page's fragments.

``Daphne`` runs ``daphne flashfusion.asgi:application`` (as ``make run`` does) in its own process group
with the benchmark's environment (``DATABASE_URL`` of the scratch database, ``DEBUG`` off), waits until
the login page answers and stops the whole group at the end. ``signed_in`` logs an ``httpx.Client`` in
through the login form. ``LiveSocket`` speaks just enough RFC 6455 (handshake, unmasked server frames,
masked pong and close) to hold the page's ``/ws/live/`` socket open and hand each message to a callback;
no websocket library is installed in the project, and this is all a page's socket does.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _harness import ROOT

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Daphne:
    """``daphne -b 127.0.0.1 -p <free port> flashfusion.asgi:application`` on the benchmark's database.

    ``url``: the base URL (no trailing slash). The environment is this process's (set up by
    ``BenchDatabase``: ``DATABASE_URL``, ``DEBUG=0``, no Redis), with ``settings_module`` as
    ``DJANGO_SETTINGS_MODULE`` and the bench directory on ``PYTHONPATH``.
    """

    def __init__(self, settings_module: str = "flashfusion.settings", extra_env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings_module = settings_module
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="ffbench-daphne-", suffix=".log", delete=False)

    def __enter__(self) -> Daphne:
        env = dict(os.environ)
        env.update(DJANGO_SETTINGS_MODULE=self.settings_module, PYTHONUNBUFFERED="1", **self.extra_env)
        paths = [str(ROOT / "bench"), str(ROOT), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(paths).rstrip(os.pathsep)
        env["ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
        self.process = subprocess.Popen(
            [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "flashfusion.asgi:application"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException as error:
            self.__exit__(type(error), error, None)
            raise
        return self

    def _wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"daphne exited with {self.process.returncode}; log: {self.log.name}")
            try:
                if httpx.get(f"{self.url}/login/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"daphne did not answer within {timeout:.0f} s; log: {self.log.name}")

    def __exit__(self, *exc) -> None:
        process = self.process
        if process is not None:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(process.pid, sig)
                    process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
                except ProcessLookupError:
                    break
        self.log.close()
        if not exc or exc[0] is None:
            os.unlink(self.log.name)
        else:
            print(f"daphne log kept: {self.log.name}")


def session_client(base_url: str, user):
    """An ``httpx.Client`` with a session of ``user`` made in the database, as Django's test client's
    ``force_login`` makes it: 20 clients signing in through the form would hash 20 passwords in daphne."""
    import httpx
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    client = httpx.Client(base_url=base_url, timeout=60, follow_redirects=False)
    client.cookies.set(settings.SESSION_COOKIE_NAME, session.session_key)
    return client


def signed_in(base_url: str, username: str, password: str):
    """An ``httpx.Client`` logged in through the login form (session and CSRF cookies kept)."""
    import httpx

    client = httpx.Client(base_url=base_url, timeout=60, follow_redirects=False)
    page = client.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login/", data={"username": username, "password": password, "csrfmiddlewaretoken": token},
                         headers={"Referer": f"{base_url}/login/"})
    if answer.status_code != 302:
        raise SystemExit(f"login as {username} answered {answer.status_code}")
    return client


class LiveSocket:
    """The page's live websocket (``/ws/live/?regions=…``) with the client's cookies; ``on_message(text)``
    is called from a reader thread for every text message. ``close()`` ends it."""

    def __init__(self, base_url: str, path: str, cookies: str, on_message, attempts: int = 3):
        for attempt in range(1, attempts + 1):
            try:
                self._connect(base_url, path, cookies)
                break
            except (ConnectionError, OSError):
                if attempt == attempts:  # daphne refuses a handshake it could not finish in 5 s (a loaded machine)
                    raise
                time.sleep(1)
        self.on_message = on_message
        self.open = True
        self.lock = threading.Lock()
        self.sock.settimeout(None)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _connect(self, base_url: str, path: str, cookies: str) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {base_url}\r\n"
                   f"Cookie: {cookies}\r\n\r\n")
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("websocket closed during the handshake")
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise ConnectionError(f"websocket handshake answered {status!r}")
        self.buffer = head.split(b"\r\n\r\n", 1)[1]

    def _exact(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _send(self, opcode: int, payload: bytes = b"") -> None:
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        with self.lock:
            self.sock.sendall(header + mask + masked)

    def send_text(self, text: str) -> None:
        self._send(0x1, text.encode())

    def _read(self) -> None:
        message = b""
        try:
            while self.open:
                first, second = self._exact(2)
                opcode, length = first & 0x0F, second & 0x7F
                if length == 126:
                    length = struct.unpack("!H", self._exact(2))[0]
                elif length == 127:
                    length = struct.unpack("!Q", self._exact(8))[0]
                if second & 0x80:
                    self._exact(4)  # servers do not mask; skip a mask all the same
                payload = self._exact(length)
                if opcode == 0x9:
                    self._send(0xA, payload)
                elif opcode == 0x8:
                    break
                elif opcode in (0x0, 0x1):
                    message += payload
                    if first & 0x80:
                        self.on_message(message.decode(errors="replace"))
                        message = b""
        except (ConnectionError, OSError):
            pass
        finally:
            self.open = False

    def close(self) -> None:
        if self.open:
            self.open = False
            try:
                self._send(0x8, struct.pack("!H", 1000))
            except OSError:
                pass
        try:
            self.sock.close()
        except OSError:
            pass
