"""The built HTML manual in a real headless browser (run by ``tox -e browser``).

Debian's chromium and chromedriver, driven by Selenium, load the front page,
every chapter, one API page and one gallery page, over ``file://`` and over a
local HTTP server on 127.0.0.1. For each page: no request leaves the build
folder, no console error, every image has alt text, and math is rendered. The
search page finds a term from Chapter V. Screenshots of the front page and a
chapter at desktop and phone widths are saved under ``<html>/_screenshots``.
Skipped unless ``--html`` names a built manual.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import socketserver
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="Debian's chromium and chromium-driver are not installed",
)


@pytest.fixture(scope="module")
def html_dir(request) -> Path:
    path = request.config.getoption("--html")
    if not path:
        pytest.skip("no --html given (tox -e browser passes the built manual)")
    path = Path(path).resolve()
    assert (path / "index.html").is_file(), f"{path} holds no built manual"
    return path


@pytest.fixture(scope="module")
def server(html_dir):
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    with _Server(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
        httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    timeout = 10  # seconds a connection may sit idle (chromium opens sockets it never uses)

    def log_message(self, *args):
        pass


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """One thread per connection: a socket chromium keeps open (a preconnect it never
    uses) then blocks neither the other requests nor shutdown(), which on a
    single-threaded server waited for it (70-110 s per test module, measured)."""

    daemon_threads = True


@pytest.fixture(scope="module")
def driver():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        "--disable-dev-shm-usage",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    drv.set_page_load_timeout(60)
    yield drv
    # quit() can hang when chromium is slow to close; bound it, then kill the driver
    closer = threading.Thread(target=drv.quit, daemon=True)
    closer.start()
    closer.join(timeout=30)
    if closer.is_alive():
        drv.service.process.kill()


def pages_to_check(html_dir: Path) -> list[str]:
    chapters = sorted(
        p.relative_to(html_dir).as_posix() for p in (html_dir / "chapters").glob("*.html")
    )
    api = sorted(
        p.relative_to(html_dir).as_posix() for p in (html_dir / "api").glob("fmref.*.html")
    )
    gallery = sorted(
        p.relative_to(html_dir).as_posix()
        for p in (html_dir / "auto_examples").rglob("plot_*.html")
    )
    return ["index.html", *chapters, *api[:1], *gallery[:1]]


def _load(driver, url: str):
    driver.get_log("performance")  # drop what earlier pages logged
    driver.get_log("browser")
    driver.get(url)
    for _ in range(50):  # MathJax typesets after load
        if driver.execute_script("return document.readyState") == "complete":
            break
        time.sleep(0.1)
    time.sleep(0.5)
    requests = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
    return requests, driver.get_log("browser")


def _outside(url: str, html_dir: Path, base: str | None) -> bool:
    parsed = urlparse(url)
    if parsed.scheme in ("data", "blob", "about"):
        return False
    if parsed.scheme == "file":
        return not Path(unquote(parsed.path)).resolve().is_relative_to(html_dir)
    if base is not None:
        return not url.startswith(base + "/")
    return True


def _check_page(driver, url: str, html_dir: Path, base: str | None, phone: bool = False):
    requests, console = _load(driver, url)
    outside = [u for u in requests if _outside(u, html_dir, base)]
    assert outside == [], f"{url} requested outside the build folder: {outside}"
    errors = [e["message"] for e in console if e["level"] == "SEVERE"]
    assert errors == [], f"{url} console errors: {errors}"
    no_alt = driver.execute_script(
        "return Array.from(document.images).filter(i => !(i.alt || '').trim()).map(i => i.src)"
    )
    assert no_alt == [], f"{url} images without alt text: {no_alt}"
    has_math = driver.execute_script("return document.querySelectorAll('.math').length")
    if has_math:
        rendered = driver.execute_script("return document.querySelectorAll('mjx-container').length")
        assert rendered > 0, f"{url} has math that MathJax did not render"
    if phone:  # nothing may make the page wider than the screen (wide math and code scroll)
        widths = driver.execute_script(
            "const e = document.documentElement; return [e.scrollWidth, e.clientWidth]"
        )
        assert widths[0] <= widths[1], f"{url} scrolls sideways at phone width: {widths}"


def test_pages_over_file_urls_at_phone_width(driver, html_dir):
    driver.set_window_size(390, 844)
    try:
        for page in pages_to_check(html_dir):
            _check_page(driver, (html_dir / page).as_uri(), html_dir, None, phone=True)
    finally:
        driver.set_window_size(1280, 900)


def test_pages_over_local_http(driver, html_dir, server):
    # every page was checked over file:// above; over HTTP the same files are
    # served, so a few pages of each kind show that nothing differs there
    pages = pages_to_check(html_dir)
    chapters = [p for p in pages if p.startswith("chapters/")]
    others = [p for p in pages if not p.startswith("chapters/")]
    sample = others + chapters[:: max(1, len(chapters) // 3)]
    for page in sample:
        _check_page(driver, f"{server}/{page}", html_dir, server)


def test_search_finds_a_term_from_chapter_five(driver, server):
    driver.get(f"{server}/search.html?q=softmax")
    for _ in range(100):
        links = driver.execute_script(
            "return Array.from(document.querySelectorAll('#search-results a'))"
            ".map(a => a.getAttribute('href'))"
        )
        if any("05-self-attention" in (h or "") for h in links):
            break
        time.sleep(0.2)
    assert any("05-self-attention" in (h or "") for h in links), links


def test_one_search_box_at_each_width_and_ctrl_k_opens_the_search_dialog(driver, server):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    page = f"{server}/chapters/05-self-attention-and-transformers.html"
    visible_search = (
        "return Array.from(document.querySelectorAll('.search-button__button'))"
        ".filter(b => b.getClientRects().length > 0).map(b => b.className)"
    )
    try:
        for width, kind in ((390, "pst-navbar-icon"), (1280, "search-button-field")):
            driver.set_window_size(width, 900)
            driver.get(page)
            visible = driver.execute_script(visible_search)
            assert len(visible) == 1 and kind in visible[0], (width, visible)
    finally:
        driver.set_window_size(1280, 900)
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("k").key_up(Keys.CONTROL).perform()
    for _ in range(50):
        if driver.execute_script("return document.getElementById('pst-search-dialog').open"):
            break
        time.sleep(0.1)
    assert driver.execute_script("return document.getElementById('pst-search-dialog').open")
    assert driver.execute_script("return document.activeElement.name") == "q"


@pytest.mark.parametrize("width,height,label", [(1280, 900, "desktop"), (390, 844, "phone")])
def test_screenshots(driver, html_dir, server, width, height, label):
    out = html_dir / "_screenshots"
    out.mkdir(exist_ok=True)
    driver.set_window_size(width, height)
    for page, name in (
        ("index.html", "index"),
        ("chapters/05-self-attention-and-transformers.html", "chapter-05"),
    ):
        driver.get(f"{server}/{page}")
        time.sleep(1.0)
        target = out / f"{name}-{label}.png"
        driver.save_screenshot(str(target))
        assert target.stat().st_size > 5000
    driver.set_window_size(1280, 900)


def test_chromium_is_the_debian_build():
    assert shutil.which("chromium") in (CHROMIUM, None) or Path(CHROMIUM).exists()
