"""Drives lambdalet's web console in headless Chromium (Selenium 4 and Debian's chromedriver) the
way a person would, and prints what it saw as one JSON object.

    python3 tests/py/console_check.py BASE_URL FUNCTION SCREENSHOT_DIR
        [--key-id ID --secret SECRET] [--only-login] [--timeout SECS]
        [--chromium PATH] [--chromedriver PATH]

With --key-id/--secret it first signs in at BASE_URL/console/login. Then: the function list
(the row of FUNCTION), the function's page (its state badge), the Monitor tab (the invocations
chart's data-total), the Logs tab (the live tail connects), the Test tab (invokes with
{"from": "chromium"}), back to Logs (the REPORT line of that request id arrives), back to
Monitor (the chart's total grew), and the function list again in a phone-sized window.
--only-login stops once the function page's state is read. Screenshots (PNG) go into
SCREENSHOT_DIR: functions.png, function-monitor.png, function-test.png, function-logs.png,
phone-functions.png (and failure.png when a step fails).

The DOM it relies on (the console is built to it): table#functions with tr[data-function=F]
rows linking to /console/functions/F; #function-state; tab buttons button[data-tab=monitor|
test|logs|config] showing #tab-monitor|test|logs|config (only the chosen one displayed);
#chart-invocations[data-total] holding a uPlot canvas; #log-tail-state ("live"), #log-tail with
div.log-line (.log-start/.log-end/.log-report); textarea#test-payload, button#test-invoke,
#test-status (Succeeded|Failed), #test-request-id, pre#test-response, pre#test-log; the login
form #login-key-id, #login-secret, #login-submit (and, if the page has one, #login-error: its
text fails the check at once instead of after the timeout).

Exit status: 0 when every step was seen (the JSON's values are for the caller to judge), 1
with "console_check: FAILED ..." on stderr when a step failed or timed out, 2 when Chromium,
chromedriver or selenium are missing.
"""

import argparse
import base64
import json
import os
import sys
import tempfile
import time
import urllib.parse

INSTALL_HINT = (
    "the console tests need Debian's chromium and chromium-driver (apt) and selenium (pip); "
    "scripts/test.sh (make test) installs them"
)

try:
    from selenium import webdriver
    from selenium.common.exceptions import (
        StaleElementReferenceException,
        TimeoutException,
        WebDriverException,
    )
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as e:  # pragma: no cover - reported to the caller
    print(f"console_check: selenium is missing ({e}): {INSTALL_HINT}", file=sys.stderr)
    sys.exit(2)

TABS = ("monitor", "test", "logs", "config")
PAYLOAD = '{"from": "chromium"}'
PHONE = (390, 844)
SCREENSHOTS = (
    "functions.png",
    "function-monitor.png",
    "function-test.png",
    "function-logs.png",
    "phone-functions.png",
)


class Failed(Exception):
    """A step of the check that did not happen."""


