"""`make screenshots`: a PNG of every dashboard page at 1400x900, into docs/screenshots/.

    .venv/bin/python -m tests.browser.screenshots [--output DIR] [NAME ...]

It builds a scratch SQLite database in a temporary folder (nothing of var/ or of the shell's
DATABASE_URL is touched), fills it with a month of one account (tests/browser/demo.py), serves it
from a live server thread on a free port, signs in as the account's owner through the login form and
saves one PNG per entry of PAGES. Adding a page is one line there: its file name, its path (ids of the
demo's rows as {message}, {campaign}, {contact}, {group}) and, if the page needs it, a CSS selector
to wait for or a function of the Browser to run before the shot.
"""

import argparse
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .helpers import Browser, chromium_missing, chromium_start


@dataclass(frozen=True)
class Page:
    filename: str
    path: str
    wait_for: str = "#content"  # shown once this is visible
    before: Callable[[Browser], None] | None = None  # e.g. fill a form, open a menu
    signed_in: bool = True


def _message_typed(browser: Browser) -> None:
    browser.fill(to="0771234567", message="Hi Tendai, your order #40213 is ready for collection at Borrowdale.")
    browser.wait_for_text("1 segment", css="#quote")  # the live quote has answered


def _campaign_typed(browser: Browser) -> None:
    browser.fill(name="December specials", group="Customers", message="Hi {name}, 15% off all paint until Friday!")
    browser.wait_for_text("recipient(s)", css="#preview")  # the preview has answered


PAGES = [
    Page("login.png", "/admin/login/", wait_for="#login-form", signed_in=False),
    Page("home.png", "/admin/"),
    Page("send.png", "/admin/send/", wait_for="#send-form", before=_message_typed),
    Page("messages.png", "/admin/messaging/message/", wait_for="#result_list"),
    Page("message.png", "/admin/messaging/message/{message}/change/"),
    Page("campaigns.png", "/admin/campaigns/campaign/", wait_for="#result_list"),
    Page("campaign.png", "/admin/campaigns/campaign/{campaign}/change/"),
    Page("campaign-new.png", "/admin/campaigns/campaign/add/", wait_for="#content-main form", before=_campaign_typed),
    Page("contacts.png", "/admin/contacts/contact/", wait_for="#result_list"),
    Page("contacts-import.png", "/admin/contacts/contact/import/", wait_for="#content-main form"),
    Page("groups.png", "/admin/contacts/group/", wait_for="#result_list"),
    Page("sender-ids.png", "/admin/messaging/senderid/", wait_for="#result_list"),
    Page("sender-id-request.png", "/admin/messaging/senderid/add/", wait_for="#content-main form"),
    Page("opt-outs.png", "/admin/messaging/optout/", wait_for="#result_list"),
    Page("ledger.png", "/admin/billing/transaction/", wait_for="#result_list"),
    Page("api-keys.png", "/admin/accounts/apikey/", wait_for="#result_list"),
]

ROOT = Path(__file__).resolve().parents[2]
# What the platform needs of the shell; every other variable is dropped, so the pages show the defaults.
KEPT_ENVIRONMENT = ("PATH", "HOME", "TMPDIR", "LANG", "CHROMIUM", "CHROMEDRIVER")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("names", nargs="*", help="only these files (e.g. home.png); all by default")
    args = parser.parse_args(argv)
    pages = [page for page in PAGES if not args.names or page.filename in args.names]
    if unknown := set(args.names) - {page.filename for page in PAGES}:
        parser.error(f"no such page: {', '.join(sorted(unknown))}")
    if reason := chromium_missing():
        print(f"screenshots: {reason}", file=sys.stderr)
        return 1

    scratch = tempfile.mkdtemp(prefix="smsplatform-screenshots-")
    try:
        _environment_reset(scratch)
        _screenshots(pages, args.output)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _environment_reset(scratch: str) -> None:
    """The settings under test (a fake gateway, an in-memory broker) on an SQLite file in `scratch`."""
    for name in list(os.environ):
        if name not in KEPT_ENVIRONMENT and not name.startswith("LC_"):
            del os.environ[name]
    os.environ.update(VAR_DIR=scratch, DJANGO_SETTINGS_MODULE="tests.settings")


def _screenshots(pages: list[Page], output: Path) -> None:
    import django

    warnings.filterwarnings("ignore", "No directory at", UserWarning)  # WhiteNoise's: no collectstatic here

    django.setup()
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.management import call_command
    from django.db import connections
    from django.test.testcases import LiveServerThread

    from .demo import demo_create

    call_command("migrate", verbosity=0)
    print("screenshots: making the demo data", file=sys.stderr)
    demo = demo_create()
    connections.close_all()

    server = LiveServerThread("localhost", StaticFilesHandler)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    driver = chromium_start()
    try:
        browser = Browser(driver, f"http://localhost:{server.port}")
        output.mkdir(parents=True, exist_ok=True)
        signed_in = False
        for page in pages:
            if page.signed_in != signed_in:
                browser.reset()
                if page.signed_in:
                    browser.login(demo.owner_username, demo.owner_password)
                signed_in = page.signed_in
            _shoot(browser, page, demo.ids, output / page.filename)
    finally:
        driver.quit()
        server.terminate()


def _shoot(browser: Browser, page: Page, ids: dict, path: Path) -> None:
    browser.open(page.path.format(**ids))
    if not browser.find_all("#container"):  # an error page: Chromium's own, or the platform's JSON
        raise SystemExit(f"screenshots: {page.path} is not a dashboard page: {browser.text[:200]!r}")
    browser.wait_for(page.wait_for)
    if page.before is not None:
        page.before(browser)
    browser.driver.execute_script("return document.fonts.ready.then(() => window.scrollTo(0, 0))")
    browser.screenshot(path)
    print(f"screenshots: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({page.path})")


if __name__ == "__main__":
    sys.exit(main())
