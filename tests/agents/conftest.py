import pytest

from agents import policies


@pytest.fixture
def job_kind():
    """Register a job kind for one test: ``job_kind("test.work", handler, timeout=1, ...)`` → the kind.

    The handler is what the agent does, which these tests do not test; the
    runner, leases, retries and limits around it are real.
    """
    added = []

    def register(kind, handler, **policy):
        policies.register(kind, policies.JobPolicy(handler, **policy))
        added.append(kind)
        return kind

    yield register
    for kind in added:
        policies.unregister(kind)
