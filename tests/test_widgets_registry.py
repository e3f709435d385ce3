"""The widget registry (docs/_ext/fmref_widgets.py, fmref_widgets_more.py) against fmref.

Every registry widget's JavaScript (``_static/widgets/fmref-widgets-specs.js``,
formulas in ``fmref-widgets-core.js``) runs under node, in ONE process for all
of them, on its grid of control settings; each readout must equal what the
widget's ``reference`` computes with the fmref function it names. The BPE
encoder in JavaScript must give the ids of fmref's tokenizer on 1,000 strings.
The registry must cover every chapter and appendix page, each widget must sit
on its page, name importable fmref functions, and draw a static fallback.
"""

from __future__ import annotations

import importlib
import json
import math
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "docs" / "_static" / "widgets"
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import fmref_widgets  # noqa: E402
from fmref_widgets_more import MORE  # noqa: E402

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")
PAGES = sorted(
    p.relative_to(ROOT / "docs").with_suffix("").as_posix()
    for p in [*(ROOT / "docs" / "chapters").glob("*.rst"),
              *(ROOT / "docs" / "appendices").glob("*.rst")]
)


_DATA = {}


def _data(w):
    """The widget's data as the page embeds it (a JSON round trip); cheap stand-ins if any.

    Computed once per widget per session: the tests share it.
    """
    key = id(w)
    if key not in _DATA:
        _DATA[key] = json.dumps((w.test_data or w.data)())
    return json.loads(_DATA[key])


# -----------------------------------------------------------------------------
# The registry and the pages
# -----------------------------------------------------------------------------
def test_registry_covers_every_chapter_and_appendix():
    assert len(PAGES) == 25
    assert len(fmref_widgets.WIDGETS) >= 30
    on_page = {}
    for page in PAGES:
        text = (ROOT / "docs" / f"{page}.rst").read_text()
        on_page[page] = [line.split("::", 1)[1].strip() for line in text.splitlines()
                         if line.startswith(".. fmref-widget::")]
    assert [p for p in PAGES if not on_page[p]] == [], "pages without a widget"
    placed = []
    for name, w in fmref_widgets.WIDGETS.items():
        for page in (w.page, *w.also):  # a widget may sit on a second page too
            assert page in PAGES, (name, page)
            assert on_page[page].count(name) == 1, f"{name} is not (once) on {page}"
            placed.append(name)
    used = [n for names in on_page.values() for n in names]
    assert sorted(used) == sorted(placed), "a page names an unknown widget, or one elsewhere"


@pytest.mark.parametrize("name", sorted(fmref_widgets.WIDGETS))
def test_widget_names_fmref_functions_and_has_a_fallback(name):
    w = fmref_widgets.WIDGETS[name]
    assert w.api and len(w.caption) > 40
    for dotted in w.api:
        module, _, attr = dotted.rpartition(".")
        assert callable(getattr(importlib.import_module(module), attr)), dotted
    if w.draw is None:  # the registry widgets: a reference and the sweep of the PDF figure
        assert w.reference is not None and w.fallback is not None
        assert w.grid and w.browser and w.defaults
        assert set(w.fallback["y"]) <= set(w.reference(w.settings({}), _data(w)))


# -----------------------------------------------------------------------------
# One node process: every widget's compute on its grid, and the BPE encoder
# -----------------------------------------------------------------------------
BPE_STRINGS = 1000


def _bpe_strings():
    """1,000 strings: slices of the corpus, code, whitespace runs, digits, accents, emoji."""
    from fmref.text.corpus import python_docs

    text = python_docs("validation")
    rng = random.Random(0)
    extra = ["  \n\t x", "don't we'll I'm", "a_b__c 3.14 1e10", "naïve café 東京 ½ ²",
             "🙂 emoji🙂x", "tab\there\u00a0nbsp", "\u2028line", "x\x1cy", "____", "''s's"]
    out = list(extra)
    while len(out) < BPE_STRINGS:
        i = rng.randrange(len(text) - 200)
        piece = text[i : i + rng.randrange(1, 200)]
        if rng.random() < 0.2:
            piece += rng.choice(extra)
        out.append(piece)
    return out


def _node_results():
    """Every registry widget's compute on its grid, and the BPE encoder: ONE node process."""
    jobs = []
    for name, w in MORE.items():
        jobs.append({"name": name, "data": _data(w), "cases": [w.settings(c) for c in w.grid]})
    from fmref.zoo import tiny_gpt

    tok = tiny_gpt()[1]
    strings = _bpe_strings()
    payload = {"jobs": jobs, "bpe": {"merges": [list(m) for m in tok.merges], "strings": strings}}
    script = (
        f"const specs = require({json.dumps(str(STATIC / 'fmref-widgets-specs.js'))}).SPECS;\n"
        f"const core = require({json.dumps(str(STATIC / 'fmref-widgets-core.js'))});\n"
        "const inp = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
        "const out = {};\n"
        "for (const job of inp.jobs) {\n"
        "  out[job.name] = job.cases.map(p => {\n"
        "    const r = specs[job.name].compute(p, job.data);\n"
        "    return Object.fromEntries(r.out.map(o => [o[0], o[2]]));\n"
        "  });\n"
        "}\n"
        "out.__bpe = inp.bpe.strings.map(s => core.bpeEncode(s, inp.bpe.merges));\n"
        "out.__specs = Object.keys(specs);\n"
        "process.stdout.write(JSON.stringify(out));\n"
    )
    done = subprocess.run([NODE, "-e", script], input=json.dumps(payload), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), tok, strings


