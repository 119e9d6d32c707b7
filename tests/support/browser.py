"""A real headless browser for the HTML reports' tests: Debian's chromium, driven by
Selenium through Debian's chromedriver, with the network cut off (a resource a page tried to
fetch would fail and show as a console error). Without chromium and chromedriver the tests
that use it are skipped, except where EDGEJUDGE_REQUIRE_BROWSER=1 (CI) makes a missing
browser a failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
REQUIRED = os.environ.get("EDGEJUDGE_REQUIRE_BROWSER") == "1"


def browser_session() -> Iterator[Any]:
    """A browser for a module's tests (`browser = pytest.fixture(scope="module")(...)`)."""
    if not (BROWSER and DRIVER):
        if REQUIRED:
            pytest.fail("chromium and chromedriver are required (EDGEJUDGE_REQUIRE_BROWSER=1)")
        pytest.skip("no chromium/chromedriver: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1600",
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver: Any, page: Path) -> list[dict[str, Any]]:
    """Load the page and return what its console logged while loading."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(page.as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    return list(driver.get_log("browser"))


def chart_boxes(driver: Any) -> list[dict[str, Any]]:
    """Each chart's kind, its SVG's drawn size, and how many marks it drew."""
    script = """
    return Array.from(document.querySelectorAll('figure.chart')).map(function (figure) {
      var svg = figure.querySelector('svg');
      var box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
      return {kind: figure.dataset.chart, width: box.width, height: box.height,
              visible: svg ? svg.checkVisibility() : false,
              marks: svg ? svg.querySelectorAll('rect.cell, rect.bar, circle.point').length : 0};
    });
    """
    return list(driver.execute_script(script))
