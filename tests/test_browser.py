"""The designer in a real browser: Debian's Chromium, driven by Playwright, against `streamlit run`.

AppTest cannot draw the canvas, so these tests cover what only a browser shows: the canvas
renders, a mouse drag between two handles connects two nodes, and the Script tab's download
button returns the generated script.

Every canvas change that Python accepts bumps the canvas key, and Streamlit then mounts a
new iframe in the element container with class `st-key-canvas_<version>`. A gesture made
while the old iframe is still mounted is lost. The new iframe then sends its graph back
(streamlit-flow 1.6.1 does so once on mount, and once more after laying out a graph that has
nodes), and each of these requests a rerun. A button click whose run such a rerun interrupts
is lost too, so each canvas change waits for the new version, for these requests, and for
the last run to finish.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ASSETS, EXAMPLE_JOB, ROOT

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}
SCREENSHOT = ROOT / "docs" / "designer.png"
ZONES_CSV = ASSETS / "data" / "nyc_taxi" / "taxi_zone_lookup.csv"
ZONE_COUNT = 265
QUEENS_ZONE_COUNT = 69
CONDITION = "borough = 'Queens'"

CANVAS_IFRAME = 'iframe[title="streamlit_flow.streamlit_flow"]'
# Streamlit keeps the previous run's elements, marked data-stale="true", until the new run replaces them.
LIVE_CANVAS_IFRAME = f'{CANVAS_IFRAME}:not([data-stale="true"] iframe)'
CANVAS_KEY_CLASS = re.compile(r"\bst-key-canvas_(\d+)\b")

START_TIMEOUT = 60  # seconds for `streamlit run` to pass its health check
STOP_TIMEOUT = 10  # seconds between terminate and kill
WAIT_MS = 20_000  # milliseconds for one page update: a rerun with a DuckDB preview
POLL_MS = 50
MOUNT_REQUESTS = 2  # times a new canvas with nodes sends its graph on mount; an empty canvas sends it once

# The payloads of the websocket messages each page sent to the server, in order.
SENT_MESSAGES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium not found at {CHROMIUM}; "
                       "install Debian's chromium package to run the browser tests"),
]


# --- the server and the browser -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with status {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"streamlit health check at {url} timed out after {START_TIMEOUT} s:\n{log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="module")
def designer_url(tmp_path_factory) -> Iterator[str]:
    """Start the designer on a free local port, with a copy of the taxi example open first."""
    work = tmp_path_factory.mktemp("browser")
    jobs = work / "jobs"
    jobs.mkdir()
    job_file = jobs / EXAMPLE_JOB.name
    shutil.copy(EXAMPLE_JOB, job_file)
    env = {
        **os.environ,
        "SPARKCANVAS_JOBS_DIR": str(jobs),
        "SPARKCANVAS_JOB": str(job_file),
        "SPARKCANVAS_HOME": str(work / "home"),
    }
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]
    log = work / "streamlit.log"
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(f"{url}/_stcore/health", process, log)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, designer_url):
    """Open the designer in a fresh browser context, so each test gets its own Streamlit session."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    record_sent_messages(page)
    page.goto(designer_url)
    expect(canvas(page).locator(".react-flow__node").first).to_be_visible(timeout=WAIT_MS)
    wait_for_mount_requests(page, canvas_version(page), MOUNT_REQUESTS)
    yield page
    context.close()


# --- page helpers ---------------------------------------------------------------------------------------


def record_sent_messages(page) -> None:
    sent = SENT_MESSAGES.setdefault(page, [])

    def on_websocket(websocket) -> None:
        websocket.on("framesent", lambda payload: sent.append(
            payload if isinstance(payload, bytes) else payload.encode()
        ))

    page.on("websocket", on_websocket)


def wait_for_mount_requests(page, version: int, count: int) -> None:
    """Wait until the canvas with this version has sent its graph `count` times, then for the last run.

    Every rerun request carries the value of each component that has one, so the first
    requests that name the key `canvas_<version>` are the ones the new canvas sent on mount.
    """
    key = re.compile(rb"canvas_%d(?!\d)" % version)
    deadline = time.monotonic() + WAIT_MS / 1000
    while sum(1 for payload in SENT_MESSAGES[page] if key.search(payload)) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"canvas_{version} did not send its graph {count} times within {WAIT_MS} ms")
        page.wait_for_timeout(POLL_MS)
    wait_for_run(page)


def canvas(page):
    return page.frame_locator(LIVE_CANVAS_IFRAME)


def canvas_node(page, node_id: str):
    return canvas(page).locator(f'.react-flow__node[data-id="{node_id}"]')


def wait_for_run(page) -> None:
    """Wait until the script run has finished and its elements replaced the previous run's."""
    app = page.locator('[data-testid="stApp"]')
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=WAIT_MS)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=WAIT_MS)
    expect(page.locator(CANVAS_IFRAME)).to_have_count(1, timeout=WAIT_MS)


def canvas_version(page) -> int:
    classes = page.locator(f'[data-testid="stElementContainer"]:has({CANVAS_IFRAME})').get_attribute("class")
    return int(CANVAS_KEY_CLASS.search(classes or "").group(1))