def _same(got, want, rel):
    if isinstance(want, str):
        return got == want
    if isinstance(want, bool):
        want = float(want)
    if got is None:
        return want is None or (isinstance(want, float) and math.isnan(want))
    return math.isclose(float(got), float(want), rel_tol=rel, abs_tol=1e-12)


@needs_node
def test_javascript_equals_fmref_for_every_widget_and_the_bpe_encoder():
    """One test, so that pytest-xdist starts node once: all widgets, then 1,000 BPE strings."""
    results, tok, strings = _node_results()
    assert sorted(results["__specs"]) == sorted(MORE)  # every registry widget has a spec
    wrong = []
    for name, w in MORE.items():
        data = _data(w)
        assert len(results[name]) == len(w.grid) > 0
        for changes, got in zip(w.grid, results[name]):
            want = w.reference(w.settings(changes), data)
            for key, value in want.items():
                if key not in got:
                    wrong.append((name, "missing readout", key))
                elif not _same(got[key], value, w.rel):
                    wrong.append((name, changes, key, got[key], value))
    assert wrong == [], wrong[:10]
    assert len(strings) == BPE_STRINGS
    mismatches = [s for s, ids in zip(strings, results["__bpe"]) if ids != tok.encode(s)]
    assert mismatches == []


# -----------------------------------------------------------------------------
# Properties of the build-time data (each can fail if fmref or the producer breaks)
# -----------------------------------------------------------------------------
def test_rnn_gradients_vanish_faster_than_lstm_gradients():
    d = _data(MORE["rnn-gradients"])
    s = d["norms"][d["default_scale"]]
    assert s["rnn"][40] < 1e-3 * s["rnn"][1]  # Bengio et al. 1994: exponential decay
    assert s["lstm"][40] > 10 * s["rnn"][40]


def test_minhash_and_bootstrap_data_converge():
    d = _data(MORE["minhash"])
    for pair in d["pairs"]:
        errors = [abs(row[-1] - pair["jaccard"]) for row in pair["estimates"]]  # 256 perms
        assert max(errors) < 4 * math.sqrt(pair["jaccard"] * (1 - pair["jaccard"]) / 256) + 1e-9
    b = _data(MORE["bootstrap"])["table"]
    widths = [b[str(n)]["0.7"]["high"] - b[str(n)]["0.7"]["low"] for n in (50, 200, 1000)]
    assert widths == sorted(widths, reverse=True)
    # about the normal interval 2 x 1.96 sqrt(p(1-p)/n) at n = 1,000
    assert widths[-1] == pytest.approx(2 * 1.96 * math.sqrt(0.21 / 1000), rel=0.1)


def test_self_consistency_beats_one_sample_above_the_plurality_threshold():
    d = _data(MORE["self-consistency"])
    curves = dict(zip(d["accuracies"], d["curves"]))
    assert curves[0.7][-1] > 0.95 and curves[0.5][-1] > 0.85
    assert curves[0.2][-1] < 0.2  # wrong answers split 3 ways, still a plurality of 0.27 each


def test_rope_linear_scaling_stretches_every_wavelength():
    d = _data(MORE["rope-scaling"])
    base, lin = d["table"]["none"]["1"]["inv_freq"], d["table"]["linear"]["8"]["inv_freq"]
    assert all(b / x == pytest.approx(8) for b, x in zip(base, lin))
    ll3 = d["table"]["llama3"]["8"]["inv_freq"]
    assert ll3[0] == base[0] and ll3[-1] == pytest.approx(base[-1] / 8)  # high freqs kept


# -----------------------------------------------------------------------------
# The static figures of the PDF
# -----------------------------------------------------------------------------
def test_every_registry_widget_draws_a_fallback_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def make_fig(rows, cols, size):
        fig, _ = plt.subplots(rows, cols, figsize=size, squeeze=False)
        return fig

    for name, w in MORE.items():
        fig = fmref_widgets.draw_fallback(name, _data(w), make_fig)
        ax = fig.axes[0]
        assert ax.lines or ax.patches, name
        plt.close(fig)


def test_alignment_data_is_what_the_trained_seq2seq_models_compute():
    import torch

    from fmref.models.seq2seq import AdditiveAttention, MultiplicativeAttention
    from fmref.zoo import seq2seq_reversal

    d = _data(MORE["alignment"])  # alignment_test_data: a 5-step run, a snapshot per step
    assert d["steps"] == [1, 2, 3, 4, 5]
    runs = seq2seq_reversal(steps=5, eval_every=1)  # the same cached run
    kinds = {"additive": AdditiveAttention, "general": MultiplicativeAttention}
    for score, (model, _) in runs.items():
        assert isinstance(model.attention, kinds[score])
        tokens, alpha = model.greedy_decode(torch.tensor(d["examples"]), bos=0, max_len=5)
        assert d["runs"][score][-1]["tokens"] == tokens.tolist()
        torch.testing.assert_close(torch.tensor(d["runs"][score][-1]["alignment"]), alpha,
                                   rtol=1e-6, atol=1e-7)  # stored to 7 significant digits
    assert d["runs"]["additive"][-1]["alignment"] != d["runs"]["general"][-1]["alignment"]
