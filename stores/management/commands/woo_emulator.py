"""Run the WooCommerce REST API v3 emulator until SIGTERM or Ctrl-C.

    python manage.py woo_emulator [--host 127.0.0.1] [--port 8765]
        [--consumer-key ck_demo] [--consumer-secret cs_demo] [--state var/woo-emulator.json]

``scripts/run-demo`` starts it for the demo store. The shop is kept in the
``--state`` JSON file (relative paths are under the project directory), so
products pushed in one demo session are still there in the next; pass
``--state ""`` for a shop that lives in memory only.
"""

import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from stores.emulators.woocommerce import start_emulator


class Command(BaseCommand):
    help = "Serve a WooCommerce REST API v3 emulator (OAuth 1.0a over plain HTTP) until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765; 0 picks one)")
        parser.add_argument("--consumer-key", default="ck_demo", help="the API key's consumer key")
        parser.add_argument("--consumer-secret", default="cs_demo", help="the API key's consumer secret")
        parser.add_argument("--state", default="var/woo-emulator.json",
                            help='JSON file the shop is loaded from and saved to ("" keeps it in memory)')

    def handle(self, *args, host, port, consumer_key, consumer_secret, state, **options):
        state_path = None
        if state:
            state_path = Path(state)
            if not state_path.is_absolute():
                state_path = Path(settings.BASE_DIR) / state_path
        try:
            emulator = start_emulator(host=host, port=port, consumer_key=consumer_key,
                                      consumer_secret=consumer_secret, state_path=state_path)
        except (OSError, ValueError) as exc:
            raise CommandError(f"woo_emulator: cannot start on {host}:{port}: {exc}") from exc

        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda signum, frame: stop.set())
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        self.stdout.write(f"WooCommerce emulator at {emulator.base_url} (API {emulator.api_url})")
        self.stdout.write(f"consumer key {consumer_key}, consumer secret {consumer_secret}")
        self.stdout.write(f"state: {state_path or 'in memory only'}")
        self.stdout.flush()
        try:
            # wait() with a timeout so the main thread stays responsive to signals
            while not stop.wait(timeout=1.0):
                pass
        finally:
            emulator.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("WooCommerce emulator stopped")
