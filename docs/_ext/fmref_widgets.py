"""Interactive figures: ``.. fmref-widget:: NAME``, computed by fmref at build time.

Each widget's numbers are computed here, in Python, with fmref (a real model's
logits, the published scaling-law constants, a trained denoiser's samples, a
real weight matrix quantised every way the sliders allow) and embedded in the
page as JSON. The HTML builder emits a small container that
``_static/widgets/fmref-widgets.js`` turns into controls and SVG/canvas
drawings; the formulas the JavaScript evaluates itself (softmax with a causal
mask, the top-k/top-p filters, the KV-cache and memory formulas) live in
``_static/widgets/fmref-widgets-core.js``, which the tests run under node and
compare with fmref. Every other builder gets a static figure instead: a PNG
drawn with matplotlib from the same data into the output folder, with the
caption. The doctest builder gets nothing (and computes nothing).

The optional content of the directive replaces the widget's default caption::

    .. fmref-widget:: kv-cache

       The KV cache and the weights of a preset or custom model.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

sys.path.insert(0, str(Path(__file__).parent))
from fmref_widgets_more import MORE, Widget  # noqa: E402

STATIC = "widgets"  # under html_static_path's _static
JS_FILES = (
    "widgets/fmref-widgets-core.js",
    "widgets/fmref-widgets-specs.js",
    "widgets/fmref-widgets.js",
)
CSS_FILES = ("widgets/fmref-widgets.css",)
NO_DATA_BUILDERS = ("doctest", "linkcheck", "gettext")


# =============================================================================
# The data of each widget (plain JSON-able dicts; tests/test_widgets_data.py)
# =============================================================================
def _round(values, digits=6):
    """Nested lists of floats rounded for a compact, stable JSON."""
    if isinstance(values, (list, tuple)):
        return [_round(v, digits) for v in values]
    return round(float(values), digits)


def _sig(values, digits=7):
    """Floats to ``digits`` significant digits (the widget prints 3 or 4)."""
    return [float(f"{v:.{digits}g}") for v in values]


def attention_data() -> dict:
    """Scores of the seven-token example of Chapter V (same seed, same code)."""
    import torch

    tokens = "the cat sat on the mat .".split()
    vocab = sorted(set(tokens))
    g = torch.Generator().manual_seed(0)
    E = torch.randn(len(vocab), 10, generator=g)  # (vocab, d_model)
    X = E[[vocab.index(t) for t in tokens]]  # (7, 10)
    W_q, W_k, W_v = (torch.randn(10, 10, generator=g) / 10**0.5 for _ in range(3))
    Q, K = X @ W_q, X @ W_k  # (7, 10) each
    scores = Q @ K.T / 10**0.5  # (7, 7), what the widget's softmax starts from
    return {
        "tokens": tokens,
        "d_head": 10,
        "q": _round(Q.tolist()),
        "k": _round(K.tolist()),
        "scores": _round(scores.tolist()),
    }


SAMPLING_PROMPTS = ("The for statement", "The return value of the function is", "To create a new")


def sampling_data() -> dict:
    """Next-token logits of :func:`fmref.zoo.tiny_gpt` after three prompts."""
    import torch

    from fmref.zoo import tiny_gpt

    model, tokenizer, _ = tiny_gpt()
    vocab = [
        tokenizer.token_bytes(i).decode("utf-8", errors="replace")
        for i in range(tokenizer.vocab_size)
    ]
    prompts = []
    for text in SAMPLING_PROMPTS:
        ids = tokenizer.encode(text)
        with torch.no_grad():
            logits = model(torch.tensor([ids]))[0, -1]  # (V,)
        prompts.append({"text": text, "logits": _round(logits.tolist(), 4)})
    return {"vocab": vocab, "prompts": prompts, "model": "fmref.zoo.tiny_gpt()"}


#: Accelerator memories offered by the calculator, GiB.
ACCELERATORS = (
    ("16 GiB (T4, V100-16GB)", 16),
    ("24 GiB (RTX 4090, L4)", 24),
    ("40 GiB (A100-40GB)", 40),
    ("80 GiB (A100-80GB, H100)", 80),
    ("141 GiB (H200)", 141),
)
PRECISIONS = (("fp32", 4), ("fp16 / bf16", 2), ("int8 / fp8", 1), ("int4", 0.5))


def kv_cache_data() -> dict:
    """Preset configurations and their parameter counts, from fmref."""
    from dataclasses import asdict

    from fmref.models.llama import llama2_70b, llama_7b, mistral_7b
    from fmref.scaling import count_parameters

    presets = []
    for label, make in (
        ("LLaMA-7B", llama_7b),
        ("LLaMA-2-70B", llama2_70b),
        ("Mistral-7B", mistral_7b),
    ):
        cfg = make()
        keys = ("vocab_size", "dim", "n_layers", "n_heads", "n_kv_heads", "hidden_dim")
        config = {k: asdict(cfg)[k] for k in keys}
        config["sliding_window"] = cfg.sliding_window or 0  # 0: every position is cached
        presets.append(
            {
                "label": label,
                "function": f"fmref.models.llama.{make.__name__}",
                "config": config,
                "n_params": count_parameters(cfg),
            }
        )
    return {
        "presets": presets,
        "accelerators": [list(a) for a in ACCELERATORS],
        "precisions": [list(p) for p in PRECISIONS],
        "defaults": {"seq_len": 4096, "batch": 8, "accelerator": 80, "n_gpus": 1, "stage": 0},
    }


def scaling_data() -> dict:
    """Chinchilla and Kaplan allocations on a grid of budgets, 1e18 to 1e26 FLOPs."""
    from fmref.scaling.laws import (
        CHINCHILLA,
        chinchilla_loss,
        compute_optimal,
        kaplan_compute_optimal,
        tokens_per_parameter_allocation,
    )

    rows = []
    for i in range(81):  # log10 C from 18.0 to 26.0 in steps of 0.1
        log_c = 18 + i / 10
        c = 10**log_c
        n, d = compute_optimal(c)
        nk, dk = kaplan_compute_optimal(c)
        n20, d20 = tokens_per_parameter_allocation(c)
        rows.append(
            {
                "log10_c": round(log_c, 1),
                "chinchilla": _sig([n, d, chinchilla_loss(n, d)]),
                "kaplan": _sig([nk, dk, chinchilla_loss(nk, dk)]),
                "rule20": _sig([n20, d20, chinchilla_loss(n20, d20)]),
            }
        )
    return {"rows": rows, "constants": CHINCHILLA, "default_index": 55}  # 5.6e23 ~ Gopher


DIFFUSION_STEPS = 20  # DDIM steps of the reverse row: t = 950, 900, ..., 0
DIFFUSION_GUIDANCE = 2.0  # classifier-free guidance scale of the reverse row


def diffusion_data() -> dict:
    """Forward-noised digits under both schedules and a DDIM reverse trajectory.

    Frames: index 0 is x_0 (the clean digits; the reverse row's final sample),
    index ``i >= 1`` is timestep ``t = 50 (i - 1)``. Images are 8x8, pixels in
    [-1, 1] stored as bytes (0 = -1, 255 = +1), base64.
    """
    import torch

    from fmref.diffusion.denoisers import digits_denoiser
    from fmref.diffusion.samplers import sample
    from fmref.diffusion.schedules import alphas_cumprod, beta_schedule, q_sample
    from fmref.models.vit import digits_split

    T = 1000
    ts = list(range(0, T, T // DIFFUSION_STEPS))  # 0, 50, ..., 950
    abar = {name: alphas_cumprod(beta_schedule(name, T)) for name in ("linear", "cosine")}
    x_test, y_test = digits_split()[2:]
    first = [int((y_test == c).nonzero()[0]) for c in range(10)]
    x0 = x_test[first]  # (10, 1, 8, 8), one test digit of each class
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))

    def encode(x):  # (10, 1, 8, 8) in [-1, 1] -> base64 of 640 bytes
        b = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).flatten()
        return base64.b64encode(bytes(b.tolist())).decode()

    forward = {
        name: [encode(x0)] + [encode(q_sample(x0, t, noise, a)) for t in ts]
        for name, a in abar.items()
    }
    model, model_abar, _ = digits_denoiser()
    torch.manual_seed(0)
    x, trajectory = sample(
        model,
        (10, 1, 8, 8),
        model_abar,
        sampler="ddim",
        steps=DIFFUSION_STEPS,
        labels=torch.arange(10),
        guidance_scale=DIFFUSION_GUIDANCE,
        generator=torch.Generator().manual_seed(0),
        return_trajectory=True,
    )
    # trajectory[k] is x entering the step at t = 950 - 50 k; trajectory[-1] the sample
    reverse = [encode(x)] + [encode(trajectory[DIFFUSION_STEPS - 1 - i]) for i in range(len(ts))]
    curve_t = list(range(0, T, 10)) + [T - 1]
    return {
        "T": T,
        "frames": [None] + ts,
        "forward": forward,
        "reverse": reverse,
        "abar": {name: _round(a[ts].tolist()) for name, a in abar.items()},
        "curve": {
            "t": curve_t,
            **{name: _round(a[curve_t].tolist(), 5) for name, a in abar.items()},
        },
        "labels": list(range(10)),
        "steps": DIFFUSION_STEPS,
        "guidance": DIFFUSION_GUIDANCE,
    }


QUANT_BITS = (2, 3, 4, 8)
QUANT_GROUPS = (16, 32, 64, 128, 384, "tensor")  # 384 = the whole row (per channel)
QUANT_BINS = 41


def quant_weight():
    """The weight the quantisation widget shows: block 1's MLP output projection."""
    from fmref.zoo import tiny_gpt

    model, _, _ = tiny_gpt()
    return model.h[1].mlp.c_proj.weight.detach().float()  # (96, 384) = (out, in)


def quant_bytes(n_weights, bits, group_size):
    """Bytes of ``bits``-bit codes packed tightly plus one fp16 scale per group."""
    n_scales = 1 if group_size == "tensor" else n_weights // group_size
    return n_weights * bits / 8 + 2 * n_scales


def quantization_data() -> dict:
    """Error histogram, errors and bytes for every (bits, group size) of the sliders."""
    import torch

    from fmref.compress.quant import (
        dequantize_absmax,
        dequantize_groupwise,
        quantize_absmax,
        quantize_groupwise,
    )

    w = quant_weight()
    errors = {}
    for bits in QUANT_BITS:
        for group in QUANT_GROUPS:
            if group == "tensor":
                w_hat = dequantize_absmax(*quantize_absmax(w, bits))
            else:
                w_hat = dequantize_groupwise(*quantize_groupwise(w, bits, group), group)
            errors[bits, group] = w_hat - w
    settings = []
    for bits in QUANT_BITS:
        # one x-axis per bit width, so that the group size visibly narrows the errors
        span = max(errors[bits, g].abs().max().item() for g in QUANT_GROUPS)
        for group in QUANT_GROUPS:
            e = errors[bits, group]
            counts = torch.histc(e, bins=QUANT_BINS, min=-span, max=span)
            settings.append(
                {
                    "bits": bits,
                    "group": group,
                    "span": span,
                    "counts": [int(c) for c in counts.tolist()],
                    "rmse": e.pow(2).mean().sqrt().item(),
                    "max_abs": e.abs().max().item(),
                    "rel_error": (e.norm() / w.norm()).item(),
                    "bytes": quant_bytes(w.numel(), bits, group),
                }
            )
    return {
        "name": "tiny_gpt().h[1].mlp.c_proj.weight",
        "shape": list(w.shape),
        "n_weights": w.numel(),
        "bits": list(QUANT_BITS),
        "groups": list(QUANT_GROUPS),
        "settings": settings,
        "defaults": {"bits": 4, "group": 128},
    }


# =============================================================================
# Static fallbacks (PDF and other non-HTML builders), drawn from the same data
# =============================================================================
def draw_attention(data, ax_fig):
    import torch

    from fmref.nn.attention import attention_weights

    fig = ax_fig(1, 2, (8, 3.6))
    tokens = data["tokens"]
    q, k = torch.tensor(data["q"]), torch.tensor(data["k"])
    for ax, causal in zip(fig.axes, (False, True)):
        weights = attention_weights(q, k, is_causal=causal).tolist()  # (7, 7)
        ax.imshow(weights, cmap="Blues", vmin=0, vmax=1)
        for i, row in enumerate(weights):
            for j, v in enumerate(row):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if v > 0.5 else "black")
        ax.set_xticks(range(7), tokens)
        ax.set_yticks(range(7), tokens)
        ax.set_xlabel("key")
        ax.set_ylabel("query")
        ax.set_title("causal mask" if causal else "no mask", fontsize=10)
    fig.suptitle("Attention weights of the seven-token example (temperature 1)")
    return fig