def css_string(s):
    """A CSS string literal (for attribute selectors)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Console:
    def __init__(self, driver, base, shots, timeout):
        self.d = driver
        self.base = base.rstrip("/")
        self.shots = shots
        self.timeout = timeout
        self.step = "starting Chromium"
        self.screenshots = []
        self.console_errors = []

    # --- waiting -------------------------------------------------------------------------

    def wait(self, what, cond, timeout=None):
        """Waits until cond(driver) is truthy; a timeout fails the check naming `what`."""
        limit = self.timeout if timeout is None else timeout
        self.step = f"waiting for {what}"
        try:
            return WebDriverWait(
                self.d,
                limit,
                poll_frequency=0.1,
                ignored_exceptions=(StaleElementReferenceException,),
            ).until(cond)
        except TimeoutException:
            raise Failed(f"timed out after {limit:g}s waiting for {what}") from None

    def element(self, css, what=None, displayed=False):
        """The first element matching `css` (waited for; displayed if asked)."""

        def find(d):
            for e in d.find_elements(By.CSS_SELECTOR, css):
                if not displayed or e.is_displayed():
                    return e
            return None

        return self.wait(what or (f"{css} to be displayed" if displayed else css), find)

    def text(self, css):
        """The text of the first element matching `css` ("" when there is none)."""
        try:
            found = self.d.find_elements(By.CSS_SELECTOR, css)
            return found[0].text.strip() if found else ""
        except StaleElementReferenceException:
            return ""

    def path(self):
        return urllib.parse.urlsplit(self.d.current_url).path

    def open(self, path):
        self.step = f"loading {path}"
        self.d.get(self.base + path)

    # --- recording -----------------------------------------------------------------------

    def collect_console(self):
        """Keeps the browser console's SEVERE entries (get_log drains what it returns)."""
        try:
            for entry in self.d.get_log("browser"):
                if entry.get("level") == "SEVERE":
                    self.console_errors.append(entry.get("message", ""))
        except WebDriverException:
            pass

    def shot(self, name, full_page=True):
        """Saves SCREENSHOT_DIR/name: the whole page (up to 4000 px tall) or the viewport."""
        path = os.path.join(self.shots, name)
        self.step = f"taking the screenshot {name}"
        png = None
        if full_page:
            try:
                size = self.d.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
                clip = {
                    "x": 0,
                    "y": 0,
                    "width": max(1, int(size["width"])),
                    "height": max(1, min(int(size["height"]), 4000)),
                    "scale": 1,
                }
                data = self.d.execute_cdp_cmd(
                    "Page.captureScreenshot",
                    {"format": "png", "clip": clip, "captureBeyondViewport": True},
                )["data"]
                png = base64.b64decode(data)
            except (WebDriverException, KeyError, ValueError):
                png = None
        if png is None:
            png = self.d.get_screenshot_as_png()
        with open(path, "wb") as f:
            f.write(png)
        self.screenshots.append(path)
        return path

    # --- the console's pieces ------------------------------------------------------------

    def login(self, key_id, secret):
        self.open("/console/login")
        self.element("#login-key-id", "the login form (#login-key-id)", displayed=True).send_keys(key_id)
        self.element("#login-secret", "#login-secret", displayed=True).send_keys(secret)
        self.element("#login-submit", "#login-submit", displayed=True).click()

        def landed(d):
            refused = self.text("#login-error")  # optional: the login page's own message
            if refused:
                raise Failed(f"signing in was refused: the login page says {refused!r}")
            return self.path().rstrip("/") == "/console"

        self.wait("landing on /console after signing in", landed)

    def tab(self, name):
        """Clicks the tab button `name` and waits until only its section is displayed."""
        self.element(f'button[data-tab="{name}"]', f"the {name} tab button", displayed=True).click()

        def shown(d):
            for t in TABS:
                found = d.find_elements(By.CSS_SELECTOR, f"#tab-{t}")
                if t == name and not (found and found[0].is_displayed()):
                    return False
                if t != name and found and found[0].is_displayed():
                    return False
            return True

        self.wait(f"#tab-{name} to be the only tab section displayed", shown)

    def chart_total(self, d=None):
        """#chart-invocations' data-total as a number (None while absent or not a number)."""
        found = (d or self.d).find_elements(By.CSS_SELECTOR, "#chart-invocations")
        if not found:
            return None
        raw = found[0].get_attribute("data-total")
        try:
            return float(raw) if raw not in (None, "") else None
        except ValueError:
            return None

    def chart_drawn(self, d):
        return bool(d.find_elements(By.CSS_SELECTOR, "#chart-invocations canvas"))

    def tail_lines(self):
        return [e.text for e in self.d.find_elements(By.CSS_SELECTOR, "#log-tail div.log-line")]


def number(x):
    """A whole float as an int, for the JSON."""
    return int(x) if isinstance(x, float) and x.is_integer() else x


