"""Run the WooCommerce REST API v3 emulator until SIGTERM or Ctrl-C.

    python manage.py woo_emulator [--host 127.0.0.1] [--port 8765]
        [--consumer-key ck_demo] [--consumer-secret cs_demo] [--state var/woo-emulator.json]
        [--fault-errors 0.05] [--fault-latency 0.2] [--fault-rate-limits 0.02] [--fault-burst 3]
        [--fault-retry-after 2] [--fault-timeouts 0.01] [--fault-hang 30] [--fault-malformed 0.02]
        [--fault-lost-answers 0.02] [--fault-outage 60:120] [--fault-seed 7]

``scripts/run-demo`` starts it for the demo store. The shop is kept in the
``--state`` JSON file (relative paths are under the project directory), so
products pushed in one demo session are still there in the next; pass
``--state ""`` for a shop that lives in memory only.

The ``--fault-*`` flags make the shop misbehave (``stores.emulators.faults``):
shares are fractions of requests (0–1, together at most 1), times are
seconds, ``--fault-outage START:END`` is a window counted from start-up.
The plan can also be changed while it runs: ``POST /__emulator__/faults``.
"""

import argparse
import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from stores.emulators.faults import FaultPlan
from stores.emulators.woocommerce import start_emulator


def _outage(text: str) -> tuple[float, float]:
    start, sep, end = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return float(start), float(end)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:END seconds, e.g. 60:120, got {text!r}") from None


class Command(BaseCommand):
    help = "Serve a WooCommerce REST API v3 emulator (OAuth 1.0a over plain HTTP) until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765; 0 picks one)")
        parser.add_argument("--consumer-key", default="ck_demo", help="the API key's consumer key")
        parser.add_argument("--consumer-secret", default="cs_demo", help="the API key's consumer secret")
        parser.add_argument("--state", default="var/woo-emulator.json",
                            help='JSON file the shop is loaded from and saved to ("" keeps it in memory)')
        faults = parser.add_argument_group("fault injection (stores.emulators.faults)")
        faults.add_argument("--fault-errors", type=float, default=0.0,
                            help="share of requests answered 5xx (500, 502, 503 or 504); nothing applied")
        faults.add_argument("--fault-latency", type=float, default=0.0, help="seconds added to every answer")
        faults.add_argument("--fault-rate-limits", type=float, default=0.0,
                            help="share of requests that start a burst of 429s")
        faults.add_argument("--fault-burst", type=int, default=3, help="429s in a row per burst (default 3)")
        faults.add_argument("--fault-retry-after", type=float, default=1.0,
                            help="Retry-After seconds sent with a 429 (default 1)")
        faults.add_argument("--fault-timeouts", type=float, default=0.0,
                            help="share of requests that hang, then drop the connection; nothing applied")
        faults.add_argument("--fault-hang", type=float, default=30.0,
                            help="seconds a hanging request hangs (default 30)")
        faults.add_argument("--fault-malformed", type=float, default=0.0,
                            help="share of requests answered 200 with a body that is not JSON; nothing applied")
        faults.add_argument("--fault-lost-answers", type=float, default=0.0,
                            help="share of writes applied but answered 502")
        faults.add_argument("--fault-outage", type=_outage, default=None, metavar="START:END",
                            help="seconds after start-up during which every request answers 503")
        faults.add_argument("--fault-seed", type=int, default=0, help="seed of the fault dice (default 0)")

    def handle(self, *args, host, port, consumer_key, consumer_secret, state, **options):
        outage = options["fault_outage"] or (None, None)
        try:
            plan = FaultPlan(
                seed=options["fault_seed"], error_rate=options["fault_errors"], latency=options["fault_latency"],
                rate_limit_rate=options["fault_rate_limits"], rate_limit_burst=options["fault_burst"],
                retry_after=options["fault_retry_after"], timeout_rate=options["fault_timeouts"],
                hang_seconds=options["fault_hang"], malformed_rate=options["fault_malformed"],
                lost_answer_rate=options["fault_lost_answers"], outage_start=outage[0], outage_end=outage[1],
                error_statuses=(500, 502, 503, 504),
            )
        except ValueError as exc:
            raise CommandError(f"woo_emulator: {exc}") from exc
        if not plan.active:
            plan = None
        state_path = None
        if state:
            state_path = Path(state)
            if not state_path.is_absolute():
                state_path = Path(settings.BASE_DIR) / state_path
        try:
            emulator = start_emulator(host=host, port=port, consumer_key=consumer_key,
                                      consumer_secret=consumer_secret, state_path=state_path, faults=plan)
        except (OSError, ValueError) as exc:
            raise CommandError(f"woo_emulator: cannot start on {host}:{port}: {exc}") from exc

        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda signum, frame: stop.set())
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        self.stdout.write(f"WooCommerce emulator at {emulator.base_url} (API {emulator.api_url})")
        self.stdout.write(f"consumer key {consumer_key}, consumer secret {consumer_secret}")
        self.stdout.write(f"state: {state_path or 'in memory only'}")
        if plan is not None:
            self.stdout.write(f"faults: {plan.to_dict()}")
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
