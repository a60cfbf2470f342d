"""Settings for the job benchmarks: the product's settings plus a ``bench.noop`` job kind and a trivial q2 task.

Used by the benchmark process and by the ``manage.py qcluster`` child it starts
(``bench/`` is put on ``PYTHONPATH``, so this module is ``bench_settings``).
Differences from ``flashfusion.settings``, all for measuring:

* ``JOB_POLICY_OVERRIDES["bench.noop"]``: a job kind whose handler does nothing;
* ``Q_CLUSTER["save_limit"] = 0``: q2 keeps every Success row, so the bare-task
  run can count its finished tasks (with the product's 1000, q2 deletes the
  oldest as it goes); the same for both runs;
* ``Q_CLUSTER["name"]`` from ``Q_CLUSTER_NAME`` (the benchmark sets a unique
  one, so its Redis list never meets another cluster's);
* ``BENCH_PROFILE=<dir>``: each q2 worker process profiles the tasks it runs
  (cProfile, between q2's ``pre_execute`` and ``post_execute_in_worker``
  signals) and writes ``<dir>/worker-<pid>.prof`` after each task.
"""

import os

from flashfusion.settings import *  # noqa: F403
from flashfusion.settings import JOB_POLICY_OVERRIDES, Q_CLUSTER

JOB_POLICY_OVERRIDES = {
    **JOB_POLICY_OVERRIDES,
    "bench.noop": {"handler": "bench_settings.noop", "max_attempts": 1, "timeout": 60},
}
Q_CLUSTER = {**Q_CLUSTER, "save_limit": 0}


def noop(job) -> dict:
    """The ``bench.noop`` job: no work."""
    return {}


def noop_task() -> None:
    """The bare django-q2 task: no work."""
    return None


_PROFILE_DIR = os.environ.get("BENCH_PROFILE", "")
if _PROFILE_DIR:
    import cProfile

    from django_q.signals import post_execute_in_worker, pre_execute

    _profiler = cProfile.Profile()

    def _start(sender, func=None, task=None, **kwargs):
        _profiler.enable()

    def _stop(sender, func=None, task=None, **kwargs):
        _profiler.disable()
        _profiler.dump_stats(os.path.join(_PROFILE_DIR, f"worker-{os.getpid()}.prof"))

    pre_execute.connect(_start, dispatch_uid="bench-profile-start")
    post_execute_in_worker.connect(_stop, dispatch_uid="bench-profile-stop")