def run(c, args):
    out = {"login": bool(args.key_id)}
    fn = args.function

    if args.key_id:
        c.login(args.key_id, args.secret)
        c.collect_console()

    # The function list.
    c.open("/console")

    def listed(d):
        if c.path().rstrip("/") == "/console/login":
            raise Failed("/console sent the browser to /console/login: the console needs --key-id/--secret")
        return d.find_elements(By.CSS_SELECTOR, "table#functions")

    c.wait("the function list (table#functions)", listed)
    row_css = f"table#functions tr[data-function={css_string(fn)}]"
    row = c.element(row_css, f"the row of {fn} ({row_css})")
    out["row"] = [
        e.text.strip() for e in row.find_elements(By.CSS_SELECTOR, "th, td")
    ]
    c.shot("functions.png")
    link_css = f"a[href={css_string('/console/functions/' + fn)}]"
    c.step = f"clicking the link {link_css} in the row of {fn}"
    row.find_element(By.CSS_SELECTOR, link_css).click()
    c.wait(
        f"the function page /console/functions/{fn}",
        lambda d: c.path().rstrip("/") == f"/console/functions/{fn}",
    )
    c.collect_console()

    # The function page.
    out["state"] = c.wait("#function-state to show a state", lambda d: c.text("#function-state"))
    if args.only_login:
        return out

    c.tab("monitor")
    # (The waits return the total in a tuple: a total of 0 is an answer too.)
    out["initialTotal"] = number(
        c.wait(
            "#chart-invocations to be drawn (a canvas) with a numeric data-total",
            lambda d: c.chart_drawn(d) and c.chart_total(d) is not None and (c.chart_total(d),),
        )[0]
    )

    # Logs before invoking, so the live tail is connected when the invocation logs.
    c.tab("logs")
    c.wait(
        '#log-tail-state to read "live" (the server-sent events stream open)',
        lambda d: c.text("#log-tail-state").lower() == "live",
    )

    # Test: invoke with a payload.
    c.tab("test")
    box = c.element("textarea#test-payload", "textarea#test-payload", displayed=True)
    box.clear()
    box.send_keys(PAYLOAD)
    c.wait(
        "textarea#test-payload to hold the payload",
        lambda d: box.get_attribute("value") == PAYLOAD,
    )
    c.element("button#test-invoke", "button#test-invoke", displayed=True).click()
    status = c.wait(
        '#test-status to read "Succeeded" or "Failed" after clicking #test-invoke',
        lambda d: c.text("#test-status") in ("Succeeded", "Failed") and c.text("#test-status"),
        timeout=max(c.timeout, 30),
    )
    out["status"] = status
    request_id = c.wait("#test-request-id to show the request id", lambda d: c.text("#test-request-id"))
    out["requestId"] = request_id
    c.element("pre#test-response", "pre#test-response")
    c.element("pre#test-log", "pre#test-log")
    raw = c.text("pre#test-response")
    try:
        out["response"] = json.loads(raw)
    except ValueError:
        out["response"] = raw
    out["testLog"] = c.text("pre#test-log")
    c.shot("function-test.png")
    c.collect_console()

    # Logs: the invocation's REPORT line arrives on the live tail.
    c.tab("logs")

    def report_seen(d):
        for e in d.find_elements(By.CSS_SELECTOR, "#log-tail div.log-line.log-report"):
            if request_id in e.text:
                return True
        return False

    try:
        c.wait(f"a div.log-line.log-report naming {request_id} in #log-tail", report_seen, timeout=15)
    except Failed as e:
        lines = c.tail_lines()
        shown = "\n  ".join(lines[-15:]) or "(no div.log-line at all)"
        raise Failed(f"{e}; #log-tail-state is {c.text('#log-tail-state')!r}, the tail's last lines:\n  {shown}")
    out["reportLineSeen"] = True
    out["tailLines"] = c.tail_lines()
    c.shot("function-logs.png")

    # Monitor: the chart counts the new invocation.
    c.tab("monitor")
    initial = out["initialTotal"]
    try:
        final = c.wait(
            f"#chart-invocations[data-total] to grow past {initial} (with a canvas)",
            lambda d: c.chart_drawn(d)
            and (c.chart_total(d) or 0) > initial
            and (c.chart_total(d),),
            timeout=15,
        )[0]
    except Failed as e:
        raise Failed(f"{e}; data-total is still {number(c.chart_total())!r}")
    out["finalTotal"] = number(final)
    c.shot("function-monitor.png")
    c.collect_console()

    # A phone: a 390x844 window laid out as a phone's browser does (mobile emulation), so a
    # page without <meta name="viewport" content="width=device-width"> gets a 980 px layout,
    # and one wider than the screen is zoomed out to fit: either way innerWidth exceeds 390.
    c.step = f"resizing the window to a phone's {PHONE[0]}x{PHONE[1]}"
    c.d.set_window_size(*PHONE)
    c.d.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True},
    )
    c.open("/console")
    c.element(row_css, f"the row of {fn} on the phone")
    c.shot("phone-functions.png", full_page=False)
    c.step = "measuring the phone page's width"
    sizes = c.d.execute_script(
        "return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth};"
    )
    out["phoneViewport"] = sizes
    out["phoneNoHorizontalScroll"] = (
        sizes["scrollWidth"] <= sizes["innerWidth"] + 1 and sizes["innerWidth"] <= PHONE[0] + 1
    )
    c.collect_console()
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base_url", help="the daemon, e.g. http://127.0.0.1:9001")
    p.add_argument("function", help="the function to look at and invoke")
    p.add_argument("screenshot_dir", help="where the PNG screenshots go (created)")
    p.add_argument("--key-id", help="sign in at /console/login with this access key id")
    p.add_argument("--secret", help="the key's secret access key")
    p.add_argument(
        "--only-login",
        action="store_true",
        help="stop once the function page's state is read (after signing in)",
    )
    p.add_argument("--timeout", type=float, default=20, help="seconds to wait for a page's element [20]")
    p.add_argument("--chromium", default="/usr/bin/chromium", help="the browser [/usr/bin/chromium]")
    p.add_argument("--chromedriver", default="/usr/bin/chromedriver", help="[/usr/bin/chromedriver]")
    args = p.parse_args()
    if bool(args.key_id) != bool(args.secret):
        p.error("--key-id and --secret go together")

    for path in (args.chromium, args.chromedriver):
        if not os.access(path, os.X_OK):
            print(f"console_check: {path} is missing: {INSTALL_HINT}", file=sys.stderr)
            return 2
    os.makedirs(args.screenshot_dir, exist_ok=True)
    for name in SCREENSHOTS + ("failure.png",):  # none left over from an earlier run
        try:
            os.remove(os.path.join(args.screenshot_dir, name))
        except FileNotFoundError:
            pass

    opts = webdriver.ChromeOptions()
    opts.binary_location = args.chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})

    driver = None
    c = None
    started = time.monotonic()
    home = tempfile.TemporaryDirectory(prefix="console-check-")
    try:
        try:
            # Chromium's profile, caches and crash reports stay in a directory of this run.
            env = dict(os.environ, XDG_CONFIG_HOME=home.name, XDG_CACHE_HOME=home.name, HOME=home.name)
            service = Service(executable_path=args.chromedriver, env=env)
            driver = webdriver.Chrome(service=service, options=opts)
        except WebDriverException as e:
            raise Failed(f"Chromium did not start through {args.chromedriver}: {e.msg or e}") from None
        driver.set_page_load_timeout(max(args.timeout, 30))
        c = Console(driver, args.base_url, args.screenshot_dir, args.timeout)
        out = run(c, args)
        out["consoleErrors"] = c.console_errors
        out["screenshots"] = c.screenshots
        out["seconds"] = round(time.monotonic() - started, 1)
        print(json.dumps(out, indent=1))
        return 0
    except (Failed, WebDriverException) as e:
        if isinstance(e, Failed):
            lines = [f"console_check: FAILED: {e}"]
        else:
            step = c.step if c else "starting Chromium"
            lines = [f"console_check: FAILED while {step}: {type(e).__name__}: {e.msg or e}"]
        if driver is not None:
            try:
                lines.append(f"  at {driver.current_url}")
                body = driver.find_element(By.TAG_NAME, "body").text.strip().replace("\n", " | ")
                lines.append(f"  page text: {body[:600]!r}")
                if c is not None:
                    c.collect_console()
                    if c.console_errors:
                        lines.append("  browser console errors:\n    " + "\n    ".join(c.console_errors))
                path = os.path.join(args.screenshot_dir, "failure.png")
                driver.save_screenshot(path)
                lines.append(f"  screenshot: {path}")
            except WebDriverException:
                pass
        print("\n".join(lines), file=sys.stderr)
        return 1
    finally:
        if driver is not None:
            try:
                driver.quit()
            except WebDriverException:
                pass
        home.cleanup()


if __name__ == "__main__":
    sys.exit(main())
