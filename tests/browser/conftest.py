"""Harness for real-browser tests: a live FlashFusion and Debian's chromium.

``live_stack`` (for tests marked ``@pytest.mark.django_db(transaction=True)``)
starts, against pytest's test database, the web server (daphne on a free
port) and the workers (``manage.py qcluster``) as child processes, and the
WooCommerce emulator in this process. ``page`` is a fresh browser context's
page in chromium driven by Playwright's sync API; ``login`` signs a user in
through the login form.

Chromium is ``/usr/bin/chromium`` from Debian's ``chromium`` package
(Playwright's own browser download does not work here). Without it the
browser tests are skipped, or fail when ``FLASHFUSION_REQUIRE_BROWSER=1``
(as in CI).

Playwright's sync API keeps an asyncio loop running on the main thread while
it is started, and Django refuses ORM calls when it sees a running loop. So
Playwright lives only while this package's tests run (``browser`` is
package-scoped: stopping Playwright ends the loop for the rest of the suite),
and ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set only for that time.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = ROOT / "test-results"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
START_TIMEOUT = 60  # seconds for the web server to answer and the workers to run
STOP_GRACE = 5  # seconds between SIGTERM and SIGKILL at teardown
ACTION_TIMEOUT_MS = 20_000  # Playwright's wait for an element, a navigation or an expect(); CI machines can be loaded


# --- reporting -------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """When a test fails, save a screenshot of its page and add the live stack's logs to its report.

    Done here, while the page and the processes still exist: output printed
    at teardown would not reach the failure report.
    """
    report = yield
    if report.when == "call" and report.failed:
        funcargs = getattr(item, "funcargs", {})
        page = funcargs.get("page")
        if page is not None:
            report.sections.append(("screenshot", _screenshot(page, item.nodeid)))
        stack = funcargs.get("live_stack")
        if isinstance(stack, LiveStack):
            report.sections.append(("live_stack logs", stack.logs()))
    return report


def _screenshot(page, nodeid: str) -> str:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / (re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:180] + ".png")
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception as exc:  # the page may be closed or crashed; the test's own failure is what matters
        return f"no screenshot: {exc}"
    return f"saved {path}"


# --- the live stack --------------------------------------------------------


def database_url(settings_dict: dict) -> str:
    """A ``DATABASE_URL`` for child processes that points at the same database as ``settings_dict``.

    Call it once the test database exists: its ``NAME`` is then the test
    database's (a file for SQLite: settings give SQLite a TEST NAME).
    """
    engine = settings_dict["ENGINE"]
    name = str(settings_dict["NAME"])
    if engine == "django.db.backends.sqlite3":
        if not name or name == ":memory:" or name.startswith("file:"):
            raise RuntimeError(f"The SQLite test database must be a file for child processes to open it, not {name!r}.")
        return f"sqlite:///{Path(name).resolve()}"
    if engine == "django.db.backends.postgresql":
        user = quote(settings_dict.get("USER") or "", safe="")
        password = settings_dict.get("PASSWORD") or ""
        credentials = user + (f":{quote(password, safe='')}" if password else "")
        host = quote(settings_dict.get("HOST") or "", safe="")
        port = str(settings_dict.get("PORT") or "")
        netloc = (f"{credentials}@" if credentials else "") + host + (f":{port}" if port else "")
        return f"postgresql://{netloc}/{quote(name, safe='')}"
    raise RuntimeError(f"live_stack does not know how to pass the {engine} database to child processes.")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"


@dataclass
class LiveStack:
    """What ``live_stack`` yields: ``url`` of the web server (no trailing slash) and the ``emulator``."""

    url: str
    emulator: object
    children: dict[str, Child] = field(default_factory=dict)

    def logs(self) -> str:
        return "\n".join(
            f"----- {child.name} (exit {child.process.poll()}) {child.log} -----\n{child.output()}"
            for child in self.children.values()
        )


def _spawn(name: str, argv: list[str], env: dict, log_dir: Path) -> Child:
    log = log_dir / f"{name}.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: teardown reaches its children
        )
    return Child(name, process, log)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: PostgreSQL ``application_name`` of the children's database sessions (``child_env``).
CHILD_APPLICATION_NAME = "flashfusion-test-child"


def _end_child_sessions() -> None:
    """End the PostgreSQL sessions the children left behind on the test database.

    A SIGKILLed client's server process runs its current statement on, holding its locks; the test's
    teardown flush (TRUNCATE of every table) then met it as "deadlock detected" in CI.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s AND pid <> pg_backend_pid()",
            [CHILD_APPLICATION_NAME],
        )


