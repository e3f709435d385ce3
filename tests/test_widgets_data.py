"""The interactive figures' numbers (docs/_ext/fmref_widgets.py) and formulas
(docs/_static/widgets/fmref-widgets-core.js) agree with fmref.

The JavaScript is run by node (skipped where node is missing); every check
compares it with the fmref function it ports, over a grid of inputs. The data
that the directive embeds is checked against fmref and against properties it
must have (the Chinchilla closed form minimises its own law, errors stay within
half a quantisation step, ...). A small Sphinx project checks the directive in
the html, latex and doctest builders.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
CORE_JS = ROOT / "docs" / "_static" / "widgets" / "fmref-widgets-core.js"
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import fmref_widgets  # noqa: E402

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def run_js(expression: str, **inputs):
    """Evaluate ``expression`` in node with ``core`` (the widget formulas) and ``inputs``."""
    script = (
        f"const core = require({json.dumps(str(CORE_JS))});\n"
        f"const inputs = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
        f"const result = (function () {{ {expression} }})();\n"
        "process.stdout.write(JSON.stringify(result));\n"
    )
    done = subprocess.run(
        [NODE, "-e", script],
        input=json.dumps(inputs),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


# -----------------------------------------------------------------------------
# 1. Attention
# -----------------------------------------------------------------------------
@needs_node
def test_attention_softmax_with_temperature_and_mask_matches_fmref():
    from fmref.nn.attention import attention_weights

    data = fmref_widgets.attention_data()
    q, k = torch.tensor(data["q"]), torch.tensor(data["k"])
    cases = list(itertools.product((0.1, 0.5, 1.0, 1.7, 3.0), (False, True)))
    got = run_js(
        "return inputs.cases.map(c => core.attentionWeights(inputs.scores, c[0], c[1]));",
        scores=data["scores"],
        cases=cases,
    )
    for (tau, causal), weights in zip(cases, got):
        want = attention_weights(q, k, is_causal=causal, scale=1 / (tau * math.sqrt(10)))
        assert torch.allclose(torch.tensor(weights), want, atol=1e-5), (tau, causal)


def test_attention_data_is_the_chapter_example():
    data = fmref_widgets.attention_data()
    assert data["tokens"] == "the cat sat on the mat .".split()
    scores = torch.tensor(data["scores"])
    # rows 0 and 4 are both "the": identical queries and keys, identical scores
    assert torch.equal(scores[0], scores[4]) and torch.equal(scores[:, 0], scores[:, 4])
    q, k = torch.tensor(data["q"]), torch.tensor(data["k"])
    torch_weights = torch.nn.functional.softmax(q @ k.T / math.sqrt(10), dim=-1)
    assert torch.allclose(torch.softmax(scores, -1), torch_weights, atol=1e-5)


# -----------------------------------------------------------------------------
# 2. Sampling
# -----------------------------------------------------------------------------
SAMPLING_GRID = list(
    itertools.product((0.0, 0.5, 1.0, 1.7), (None, 1, 5, 40), (None, 0.3, 0.9))
)


def _check_sampling(logits_rows):
    from fmref.infer.sampling import sampling_probs

    got = run_js(
        "return inputs.rows.map(z => inputs.grid.map("
        "  g => core.samplingProbs(z, g[0], g[1], g[2])));",
        rows=logits_rows,
        grid=SAMPLING_GRID,
    )
    for row, per_setting in zip(logits_rows, got):
        logits = torch.tensor(row)
        for (tau, top_k, top_p), probs in zip(SAMPLING_GRID, per_setting):
            want = sampling_probs(logits, tau, top_k, top_p)
            probs = torch.tensor(probs, dtype=torch.float32)
            assert torch.equal(probs > 0, want > 0), (tau, top_k, top_p)  # same survivors
            assert torch.allclose(probs, want, atol=1e-5), (tau, top_k, top_p)


@needs_node
def test_sampling_filters_match_fmref_on_random_logits():
    g = torch.Generator().manual_seed(0)
    rows = [(torch.randn(50, generator=g) * s).tolist() for s in (0.5, 1.0, 3.0)]
    rows.append([1.0, 3.0, 3.0, 2.0, 0.0, 3.0])  # ties at the top: top-k keeps them all
    _check_sampling(rows)


@needs_node
def test_sampling_filters_match_fmref_on_the_tiny_gpt_logits():
    data = fmref_widgets.sampling_data()
    assert len(data["vocab"]) == 768 and len(data["prompts"]) == 3
    _check_sampling([p["logits"] for p in data["prompts"]])


# -----------------------------------------------------------------------------
# 3. KV cache and memory calculator
# -----------------------------------------------------------------------------
def test_kv_presets_are_fmref_configurations():
    from fmref.models.llama import llama2_70b, llama_7b, mistral_7b
    from fmref.scaling import count_parameters

    data = fmref_widgets.kv_cache_data()
    for preset, make in zip(data["presets"], (llama_7b, llama2_70b, mistral_7b)):
        cfg = make()
        assert preset["config"]["n_kv_heads"] == cfg.n_kv_heads
        assert preset["config"]["sliding_window"] == (cfg.sliding_window or 0)
        assert preset["n_params"] == count_parameters(cfg)
    # published sizes (Touvron et al. 2023; Jiang et al. 2023): 6.7B, 69B, 7.2B
    assert [round(p["n_params"] / 1e9, 1) for p in data["presets"]] == [6.7, 69.0, 7.2]


@needs_node
def test_kv_calculator_javascript_matches_fmref_on_a_grid():
    from fmref.infer.kv import kv_cache_bytes
    from fmref.models.llama import LlamaConfig
    from fmref.scaling import count_parameters
    from fmref.train.efficient import zero_memory_per_gpu

    data = fmref_widgets.kv_cache_data()
    configs = [p["config"] for p in data["presets"]]
    configs.append(  # a custom model: 1B-ish, 2 KV heads, a sliding window of 1,000
        {"vocab_size": 50000, "dim": 2048, "n_layers": 16, "n_heads": 16, "n_kv_heads": 2,
         "hidden_dim": 5632, "sliding_window": 1000}
    )
    assert [c["sliding_window"] for c in configs] == [0, 0, 4096, 1000]
    cases = []
    for i, (cfg, attention, seq_len, batch, (w_bytes, kv_bytes), gpus, stage) in enumerate(
        itertools.product(
            configs, ("mha", "gqa", "mqa"), (128, 4096, 131072), (1, 8, 33),
            ((2, 2), (0.5, 1), (4, 0.5)), (1, 8), (0, 1, 2, 3),
        )
    ):
        if i % 7:  # a spread-out seventh of the 3,456 combinations
            continue
        c = dict(cfg)
        c["n_kv_heads"] = {"mha": c["n_heads"], "gqa": c["n_kv_heads"], "mqa": 1}[attention]
        cases.append(
            {"config": c, "o": {"seqLen": seq_len, "batch": batch, "weightBytes": w_bytes,
                                "kvBytes": kv_bytes, "nGpus": gpus, "memoryGiB": 80,
                                "stage": stage}}
        )
    assert len(cases) >= 50
    got = run_js("return inputs.cases.map(x => core.servingMemory(x.config, x.o));", cases=cases)
    for case, r in zip(cases, got):
        c, o = case["config"], case["o"]
        cfg = LlamaConfig(max_seq_len=o["seqLen"], **(c | {"sliding_window": None}))
        n = count_parameters(cfg)
        kv = kv_cache_bytes(c["n_layers"], c["n_kv_heads"], cfg.head_dim, o["seqLen"], o["batch"],
                            o["kvBytes"], window=c["sliding_window"] or None)
        assert r["nParams"] == n
        assert r["kv"] == pytest.approx(kv, rel=1e-12)
        assert r["weights"] == pytest.approx(n * o["weightBytes"], rel=1e-12)
        assert r["training"] == pytest.approx(zero_memory_per_gpu(n, o["nGpus"], o["stage"]),
                                              rel=1e-12)
        assert r["fits"] == ((n * o["weightBytes"] + kv) / o["nGpus"] <= 80 * 2**30)


@needs_node
def test_kv_calculator_reproduces_the_chapter_numbers():
    # Chapter XIII: LLaMA-7B caches 512 KiB per token; 32 x 4,096 tokens need 64 GiB
    got = run_js(
        "return [core.kvCacheBytes(32, 32, 128, 1, 1, 2),"
        " core.kvCacheBytes(32, 32, 128, 4096, 32, 2), core.formatBytes(64 * Math.pow(2, 30)),"
        " core.formatCount(6738415616)];"
    )
    assert got == [512 * 2**10, 64 * 2**30, "64.00 GiB", "6.74B"]


# -----------------------------------------------------------------------------
# 4. Scaling laws
# -----------------------------------------------------------------------------
def test_scaling_rows_are_fmref_allocations():
    from fmref.scaling.laws import compute_optimal, kaplan_compute_optimal

    data = fmref_widgets.scaling_data()
    assert len(data["rows"]) == 81
    for row in data["rows"]:
        c = 10 ** row["log10_c"]
        for got, want in ((row["chinchilla"], compute_optimal(c)),
                          (row["kaplan"], kaplan_compute_optimal(c))):
            assert got[0] == pytest.approx(want[0], rel=1e-6)
            assert got[1] == pytest.approx(want[1], rel=1e-6)
            assert 6 * got[0] * got[1] == pytest.approx(c, rel=1e-5)  # C = 6 N D
        # the closed form minimises the Chinchilla law: no other split of C does better
        assert row["chinchilla"][2] <= row["kaplan"][2] + 1e-9
        assert row["chinchilla"][2] <= row["rule20"][2] + 1e-9
    gopher = min(data["rows"], key=lambda r: abs(10 ** r["log10_c"] - 5.76e23))
    # Hoffmann et al. 2022: Kaplan's allocation picks a much larger model than Chinchilla's
    assert gopher["kaplan"][0] > 10 * gopher["chinchilla"][0]


# -----------------------------------------------------------------------------
# 5. Diffusion
# -----------------------------------------------------------------------------
def _frames(frames):
    return [
        torch.tensor(list(base64.b64decode(f)), dtype=torch.float32).reshape(10, 8, 8) / 127.5 - 1
        for f in frames
    ]


def test_diffusion_frames_follow_the_schedules():
    from fmref.diffusion.schedules import alphas_cumprod, beta_schedule

    data = fmref_widgets.diffusion_data()
    ts = data["frames"][1:]
    assert data["frames"][0] is None and ts == list(range(0, 1000, 50))
    for name in ("linear", "cosine"):
        abar = alphas_cumprod(beta_schedule(name, 1000))
        assert torch.allclose(torch.tensor(data["abar"][name]), abar[ts], atol=1e-6)
    # Chapter XVII: halfway, the linear schedule keeps 7.8% of the signal, the cosine 49%
    i500 = ts.index(500)
    assert round(data["abar"]["linear"][i500], 3) == 0.078
    assert round(data["abar"]["cosine"][i500], 3) == 0.492
    lin, cos = _frames(data["forward"]["linear"]), _frames(data["forward"]["cosine"])
    x0 = lin[0]
    assert torch.equal(x0, cos[0])

    def corr(x):
        return torch.corrcoef(torch.stack([x.flatten(), x0.flatten()]))[0, 1].item()

    # the cosine schedule destroys the digits later than the linear one
    assert corr(cos[1 + i500]) > corr(lin[1 + i500]) + 0.2
    assert corr(lin[1]) > 0.99 and abs(corr(lin[-1])) < 0.3
    reverse = _frames(data["reverse"])
    assert len(reverse) == len(ts) + 1
    # the reverse trajectory starts as noise and ends as digit-like images in [-1, 1]
    assert reverse[-1].std() > 0.5 and (reverse[0] - reverse[-1]).abs().mean() > 0.3


# -----------------------------------------------------------------------------
# 6. Quantisation
# -----------------------------------------------------------------------------
def test_quantization_settings_match_fmref():
    from fmref.compress.quant import QuantLinear

    data = fmref_widgets.quantization_data()
    w = fmref_widgets.quant_weight()
    assert data["shape"] == [96, 384] and data["n_weights"] == w.numel()
    settings = {(s["bits"], s["group"]): s for s in data["settings"]}
    assert len(settings) == len(fmref_widgets.QUANT_BITS) * len(fmref_widgets.QUANT_GROUPS)
    for (bits, group), s in settings.items():
        assert sum(s["counts"]) == w.numel()
        # error within half a step; the per-tensor step bounds every finer one
        step = w.abs().max().item() / (2 ** (bits - 1) - 1)
        assert s["max_abs"] <= step / 2 * (1 + 1e-5)
        if bits in (4, 8) and group != "tensor":  # the bytes QuantLinear really stores
            assert s["bytes"] == QuantLinear(w, bits=bits, group_size=group).weight_nbytes()
    for group in fmref_widgets.QUANT_GROUPS:
        errors = [settings[b, group]["rel_error"] for b in fmref_widgets.QUANT_BITS]
        assert errors == sorted(errors, reverse=True)  # more bits, less error
    # smaller groups: smaller steps, smaller errors (groups of 16 vs one scale per tensor)
    for bits in fmref_widgets.QUANT_BITS:
        assert settings[bits, 16]["rel_error"] < settings[bits, "tensor"]["rel_error"]


@needs_node
def test_quant_bytes_javascript_matches_python():
    cases = list(itertools.product((2, 3, 4, 8), fmref_widgets.QUANT_GROUPS))
    got = run_js(
        "return inputs.cases.map(c => core.quantBytes(36864, c[0], c[1]));", cases=cases
    )
    assert got == [fmref_widgets.quant_bytes(36864, b, g) for b, g in cases]


# -----------------------------------------------------------------------------
# The directive in three builders
# -----------------------------------------------------------------------------
PAGE = """Widgets
=======