def draw_sampling(data, ax_fig):
    import torch

    from fmref.infer.sampling import sampling_probs

    fig = ax_fig(1, 3, (9, 3.4))
    prompt = data["prompts"][0]
    logits = prompt["logits"]
    top = sorted(range(len(logits)), key=lambda i: -logits[i])[:12]
    labels = [repr(data["vocab"][i])[1:-1].replace(" ", "␣") for i in top]
    for ax, (title, kwargs) in zip(
        fig.axes,
        (("temperature 1", {}), ("temperature 0.7, top-k 5", {"temperature": 0.7, "top_k": 5}),
         ("top-p 0.6", {"top_p": 0.6})),
    ):
        p = sampling_probs(torch.tensor(logits), **kwargs).tolist()
        ax.barh(range(12), [p[i] for i in top], color="#1f77b4")
        ax.set_yticks(range(12), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("probability")
        ax.set_title(title, fontsize=9)
    fig.suptitle(f"Next token after {prompt['text']!r} (tiny GPT): filters cut the tail")
    return fig


def _kv_rows(data, seq_len=4096, batch=8):
    from fmref.infer.kv import kv_cache_bytes

    rows = []
    for p in data["presets"]:
        c = p["config"]
        kv = kv_cache_bytes(
            c["n_layers"],
            c["n_kv_heads"],
            c["dim"] // c["n_heads"],
            seq_len,
            batch,
            bytes_per_value=2,
            window=c["sliding_window"] or None,
        )
        rows.append((p["label"], p["n_params"] * 2 / 2**30, kv / 2**30))
    return rows


def draw_kv_cache(data, ax_fig):
    fig = ax_fig(1, 1, (7, 3.2))
    ax = fig.axes[0]
    rows = _kv_rows(data)
    y = range(len(rows))
    ax.barh(y, [r[1] for r in rows], color="#1f77b4", label="weights (fp16)")
    ax.barh(y, [r[2] for r in rows], left=[r[1] for r in rows], color="#ff7f0e",
            label="KV cache (fp16, 8 x 4,096 tokens)")
    ax.axvline(80, color="k", ls="--", lw=1, label="80 GiB accelerator")
    ax.set_yticks(list(y), [r[0] for r in rows])
    ax.set_xlabel("GiB")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Serving memory: weights plus KV cache for a batch of 8 x 4,096 tokens")
    return fig


def draw_scaling(data, ax_fig):
    fig = ax_fig(1, 2, (9, 3.4))
    c = [10 ** r["log10_c"] for r in data["rows"]]
    for key, label in (("chinchilla", "Chinchilla (Approach 3)"), ("kaplan", "Kaplan"),
                       ("rule20", "20 tokens / parameter")):
        fig.axes[0].loglog(c, [r[key][0] for r in data["rows"]], label=label)
        fig.axes[1].semilogx(c, [r[key][2] for r in data["rows"]], label=label)
    fig.axes[0].set_ylabel("parameters N")
    fig.axes[1].set_ylabel("Chinchilla-law loss at (N, D)")
    for ax in fig.axes:
        ax.set_xlabel("training compute C (FLOPs)")
        ax.legend(fontsize=7)
    fig.suptitle("Kaplan's allocation buys bigger models and a higher predicted loss")
    return fig


def _digits(b64):
    raw = base64.b64decode(b64)
    return [[[raw[k * 64 + r * 8 + col] for col in range(8)] for r in range(8)] for k in range(10)]


def draw_diffusion(data, ax_fig):
    picks = [0, 3, 7, 11, 15, 20]  # x0, t = 100, 300, 500, 700, 950
    fig = ax_fig(3, len(picks), (9, 3.4))
    rows = (("linear", data["forward"]["linear"]), ("cosine", data["forward"]["cosine"]),
            ("reverse", data["reverse"]))
    for r, (name, frames) in enumerate(rows):
        for k, f in enumerate(picks):
            ax = fig.axes[r * len(picks) + k]
            digits = _digits(frames[f])
            strip = [sum((digits[d][row] for d in range(4)), []) for row in range(8)]
            ax.imshow(strip, cmap="gray_r", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title("x0" if f == 0 else f"t = {data['frames'][f]}", fontsize=9)
            if k == 0:
                ax.set_ylabel({"linear": "linear q(x_t|x_0)", "cosine": "cosine q(x_t|x_0)",
                               "reverse": "DDIM, guided"}[name], fontsize=8)
    fig.suptitle("Forward noising under two schedules and a reverse trajectory of the digit U-Net")
    return fig


def draw_quantization(data, ax_fig):
    fig = ax_fig(1, 3, (9, 3.2))
    picks = [(8, 384), (4, 128), (4, 16)]
    for ax, (bits, group) in zip(fig.axes, picks):
        s = next(s for s in data["settings"] if s["bits"] == bits and s["group"] == group)
        n = len(s["counts"])
        width = 2 * s["span"] / n
        centers = [-s["span"] + (i + 0.5) * width for i in range(n)]
        ax.bar(centers, s["counts"], width=width, color="#1f77b4")
        ax.set_title(f"int{bits}, groups of {group}\n{s['bytes'] / 1024:.1f} KiB, "
                     f"rel. error {s['rel_error']:.3f}", fontsize=9)
        ax.set_xlabel("dequantised - original weight")
    fig.axes[0].set_ylabel("weights")
    fig.suptitle("Quantisation error of a tiny-GPT weight matrix (96 x 384)")
    return fig


# The first six widgets, drawn by their own functions; the others are in
# fmref_widgets_more.MORE (their controls in _static/widgets/fmref-widgets-specs.js).
WIDGETS: dict[str, Widget] = {
    "attention": Widget(
        page="chapters/05-self-attention-and-transformers",
        data=attention_data,
        draw=draw_attention,
        caption="Attention weights of the seven-token example: pick a query token, divide the "
        "scores by a temperature, and switch the causal mask on or off.",
        api=("fmref.nn.attention.attention_weights",),
    ),
    "sampling": Widget(
        page="chapters/13-efficient-llm-inference",
        data=sampling_data,
        draw=draw_sampling,
        caption="The next-token distribution of the tiny GPT after a prompt, through temperature, "
        "top-k and top-p: the tokens that survive and their renormalised probabilities.",
        api=("fmref.infer.sampling.sampling_probs", "fmref.zoo.tiny_gpt"),
    ),
    "kv-cache": Widget(
        page="chapters/13-efficient-llm-inference",
        data=kv_cache_data,
        draw=draw_kv_cache,
        caption="Memory of serving a model: the fp16 weights and the KV cache of a batch, against "
        "an accelerator's memory (the formulas of fmref.infer.kv and fmref.train.efficient).",
        api=("fmref.infer.kv.kv_cache_bytes", "fmref.train.efficient.zero_memory_per_gpu"),
    ),
    "scaling": Widget(
        page="chapters/10-scaling-law",
        data=scaling_data,
        draw=draw_scaling,
        caption="Compute-optimal allocations along a compute budget: the Chinchilla closed form, "
        "the 20-tokens rule and Kaplan's allocation, with the loss the Chinchilla law predicts.",
        api=("fmref.scaling.laws.compute_optimal", "fmref.scaling.laws.kaplan_compute_optimal"),
    ),
    "diffusion": Widget(
        page="chapters/17-diffusion-models",
        data=diffusion_data,
        draw=draw_diffusion,
        caption="Digits noised under the linear and cosine schedules, and a reverse (DDIM) "
        "trajectory of the trained digit U-Net, at the same timestep.",
        api=("fmref.diffusion.schedules.q_sample", "fmref.diffusion.samplers.sample"),
    ),
    "quantization": Widget(
        page="chapters/14-compress-and-sparsify",
        data=quantization_data,
        draw=draw_quantization,
        caption="Group-wise absmax quantisation of a weight matrix of the tiny GPT: the error "
        "histogram and the bytes for each bit width and group size.",
        api=("fmref.compress.quant.quantize_groupwise", "fmref.compress.quant.quantize_absmax"),
    ),
    **MORE,
}


def draw_fallback(name, data, make_fig):
    """The static figure of a registry widget: its fmref reference swept along one control."""
    w = WIDGETS[name]
    fb = w.fallback
    fig = make_fig(1, 1, (6.4, 3.2))
    ax = fig.axes[0]
    key, values = fb["x"], fb["values"]
    series = [(None, None)]
    if fb.get("series"):
        series = [(fb["series"][0], v) for v in fb["series"][1]]
    xs = list(range(len(values))) if fb.get("bar") or isinstance(values[0], str) else values
    for s_key, s_val in series:
        for y in fb["y"]:
            ys = []
            for v in values:
                changes = {key: v}
                if s_key is not None:
                    changes[s_key] = s_val
                ys.append(float(w.reference(w.settings(changes), data)[y]))
            label = y if s_key is None else f"{y}, {s_key} = {s_val}"
            if fb.get("bar"):
                ax.bar(xs, ys, label=label)
            else:
                ax.plot(xs, ys, marker="o", ms=3, label=label)
    if fb.get("logy"):
        ax.set_yscale("log")
    if isinstance(values[0], str):
        labels = values
        if key in ("model", "preset") and "presets" in data:
            labels = [data["presets"][int(v)]["label"] for v in values]
        elif key == "format" and "formats" in data:
            labels = [data["formats"][int(v)]["label"] for v in values]
        ax.set_xticks(xs, labels, rotation=30 if len(values) > 4 else 0, fontsize=7, ha="right"
                      if len(values) > 4 else "center")
    ax.set_xlabel(fb["xlabel"])
    ax.set_ylabel(fb["ylabel"])
    ax.legend(fontsize=7)
    fig.suptitle(w.caption.split(":")[0].split(".")[0][:90], fontsize=9)
    return fig


@functools.cache
def widget_json(name: str) -> str:
    """The widget's data as JSON, computed once per process."""
    return json.dumps(WIDGETS[name].data(), separators=(",", ":"), allow_nan=False)


# =============================================================================
# The directive and its node
# =============================================================================
class fmref_widget(nodes.General, nodes.Element):
    """A widget: ``name``, ``data`` (JSON text); children: the caption paragraphs."""


class WidgetDirective(SphinxDirective):
    """``.. fmref-widget:: NAME`` with an optional caption as content."""

    required_arguments = 1
    has_content = True
    option_spec = {"name": directives.unchanged}

    def run(self):
        name = self.arguments[0]
        if name not in WIDGETS:
            logger.warning(
                f"fmref-widget: unknown widget {name!r}; expected one of {sorted(WIDGETS)}",
                location=self.get_location(),
            )
            return []
        node = fmref_widget(name=name, data="")
        self.set_source_info(node)
        if _BUILDER.get("name") not in NO_DATA_BUILDERS:
            node["data"] = widget_json(name)
        if self.content:
            self.state.nested_parse(self.content, self.content_offset, node)
        else:
            node += nodes.paragraph(text=WIDGETS[name].caption)
        # the fmref functions it runs, linked to their API pages
        api = ", ".join(f":func:`~{f}`" if f.rsplit(".", 1)[-1][:1].islower() else f":class:`~{f}`"
                        for f in WIDGETS[name].api)
        self.state.nested_parse(
            StringList([f"Computed with {api}."], source=self.get_source_info()[0]),
            self.content_offset, node)
        node.children[-1]["classes"].append("fmref-widget-api")
        self.env.note_dependency(__file__)
        self.env.note_dependency(str(Path(__file__).with_name("fmref_widgets_more.py")))
        return [node]


_BUILDER: dict[str, str] = {}


def on_builder_inited(app):
    _BUILDER["name"] = app.builder.name


def on_doctree_read(app, doctree):
    if any(True for _ in doctree.findall(fmref_widget)):
        if not hasattr(app.env, "fmref_widget_docs"):
            app.env.fmref_widget_docs = set()
        app.env.fmref_widget_docs.add(app.env.docname)


def on_env_purge_doc(app, env, docname):
    getattr(env, "fmref_widget_docs", set()).discard(docname)


def on_env_merge_info(app, env, docnames, other):
    if not hasattr(env, "fmref_widget_docs"):
        env.fmref_widget_docs = set()
    env.fmref_widget_docs |= getattr(other, "fmref_widget_docs", set()) & set(docnames)


def _figure_for(app, node) -> nodes.Node:
    """The static fallback of a widget: a figure with a PNG drawn from its data."""
    name = node["name"]
    if not node["data"]:
        return nodes.comment("", f"fmref-widget {name}: no data in this builder")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def make_fig(rows, cols, size):
        fig, _ = plt.subplots(rows, cols, figsize=size, squeeze=False)
        return fig

    data = json.loads(node["data"])
    if WIDGETS[name].draw is not None:
        fig = WIDGETS[name].draw(data, make_fig)
    else:
        fig = draw_fallback(name, data, make_fig)
    fig.tight_layout()
    filename = f"fmref-widget-{name}.png"
    out = Path(app.outdir) / filename
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150)
    plt.close(fig)
    figure = nodes.figure(classes=["fmref-widget-fallback"])
    caption_text = " ".join(p.astext() for p in node.children)
    image = nodes.image(uri=filename, alt=caption_text, candidates={"*": filename})
    image["width"] = "100%"
    figure += image
    caption = nodes.caption()
    for child in node.children:
        if isinstance(child, nodes.paragraph):
            caption.extend(c.deepcopy() for c in child.children)
            caption += nodes.Text(" ")
    caption += nodes.emphasis(text="(An interactive version is in the HTML manual.)")
    figure += caption
    return figure


def on_doctree_resolved(app, doctree, docname):
    if app.builder.format == "html":
        return
    for node in list(doctree.findall(fmref_widget)):
        if app.builder.name in NO_DATA_BUILDERS:
            node.replace_self(nodes.comment("", ""))
        else:
            node.replace_self(_figure_for(app, node))


def visit_widget_html(self, node):
    name = node["name"]
    ident = f"fmref-widget-{name}-{self.document.settings.env.new_serialno('fmref-widget')}"
    data = node["data"].replace("</", "<\\/")  # never closes the script element early
    self.body.append(
        f'<figure class="fmref-widget-figure" id="{ident}-figure">\n'
        f'<div class="fmref-widget" id="{ident}" data-widget="{html.escape(name)}" '
        f'role="group" aria-label="Interactive figure: {html.escape(name)}">\n'
        f'<script type="application/json" class="fmref-widget-data">{data}</script>\n'
        "<noscript><p>This interactive figure needs JavaScript; the PDF manual shows "
        "a static version.</p></noscript>\n</div>\n<figcaption>"
    )


def depart_widget_html(self, node):
    self.body.append("</figcaption>\n</figure>\n")


def skip(self, node):
    raise nodes.SkipNode


def on_html_page_context(app, pagename, templatename, context, doctree):
    if pagename in getattr(app.env, "fmref_widget_docs", set()):
        for css in CSS_FILES:
            app.add_css_file(css)
        for js in JS_FILES:
            app.add_js_file(js)


def setup(app):
    app.add_node(
        fmref_widget,
        html=(visit_widget_html, depart_widget_html),
        latex=(skip, None),
        text=(skip, None),
        man=(skip, None),
        texinfo=(skip, None),
    )
    app.add_directive("fmref-widget", WidgetDirective)
    app.connect("builder-inited", on_builder_inited)
    app.connect("doctree-read", on_doctree_read)
    app.connect("env-purge-doc", on_env_purge_doc)
    app.connect("env-merge-info", on_env_merge_info)
    app.connect("doctree-resolved", on_doctree_resolved)
    app.connect("html-page-context", on_html_page_context)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
