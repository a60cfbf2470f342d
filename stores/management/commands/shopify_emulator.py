"""Run the Shopify Admin API emulator (GraphQL and REST) until SIGTERM or Ctrl-C.

    python manage.py shopify_emulator [--host 127.0.0.1] [--port 8766]
        [--access-token shpat_demo] [--plan standard] [--api-version 2025-07]
        [--state var/shopify-emulator.json] [--webhook-secret whsec_demo] [--shop flashfusion-demo]
        [--fault-rate 0.2] [--latency 0.5] [--burst-429 5] [--timeout-rate 0.1 --hang-seconds 30]
        [--malformed-rate 0.1] [--lost-answer-rate 0.1] [--outage 60 120] [--seed 0]

The shop is kept in the ``--state`` JSON file (relative paths are under the
project directory); ``--state ""`` keeps it in memory only. Fault flags
build a ``FaultPlan`` (see ``stores.emulators.faults``); without any
the emulator answers cleanly. A shop owner's edit can be simulated from
another process with ``POST /__emulator__/products/<id>`` and a JSON object
of changes, e.g. ``{"title": "New title", "variants": [{"id": 1, "price":
"9.99"}]}``; it sends the signed ``products/update`` webhook.
"""

import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from stores.emulators.shopify import PLANS, SUPPORTED_VERSIONS, FaultPlan, start_emulator


class Command(BaseCommand):
    help = "Serve a Shopify Admin API emulator (GraphQL + REST, rate limits, webhooks, faults) until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8766, help="port to listen on (default 8766; 0 picks one)")
        parser.add_argument("--access-token", default="shpat_demo", help="the Admin API access token it accepts")
        parser.add_argument("--plan", default="standard", choices=sorted(PLANS),
                            help="Shopify plan whose rate limits apply (default standard)")
        parser.add_argument("--api-version", default="2025-07", choices=SUPPORTED_VERSIONS,
                            help="API version served when a request names an unknown one (default 2025-07)")
        parser.add_argument("--state", default="var/shopify-emulator.json",
                            help='JSON file the shop is loaded from and saved to ("" keeps it in memory)')
        parser.add_argument("--webhook-secret", default="whsec_demo", help="secret that signs outgoing webhooks")
        parser.add_argument("--shop", default="flashfusion-demo", help="shop name: <shop>.myshopify.com")
        faults = parser.add_argument_group("faults")
        faults.add_argument("--fault-rate", type=float, default=0.0, help="share of calls answered 502/503 (HTML)")
        faults.add_argument("--latency", type=float, default=0.0, help="seconds added before every answer")
        faults.add_argument("--burst-429", type=int, default=0, help="the first N calls answer 429")
        faults.add_argument("--timeout-rate", type=float, default=0.0,
                            help="share of calls held --hang-seconds and then dropped unanswered")
        faults.add_argument("--hang-seconds", type=float, default=30.0, help="how long a timed-out call is held")
        faults.add_argument("--malformed-rate", type=float, default=0.0, help="share of answers with cut-off JSON")
        faults.add_argument("--lost-answer-rate", type=float, default=0.0,
                            help="share of writes that are applied but answered 502")
        faults.add_argument("--outage", type=float, nargs=2, metavar=("START", "END"),
                            help="answer 503 to every call between START and END seconds after start-up")
        faults.add_argument("--seed", type=int, default=0, help="seed of the fault draws (default 0)")

    def handle(self, *args, host, port, access_token, plan, api_version, state, webhook_secret, shop, **options):
        state_path = None
        if state:
            state_path = Path(state)
            if not state_path.is_absolute():
                state_path = Path(settings.BASE_DIR) / state_path
        try:
            faults = self._fault_plan(options)
            emulator = start_emulator(host=host, port=port, access_token=access_token, plan=plan,
                                      api_version=api_version, state_path=state_path, faults=faults,
                                      webhook_secret=webhook_secret, shop=shop)
        except (OSError, ValueError) as exc:
            raise CommandError(f"shopify_emulator: cannot start on {host}:{port}: {exc}") from exc

        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda signum, frame: stop.set())
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        self.stdout.write(f"Shopify emulator at {emulator.base_url} (GraphQL {emulator.graphql_url})")
        self.stdout.write(f"shop {emulator.shop_domain}, plan {plan}, access token {access_token}, "
                          f"webhook secret {webhook_secret}")
        self.stdout.write(f"state: {state_path or 'in memory only'}")
        if faults:
            self.stdout.write(f"faults: {faults}")
        self.stdout.flush()
        try:
            while not stop.wait(timeout=1.0):
                pass
        finally:
            emulator.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("Shopify emulator stopped")

    @staticmethod
    def _fault_plan(options) -> FaultPlan | None:
        outage = options.get("outage")
        plan = FaultPlan(error_rate=options["fault_rate"], latency=options["latency"], burst_429=options["burst_429"],
                         timeout_rate=options["timeout_rate"], hang_seconds=options["hang_seconds"],
                         malformed_rate=options["malformed_rate"], lost_answer_rate=options["lost_answer_rate"],
                         outage_start=outage[0] if outage else None, outage_end=outage[1] if outage else None,
                         seed=options["seed"])
        return None if plan == FaultPlan(hang_seconds=plan.hang_seconds, seed=plan.seed) else plan