.. fmref-widget:: attention

.. fmref-widget:: scaling

   A custom caption with *emphasis*.

.. fmref-widget:: speculative
"""


def _build(tmp_path, builder):
    from sphinx.testing.util import SphinxTestApp

    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'docs' / '_ext')!r})\n"
        "extensions = ['fmref_widgets', 'sphinx.ext.doctest']\n"
        f"html_static_path = [{str(ROOT / 'docs' / '_static')!r}]\n"
    )
    (src / "index.rst").write_text(PAGE)
    warnings = io.StringIO()
    app = SphinxTestApp(builder, srcdir=src, builddir=tmp_path / "_build", freshenv=True,
                        warning=warnings)
    try:
        app.build()
    finally:
        app.cleanup()
    return tmp_path / "_build" / builder, warnings.getvalue()


def test_directive_emits_widgets_in_html(tmp_path):
    out, warnings = _build(tmp_path, "html")
    assert warnings == ""
    page = (out / "index.html").read_text()
    assert page.count('class="fmref-widget"') == 3
    # under each figure, the fmref functions it runs (links in the manual, with its API pages)
    assert page.count("Computed with") == 3 and "expected_tokens_per_step" in page
    assert "_static/widgets/fmref-widgets-specs.js" in page
    assert 'data-widget="attention"' in page and "A custom caption with <em>emphasis</em>" in page
    assert "_static/widgets/fmref-widgets.js" in page
    assert "_static/widgets/fmref-widgets-core.js" in page
    assert (out / "_static" / "widgets" / "fmref-widgets.css").is_file()
    start = page.index('class="fmref-widget-data">') + len('class="fmref-widget-data">')
    data = json.loads(page[start : page.index("</script>", start)])
    assert data["tokens"][2] == "sat"


def test_directive_emits_a_static_figure_in_latex(tmp_path):
    out, warnings = _build(tmp_path, "latex")
    assert warnings == ""
    tex = next(out.glob("*.tex")).read_text()
    assert "fmref-widget-attention" in tex and "fmref-widget-scaling" in tex
    assert "interactive version is in the HTML manual" in tex
    assert (out / "fmref-widget-attention.png").stat().st_size > 10_000
    assert (out / "fmref-widget-scaling.png").stat().st_size > 10_000
    # a registry widget's fallback: its fmref reference swept along one control
    assert "fmref-widget-speculative" in tex and "expected\\_tokens\\_per\\_step" in tex
    assert (out / "fmref-widget-speculative.png").stat().st_size > 10_000


def test_directive_is_silent_in_the_doctest_builder(tmp_path):
    _, warnings = _build(tmp_path, "doctest")
    assert warnings == ""


def test_unknown_widget_warns(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "PAGE", "T\n=\n\n.. fmref-widget:: nope\n")
    _, warnings = _build(tmp_path, "html")
    assert "unknown widget 'nope'" in warnings and "attention" in warnings
