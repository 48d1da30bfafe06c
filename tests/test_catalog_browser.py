"""The Data Catalog page in Debian's Chromium, driven by Playwright, against `streamlit run`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, free_port, stop, wait_until_healthy

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

CRAWL_MS = 60_000  # milliseconds for crawling the example data, which reads every file with DuckDB
WAIT_MS = 20_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"Chromium not found at {CHROMIUM}; "
        "install Debian's chromium package to run the browser tests",
    ),
]


@pytest.fixture(scope="module")
def designer_url(tmp_path_factory) -> Iterator[str]:
    """Start the designer with an empty catalog on a free local port."""
    work = tmp_path_factory.mktemp("catalog-browser")
    env = {**os.environ, "SPARKCANVAS_HOME": str(work / "home")}
    env.pop("SPARKCANVAS_CATALOG", None)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
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


SCREENSHOT = ROOT / "docs" / "catalog.png"


def test_crawl_example_data_lists_tables(designer_url, tmp_path):
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(designer_url)
            expect(page.get_by_role("heading", name="SparkCanvas")).to_be_visible(timeout=WAIT_MS)
            page.get_by_role("link", name="Data Catalog").click()
            expect(page.get_by_role("heading", name="Data Catalog")).to_be_visible(timeout=WAIT_MS)
            expect(page.get_by_text("The catalog has no databases yet")).to_be_visible(timeout=WAIT_MS)

            page.get_by_role("tab", name="Crawl").click()
            page.get_by_role("button", name="Crawl the example data").click()
            expect(page.get_by_role("heading", name="Last crawl")).to_be_visible(timeout=CRAWL_MS)

            page.get_by_role("tab", name="Tables").click()
            # The first table in alphabetical order is selected and its view opens.
            table_heading = page.get_by_role("heading", name="examples.orders", exact=True)
            expect(table_heading).to_be_visible(timeout=WAIT_MS)
            expect(page.get_by_role("tab", name="Sample rows")).to_be_visible()

            # The README's picture is replaced only on request, so a test run leaves the tree clean.
            target = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") else tmp_path / "catalog.png"
            page.screenshot(path=str(target))
            assert target.stat().st_size > 20_000
        finally:
            browser.close()
