"""The interactive figures of the built HTML manual in headless chromium.

For each widget (docs/_ext/fmref_widgets.py), on its chapter page served from
127.0.0.1: the page makes no request outside the build folder and logs no
console error; every control is a labelled, focusable <input>/<select> and Tab
walks through them in order; keyboard input changes what is displayed, to the
number fmref computes for the same input; the figure fits a 390 px wide phone
screen; in dark mode (the theme's ``data-theme="dark"`` and an emulated
``prefers-color-scheme: dark``) every text has a WCAG contrast of 4.5:1 with
what is drawn behind it, every line and axis 3:1, and no shape vanishes into
the background. Screenshots of every widget at desktop and phone width are saved as
``<html>/_screenshots/widget-NAME[-phone].png``. Each chapter page is loaded
once. Skipped unless ``--html`` names a built manual.
"""

from __future__ import annotations

import json
import math
import time

import pytest
import torch
from test_browser import (  # noqa: F401  (fixtures used by name)
    CHROMEDRIVER,
    CHROMIUM,
    _outside,
    driver,
    html_dir,
    pytestmark,
    server,
)

PAGES = {  # in this order, so that a page shared by two widgets is loaded once
    "attention": "chapters/05-self-attention-and-transformers.html",
    "scaling": "chapters/10-scaling-law.html",
    "sampling": "chapters/13-efficient-llm-inference.html",
    "kv-cache": "chapters/13-efficient-llm-inference.html",
    "quantization": "chapters/14-compress-and-sparsify.html",
    "diffusion": "chapters/17-diffusion-models.html",
}


@pytest.fixture(scope="module")
def opened(driver, server, html_dir):  # noqa: F811
    """``open(page)``: load a page once, return the requests and console entries of that load."""
    drv = driver
    loads = {}

    def open_page(page):
        if page not in loads:
            drv.get_log("performance")
            drv.get_log("browser")
            drv.get(f"{server}/{page}")
            for _ in range(100):
                ready = drv.execute_script(
                    "return document.readyState === 'complete' && Array.from("
                    "document.querySelectorAll('.fmref-widget')).every(w => w.dataset.ready)"
                )
                if ready:
                    break
                time.sleep(0.1)
            time.sleep(0.3)
            requests = [
                json.loads(e["message"])["message"]["params"]["request"]["url"]
                for e in drv.get_log("performance")
                if json.loads(e["message"])["message"]["method"] == "Network.requestWillBeSent"
            ]
            loads[page] = (requests, drv.get_log("browser"))
        return loads[page]

    return open_page


def _root(drv, name):
    from selenium.webdriver.common.by import By

    return drv.find_element(By.CSS_SELECTOR, f'.fmref-widget[data-widget="{name}"]')


def _value(root, key):
    from selenium.webdriver.common.by import By

    out = root.find_element(By.CSS_SELECTOR, f'output[data-key="{key}"]')
    return out.get_attribute("data-value"), out.text


def _keys(drv, element, *keys):
    """Focus ``element`` with the keyboard's target and press ``keys``."""
    from selenium.webdriver.common.action_chains import ActionChains

    drv.execute_script("arguments[0].focus()", element)
    assert drv.switch_to.active_element == element
    ActionChains(drv).send_keys(*keys).perform()
    time.sleep(0.05)


def _control(root, suffix):
    from selenium.webdriver.common.by import By

    return root.find_element(By.CSS_SELECTOR, f'[id$="-{suffix}"]')