def change_canvas(page, action: Callable[[], None], mount_requests: int = MOUNT_REQUESTS) -> None:
    """Run an action after which Python redraws the canvas, and wait until the new canvas has settled."""
    before = canvas_version(page)
    action()
    expect(page.locator(f".st-key-canvas_{before}")).to_have_count(0, timeout=WAIT_MS)
    wait_for_run(page)
    wait_for_mount_requests(page, canvas_version(page), mount_requests)


def add_node(page, label: str, node_id: str) -> None:
    button = page.get_by_role("button", name=label, exact=True)
    change_canvas(page, button.click)
    expect(canvas_node(page, node_id)).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_role("heading", name=label, exact=True)).to_be_visible(timeout=WAIT_MS)


def select_node(page, node_id: str, heading: str) -> None:
    canvas_node(page, node_id).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=WAIT_MS)
    wait_for_run(page)


def center(locator) -> tuple[float, float]:
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag_edge(page, upstream_id: str, node_id: str) -> None:
    """Press on the upstream node's source handle, move in steps, and release on the node's target handle."""
    start_x, start_y = center(canvas_node(page, upstream_id).locator(".react-flow__handle.source"))
    end_x, end_y = center(canvas_node(page, node_id).locator(".react-flow__handle.target"))
    page.mouse.move(start_x, start_y)
    page.mouse.down()
    page.mouse.move((start_x + end_x) / 2, (start_y + end_y) / 2 + 40, steps=10)
    page.mouse.move(end_x, end_y, steps=10)
    page.mouse.up()


def connect(page, upstream_id: str, node_id: str) -> None:
    change_canvas(page, lambda: drag_edge(page, upstream_id, node_id))
    edge = canvas(page).locator(f'.react-flow__edge[data-testid="rf__edge-{upstream_id}->{node_id}:in"]')
    expect(edge).to_be_attached(timeout=WAIT_MS)


def set_text(page, label: str, value: str) -> None:
    box = page.get_by_role("textbox", name=label, exact=True)
    box.fill(value)
    box.press("Enter")


def input_port(page):
    """Return the combobox of the selected node's port `in`, whose value is the upstream node id."""
    return page.get_by_role("combobox", name="Input 'in'")


def show_properties(page) -> None:
    page.get_by_role("tab", name="Properties").click()


def show_preview(page, row_count: int) -> None:
    page.get_by_role("tab", name="Data preview").click()
    caption = page.get_by_text(re.compile(rf"^{row_count} rows ·"))
    expect(caption).to_be_visible(timeout=WAIT_MS)


# --- tests --------------------------------------------------------------------------------------------------


def test_screenshot_shows_canvas_and_preview(page, tmp_path):
    expect(canvas_node(page, "trips_with_zones")).to_be_visible(timeout=WAIT_MS)
    expect(canvas(page).locator(".react-flow__edge")).to_have_count(4, timeout=WAIT_MS)
    select_node(page, "revenue_by_borough", "Revenue by borough")
    show_preview(page, 5)
    expect(page.get_by_role("tab", name="Data preview")).to_have_attribute("aria-selected", "true")
    wait_for_run(page)

    # The README's picture is replaced only on request, so a test run leaves the tree clean.
    target = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") else tmp_path / "designer.png"
    target.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(target))

    assert target.stat().st_size > 20_000


def test_mouse_built_filter_job_exports(page, tmp_path):
    change_canvas(page, page.get_by_role("button", name="New job").click, mount_requests=1)
    expect(page.get_by_text("Job untitled_job")).to_be_visible(timeout=WAIT_MS)

    # A target first: a new node connects to the selected one, and neither a target nor a
    # source can feed the next node added, so all three nodes start unconnected.
    add_node(page, "File target", "file_target")
    add_node(page, "Filter", "filter")
    add_node(page, "File source", "file_source")
    expect(canvas(page).locator(".react-flow__edge")).to_have_count(0)
    show_properties(page)

    set_text(page, "Path or glob", str(ZONES_CSV.relative_to(ROOT)))
    page.get_by_role("button", name="Infer schema").click()
    show_preview(page, ZONE_COUNT)
    wait_for_run(page)

    connect(page, "file_source", "filter")
    connect(page, "filter", "file_target")
    expect(canvas(page).locator(".react-flow__edge")).to_have_count(2)

    select_node(page, "filter", "Filter")
    show_properties(page)
    expect(input_port(page)).to_have_value("file_source")
    set_text(page, "Condition", CONDITION)
    show_preview(page, QUEENS_ZONE_COUNT)

    select_node(page, "file_target", "File target")
    show_properties(page)
    expect(input_port(page)).to_have_value("filter")
    set_text(page, "Path", str(tmp_path / "queens_zones"))

    page.get_by_role("tab", name="Script").click()
    button = page.get_by_role("button", name="Download script")
    expect(button).to_be_visible(timeout=WAIT_MS)
    with page.expect_download(timeout=WAIT_MS) as download_info:
        button.click()
    download = download_info.value
    script = Path(download.path()).read_text()

    assert download.suggested_filename == "untitled_job.py"
    compile(script, download.suggested_filename, "exec")
    assert CONDITION in script
    assert "taxi_zone_lookup.csv" in script
    assert str(tmp_path / "queens_zones") in script
