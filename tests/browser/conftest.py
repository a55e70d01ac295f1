"""Fixtures of the browser tests: one Chromium for the whole session, on pytest-django's `live_server`.

`browser` is a `helpers.Browser` on the live server, with no cookies or stored state left by the test
before; `owner_browser` is the same, signed in as `account`'s owner through the login form. A test that
uses either is marked `browser` (tests/conftest.py): skipped without chromium, a failure with
REQUIRE_SERVICES=1. Both imply `transactional_db`, as the live server answers from its own thread: what
a test creates is committed, and the tables are emptied after it.
"""

import pytest
from selenium.common.exceptions import WebDriverException

from .helpers import Browser, chromium_missing, chromium_start


@pytest.fixture(scope="session")
def _chromium():
    if reason := chromium_missing():  # only reached with REQUIRE_SERVICES=1: without, the test was skipped
        pytest.fail(f"REQUIRE_SERVICES=1 but the browser tests' {reason}")
    driver = chromium_start()
    yield driver
    driver.quit()


@pytest.fixture
def browser(_chromium, live_server) -> Browser:
    """Chromium on the live server, signed in as nobody."""
    browser = Browser(_chromium, live_server.url)
    browser.reset()
    return browser


@pytest.fixture
def owner_browser(browser, owner) -> Browser:
    """Chromium on the dashboard, signed in as `account`'s owner through /admin/login/."""
    browser.login(owner.username)
    return browser


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test's report shows where the browser was and what the page said."""
    report = yield
    browser = getattr(item, "funcargs", {}).get("browser")
    if report.when == "call" and report.failed and isinstance(browser, Browser):
        try:
            page = f"{browser.path}\n\n{browser.text}"
        except WebDriverException as error:
            page = f"(unreadable: {error.msg})"
        report.sections.append(("the browser's page", page[:5000]))
    return report