def _check_controls(drv, root):
    """Every control is labelled and focusable, and Tab visits them in order."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    controls = drv.execute_script(
        "return Array.from(arguments[0].querySelectorAll('input, select, button, textarea'))"
        ".map(c => ({id: c.id, disabled: c.disabled, tab: c.tabIndex,"
        " label: (c.labels && c.labels.length ? c.labels[0].textContent"
        " : c.getAttribute('aria-label') || '').trim()}))",
        root,
    )
    assert controls, "a widget without controls"
    for c in controls:
        assert c["label"], f"control {c['id']} has no label"
        assert c["tab"] >= 0, f"control {c['id']} is not focusable"
    enabled = [c["id"] for c in controls if not c["disabled"]]
    drv.execute_script("document.getElementById(arguments[0]).focus()", enabled[0])
    visited = [drv.execute_script("return document.activeElement.id")]
    for _ in enabled[1:]:
        ActionChains(drv).send_keys(Keys.TAB).perform()
        visited.append(drv.execute_script("return document.activeElement.id"))
    assert visited == enabled


def _screenshots(drv, root, name, html_dir):  # noqa: F811
    out = html_dir / "_screenshots"
    out.mkdir(exist_ok=True)
    figure = drv.execute_script("return arguments[0].closest('figure')", root)
    drv.execute_script("arguments[0].scrollIntoView({block: 'start'})", figure)
    figure.screenshot(str(out / f"widget-{name}.png"))
    drv.set_window_size(390, 844)
    try:
        time.sleep(0.4)
        sizes = drv.execute_script(
            "const r = arguments[0].getBoundingClientRect(), e = document.documentElement;"
            "return [r.right, e.clientWidth, arguments[1].scrollWidth, arguments[1].clientWidth,"
            " e.scrollWidth]",
            figure,
            root,
        )
        assert sizes[0] <= sizes[1] + 0.5, f"{name} sticks out of a phone screen: {sizes}"
        assert sizes[2] <= sizes[3] + 1, f"{name} overflows its box at phone width: {sizes}"
        assert sizes[4] <= sizes[1], f"{name}'s page scrolls sideways at phone width: {sizes}"
        drv.execute_script("arguments[0].scrollIntoView({block: 'start'})", figure)
        figure.screenshot(str(out / f"widget-{name}-phone.png"))
    finally:
        drv.set_window_size(1280, 900)
        time.sleep(0.2)
    assert (out / f"widget-{name}.png").stat().st_size > 5000


# -----------------------------------------------------------------------------
# Dark mode: WCAG contrast of every text, line and shape of a widget
# -----------------------------------------------------------------------------
#: The audit, run in the page on a widget's figure. Colours are the computed ones, with
#: their opacities; the background is the ancestors' backgrounds composited from <html>
#: down (with its own, for a form control) and, behind a text inside an SVG, the filled
#: rects drawn before it that cover its centre (a heatmap's cells, bars). Contrast is
#: WCAG 2.1's ratio of relative luminances
#: (https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio): 4.5:1 for text (3:1 for large
#: text, SC 1.4.3), 3:1 for lines, axes and outlines (SC 1.4.11), and 1.25:1 for any
#: shape drawn at an opacity of 0.3 or more: not the colour of the background (a
#: heatmap's palest cells stand for small values and are meant to be faint; light
#: mode's measure 1.5:1).
CONTRAST_AUDIT = r"""
const fig = arguments[0].closest('figure') || arguments[0];
function parse(c) {
  const m = /rgba?\(([^)]*)\)/.exec(c || '');
  if (!m) return null;
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
}
function over(fg, a, bg) { return [0, 1, 2].map(i => fg[i] * a + bg[i] * (1 - a)); }
function lum(c) {
  const l = c.map(v => {
    v /= 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
}
function ratio(a, b) {
  const x = lum(a), y = lum(b);
  return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
}
function opacity(el) {
  let o = 1;
  for (let e = el; e && e.nodeType === 1; e = e.parentNode) {
    o *= parseFloat(getComputedStyle(e).opacity);
  }
  return o;
}
function shown(el) {
  const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
  const area = el instanceof SVGElement ? r.width + r.height > 0 : r.width > 0 && r.height > 0;
  return area && cs.visibility !== 'hidden' && cs.display !== 'none' && opacity(el) > 0;
}
function backdrop(el, self, rects) {
  const chain = [];
  for (let e = self ? el : el.parentElement; e; e = e.parentElement) chain.unshift(e);
  let bg = [255, 255, 255];
  for (const e of chain) {
    if (e instanceof SVGElement) continue;
    const b = parse(getComputedStyle(e).backgroundColor);
    if (b && b[3] > 0) bg = over(b, b[3], bg);
  }
  const svg = el instanceof SVGElement ? el.ownerSVGElement : null;
  if (svg && rects) {
    const r = el.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
    for (const s of svg.querySelectorAll('rect')) {
      if (s === el || !(s.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING)) continue;
      const q = s.getBoundingClientRect();
      if (x < q.left || x > q.right || y < q.top || y > q.bottom || !shown(s)) continue;
      const cs = getComputedStyle(s), f = parse(cs.fill);
      if (f) bg = over(f, f[3] * parseFloat(cs.fillOpacity) * opacity(s), bg);
    }
  }
  return bg;
}
function describe(el) {
  const t = (el.textContent || el.value || '').trim().slice(0, 30);
  const cls = el.getAttribute('class');
  return el.tagName.toLowerCase() + (cls ? '.' + cls.split(' ').join('.') : '') +
    (t ? ' "' + t + '"' : '');
}
const bad = [], n = {text: 0, line: 0, shape: 0};
for (const el of fig.querySelectorAll('*')) {
  if (el.closest('noscript, script, option') || !shown(el)) continue;
  const cs = getComputedStyle(el), svgEl = el instanceof SVGElement;
  const control = /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(el.tagName) &&
    el.type !== 'range' && el.type !== 'checkbox';
  const hasText = Array.from(el.childNodes).some(c => c.nodeType === 3 && c.textContent.trim());
  if (hasText || control) {
    const bg = backdrop(el, control, true), c = parse(svgEl ? cs.fill : cs.color);
    if (c) {
      const a = c[3] * (svgEl ? parseFloat(cs.fillOpacity) : 1) * opacity(el);
      const size = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight) >= 700;
      const need = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
      const r = ratio(over(c, a, bg), bg);
      n.text += 1;
      if (r < need) bad.push(['text', describe(el), +r.toFixed(2), need]);
    }
  }
  if (!svgEl || /^(svg|g|text|tspan)$/.test(el.tagName)) continue;
  const bg = backdrop(el, false, false), stroke = parse(cs.stroke), fill = parse(cs.fill);
  const so = stroke ? stroke[3] * parseFloat(cs.strokeOpacity) * opacity(el) : 0;
  const cls = el.getAttribute('class') || '';
  if (so > 0 && parseFloat(cs.strokeWidth) > 0 &&
      (!fill || /^(line|polyline)$/.test(el.tagName) || /axis|frame|marker|outline/.test(cls))) {
    const r = ratio(over(stroke, so, bg), bg);
    n.line += 1;
    if (r < 3) bad.push(['line', describe(el), +r.toFixed(2), 3]);
  }
  const fa = fill ? fill[3] * parseFloat(cs.fillOpacity) * opacity(el) : 0;
  if (fa >= 0.3 && el.tagName !== 'line') {
    const r = ratio(over(fill, fa, bg), bg);
    n.shape += 1;
    if (r < 1.25) bad.push(['shape', describe(el), +r.toFixed(2), 1.25]);
  }
}
return {bad: bad, counts: n, background: backdrop(fig, true, false)};
"""


def _contrast_audit(drv, root, mode):
    """Switch the page to ``mode`` as the theme's switch does, audit ``root``, switch back.

    One round trip for the audit and both switches: the computed styles it reads are
    recalculated synchronously, so no wait is needed.
    """
    def emulate(value):
        drv.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-color-scheme", "value": value}]})

    emulate(mode)
    try:
        return drv.execute_script(
            "const html = document.documentElement, before = [html.dataset.theme,"
            " html.dataset.mode]; html.dataset.theme = html.dataset.mode = arguments[1];"
            "try { return (function () {" + CONTRAST_AUDIT + "}).apply(null, arguments); }"
            " finally { html.dataset.theme = before[0]; html.dataset.mode = before[1]; }",
            root, mode)
    finally:
        emulate("light")


def _check_dark_mode(drv, root, name):
    """In dark mode: text 4.5:1, lines 3:1, no shape the colour of the background."""
    audit = _contrast_audit(drv, root, "dark")
    assert sum(audit["background"]) < 3 * 80, f"{name}: dark mode did not darken the page"
    assert audit["counts"]["text"] > 0, f"{name}: the audit found no text"
    assert audit["bad"] == [], f"{name} in dark mode: {audit['bad'][:8]}"


# -----------------------------------------------------------------------------
# What each widget must show for a known input (the numbers come from fmref)
# -----------------------------------------------------------------------------
def _chapter_five_qk():
    """The seven-token example of Chapter V, as the chapter computes it."""
    tokens = "the cat sat on the mat .".split()
    vocab = sorted(set(tokens))
    g = torch.Generator().manual_seed(0)
    E = torch.randn(len(vocab), 10, generator=g)
    X = E[[vocab.index(t) for t in tokens]]
    W_q, W_k, _ = (torch.randn(10, 10, generator=g) / 10**0.5 for _ in range(3))
    return X @ W_q, X @ W_k


def _bars(drv, root):
    return drv.execute_script(
        "return Array.from(arguments[0].querySelectorAll('svg.fmref-w-chart g[data-index]'))"
        ".map(g => [parseInt(g.dataset.index), parseFloat(g.dataset.value)])",
        root,
    )


def respond_attention(drv, root):
    from selenium.webdriver.common.keys import Keys

    from fmref.nn.attention import attention_weights

    q, k = _chapter_five_qk()
    bars = _bars(drv, root)  # query 2 ("sat"), temperature 1, no mask
    want = attention_weights(q, k)[2]
    assert [i for i, _ in bars] == list(range(7))
    assert torch.allclose(torch.tensor([v for _, v in bars]), want, atol=1e-4)
    assert _value(root, "best")[1] == '0.35 on key "." (6)'  # Chapter V's printed weight
    _keys(drv, _control(root, "causal"), Keys.SPACE)
    want = attention_weights(q, k, is_causal=True)[2]
    got = torch.tensor([v for _, v in _bars(drv, root)])
    assert torch.allclose(got, want, atol=1e-4) and got[3:].sum() == 0
    _keys(drv, _control(root, "temperature"), *[Keys.ARROW_RIGHT] * 10)  # 1.0 -> 2.0
    want = attention_weights(q, k, is_causal=True, scale=1 / (2 * math.sqrt(10)))[2]
    assert torch.allclose(torch.tensor([v for _, v in _bars(drv, root)]), want, atol=1e-4)
    _keys(drv, _control(root, "query"), Keys.ARROW_UP)  # query 1 ("cat")
    assert _value(root, "best")[1].endswith("(0)")  # causal: "cat" sees "the" and itself


def respond_sampling(drv, root):
    from selenium.webdriver.common.keys import Keys

    from fmref.infer.sampling import sampling_probs

    data = json.loads(
        drv.execute_script(
            "return arguments[0].querySelector('script.fmref-widget-data').textContent", root
        )
    )
    logits = torch.tensor(data["prompts"][0]["logits"])
    vocab = logits.numel()
    assert _value(root, "kept")[1] == f"{vocab} of {vocab}"

    def shown_matches(top_k=None, top_p=None, temperature=1.0):
        want = sampling_probs(logits, temperature, top_k, top_p)
        for i, v in _bars(drv, root):
            assert abs(v - want[i].item()) < 1e-5, (i, v, want[i].item())
        assert int(_value(root, "kept")[0]) == int((want > 0).sum())

    shown_matches()
    _keys(drv, _control(root, "top-k"), Keys.HOME, *[Keys.ARROW_RIGHT] * 5)
    assert _value(root, "kept")[1] == f"5 of {vocab}"
    shown_matches(top_k=5)
    _keys(drv, _control(root, "top-p"), Keys.ARROW_LEFT, Keys.ARROW_LEFT)  # 1 -> 0.9
    shown_matches(top_k=5, top_p=0.9)
    _keys(drv, _control(root, "temperature"), Keys.HOME)  # 0: greedy
    assert _value(root, "kept")[1] == f"1 of {vocab}"
    shown_matches(top_k=5, top_p=0.9, temperature=0.0)
    _keys(drv, _control(root, "temperature"), *[Keys.ARROW_RIGHT] * 14)  # 0.7
    shown_matches(top_k=5, top_p=0.9, temperature=0.7)


def respond_kv_cache(drv, root):
    from selenium.webdriver.common.keys import Keys

    from fmref.infer.kv import kv_cache_bytes
    from fmref.models.llama import llama2_70b, llama_7b
    from fmref.scaling import count_parameters
    from fmref.train.efficient import zero_memory_per_gpu

    n = count_parameters(llama_7b())  # default: LLaMA-7B, 4,096 tokens, batch 8, fp16, 80 GiB
    assert float(_value(root, "params")[0]) == n
    assert float(_value(root, "weights")[0]) == 2 * n
    assert float(_value(root, "kv")[0]) == kv_cache_bytes(32, 32, 128, 4096, 8, 2)
    assert float(_value(root, "training")[0]) == zero_memory_per_gpu(n, 1, 0)
    batch = _control(root, "batch")
    drv.execute_script("arguments[0].focus()", batch)
    batch.send_keys(Keys.CONTROL, "a", Keys.NULL, "32")  # select the 8, type 32
    # Chapter XIII: a batch of 32 x 4,096 tokens needs 64 GiB of cache
    assert _value(root, "kv")[1] == "64.00 GiB"
    assert _value(root, "fits")[1] == "yes"  # 12.55 + 64 GiB <= 80 GiB
    _keys(drv, _control(root, "preset"), Keys.ARROW_DOWN)  # LLaMA-2-70B
    cfg = llama2_70b()
    assert float(_value(root, "kv")[0]) == kv_cache_bytes(80, 8, 128, 4096, 32, 2)
    assert float(_value(root, "weights")[0]) == 2 * count_parameters(cfg)
    assert _value(root, "fits")[1] == "no"
    _keys(drv, _control(root, "attention"), Keys.ARROW_UP)  # GQA -> MHA: 64 KV heads
    assert float(_value(root, "kv")[0]) == kv_cache_bytes(80, 64, 128, 4096, 32, 2)
    _keys(drv, _control(root, "preset"), Keys.ARROW_DOWN)  # Mistral-7B: window 4,096
    _keys(drv, _control(root, "seq-len"), *[Keys.ARROW_RIGHT] * 3)  # 2^12 -> 2^15 tokens
    assert float(_value(root, "cached")[0]) == 4096  # the rolling buffer, not 32,768
    assert float(_value(root, "kv")[0]) == kv_cache_bytes(32, 8, 128, 32768, 32, 2, window=4096)
    sliding = _control(root, "sliding-window")
    drv.execute_script("arguments[0].focus()", sliding)
    sliding.send_keys(Keys.CONTROL, "a", Keys.NULL, "0")  # no window: every position cached
    assert float(_value(root, "cached")[0]) == 32768
    assert float(_value(root, "kv")[0]) == kv_cache_bytes(32, 8, 128, 32768, 32, 2)


def respond_scaling(drv, root):
    from selenium.webdriver.common.keys import Keys

    from fmref.scaling.laws import chinchilla_loss, compute_optimal, kaplan_compute_optimal

    _keys(drv, _control(root, "compute"), *[Keys.ARROW_LEFT] * 15)  # 10^23.5 -> 10^22
    assert _control(root, "compute").get_attribute("value") == "40"
    rows = drv.execute_script(
        "return Object.fromEntries(Array.from(arguments[0].querySelectorAll('tr[data-n]'))"
        ".map(r => [r.dataset.allocation, [+r.dataset.n, +r.dataset.d, +r.dataset.loss]]))",
        root,
    )
    for key, (n, d) in (("chinchilla", compute_optimal(1e22)),
                        ("kaplan", kaplan_compute_optimal(1e22))):
        assert rows[key][0] == pytest.approx(n, rel=1e-6)
        assert rows[key][1] == pytest.approx(d, rel=1e-6)
        assert rows[key][2] == pytest.approx(chinchilla_loss(n, d), rel=1e-6)


def respond_diffusion(drv, root):
    from selenium.webdriver.common.keys import Keys

    from fmref.diffusion.schedules import alphas_cumprod, beta_schedule

    def pixels():
        return drv.execute_script(
            "return Array.from(arguments[0].querySelectorAll('canvas')).map(c => c.toDataURL())",
            root,
        )

    step = _control(root, "timestep")
    assert step.get_attribute("value") == "11"  # t = 500
    before = pixels()
    lin = alphas_cumprod(beta_schedule("linear", 1000))[500].item()
    cos = alphas_cumprod(beta_schedule("cosine", 1000))[500].item()
    assert float(_value(root, "abar-linear")[0]) == pytest.approx(lin, abs=1e-6)
    assert float(_value(root, "abar-cosine")[0]) == pytest.approx(cos, abs=1e-6)
    assert _value(root, "abar-linear")[1] == "0.0778"  # Chapter XVII: 0.078 and 0.492
    _keys(drv, step, Keys.END)  # t = 950
    after = pixels()
    assert all(a != b for a, b in zip(before, after))
    assert float(_value(root, "abar-cosine")[0]) < 0.01
    _keys(drv, step, Keys.HOME)  # x0: the data
    assert _value(root, "abar-linear")[1] == "1.0000"
    _keys(drv, step, *[Keys.ARROW_RIGHT] * 8)  # t = 350
    assert float(_value(root, "abar-linear")[0]) == pytest.approx(
        alphas_cumprod(beta_schedule("linear", 1000))[350].item(), abs=1e-6
    )


def respond_quantization(drv, root):
    from selenium.webdriver.common.keys import Keys

    from fmref.compress.quant import QuantLinear

    weight = torch.randn(96, 384)  # the bytes depend on the shape only
    assert float(_value(root, "bytes")[0]) == QuantLinear(
        weight, bits=4, group_size=128
    ).weight_nbytes()
    rel4 = float(_value(root, "rel")[0])
    _keys(drv, _control(root, "bits"), Keys.ARROW_RIGHT)  # 4 -> 8 bits
    assert float(_value(root, "bytes")[0]) == QuantLinear(
        weight, bits=8, group_size=128
    ).weight_nbytes()
    assert float(_value(root, "rel")[0]) < rel4 / 8
    _keys(drv, _control(root, "group"), Keys.HOME)  # groups of 16: more scales
    assert float(_value(root, "bits-per-weight")[0]) == 8 + 16 / 16
    _keys(drv, _control(root, "bits"), Keys.ARROW_LEFT)  # 4 bits, groups of 16
    assert float(_value(root, "rel")[0]) < rel4  # smaller groups than 128: smaller error


RESPONSES = {
    "attention": respond_attention,
    "sampling": respond_sampling,
    "kv-cache": respond_kv_cache,
    "scaling": respond_scaling,
    "diffusion": respond_diffusion,
    "quantization": respond_quantization,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_widget_works_offline_by_keyboard_and_fits_a_phone(
    name, driver, opened, html_dir, server  # noqa: F811
):
    drv = driver
    requests, console = opened(PAGES[name])
    outside = [u for u in requests if _outside(u, html_dir, server)]
    assert outside == [], f"{PAGES[name]} requested outside the build folder: {outside}"
    assert any(u.endswith("fmref-widgets.js") or "fmref-widgets.js?" in u for u in requests)
    errors = [e["message"] for e in console if e["level"] == "SEVERE"]
    assert errors == [], f"{PAGES[name]} console errors: {errors}"
    root = _root(drv, name)
    assert root.get_attribute("data-ready") == "true"
    _check_controls(drv, root)
    RESPONSES[name](drv, root)
    errors = [e["message"] for e in drv.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], f"{name}: console errors while operating it: {errors}"
    _screenshots(drv, root, name, html_dir)
    _check_dark_mode(drv, root, name)


# -----------------------------------------------------------------------------
# The registry widgets (docs/_ext/fmref_widgets_more.py): every control set in
# turn, every readout equal to what the widget's fmref reference computes
# -----------------------------------------------------------------------------
def _more():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))
    from fmref_widgets_more import MORE

    return MORE


MORE = _more()
MORE_ORDER = sorted(MORE, key=lambda n: (MORE[n].page, n))  # a page's widgets in a row


def _goto(drv, base, page):
    if not drv.current_url.split("#")[0].endswith(page):
        drv.get(f"{base}/{page}")
        for _ in range(100):
            if drv.execute_script(
                "return document.readyState === 'complete' && Array.from("
                "document.querySelectorAll('.fmref-widget')).every(w => w.dataset.ready)"
            ):
                break
            time.sleep(0.1)


def _settings(drv, root):
    """The controls' values, typed as the registry's settings (number, bool or str)."""
    return drv.execute_script(
        "const out = {}; const id = arguments[0].id;"
        "for (const c of arguments[0].querySelectorAll('input, select')) {"
        "  const key = c.id.slice(id.length + 1);"
        "  if (c.type === 'checkbox') out[key] = c.checked;"
        "  else if (c.type === 'range' || c.type === 'number') out[key] = parseFloat(c.value);"
        "  else out[key] = c.value; }"
        "return out;",
        root,
    )


def _set(drv, root, changes):
    drv.execute_script(
        "const id = arguments[0].id;"
        "for (const [key, v] of Object.entries(arguments[1])) {"
        "  const c = document.getElementById(id + '-' + key);"
        "  if (c.type === 'checkbox') c.checked = v; else c.value = String(v);"
        "  c.dispatchEvent(new Event('input', {bubbles: true}));"
        "  c.dispatchEvent(new Event('change', {bubbles: true})); }",
        root,
        changes,
    )
    time.sleep(0.05)


def _readouts(drv, root):
    return drv.execute_script(
        "return Object.fromEntries(Array.from(arguments[0].querySelectorAll('output[data-key]'))"
        ".map(o => [o.dataset.key, o.getAttribute('data-value')]))",
        root,
    )


def _matches_reference(drv, root, w, data, name):
    settings = _settings(drv, root)
    want = w.reference(settings, data)
    got = _readouts(drv, root)
    for key, value in want.items():
        assert key in got, f"{name}: no readout {key!r}"
        if isinstance(value, str):
            assert got[key] == value, (name, settings, key)
        else:
            assert math.isclose(float(got[key]), float(value), rel_tol=max(w.rel, 1e-9),
                                abs_tol=1e-12), (name, settings, key, got[key], value)
    return settings


@pytest.mark.parametrize("name", MORE_ORDER)
def test_registry_widget_shows_fmref_values_for_every_control(
    name, driver, opened, html_dir, server  # noqa: F811
):
    from selenium.webdriver.common.keys import Keys

    drv, w = driver, MORE[name]
    page = w.page + ".html"
    requests, console = opened(page)
    _goto(drv, server, page)
    outside = [u for u in requests if _outside(u, html_dir, server)]
    assert outside == [], f"{page} requested outside the build folder: {outside}"
    errors = [e["message"] for e in console if e["level"] == "SEVERE"]
    assert errors == [], f"{page} console errors: {errors}"
    root = _root(drv, name)
    assert root.get_attribute("data-ready") == "true"
    _check_controls(drv, root)
    data = json.loads(
        drv.execute_script(
            "return arguments[0].querySelector('script.fmref-widget-data').textContent", root
        )
    )
    assert _matches_reference(drv, root, w, data, name) == w.settings({})  # the defaults
    moved = set()
    for changes in w.browser:
        before = _readouts(drv, root)
        _set(drv, root, changes)
        settings = _matches_reference(drv, root, w, data, name)
        assert {k: settings[k] for k in changes} == changes, (name, changes)
        assert _readouts(drv, root) != before, f"{name}: {changes} changed no readout"
        moved |= set(changes)
    assert moved == set(w.defaults), f"{name}: controls never moved: {set(w.defaults) - moved}"
    # the keyboard moves a control too: the first slider, one step right (or left at its end)
    slider = drv.execute_script("return arguments[0].querySelector('input[type=range]')", root)
    if slider is not None:
        at_max = slider.get_attribute("value") == slider.get_attribute("max")
        _keys(drv, slider, Keys.ARROW_LEFT if at_max else Keys.ARROW_RIGHT)
        _matches_reference(drv, root, w, data, name)
    errors = [e["message"] for e in drv.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], f"{name}: console errors while operating it: {errors}"
    _screenshots(drv, root, name, html_dir)
    _check_dark_mode(drv, root, name)


def test_registry_widgets_work_over_file_urls(driver, html_dir):  # noqa: F811
    """Every page with a registry widget, opened from disk: all its widgets ready, no error."""
    drv = driver
    for page in sorted({page for w in MORE.values() for page in (w.page, *w.also)}):
        drv.get_log("browser")
        drv.get((html_dir / f"{page}.html").as_uri())
        ready = False
        for _ in range(100):
            ready = drv.execute_script(
                "return document.readyState === 'complete' && Array.from("
                "document.querySelectorAll('.fmref-widget')).every(w => w.dataset.ready)"
            )
            if ready:
                break
            time.sleep(0.1)
        assert ready, f"{page}: a widget did not start from file://"
        errors = [e["message"] for e in drv.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], f"{page} over file://: {errors}"


SECOND = [(name, page) for name in MORE_ORDER for page in MORE[name].also]


@pytest.mark.parametrize(("name", "page"), SECOND)
def test_a_second_instance_shows_the_same_fmref_values(name, page, driver, server):  # noqa: F811
    """A widget shown on a second page works there too: defaults, each control, dark mode."""
    drv, w = driver, MORE[name]
    _goto(drv, server, page + ".html")
    root = _root(drv, name)
    assert root.get_attribute("data-ready") == "true"
    data = json.loads(drv.execute_script(
        "return arguments[0].querySelector('script.fmref-widget-data').textContent", root))
    assert _matches_reference(drv, root, w, data, name) == w.settings({})
    for changes in w.browser:
        _set(drv, root, changes)
        _matches_reference(drv, root, w, data, name)
    _check_dark_mode(drv, root, name)


def test_the_dark_mode_audit_sees_what_vanishes(driver, server):  # noqa: F811
    """Text and a line drawn in the background's colour fail the audit; the rest passes."""
    drv, name = driver, "alignment"
    _goto(drv, server, MORE[name].page + ".html")
    root = _root(drv, name)
    drv.execute_script(
        "const ns = 'http://www.w3.org/2000/svg', svg = arguments[0].querySelector('svg');"
        "const s = document.createElement('span'); s.className = 'planted';"
        "s.textContent = 'hidden'; s.style.color = 'var(--pst-color-background)';"
        "arguments[0].appendChild(s);"
        "const l = document.createElementNS(ns, 'line'); l.setAttribute('class', 'planted');"
        "for (const [k, v] of [['x1', 0], ['y1', 5], ['x2', 50], ['y2', 5]]) l.setAttribute(k, v);"
        "l.style.stroke = 'var(--pst-color-background)'; svg.appendChild(l);", root)
    try:
        audit = _contrast_audit(drv, root, "dark")
    finally:
        drv.execute_script(
            "arguments[0].querySelectorAll('.planted').forEach(e => e.remove())", root)
    assert sorted((kind, what) for kind, what, _, _ in audit["bad"]) == [
        ("line", "line.planted"), ("text", 'span.planted "hidden"')]
    assert all(r < 1.01 for _, _, r, _ in audit["bad"])
    assert audit["counts"]["shape"] >= 1 and audit["counts"]["text"] >= 25  # 5 x 5 cell values
