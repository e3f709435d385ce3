"""Accessibility of the built HTML manual (run by ``tox -e browser``).

axe-core (the npm package, installed by tox into its own folder and passed as
``--axe``; never part of the manual) is injected by Selenium into every chapter
and appendix page, the front page, the gallery index and every example page,
the results page, the glossary, the index and every API page, served from
127.0.0.1 to Debian's headless chromium. Any violation of impact "critical" or
"serious" fails the test, printed as rule, page and element.

The keyboard test tabs through a whole chapter page and through a widget: Tab
reaches every focusable control in document order, each one shows a visible
focus indicator (an outline or a box shadow), and nothing traps the focus.

Skipped unless ``--html`` names a built manual and ``--axe`` names axe.min.js.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_browser import (  # noqa: F401  (fixtures used by name)
    CHROMEDRIVER,
    CHROMIUM,
    driver,
    html_dir,
    pytestmark,
    server,
)

IMPACTS = ("critical", "serious")
CHAPTER = "chapters/05-self-attention-and-transformers.html"  # also holds a widget
WIDGET = "attention"


@pytest.fixture(scope="module")
def axe_source(request) -> str:
    path = request.config.getoption("--axe")
    if not path:
        pytest.skip("no --axe given (tox -e browser installs axe-core and passes axe.min.js)")
    path = Path(path)
    assert path.is_file(), f"--axe={path}: no such file (npm install axe-core?)"
    return path.read_text(encoding="utf-8")


def pages_to_audit(root: Path) -> list[str]:
    """Every page the issue names: chapters, appendices, front, gallery, results, index, API."""

    def glob(pattern):
        return sorted(p.relative_to(root).as_posix() for p in root.glob(pattern))

    pages = [
        "index.html",
        *[p for p in ("preface.html", "notation.html", "downloads.html") if (root / p).is_file()],
        *glob("chapters/*.html"),
        *glob("appendices/*.html"),
        "auto_examples/index.html",
        *glob("auto_examples/**/plot_*.html"),
        "results.html",
        "glossary.html",
        "genindex.html",
        *glob("api/*.html"),
    ]
    missing = [p for p in pages if not (root / p).is_file()]
    assert missing == [], f"pages missing from the build: {missing}"
    return pages


def _wait_ready(drv):
    for _ in range(100):  # MathJax typesets after load; axe must see its output
        done = drv.execute_script(
            "return document.readyState === 'complete' && (!window.MathJax"
            " || !MathJax.startup || !MathJax.startup.promise || window.__fmrefTypeset === true)"
        )
        if done:
            return
        drv.execute_script(
            "if (window.MathJax && MathJax.startup && MathJax.startup.promise"
            " && window.__fmrefTypeset === undefined) { window.__fmrefTypeset = false;"
            " MathJax.startup.promise.then(() => { window.__fmrefTypeset = true; }); }"
        )
        time.sleep(0.05)


AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help,
  nodes: v.nodes.filter(n => ['critical', 'serious'].includes(n.impact || v.impact))
    .map(n => ({target: n.target.join(' '), html: n.html.slice(0, 160)}))
})).filter(v => v.nodes.length))).catch(e => done({error: String(e)}));
"""


def audit(drv, url: str, axe_source: str) -> list[dict]:
    """axe-core's critical and serious violations of one page."""
    drv.get(url)
    _wait_ready(drv)
    drv.execute_script(axe_source)
    result = drv.execute_async_script(AXE_RUN)
    assert not (isinstance(result, dict) and "error" in result), f"{url}: axe failed: {result}"
    return result


def test_no_critical_or_serious_axe_violation(driver, html_dir, server, axe_source):  # noqa: F811
    driver.set_script_timeout(120)
    pages = pages_to_audit(html_dir)
    assert len(pages) > 60  # the manual's pages, not an empty folder
    shipped = [p.name for p in html_dir.rglob("*.js") if p.name.startswith("axe")]
    assert shipped == [], f"axe-core is for the test only, yet the manual ships {shipped}"
    failures, per_rule = [], {}
    start = time.perf_counter()
    for page in pages:
        for v in audit(driver, f"{server}/{page}", axe_source):
            per_rule[v["id"]] = per_rule.get(v["id"], 0) + len(v["nodes"])
            for n in v["nodes"]:
                failures.append(f"{v['id']} ({v['impact']}): {page}: {n['target']}: {n['html']}")
    elapsed = time.perf_counter() - start
    print(f"axe-core: {len(pages)} pages in {elapsed:.0f} s; violations per rule: {per_rule}")
    if failures:  # pytest.fail: the assert rewriter would diff a long list for minutes
        pytest.fail(
            f"{len(failures)} critical/serious axe-core violations ({per_rule}):\n"
            + "\n".join(failures),
            pytrace=False,
        )


def test_axe_catches_a_violation(driver, html_dir, server, axe_source):  # noqa: F811
    """The audit can fail: an unnamed summary, like the ones it fixed, is reported."""
    driver.get(f"{server}/glossary.html")
    driver.execute_script(
        "const d = document.createElement('details');"
        "d.innerHTML = '<summary><i></i></summary>x'; document.querySelector('main').append(d);"
    )
    driver.execute_script(axe_source)
    found = driver.execute_async_script(AXE_RUN)
    assert "summary-name" in [v["id"] for v in found], found


