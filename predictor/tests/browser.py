"""Driving Debian's Chromium in the browser tests: headless, kept off the network."""

import shutil

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from . import live

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def server(transactional_db, linear_csv, trained_models, artifact_root, collected_static):
    trained_models.store(linear_csv)
    # Chromium keeps its connections open, so a stop would wait out the whole grace period for
    # them; at a browser test's end no request is in flight.
    # One worker is enough for one browser, and a second one's start-up is a second's CPU.
    with live.gunicorn(
        artifact_root=artifact_root,
        static_root=collected_static,
        workers=1,
        graceful_timeout=0,
    ) as base_url:
        yield base_url


def chromium(tmp_path, *, javascript: bool = True, network_log: bool = False, width: int = 1000):
    """Debian's Chromium, headless and kept off the network; `network_log` also records every
    request it begins (CDP Network events, in the "performance" log)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # This machine has no network beyond loopback: keep Chromium from reaching out.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}",
        f"--window-size={width},900",
    ):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    logs = {"browser": "ALL", **({"performance": "ALL"} if network_log else {})}
    options.set_capability("goog:loggingPrefs", logs)
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


# One Chromium of each kind per test module (starting one costs seconds); each test gets it as a
# new one would be: no page, no cookie (cookies ignore ports, so every test's server would see the
# last one's), an empty cache and console log, the default window size. Per module, not per
# session: test_browser_api_docs.py counts every request its own Chromium makes, and with other
# Chromiums left running, its log also held Chromium's own chrome:// new tab page requests.


@pytest.fixture(scope="module")
def shared_chromium(tmp_path_factory):
    driver = chromium(tmp_path_factory.mktemp("chromium"))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def shared_chromium_without_javascript(tmp_path_factory):
    driver = chromium(tmp_path_factory.mktemp("chromium"), javascript=False)
    try:
        yield driver
    finally:
        driver.quit()


def as_new(driver, width: int = 1000):
    driver.get("about:blank")
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.get_log("browser")  # reading the console log empties it
    driver.set_window_size(width, 900)
    return driver


@pytest.fixture
def browser(shared_chromium):
    return as_new(shared_chromium)


@pytest.fixture
def browser_without_javascript(shared_chromium_without_javascript):
    return as_new(shared_chromium_without_javascript)


def wait_for(browser, css):
    return WebDriverWait(browser, 10).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
    )