def _stop(children: list[Child]) -> None:
    """SIGTERM each child, then SIGKILL whatever is left of their process groups.

    The SIGTERM goes to the leader only: qcluster then stops its workers
    itself, while a SIGTERM to its whole group kills its sentinel first and
    can leave the main process hanging.
    """
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for child in children:
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    while time.monotonic() < deadline and any(_group_alive(c.process.pid) for c in children):
        time.sleep(0.1)
    for child in children:
        try:
            os.killpg(child.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            child.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    try:
        _end_child_sessions()
    except RuntimeError:  # pytest-django: this test has no database access, so no child had one either
        pass


def _wait_until_ready(stack: LiveStack) -> None:
    """Poll the login page until it answers 200 and the workers log that they run."""
    deadline = time.monotonic() + START_TIMEOUT
    web_ready = False
    while True:
        for child in stack.children.values():
            if child.process.poll() is not None:
                raise RuntimeError(f"{child.name} exited with {child.process.returncode} during start-up.")
        if not web_ready:
            try:
                with urllib.request.urlopen(f"{stack.url}/login/", timeout=2) as response:
                    web_ready = response.status == 200
            except urllib.error.HTTPError as exc:
                raise RuntimeError(f"The login page answered HTTP {exc.code} during start-up.") from None
            except (urllib.error.URLError, OSError):
                pass
        workers_ready = "Q Cluster" in (text := stack.children["workers"].output()) and " running." in text
        if web_ready and workers_ready:
            return
        if time.monotonic() > deadline:
            waiting = [n for n, ok in (("web", web_ready), ("workers", workers_ready)) if not ok]
            raise RuntimeError(f"{' and '.join(waiting)} not ready within {START_TIMEOUT} s.")
        time.sleep(0.2)


def child_env(connection, **extra: str) -> dict:
    """The environment for a child process (web server, workers) on the test database of ``connection``."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DATABASE_URL=database_url(connection.settings_dict),
        DJANGO_SETTINGS_MODULE="flashfusion.settings",
        PYTHONUNBUFFERED="1",
        Q_WORKERS="1",
        PGAPPNAME=CHILD_APPLICATION_NAME,  # libpq's application_name: _stop finds their PostgreSQL sessions by it
        **extra,
    )
    return env


@pytest.fixture
def live_stack(transactional_db, tmp_path):
    """Web server and workers on the test database, plus the WooCommerce emulator.

    Yields a ``LiveStack`` (``.url``, ``.emulator``). The children get the
    test database as ``DATABASE_URL`` and ``REDIS_URL`` unchanged; their logs
    are added to the report of a test that fails.
    """
    from django.db import connection

    from stores.emulators.woocommerce import start_emulator

    env = child_env(connection)
    log_dir = tmp_path / "live-stack"
    log_dir.mkdir()
    port = _free_port()
    python = sys.executable
    bin_dir = Path(python).parent

    emulator = start_emulator(port=0)
    stack = LiveStack(url=f"http://127.0.0.1:{port}", emulator=emulator)
    try:
        stack.children["web"] = _spawn(
            "web",
            [str(bin_dir / "daphne"), "-b", "127.0.0.1", "-p", str(port), "flashfusion.asgi:application"],
            env,
            log_dir,
        )
        stack.children["workers"] = _spawn("workers", [python, "manage.py", "qcluster"], env, log_dir)
        try:
            _wait_until_ready(stack)
        except RuntimeError as exc:
            pytest.fail(f"live_stack did not start: {exc}\n{stack.logs()}", pytrace=False)
        yield stack
    finally:
        _stop(list(stack.children.values()))
        emulator.stop()


# --- the browser -----------------------------------------------------------


@pytest.fixture(scope="package")
def browser():
    """Debian's chromium under Playwright, one for all tests of this package.

    ``launch`` gives chromium a new empty profile (a fresh ``--user-data-dir``
    in a temporary folder, removed at close).
    """
    if not os.access(CHROMIUM, os.X_OK):
        reason = f"{CHROMIUM} is missing (install Debian's chromium: apt-get install chromium)"
        if os.environ.get("FLASHFUSION_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}; FLASHFUSION_REQUIRE_BROWSER=1 makes that a failure.", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        # While Playwright runs, its asyncio loop runs on this thread: let the
        # tests (and the database flush after each) use the ORM all the same.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        playwright = sync_playwright().start()
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()
        finally:
            playwright.stop()


@pytest.fixture
def page(browser):
    """A page in a new browser context (no cookies). A failed test's screenshot goes to test-results/."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    from playwright.sync_api import expect

    expect.set_options(timeout=ACTION_TIMEOUT_MS)  # assertions wait as long as actions (5 s by default)
    try:
        yield context.new_page()
    finally:
        context.close()


def login(page, url: str, username: str, password: str) -> None:
    """Sign in through the login form at ``url`` (the site's base URL) and wait to leave the login page."""
    from playwright.sync_api import expect

    page.goto(f"{url.rstrip('/')}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page, f"still on the login page after logging in as {username}").not_to_have_url(re.compile(r"/login/"))