# -----------------------------------------------------------------------------
# Keyboard: Tab order and visible focus
# -----------------------------------------------------------------------------
TABBABLE = """
const root = arguments[0] || document;
const sel = 'a[href], area[href], button, input, select, textarea, summary, iframe,'
  + ' [tabindex], [contenteditable=""], [contenteditable="true"]';
return Array.from(root.querySelectorAll(sel)).filter(e => {
  if (e.tabIndex < 0 || e.disabled || e.closest('[inert]')) return false;
  if (e.tagName !== 'SUMMARY' && e.closest('details:not([open])')
      && !e.closest('details:not([open]) > summary')) return false;
  if (e.tagName === 'INPUT' && e.type === 'hidden') return false;
  return e.checkVisibility({visibilityProperty: true}) && e.getClientRects().length > 0;
});
"""

# Records every focus change: the element and whether a focus indicator shows, as an
# outline or a box shadow of a visible colour on the element, its ::before/::after or a
# descendant (the theme rings the sidebar toggles' chevron, not the <summary> itself).
FOCUS_LOG = """
window.__focusLog = [];
const ring = (s) => {
  const visible = (c) => c && !/rgba\\(.*,\\s*0\\)$/.test(c) && c !== 'transparent';
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0
    && visible(s.outlineColor);
  const shadow = s.boxShadow && s.boxShadow !== 'none' && visible(s.boxShadow.split(')')[0] + ')');
  return outline || shadow;
};
document.addEventListener('focusin', ev => {
  const e = ev.target;
  const parts = [getComputedStyle(e), getComputedStyle(e, '::before'),
    getComputedStyle(e, '::after'),
    ...Array.from(e.querySelectorAll('*')).slice(0, 20).map(d => getComputedStyle(d))];
  window.__focusLog.push({el: e, visible: parts.some(ring),
    what: e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
      + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : '')
      + ' ' + (e.getAttribute('aria-label') || e.textContent || '').trim().slice(0, 40)});
}, true);
"""


def _tab_through(drv, count: int) -> list[dict]:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    chain = ActionChains(drv)
    for _ in range(count):
        chain.send_keys(Keys.TAB)
    chain.perform()
    time.sleep(0.2)
    return drv.execute_script(
        "return window.__focusLog.map(f => ({el: f.el, visible: f.visible, what: f.what}))"
    )


def test_tab_reaches_every_control_of_a_chapter_in_order_with_visible_focus(
    driver, server  # noqa: F811
):
    drv = driver
    drv.set_window_size(1280, 900)
    drv.get(f"{server}/{CHAPTER}")
    _wait_ready(drv)
    drv.execute_script(FOCUS_LOG)
    expected = drv.execute_script(TABBABLE, None)
    assert len(expected) > 50, "a chapter page with few controls?"
    log = _tab_through(drv, len(expected))
    got = [f["el"] for f in log]
    first_diff = next(
        (i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected))
    )
    assert got == expected, (
        f"Tab order differs from document order at stop {first_diff}: "
        f"{[f['what'] for f in log[max(0, first_diff - 2):first_diff + 3]]}; "
        f"expected {[e.get_attribute('outerHTML')[:100] for e in expected[first_diff:][:3]]}"
    )
    hidden = [f["what"] for f in log if not f["visible"]]
    assert hidden == [], f"{len(hidden)} controls show no focus indicator: {hidden[:10]}"


def test_tab_walks_a_widget_with_visible_focus(driver, server):  # noqa: F811
    from selenium.webdriver.common.by import By

    drv = driver
    drv.get(f"{server}/{CHAPTER}")
    _wait_ready(drv)
    for _ in range(100):
        root = drv.find_element(By.CSS_SELECTOR, f'.fmref-widget[data-widget="{WIDGET}"]')
        if root.get_attribute("data-ready"):
            break
        time.sleep(0.1)
    controls = drv.execute_script(TABBABLE, root)
    assert len(controls) >= 3, "the attention widget has a query, a temperature and a mask"
    # start from the last focusable element before the widget, as a reader tabbing down would
    before = drv.execute_script(
        "const all = Array.from(document.querySelectorAll('a[href], button, input, select,"
        " summary, [tabindex]')).filter(e => e.tabIndex >= 0 && e.getClientRects().length);"
        "const w = arguments[0]; return all.filter(e => w.compareDocumentPosition(e)"
        " & Node.DOCUMENT_POSITION_PRECEDING).pop();",
        root,
    )
    drv.execute_script("arguments[0].focus()", before)
    drv.execute_script(FOCUS_LOG)
    log = _tab_through(drv, len(controls) + 1)
    got = [f["el"] for f in log[: len(controls)]]
    assert got == controls, [f["what"] for f in log]
    assert drv.execute_script("return !arguments[0].contains(arguments[1])", root, log[-1]["el"])
    hidden = [f["what"] for f in log[: len(controls)] if not f["visible"]]
    assert hidden == [], f"widget controls without a focus indicator: {hidden}"
    for c in controls:  # each has an accessible name
        name = drv.execute_script(
            "const c = arguments[0]; return ((c.labels && c.labels[0] && c.labels[0].textContent)"
            " || c.getAttribute('aria-label') || '').trim()",
            c,
        )
        assert name, c.get_attribute("outerHTML")
    live = drv.execute_script(
        "return Array.from(arguments[0].querySelectorAll('[aria-live], output'))"
        ".map(e => e.tagName.toLowerCase())",
        root,
    )
    assert live, "the widget's readouts are not announced (no aria-live region or output)"
