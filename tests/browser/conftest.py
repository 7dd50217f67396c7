"""End-to-end browser tests: a real `healthpass serve` (API + UI and a healthpass worker, with its own
Prefect server) on free ports with a fresh, seeded SQLite store, driven by Playwright through
Debian's Chromium. One server and one browser per test session; a new browser context per test.

Every test here is marked `slow` and `browser`. Without Chromium or Playwright they skip with the
reason, except under HEALTHPASS_REQUIRE_BROWSER=1 (CI), where they fail. See tests/browser/README.md.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import PrefectServer, _free_port

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
CHROMIUM = os.environ.get("HEALTHPASS_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("HEALTHPASS_REQUIRE_BROWSER") == "1"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).is_relative_to(HERE):
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.timeout(600))  # the first test also waits for seed and Prefect


def _unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium; or set HEALTHPASS_CHROMIUM)"
    return None


@pytest.fixture(scope="package")
def browser():
    why = _unavailable()
    if why:
        if REQUIRE_BROWSER:
            pytest.fail(f"HEALTHPASS_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    # Debian's Chromium, never a browser downloaded by `playwright install`. --no-sandbox: CI runs as root.
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


class Live:
    """The running system: its base URL and the API calls tests use to set a scene or wait."""

    def __init__(self, base: str, data_dir: Path, log: Path):
        self.base, self.data_dir, self.log = base, data_dir, log
        self.http = httpx.Client(base_url=base, timeout=30)

    def token(self, username: str, password: str = "demo-pass-2026") -> dict[str, str]:
        r = self.http.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def case(self, case_id: str, access_token: str) -> dict:
        r = self.http.get(f"/api/v1/applications/{case_id}", params={"access_token": access_token})
        assert r.status_code == 200, r.text
        return r.json()

    def wait_case(self, case_id: str, access_token: str, until, *, what: str, seconds: float = 90) -> dict:
        """Poll the case until `until(view)` holds (the worker runs flows in the background)."""
        deadline = time.monotonic() + seconds
        while True:
            view = self.case(case_id, access_token)
            if until(view):
                return view
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {seconds:.0f} s: {what}; the case is {view['status']}\n" + self.log.read_text(errors="replace")[-2000:])
            time.sleep(0.5)


def _wait(what: str, check, *, seconds: float, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited ({proc.returncode}) before {what}:\n" + log.read_text(errors="replace")[-3000:])
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"not within {seconds:.0f} s: {what}\n" + log.read_text(errors="replace")[-3000:])


@pytest.fixture(scope="package")
def live(browser, tmp_path_factory):
    """`healthpass db upgrade`, `seed` (with the demo history: supervisors see breaches) and `serve`,
    as `make run` does, on free ports in a temporary data dir. Real time: serve has no injected clock,
    so the journeys assert only what holds at any hour (see README.md here)."""
    tmp = tmp_path_factory.mktemp("live")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTHPASS_", "PREFECT_"))}
    env.update(HEALTHPASS_DATA_DIR=str(tmp / "var"), HEALTHPASS_PORT=str(port), HEALTHPASS_HOST="127.0.0.1", PYTHONPATH=str(ROOT),
               PREFECT_HOME=str(tmp / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    # The Prefect server is this system's own (as serve would start it), started here so its
    # slow start-up (up to a minute on a busy machine) overlaps the seeding.
    (tmp / "prefect").mkdir()
    prefect = PrefectServer(tmp / "prefect", None)
    started: list[BaseException | None] = []

    def start_prefect():
        try:
            prefect.start()
            started.append(None)
        except BaseException as exc:  # noqa: BLE001 -- reported below, in the test's thread
            started.append(exc)

    thread = threading.Thread(target=start_prefect, daemon=True)
    thread.start()
    cli = [sys.executable, "-m", "ops.cli"]
    for step in (["db", "upgrade"], ["seed"]):
        done = subprocess.run(cli + step, env=env, cwd=tmp, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"healthpass {' '.join(step)}: {done.stdout}{done.stderr}"
    thread.join(180)
    if not started or started[0] is not None:
        prefect.stop()
        raise RuntimeError(f"the Prefect server did not start: {started[0] if started else 'timed out'}")
    env.update(HEALTHPASS_PREFECT_API_URL=prefect.api_url, PREFECT_API_URL=prefect.api_url)
    log = tmp / "serve.log"
    with open(log, "wb") as out:
        serve = subprocess.Popen(cli + ["serve"], env=env, cwd=tmp, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def worker_ok() -> bool:
        body = httpx.get(base + "/healthz", timeout=5).json()
        return body["components"]["worker"]["status"] == "ok"

    try:
        _wait("the API and the worker are up", worker_ok, seconds=180, proc=serve, log=log)
        server = Live(base, tmp / "var", log)
        yield server
        server.http.close()
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGTERM)  # serve stops its children (ops/supervisor.py)
            try:
                serve.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
        prefect.stop()


def _context(browser, live, **options):
    ctx = browser.new_context(**{"base_url": live.base, "locale": "en-US", "timezone_id": "Asia/Shanghai", **options})
    ctx.set_default_timeout(15_000)
    return ctx


@pytest.fixture
def desktop(browser, live):
    """A page in a desktop-sized window."""
    ctx = _context(browser, live, **DESKTOP)
    yield ctx.new_page()
    ctx.close()


@pytest.fixture
def phone(browser, live):
    """A page on a phone (390×844, touch): how most applicants declare."""
    ctx = _context(browser, live, **PHONE)
    yield ctx.new_page()
    ctx.close()


@pytest.fixture
def no_js(browser, live):
    """A page with JavaScript switched off: every core form must still work."""
    ctx = _context(browser, live, java_script_enabled=False, **DESKTOP)
    page = ctx.new_page()
    page.hp_no_js = True  # support.axe_check runs axe on a copy in a context with JavaScript
    yield page
    ctx.close()


@pytest.fixture
def new_context(browser, live):
    """Another context (a second person at another device): `new_context(**options).new_page()`."""
    made = []

    def make(**options):
        made.append(_context(browser, live, **{**DESKTOP, **options}))
        return made[-1]

    yield make
    for ctx in made:
        ctx.close()
