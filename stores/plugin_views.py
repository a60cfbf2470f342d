"""The Plugins page: the installed connectors, what each can do, their published limits, and each store's live budget."""

from dataclasses import dataclass, field
from importlib.metadata import entry_points

from django.db.models import Count

from flashfusion.views import ObjectListView
from stores.choices import Platform
from stores.filtersets import StoreFilterSet
from stores.forms import rate_plan_choices
from stores.models import Store
from stores.plugins import BUILT_IN, ENTRY_POINT_GROUP, Capability, RateLimit, StorePlugin, registered_plugins
from stores.tables import StoreBudgetTable
from stores.views import store_rows


@dataclass
class PlanLimit:
    """One row of a plugin's published limits: the plan ("" when the platform has none) and its bucket."""

    plan: str
    label: str
    limit: RateLimit


@dataclass
class PluginInfo:
    """What the Plugins page shows about one registered plugin."""

    platform: str
    label: str
    built_in: bool
    origin: str
    target: str
    max_batch: int
    capabilities: frozenset[str]
    limits: list[PlanLimit]
    store_count: int = 0
    other_capabilities: list[str] = field(default_factory=list)

    @property
    def cells(self) -> list[tuple[str, str, bool]]:
        """``(capability, label, supported)`` in ``Capability.ALL`` order: one row of the capability matrix."""
        return [(cap, Capability.LABELS[cap], cap in self.capabilities) for cap in Capability.ALL]


def platform_label(platform: str) -> str:
    return Platform(platform).label if platform in Platform.values else platform


def _plugin_info(platform: str, plugin: type[StorePlugin], entries: dict) -> PluginInfo:
    built_in = platform in BUILT_IN
    if built_in:
        origin, target = "Built in", BUILT_IN[platform]
    else:
        entry = entries.get(platform)
        dist = getattr(entry, "dist", None)
        origin = f"{dist.name} {dist.version}" if dist is not None else "Entry point"
        target = entry.value if entry is not None else f"{plugin.__module__}:{plugin.__qualname__}"
    plans = rate_plan_choices(platform) or [("", "Every store")]
    limits = [PlanLimit(plan, label, plugin.rate_limits(plan)) for plan, label in plans]
    capabilities = frozenset(plugin.capabilities)
    return PluginInfo(
        platform=platform,
        label=plugin.label or platform_label(platform),
        built_in=built_in,
        origin=origin,
        target=target,
        max_batch=plugin.max_batch,
        capabilities=capabilities,
        limits=limits,
        other_capabilities=sorted(capabilities - set(Capability.ALL)),
    )


def plugin_registry(organization) -> dict:
    """The registry as the page shows it.

    ``plugins``: one ``PluginInfo`` per registered plugin with how many of
    the organization's stores use it; ``shadowed``: entry points ignored
    because a built-in plugin already serves their platform; ``unserved``:
    ``(platform label, store count)`` for stores whose platform has no plugin.
    """
    registered = registered_plugins()
    entries = {}
    shadowed = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in BUILT_IN:
            shadowed.append(entry)
        else:
            entries.setdefault(entry.name, entry)
    counts = dict(
        Store.objects.filter(organization=organization).order_by().values("platform").annotate(n=Count("id")).values_list("platform", "n")
    )
    plugins = []
    for platform, plugin in registered.items():
        info = _plugin_info(platform, plugin, entries)
        info.store_count = counts.get(platform, 0)
        plugins.append(info)
    unserved = [(platform_label(p), n) for p, n in sorted(counts.items()) if p not in registered]
    return {"plugins": plugins, "shadowed": shadowed, "unserved": unserved}


class PluginListView(ObjectListView):
    """Registry, capability matrix and published limits; the stores' budgets reload on ``stores-changed``."""

    filterset_class = StoreFilterSet
    table_class = StoreBudgetTable
    template_name = "stores/plugin_list.html"
    live_signal = "stores-changed"

    def get_queryset(self, request):
        return store_rows(request.organization)

    def extra_context(self, request) -> dict:
        if request.htmx:
            return {}
        return {
            **plugin_registry(request.organization),
            "capabilities": [(cap, Capability.LABELS[cap]) for cap in Capability.ALL],
        }
