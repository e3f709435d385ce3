"""The widget registry entries of issue 21: one per interactive figure.

Each :class:`Widget` says on which page the figure sits, how fmref computes its
build-time data (``data``, at most a few seconds, or a cached zoo model), which
fmref functions it runs (``api``, named and linked under the figure), and how to
check it: ``reference(settings, data)`` computes with fmref what every readout
must show for a setting of the controls (the keys are the ``data-key`` of the
readouts), ``grid`` lists the settings that tests/test_widgets_registry.py runs
through the widget's JavaScript under node, and ``browser`` those that
tests/test_widgets_browser.py sets in headless Chromium. ``fallback`` describes
the static figure of the PDF: ``reference`` swept along one control.

The controls and formulas of these widgets are in
``_static/widgets/fmref-widgets-specs.js`` (readouts, plots) and
``_static/widgets/fmref-widgets-core.js`` (the formulas, each porting one fmref
function).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Widget:
    """One interactive figure: page, data, caption, the fmref it runs, its checks."""

    page: str
    data: Callable[[], dict]
    caption: str
    api: tuple[str, ...]
    draw: Callable | None = None  # draw(data, make_fig) -> Figure; None: the fallback sweep
    defaults: dict = field(default_factory=dict)  # the controls' initial values
    reference: Callable[[dict, dict], dict] | None = None
    grid: list = field(default_factory=list)  # settings (changes from defaults) for node
    browser: list = field(default_factory=list)  # settings (changes from defaults) in Chromium
    fallback: dict | None = None  # {"x": key, "values": [...], "y": [keys], "series": ...}
    test_data: Callable[[], dict] | None = None  # cheap stand-in data for the node test
    rel: float = 1e-9  # relative tolerance of numeric readouts
    also: tuple[str, ...] = ()  # further pages that show the same widget (a second instance)

    def settings(self, changes: dict) -> dict:
        return {**self.defaults, **changes}


def _sig(x, digits=10):
    return float(f"{float(x):.{digits}g}")


# =============================================================================
# Shared presets (fmref.models.llama) with their exact parameter counts
# =============================================================================
PRESETS = (
    ("LLaMA-7B", "llama_7b"),
    ("Llama-2-70B", "llama2_70b"),
    ("Mistral-7B", "mistral_7b"),
    ("Llama-3-8B", "llama3_8b"),
    ("Llama-3-70B", "llama3_70b"),
    ("Qwen3-8B", "qwen3_8b"),
    ("Mixtral-8x7B", "mixtral_8x7b"),
    ("gpt-oss-120b", "gpt_oss_120b"),
    ("Gemma-3-27B", "gemma3_27b"),
)


def _preset_configs(names=None):
    import fmref.models.llama as llama

    out = []
    for label, fn in PRESETS:
        if names is None or fn in names:
            out.append((label, fn, getattr(llama, fn)()))
    return out


def _preset_rows(names=None):
    from fmref.scaling import count_parameters

    rows = []
    for label, fn, cfg in _preset_configs(names):
        rows.append(
            {
                "label": label,
                "function": f"fmref.models.llama.{fn}",
                "n_params": count_parameters(cfg),
                "dim": cfg.dim,
                "n_layers": cfg.n_layers,
                "n_heads": cfg.n_heads,
                "n_kv_heads": cfg.n_kv_heads or cfg.n_heads,
                "head_dim": cfg.head_dim,
            }
        )
    return rows


def _config(fn):
    import fmref.models.llama as llama

    return getattr(llama, fn)()


# =============================================================================
# I. Sizes and training compute of landmark models
# =============================================================================
#: (label, fmref preset or parameter count, training tokens, source of the token count)
LANDMARKS = (
    ("GPT-3 175B", 175e9, 300e9, "Brown et al. 2020, Table D.1: 175B parameters, 300B tokens"),
    ("Chinchilla 70B", 70e9, 1.4e12, "Hoffmann et al. 2022: 70B parameters, 1.4T tokens"),
    ("LLaMA-7B", "llama_7b", 1.0e12, "Touvron et al. 2023a: 1.0T tokens (7B and 13B)"),
    ("Llama-2-70B", "llama2_70b", 2.0e12, "Touvron et al. 2023b: 2.0T tokens"),
    ("Llama-3-8B", "llama3_8b", 15e12, "Llama Team 2024: over 15T tokens"),
    ("Llama-3-70B", "llama3_70b", 15e12, "Llama Team 2024: over 15T tokens"),
)
#: dense bf16 peak FLOP/s from the vendors' data sheets
ACCELERATOR_PEAKS = (("V100 (125 TFLOP/s)", 125e12), ("A100 (312 TFLOP/s)", 312e12),
                     ("H100 SXM (989 TFLOP/s)", 989e12))


def training_compute_data():
    from fmref.scaling import count_parameters

    presets = []
    for label, n, d, source in LANDMARKS:
        if isinstance(n, str):
            source += f"; N = count_parameters(fmref.models.llama.{n}())"
            n = count_parameters(_config(n))
        presets.append({"label": label, "n_params": n, "n_tokens": d, "source": source})
    return {"presets": presets, "accelerators": [list(a) for a in ACCELERATOR_PEAKS]}


def training_compute_ref(p, data):
    from fmref.scaling.flops import training_flops

    m = data["presets"][int(p["model"])]
    flops = training_flops(m["n_params"], m["n_tokens"])
    hours = flops / (data["accelerators"][int(p["accelerator"])][1] * p["mfu"]) / 3600
    return {"params": m["n_params"], "tokens": m["n_tokens"], "flops": flops, "hours": hours,
            "cost": hours * p["price"]}


# =============================================================================
# II. BPE playground: the tiny GPT's tokenizer, merge by merge
# =============================================================================
BPE_TEXT = "The tokenizer doesn't split 'return' or 'lambda', but unbelievably rare words."


def _tiny_tokenizer():
    from fmref.zoo import tiny_gpt

    return tiny_gpt()[1]


def bpe_data():
    tok = _tiny_tokenizer()
    vocab = [tok.token_bytes(i).decode("utf-8", errors="replace") for i in range(tok.vocab_size)]
    return {"merges": [list(m) for m in tok.merges], "vocab": vocab, "default_text": BPE_TEXT}


def bpe_ref(p, data):
    from fmref.text.bpe import BPETokenizer

    ids = BPETokenizer([tuple(m) for m in data["merges"][: int(p["merges"])]]).encode(p["text"])
    n_bytes = len(p["text"].encode("utf-8"))
    return {"tokens": len(ids), "bytes": n_bytes, "ratio": n_bytes / len(ids) if ids else 0,
            "ids": " ".join(map(str, ids))}


def bpe_test_data():
    """A tokenizer trained in a few milliseconds on a short text (for the node grid)."""
    from fmref.text.bpe import BPETokenizer

    tok = BPETokenizer.train("low lower lowest newer newest widest " * 20, 280)
    vocab = [tok.token_bytes(i).decode("utf-8", errors="replace") for i in range(tok.vocab_size)]
    return {"merges": [list(m) for m in tok.merges], "vocab": vocab, "default_text": BPE_TEXT}


# =============================================================================
# III. Vanishing gradients (RNN vs LSTM) and the receptive field of convolutions
# =============================================================================
RNN_SCALES = (0.5, 1.0, 1.5)
RNN_LENGTH = 50


def rnn_gradients_data():
    """||dL/dh_t|| with L = sum(h_T), k = T - t steps back, for fmref's RNN and LSTM cells.

    The measurement of Chapter III's gallery example (batch of 16, width 64, float64):
    torch's default initialisation with the recurrent matrix scaled, and the LSTM's
    forget-gate bias set to 1 (Jozefowicz et al., 2015).
    """
    import torch

    from fmref.nn.recurrent import LSTMCell, RNNCell

    B, D, H = 16, 8, 64
    x = torch.randn(RNN_LENGTH, B, D, generator=torch.Generator().manual_seed(0),
                    dtype=torch.float64)
    norms = []
    for scale in RNN_SCALES:
        row = {}
        for name in ("rnn", "lstm"):
            torch.manual_seed(0)
            cell = (RNNCell(D, H) if name == "rnn" else LSTMCell(D, H)).double()
            with torch.no_grad():
                cell.weight_hh.mul_(scale)
                if name == "lstm":
                    cell.bias_hh[H : 2 * H].fill_(1.0)  # the forget gate's bias
            h = torch.zeros(B, H, dtype=torch.float64)
            c = torch.zeros(B, H, dtype=torch.float64)
            states = []
            for t in range(RNN_LENGTH):
                if name == "lstm":
                    h, c = cell(x[t], (h, c))
                else:
                    h = cell(x[t], h)
                h.retain_grad()
                states.append(h)
            states[-1].sum().backward()
            g = [s.grad.norm(dim=-1).mean().item() for s in reversed(states)]  # k = 0, 1, ...
            row[name] = [_sig(v, 6) for v in g]
        norms.append(row)
    return {"scales": list(RNN_SCALES), "default_scale": 1, "length": RNN_LENGTH, "norms": norms}


def rnn_gradients_ref(p, data):
    s, k = data["norms"][int(p["scale"])], int(p["distance"])
    return {"rnn": s["rnn"][k], "lstm": s["lstm"][k], "ratio": s["lstm"][k] / s["rnn"][k]}


def receptive_field_ref(p, data):
    from fmref.nn.conv import receptive_field

    n, k, s = int(p["layers"]), int(p["kernel"]), int(p["stride"])
    layers = [(k, s, 2**i if p["dilation"] == "double" else 1) for i in range(n)]
    return {"rf": receptive_field(layers)}


# =============================================================================
# IV. ALiBi, and additive against dot-product alignment on a toy reversal
# =============================================================================
ALIGN_SCORES = (("additive", "additive, v\u1d40 tanh(W s + U h) (Bahdanau)"),
                ("general", "dot-product, s\u1d40 W\u2090 h (Luong, general)"))


def alignment_data(**overrides):
    """Alignments of the zoo's two reversal models on four sources, at five training steps."""
    from fmref.zoo import SEQ2SEQ_REVERSAL_SETTINGS, seq2seq_reversal

    s = {**SEQ2SEQ_REVERSAL_SETTINGS, **overrides}
    runs = seq2seq_reversal(**overrides)
    snaps = {k: runs[k][1]["snapshots"] for k, _ in ALIGN_SCORES}
    return {
        "scores": [list(k) for k in ALIGN_SCORES],
        "examples": s["examples"],
        "steps": [snap["step"] for snap in snaps["additive"]],
        "runs": {k: [{"accuracy": snap["accuracy"], "tokens": snap["tokens"],
                      "alignment": [[[_sig(a, 7) for a in row] for row in ex]
                                    for ex in snap["alignment"]]} for snap in snaps[k]]
                 for k, _ in ALIGN_SCORES},
    }  # fmt: skip


def alignment_test_data():
    """The same data from a 5-step run (about 0.1 s) for the node grid."""
    return alignment_data(steps=5, eval_every=1)


def alignment_ref(p, data):
    """The readouts of one (scoring, example, snapshot), from the alignment fmref recorded."""
    import torch

    snap = data["runs"][p["score"]][int(p["step"])]
    e = int(p["example"])
    a = torch.tensor(snap["alignment"][e], dtype=torch.float64)  # (T, S)
    src, out = data["examples"][e], snap["tokens"][e]
    S = len(src)
    entropy = torch.special.entr(a).sum(-1).mean().item()  # -sum a log a, 0 log 0 = 0
    return {"step": data["steps"][int(p["step"])], "output": " ".join(map(str, out)),
            "correct": sum(o == t for o, t in zip(out, reversed(src))),
            "diag": a[torch.arange(S), torch.arange(S - 1, -1, -1)].mean().item(),
            "entropy": entropy, "accuracy": snap["accuracy"]}


def alibi_ref(p, data):
    from fmref.nn.position import alibi_bias, alibi_slopes

    n, h, d = int(p["heads"]), min(int(p["head"]), int(p["heads"])) - 1, int(p["distance"])
    slopes = alibi_slopes(n).double()
    bias = alibi_bias(n, d + 1, d + 1)[h, d, 0].item()  # query d, key 0: distance d
    return {"slope": slopes[h].item(), "bias": bias, "weight": math.exp(bias)}


# =============================================================================
# V. Key-value heads and the cache
# =============================================================================
KV_PRESETS = ("llama_7b", "llama2_70b", "llama3_8b", "qwen3_8b", "gemma3_27b")


def kv_heads_data():
    return {"presets": _preset_rows(KV_PRESETS)}


def kv_heads_ref(p, data):
    from fmref.infer.kv import kv_cache_bytes, mla_cache_bytes

    c = data["presets"][int(p["preset"])]
    kv = min(c["n_heads"], 2 ** int(p["kv_heads"]))
    while c["n_heads"] % kv:
        kv //= 2
    T = 2 ** int(p["seq_len"])
    return {"kv_heads": kv, "per_token": kv_cache_bytes(c["n_layers"], kv, c["head_dim"]),
            "total": kv_cache_bytes(c["n_layers"], kv, c["head_dim"], T),
            "group": c["n_heads"] / kv,
            "mla": mla_cache_bytes(c["n_layers"], kv_lora_rank=512, qk_rope_head_dim=64)}


# =============================================================================
# VI. Online softmax and RoPE scaling
# =============================================================================
def online_softmax_data():
    import torch

    g = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(1, 8, generator=g), torch.randn(16, 8, generator=g), torch.randn(
        16, 4, generator=g)
    scores = (q @ k.T / math.sqrt(8))[0]  # (16,)
    return {"q": q.tolist(), "k": k.tolist(), "values": v.tolist(),
            "scores": [_sig(s, 9) for s in scores.tolist()]}


def online_softmax_ref(p, data):
    """After ``step`` blocks: attention over the keys seen so far (fmref), and the final."""
    import torch

    from fmref.nn.attention import scaled_dot_product_attention
    from fmref.nn.efficient import tiled_attention

    s = torch.tensor(data["scores"], dtype=torch.float64)
    v = torch.tensor(data["values"], dtype=torch.float64)
    block, n = int(p["block"]), len(data["scores"])
    end = min(int(p["step"]) * block, n)
    # scores as q.k/sqrt(d) with q = (1,), k = the scores, d = 1: the same softmax
    q1 = torch.ones(1, 1, 1, 1, dtype=torch.float64)
    k1 = s.view(1, 1, n, 1)
    partial = scaled_dot_product_attention(q1, k1[:, :, :end], v.view(1, 1, n, 4)[:, :, :end])
    final = tiled_attention(q1, k1, v.view(1, 1, n, 4), tile_size=block)
    m = s[:end].max().item()
    return {"keys": end, "m": m, "l": torch.exp(s[:end] - m).sum().item(),
            "out0": partial[0, 0, 0, 0].item(), "final0": final[0, 0, 0, 0].item()}


ROPE_KINDS = (("none", "none (trained length)"), ("linear", "linear (position interpolation)"),
              ("dynamic", "dynamic NTK"), ("yarn", "YaRN"), ("llama3", "Llama 3"))
ROPE_FACTORS = (2, 4, 8, 16, 32)
ROPE_D_HEAD, ROPE_THETA, ROPE_TRAINED = 128, 500000.0, 8192


def _rope_scaling(kind, factor):
    if kind == "none":
        return None
    s = {"rope_type": kind, "factor": float(factor), "max_position_embeddings": ROPE_TRAINED}
    if kind == "yarn":
        s.update(original_max_position_embeddings=ROPE_TRAINED)
    if kind == "llama3":
        s.update(low_freq_factor=1.0, high_freq_factor=4.0,
                 original_max_position_embeddings=ROPE_TRAINED)
    return s


def _rope(kind, factor):
    from fmref.nn.position import rope_inv_freq

    seq_len = ROPE_TRAINED * int(factor) if kind == "dynamic" else None
    inv, attn = rope_inv_freq(ROPE_D_HEAD, ROPE_THETA, _rope_scaling(kind, factor), seq_len)
    return [float(x) for x in inv.double().tolist()], float(attn)


def rope_data():
    table = {"none": {}}
    inv, attn = _rope("none", 1)
    table["none"]["1"] = {"inv_freq": [_sig(x, 9) for x in inv], "attention_factor": attn}
    for kind, _ in ROPE_KINDS[1:]:
        table[kind] = {}
        for f in ROPE_FACTORS:
            inv, attn = _rope(kind, f)
            table[kind][str(f)] = {"inv_freq": [_sig(x, 9) for x in inv], "attention_factor": attn}
    return {"kinds": [list(k) for k in ROPE_KINDS], "factors": list(ROPE_FACTORS),
            "table": table, "d_head": ROPE_D_HEAD, "theta": ROPE_THETA, "trained": ROPE_TRAINED}


def rope_ref(p, data):
    base, _ = _rope("none", 1)
    inv, attn = _rope(p["kind"], 1 if p["kind"] == "none" else int(p["factor"]))
    changed = sum(abs(a - b) > 1e-9 * b for a, b in zip(inv, base))
    return {"longest": 2 * math.pi / inv[-1], "shortest": 2 * math.pi / inv[0],
            "changed": changed, "attention_factor": attn}


# =============================================================================
# VII. LoRA
# =============================================================================
LORA_TARGETS = (("q_proj", "v_proj"), ("q_proj", "k_proj", "v_proj", "o_proj"))


def lora_data():
    return {"presets": _preset_rows(("llama_7b", "llama2_70b", "llama3_8b", "mistral_7b")),
            "targets": [list(t) for t in LORA_TARGETS]}


def lora_ref(p, data):
    from fmref.peft.lora import lora_parameter_count

    m, r = data["presets"][int(p["preset"])], 2 ** int(p["rank"])
    n = lora_parameter_count(m["dim"], m["n_layers"], r, tuple(data["targets"][int(p["targets"])]))
    return {"trainable": n, "fraction": n / m["n_params"], "adapter": 2 * n,
            "memory": 2 * m["n_params"] + 16 * n, "full": 16 * m["n_params"]}


# =============================================================================
# VIII. BERT masking and T5 span corruption
# =============================================================================
MASK_SENTENCE = ("the model reads the whole sentence at once and must guess the words that "
                 "were hidden from it using the context on both sides")
MASK_RATES = (0.15, 0.3, 0.5)
MASK_SAMPLES = 12


def _mask_sample(rate, seed):
    import torch

    from fmref.train.objectives import mask_tokens, span_corruption

    words = MASK_SENTENCE.split()
    vocab = sorted(set(words))
    ids = torch.tensor([vocab.index(w) for w in words])
    mask_id = len(vocab)  # "[MASK]", the first id after the words
    sentinels = list(range(len(vocab) + 1, len(vocab) + 1 + 30))
    g = torch.Generator().manual_seed(seed)
    inp, labels = mask_tokens(ids.clone(), mask_id, len(vocab) + 1, mlm_probability=rate,
                              generator=g)
    t5_in, t5_tgt = span_corruption(ids, sentinels, noise_density=rate, mean_span_length=3.0,
                                    generator=torch.Generator().manual_seed(seed))
    return {"bert_input": inp.tolist(), "bert_labels": labels.tolist(),
            "t5_input": t5_in.tolist(), "t5_target": t5_tgt.tolist()}


def masking_data():
    words = MASK_SENTENCE.split()
    vocab = sorted(set(words)) + ["[MASK]"]
    return {
        "words": vocab,
        "mask_id": len(vocab) - 1,
        "sentinels": [f"<extra_id_{i}>" for i in range(30)],
        "rates": list(MASK_RATES),
        "n_samples": MASK_SAMPLES,
        "samples": {str(r): [_mask_sample(r, s) for s in range(MASK_SAMPLES)] for r in MASK_RATES},
    }


def masking_ref(p, data):
    s = _mask_sample(float(p["rate"]), int(p["sample"]))
    selected = [lab for lab in s["bert_labels"] if lab >= 0]
    masked = sum(1 for i, lab in zip(s["bert_input"], s["bert_labels"])
                 if lab >= 0 and i == data["mask_id"])
    positions = " ".join(str(i) for i, lab in enumerate(s["bert_labels"]) if lab >= 0)
    return {"selected": len(selected), "masked": masked, "t5_input": len(s["t5_input"]),
            "t5_target": len(s["t5_target"]), "positions": positions}


# =============================================================================
# IX. Architecture explorer
# =============================================================================
def architecture_data():
    from fmref.scaling.params import parameter_breakdown

    rows = _preset_rows()
    for row, (_, fn, cfg) in zip(rows, _preset_configs()):
        row["breakdown"] = parameter_breakdown(cfg)
        row["flops"] = {"L": cfg.n_layers, "C": cfg.dim, "V": cfg.vocab_size,
                        "q_width": cfg.n_heads * cfg.head_dim,
                        "kv_width": (cfg.n_kv_heads or cfg.n_heads) * cfg.head_dim,
                        "hidden": cfg.hidden_dim}
        row["note"] = (f"fmref.models.llama.{fn}(): {cfg.n_layers} layers, width {cfg.dim}, "
                       f"{cfg.n_heads} query / {row['n_kv_heads']} KV heads of {cfg.head_dim}")
    return {"presets": rows}


def architecture_ref(p, data):
    from fmref.infer.kv import kv_cache_bytes
    from fmref.scaling import count_parameters
    from fmref.scaling.flops import flops_per_token

    label = data["presets"][int(p["preset"])]["label"]
    fn = dict(PRESETS)[label]
    cfg, T = _config(fn), 2 ** int(p["seq_len"])
    kv = kv_cache_bytes(cfg.n_layers, cfg.n_kv_heads or cfg.n_heads, cfg.head_dim)
    return {"params": count_parameters(cfg), "kv_token": kv, "kv_context": kv * T,
            "forward": flops_per_token(cfg, T, training=False),
            "training": flops_per_token(cfg, T, training=True)}


# =============================================================================
# X. IsoFLOP curves
# =============================================================================
def isoflop_data():
    from fmref.scaling.laws import CHINCHILLA

    return {"constants": dict(CHINCHILLA)}


def isoflop_ref(p, data):
    from fmref.scaling.laws import chinchilla_loss, compute_optimal

    C, N = 10 ** p["log_c"], 10 ** p["log_n"]
    n, d = compute_optimal(C)
    return {"tokens": C / (6 * N), "loss": chinchilla_loss(N, C / (6 * N)), "n_opt": n,
            "d_opt": d, "loss_opt": chinchilla_loss(n, d)}


# =============================================================================
# XI. DPO and PPO-clip
# =============================================================================
def dpo_ppo_ref(p, data):
    import torch

    from fmref.align.dpo import dpo_loss
    from fmref.align.ppo import ppo_clip_loss

    x, beta, eps, A = p["x"], float(p["beta"]), float(p["eps"]), float(p["advantage"])
    t = lambda v: torch.tensor([v], dtype=torch.float64)  # noqa: E731
    loss, chosen, rejected = dpo_loss(t(x), t(0.0), t(0.0), t(0.0), beta=beta)
    ppo = ppo_clip_loss(t(x), t(0.0), t(A), clip_eps=eps)
    logp = t(x).requires_grad_()
    ppo_clip_loss(logp, t(0.0), t(A), clip_eps=eps).backward()
    return {"dpo": loss.item(), "dpo_weight": torch.sigmoid(-(chosen - rejected)).item(),
            "ratio": math.exp(x), "ppo": ppo.item(), "clipped": float(logp.grad.item() != 0)}


# =============================================================================
# XII. Parallelism memory planner
# =============================================================================
def memory_planner_data():
    return {"presets": _preset_rows(("llama_7b", "llama3_8b", "llama2_70b", "llama3_70b"))}


def memory_planner_ref(p, data):
    from fmref.train.efficient import activation_memory, zero_memory_per_gpu

    m = data["presets"][int(p["preset"])]
    gpus = 2 ** int(p["gpus"])
    tp = min(int(p["tp"]), gpus)
    states = zero_memory_per_gpu(m["n_params"] / tp, gpus // tp, int(p["stage"]))
    acts = activation_memory(int(p["seq_len"]), int(p["micro_batch"]), m["dim"], m["n_layers"],
                             m["n_heads"], p["checkpointing"], tp)
    return {"dp": gpus // tp, "states": states, "activations": acts, "total": states + acts,
            "fits": float(states + acts <= 80 * 2**30)}


def pipeline_timeline_ref(p, data):
    from fmref.train.parallel.formulas import pipeline_bubble, pipeline_schedule

    r = pipeline_schedule(int(p["p"]), int(p["m"]), p["schedule"], float(p["ratio"]))
    return {"idle": r["idle_fraction"], "formula": pipeline_bubble(int(p["p"]), int(p["m"])),
            "step": r["step_time"], "peak": r["peak_in_flight"][0]}


def pipeline_ref(p, data):
    from fmref.train.parallel.formulas import pipeline_bubble

    stages, m, sched, v = int(p["p"]), int(p["m"]), p["schedule"], int(p["v"])
    need = next((k for k in range(1, 1025) if pipeline_bubble(stages, k, sched, v) < 0.1), 1025)
    b = pipeline_bubble(stages, m, sched, v)
    return {"bubble": b, "efficiency": 1 - b, "m_for_10": need}


# =============================================================================
# XIII. Speculative decoding
# =============================================================================
def speculative_ref(p, data):
    from fmref.infer.speculative import expected_tokens_per_step

    a, c = p["alpha"], p["cost"]

    def speedup(g):
        return expected_tokens_per_step(a, g) / (g * c + 1)

    best = max(range(1, 13), key=lambda g: (speedup(g), -g))
    return {"tokens": expected_tokens_per_step(a, int(p["gamma"])),
            "speedup": speedup(int(p["gamma"])), "best_gamma": best}


# =============================================================================
# XIV. Bits per parameter
# =============================================================================
FORMATS = (
    {"label": "fp32", "kind": "float", "bits": 32},
    {"label": "bf16", "kind": "float", "bits": 16},
    {"label": "int8, groups of 128", "kind": "int", "bits": 8, "group": 128},
    {"label": "int4, groups of 128", "kind": "int", "bits": 4, "group": 128},
    {"label": "int4, groups of 32", "kind": "int", "bits": 4, "group": 32},
    {"label": "NF4, blocks of 64", "kind": "nf4", "group": 64, "double_quant": False},
    {"label": "NF4 + double quant", "kind": "nf4", "group": 64, "double_quant": True},
)


def bits_data():
    rows = _preset_rows(("llama_7b", "llama3_8b", "mixtral_8x7b", "llama3_70b"))
    return {"presets": rows, "formats": [dict(f) for f in FORMATS]}


def bits_ref(p, data):
    import torch

    from fmref.compress.nf4 import nf4_bits_per_parameter
    from fmref.compress.quant import QuantLinear

    m, f = data["presets"][int(p["preset"])], FORMATS[int(p["format"])]
    if f["kind"] == "float":
        b = f["bits"]
    elif f["kind"] == "nf4":
        b = nf4_bits_per_parameter(f["group"], f["double_quant"], 256)
    else:  # the bytes QuantLinear stores for a (1, group) weight: codes + one fp16 scale
        b = 8 * QuantLinear(torch.ones(1, 256), bits=f["bits"],
                            group_size=f["group"]).weight_nbytes() / 256
    mem = m["n_params"] * b / 8
    return {"bits": b, "memory": mem, "ratio": 16 / b, "fits24": float(mem <= 24 * 2**30)}


# =============================================================================
# XV. Self-consistency
# =============================================================================
SC_ACCURACIES = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
SC_WRONG, SC_MAX_N, SC_TRIALS = 3, 21, 300


def self_consistency_data():
    """Majority-vote accuracy by simulation: fmref.prompting.consistency.majority_vote."""
    import random

    from fmref.prompting.consistency import majority_vote

    rng = random.Random(0)
    curves = []
    for acc in SC_ACCURACIES:
        hits = [0] * SC_MAX_N
        for _ in range(SC_TRIALS):
            samples = ["right" if rng.random() < acc else f"wrong{rng.randrange(SC_WRONG)}"
                       for _ in range(SC_MAX_N)]
            for n in range(1, SC_MAX_N + 1):
                hits[n - 1] += majority_vote(samples[:n])[0] == "right"
        curves.append([h / SC_TRIALS for h in hits])
    return {"accuracies": list(SC_ACCURACIES), "max_n": SC_MAX_N, "curves": curves,
            "note": f"{SC_TRIALS} simulated questions per point; a wrong sample picks one of "
                    f"{SC_WRONG} wrong answers at random; ties go to the answer seen first"}


def self_consistency_ref(p, data):
    a, n = data["accuracies"][int(p["p"])], int(p["n"])
    v = data["curves"][int(p["p"])][n - 1]
    return {"single": a, "vote": v, "gain": 100 * (v - a)}


# =============================================================================
# XVI. Patches
# =============================================================================
def patchify_data():
    from fmref.models.vit import digits_split

    x_test, y_test = digits_split()[2:]
    i = int((y_test == 3).nonzero()[0])
    px = ((x_test[i, 0] + 1) * 127.5).round().clamp(0, 255).to(int).flatten().tolist()
    return {"digit": px}


def patchify_ref(p, data):
    from fmref.multimodal.lmm import image_token_count

    n = image_token_count(int(p["size"]), int(p["patch"]), bool(p["cls"]))
    return {"digit_tokens": image_token_count(8, int(p["digit_patch"])),
            "patch_dim": int(p["digit_patch"]) ** 2, "tokens": n, "pairs": n * n}


POS_SIZES = (8, 10, 12, 14, 16)  # digit sizes (pixels): grids of 4 to 8 patches a side


def pos_interp_data():
    """The digits ViT at larger sizes: interpolated positions, their similarities, accuracy."""
    import torch
    from torch.nn import functional as F

    from fmref.models.vit import digits_split, interpolate_pos_embed
    from fmref.zoo import digits_vit

    model, _ = digits_vit()
    P = model.config.patch_size
    x_test, y_test = digits_split()[2:]
    i = int((y_test == 3).nonzero()[0])
    accuracy = {"bilinear": [], "nearest": []}
    digits = {"bilinear": [], "nearest": []}
    similarity = []
    with torch.no_grad():
        for size in POS_SIZES:
            pos = F.normalize(interpolate_pos_embed(model.pos_embed, size // P)[0, 1:], dim=-1)
            similarity.append([[round(v, 3) for v in row] for row in (pos @ pos.T).tolist()])
            for mode in accuracy:
                x = x_test if size == 8 else F.interpolate(x_test, size=(size, size), mode=mode)
                pred = model(x, interpolate_pos_encoding=True).argmax(-1)
                accuracy[mode].append(round((pred == y_test).float().mean().item(), 4))
                px = ((x[i, 0] + 1) * 127.5).round().clamp(0, 255).to(int).flatten().tolist()
                digits[mode].append(px)
    return {"sizes": list(POS_SIZES), "patch": P, "accuracy": accuracy, "digits": digits,
            "similarity": similarity}


def pos_interp_ref(p, data):
    k = data["sizes"].index(int(p["size"]))
    g = data["sizes"][k] // data["patch"]
    r, c = min(int(p["row"]), g - 1), min(int(p["col"]), g - 1)
    row = data["similarity"][k][r * g + c]
    near = [row[a * g + b] for a, b in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
            if 0 <= a < g and 0 <= b < g]  # fmt: skip
    return {"tokens": g * g + 1, "accuracy": data["accuracy"][p["mode"]][k],
            "neighbours": sum(near) / len(near)}  # sum() adds in the JavaScript's order


VIT_SIZES = {"base": (768, 12, 12, 3072), "large": (1024, 24, 16, 4096),
             "huge": (1280, 32, 16, 5120)}  # Dosovitskiy et al. 2021, Table 1


def vit_cost_ref(p, data):
    from fmref.models.vit import ViTConfig, count_vit_parameters, vit_forward_flops

    D, L, H, M = VIT_SIZES[p["size"]]
    c = ViTConfig(image_size=int(p["image"]), patch_size=int(p["patch"]), hidden_size=D,
                  num_layers=L, num_heads=H, mlp_dim=M)
    f = vit_forward_flops(c)
    return {"params": count_vit_parameters(c), "tokens": c.num_patches + 1,
            "gflops": f["total"] / 1e9, "attention_share": f["attention"] / f["total"]}


# =============================================================================
# XVIII. Classifier-free guidance
# =============================================================================
GUIDANCE_SCALES = (0.0, 1.0, 2.0, 4.0, 7.0)


def guidance_data():
    import torch

    from fmref.diffusion.denoisers import digits_denoiser
    from fmref.diffusion.samplers import sample
    from fmref.zoo import digits_vit

    model, abar, _ = digits_denoiser()
    classifier = digits_vit()[0]
    frames = []
    for w in GUIDANCE_SCALES:
        x = sample(model, (10, 1, 8, 8), abar, sampler="ddim", steps=20, labels=torch.arange(10),
                   guidance_scale=w, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            pred = classifier(x.clamp(-1, 1)).argmax(-1)
        px = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).reshape(10, 64)
        frames.append({"images": px.tolist(),
                       "accuracy": (pred == torch.arange(10)).float().mean().item(),
                       "saturated": (x.abs() >= 1).float().mean().item()})
    return {"scales": list(GUIDANCE_SCALES), "frames": frames}


def guidance_test_data():
    """Stand-in frames (the real ones need the trained U-Net and ViT) for the node grid."""
    return {"scales": list(GUIDANCE_SCALES),
            "frames": [{"images": [[(7 * k + i) % 256 for i in range(64)] for k in range(10)],
                        "accuracy": 0.1 * k, "saturated": 0.05 * k} for k in range(5)]}


def guidance_ref(p, data):
    f = data["frames"][int(p["scale"])]
    return {"scale": data["scales"][int(p["scale"])], "accuracy": f["accuracy"],
            "saturation": f["saturated"]}


# =============================================================================
# XIX. CLIP temperature
# =============================================================================
def clip_data():
    import torch

    from fmref.models.vit import digits_split
    from fmref.multimodal.digits import DIGIT_NAMES, TRAIN_TEMPLATES, digits_clip, digits_tokenizer

    model, _ = digits_clip()
    x_test, y_test = digits_split()[2:]
    classes = [0, 1, 2, 3, 4, 5, 6, 7]
    first = [int((y_test == c).nonzero()[0]) for c in classes]
    captions = [TRAIN_TEMPLATES[0].format(DIGIT_NAMES[c]) for c in classes]
    ids = digits_tokenizer().encode(captions, 10)
    with torch.no_grad():
        img = model.encode_image(x_test[first])
        txt = model.encode_text(ids)
    return {"image": [[_sig(v, 7) for v in r] for r in img.tolist()],
            "text": [[_sig(v, 7) for v in r] for r in txt.tolist()],
            "labels": [str(c) for c in classes]}


def clip_test_data():
    import torch

    g = torch.Generator().manual_seed(0)
    img = torch.randn(8, 16, generator=g)
    txt = img + 0.8 * torch.randn(8, 16, generator=g)
    return {"image": img.tolist(), "text": txt.tolist(), "labels": [str(i) for i in range(8)]}


def clip_ref(p, data):
    import torch

    from fmref.multimodal.contrastive import clip_loss

    B, tau = int(p["batch"]), 10 ** p["log_tau"]
    img = torch.tensor(data["image"][:B], dtype=torch.float64)
    txt = torch.tensor(data["text"][:B], dtype=torch.float64)
    loss = clip_loss(img, txt, math.log(1 / tau)).item()
    x, y = torch.nn.functional.normalize(img, dim=-1), torch.nn.functional.normalize(txt, dim=-1)
    probs = torch.softmax(x @ y.T / tau, dim=-1)
    return {"loss": loss, "chance": math.log(B), "diag": probs.diagonal().mean().item(),
            "correct": int((probs.argmax(-1) == torch.arange(B)).sum())}


# =============================================================================
# XX. Image tokens
# =============================================================================
def image_tokens_ref(p, data):
    from fmref.multimodal.lmm import image_token_count

    size, conn = int(p["size"]), p["connector"]
    tiles = 1
    if conn == "projector":
        n = image_token_count(336, 14)
    elif conn == "native":
        n = image_token_count(size, 14)
    elif conn == "resampler":
        n = 64  # fmref.multimodal.lmm.PerceiverResampler(num_latents=64)
    else:
        tiles = math.ceil(size / 336) ** 2 + 1
        n = tiles * image_token_count(336, 14)
    return {"tokens": n, "tiles": tiles, "context": n / 4096}


# =============================================================================
# XXI. A ReAct trace
# =============================================================================
REACT_QUESTION = "14 boxes of 12 eggs, 9 break: how many are left?"


def _react():
    from fmref.agents.calculator import calculator
    from fmref.agents.parse import format_tool_call
    from fmref.agents.react import ScriptedPolicy, run_agent
    from fmref.agents.tools import ToolRegistry

    policy = ScriptedPolicy([  # the scripted model of Chapter XXI
        "Thought: multiply boxes by eggs per box.\n"
        + format_tool_call("calculator", {"expr": "14 * 12"}),
        "Thought: the argument is called expression.\n"
        + format_tool_call("calculator", {"expression": "14 * 12"}),
        "Thought: 9 eggs broke.\n" + format_tool_call("calculator", {"expression": "168 - 9"}),
        "Thought: done.\nAnswer: 159"])
    return run_agent(policy, ToolRegistry([calculator]), REACT_QUESTION)


def react_data():
    import json

    result = _react()
    steps = []
    for s in result.steps:
        call = None
        if s.action is not None:
            call = f"{s.action.name}({json.dumps(s.action.arguments)})"
        steps.append({"thought": s.thought, "call": call, "observation": s.observation,
                      "answer": s.answer})
    return {"question": REACT_QUESTION, "steps": steps}


def react_ref(p, data):
    result = _react()
    shown = result.steps[: int(p["step"])]
    return {"calls": sum(s.action is not None for s in shown), "answer": shown[-1].answer or ""}


# =============================================================================
# XXII. BM25 and reciprocal rank fusion
# =============================================================================
BM25_DOCS = (
    "BM25 scores a document by the query terms it contains, weighted by their rarity.",
    "Dense retrieval embeds the query and the passages and ranks them by cosine similarity.",
    "Reciprocal rank fusion adds one over sixty plus the rank from each retriever.",
    "A long document repeats a term many times; BM25 saturates the term frequency.",
    "Chunking splits a long document into passages that fit the context of the model.",
    "The inverse document frequency of a term is high when few documents contain it.",
    "Retrieval-augmented generation puts the retrieved passages into the prompt.",
    "Term frequency saturation is controlled by k1 and length normalisation by b.",
)
BM25_QUERY = "term frequency of a long document"
BM25_DENSE = (3, 7, 0, 4, 5, 1, 6, 2)  # a fixed second ranking for the fusion


def bm25_data():
    return {"docs": list(BM25_DOCS), "default_query": BM25_QUERY,
            "second_ranking": list(BM25_DENSE)}


def bm25_ref(p, data):
    from fmref.rag.bm25 import BM25, tokenize
    from fmref.rag.dense import reciprocal_rank_fusion

    index = BM25([tokenize(d) for d in data["docs"]], k1=p["k1"], b=p["b"])
    scores = index.get_scores(tokenize(p["query"])).tolist()
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    fused = reciprocal_rank_fusion([order, data["second_ranking"]], k=60)
    return {"top": order[0], "top_score": scores[order[0]],
            "scores": " ".join(f"{s:.6f}" for s in scores), "rrf_top": fused[0][0]}


# =============================================================================
# A. Optimisers on a 2-D loss
# =============================================================================
OPT_CURVATURE, OPT_START = (1.0, 20.0), (-4.0, 1.5)


def optimizer_data():
    return {"curvature": list(OPT_CURVATURE), "start": list(OPT_START)}


def optimizer_ref(p, data):
    import torch

    from fmref.optim import adam_step, sgd_step

    a = torch.tensor(data["curvature"], dtype=torch.float64)
    x = torch.tensor(data["start"], dtype=torch.float64)
    state, lr = {}, 10 ** p["log_lr"]
    for _ in range(int(p["steps"])):
        g = a * x
        if p["method"] == "adam":
            adam_step(x, g, state, lr=lr)
        else:
            sgd_step(x, g, state, lr=lr, momentum=0.9 if p["method"] == "momentum" else 0.0)
    return {"x": x[0].item(), "y": x[1].item(), "loss": 0.5 * (a * x * x).sum().item()}


# =============================================================================
# B. MinHash and LSH
# =============================================================================
MINHASH_PAIRS = (
    ("near duplicates (one word changed)",
     "the quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat near "
     "the door of the old house by the river",
     "the quick brown fox jumps over the lazy dog while the cat naps on the warm mat near "
     "the door of the old house by the river"),
    ("shared second half",
     "data curation removes exact and near duplicates before training because repeated text "
     "is memorised and wastes compute on the same tokens again and again",
     "a web crawl holds many copies of boilerplate because repeated text is memorised and "
     "wastes compute on the same tokens again and again"),
)
MINHASH_PERMS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
MINHASH_SEEDS = 5


def minhash_data():
    from fmref.data.minhash import estimate_jaccard, jaccard, minhash_signature, shingles

    pairs = []
    for label, a, b in MINHASH_PAIRS:
        est = [[estimate_jaccard(minhash_signature(a, k, seed=s), minhash_signature(b, k, seed=s))
                for k in MINHASH_PERMS] for s in range(MINHASH_SEEDS)]
        pairs.append({"label": label, "jaccard": jaccard(shingles(a), shingles(b)),
                      "estimates": est})
    return {"pairs": pairs, "num_perms": list(MINHASH_PERMS), "seeds": MINHASH_SEEDS}


def minhash_ref(p, data):
    from fmref.data.minhash import estimate_jaccard, jaccard, minhash_signature, shingles

    _, a, b = MINHASH_PAIRS[int(p["pair"])]
    k, s = MINHASH_PERMS[int(p["perm"])], int(p["seed"])
    j = jaccard(shingles(a), shingles(b))
    est = estimate_jaccard(minhash_signature(a, k, seed=s), minhash_signature(b, k, seed=s))
    return {"jaccard": j, "estimate": est, "error": est - j, "se": math.sqrt(j * (1 - j) / k)}


def lsh_ref(p, data):
    from fmref.data.minhash import lsh_params

    b, r = lsh_params(p["threshold"], int(p["num_perm"]))

    def prob(s):
        return 1 - (1 - s**r) ** b

    return {"bands": b, "rows": r, "p_threshold": prob(p["threshold"]), "p_half": prob(0.5)}


# =============================================================================
# C. pass@k and the bootstrap
# =============================================================================
def passk_ref(p, data):
    from fmref.eval.passk import pass_at_k

    n = int(p["n"])
    c, k = min(int(p["c"]), n), min(int(p["k"]), n)
    return {"c_used": c, "k_used": k, "passk": pass_at_k(n, c, k),
            "naive": 1 - (1 - c / n) ** k}


BOOT_SIZES = (50, 100, 200, 500, 1000)
BOOT_ACC = (0.5, 0.6, 0.7, 0.8, 0.9)
BOOT_RESAMPLES = 2000


def _boot(n, acc):
    from fmref.eval.bootstrap import bootstrap_ci

    ones = round(acc * n)
    return bootstrap_ci([1.0] * ones + [0.0] * (n - ones), n_resamples=BOOT_RESAMPLES, seed=0)


def bootstrap_data():
    table = {}
    for n in BOOT_SIZES:
        table[str(n)] = {}
        for a in BOOT_ACC:
            r = _boot(n, a)
            table[str(n)][str(a)] = {"mean": r.estimate, "low": r.low, "high": r.high}
    return {"sizes": list(BOOT_SIZES), "accuracies": list(BOOT_ACC), "table": table,
            "n_resamples": BOOT_RESAMPLES}


def bootstrap_ref(p, data):
    n, a = int(p["n"]), float(p["accuracy"])
    r = _boot(n, a)
    return {"mean": r.estimate, "low": r.low, "high": r.high, "half": 100 * (r.high - r.low) / 2,
            "normal": 100 * 1.96 * math.sqrt(r.estimate * (1 - r.estimate) / n)}


# =============================================================================
# The registry
# =============================================================================
def _none():
    return {}


CH = "chapters/"
MORE: dict[str, Widget] = {
    "training-compute": Widget(
        page=CH + "01-foundation-models", data=training_compute_data,
        caption="Training compute C = 6ND of landmark models and what it costs: pick an "
                "accelerator, its utilisation and a price per hour.",
        api=("fmref.scaling.flops.training_flops", "fmref.scaling.params.count_parameters"),
        defaults={"model": "0", "accelerator": "1", "mfu": 0.4, "price": 2.0},
        reference=training_compute_ref,
        grid=[{"model": str(m), "accelerator": str(a), "mfu": u, "price": pr}
              for m in range(6) for a in range(3) for u in (0.2, 0.5) for pr in (1.0, 4.5)],
        browser=[{"model": "3"}, {"accelerator": "2", "mfu": 0.55}, {"price": 3.25}],
        fallback={"x": "model", "values": [str(i) for i in range(6)], "y": ["flops"],
                  "logy": True, "xlabel": "model", "ylabel": "training FLOPs", "bar": True},
    ),
    "bpe": Widget(
        page=CH + "02-nlp-and-computer-vision", data=bpe_data,
        caption="Byte-pair encoding with the tiny GPT's 512 merges: type any text and apply "
                "the merges one by one, in the order training learned them.",
        api=("fmref.text.bpe.BPETokenizer",),
        defaults={"text": BPE_TEXT, "merges": 512.0},
        reference=bpe_ref, test_data=bpe_test_data,
        grid=[{"text": t, "merges": m}
              for t in (BPE_TEXT, "lowest newer  widest\n", "héllo wörld 42")
              for m in (0.0, 5.0, 24.0)],
        browser=[{"merges": 100.0}, {"text": "def lambda(x): return x ** 2", "merges": 512.0}],
        fallback={"x": "merges", "values": [0, 32, 64, 128, 256, 384, 512], "y": ["tokens"],
                  "xlabel": "merges applied", "ylabel": "tokens of the sample text"},
    ),
    "rnn-gradients": Widget(
        page=CH + "03-rnn-and-cnn", data=rnn_gradients_data,
        caption="How far back a gradient reaches: the norm of the last hidden state's "
                "gradient with respect to each earlier input, for fmref's RNN and LSTM.",
        api=("fmref.nn.recurrent.RNN", "fmref.nn.recurrent.LSTM"),
        defaults={"scale": "1", "distance": 20.0},
        reference=rnn_gradients_ref,
        grid=[{"scale": str(s), "distance": float(d)} for s in range(3) for d in (1, 10, 30, 49)],
        browser=[{"scale": "2"}, {"distance": 40.0}],
        fallback={"x": "distance", "values": list(range(1, 50)), "y": ["rnn", "lstm"],
                  "logy": True, "xlabel": "steps back k", "ylabel": "gradient norm"},
    ),
    "receptive-field": Widget(
        page=CH + "03-rnn-and-cnn", data=_none,
        caption="The receptive field of a stack of convolutions grows linearly with depth, "
                "and exponentially with strides or doubling dilations.",
        api=("fmref.nn.conv.receptive_field",),
        defaults={"layers": 4.0, "kernel": "3", "stride": "1", "dilation": "1"},
        reference=receptive_field_ref,
        grid=[{"layers": float(n), "kernel": k, "stride": s, "dilation": d}
              for n in (1, 3, 10) for k in ("3", "7") for s in ("1", "2") for d in ("1", "double")],
        browser=[{"layers": 7.0}, {"kernel": "5"}, {"stride": "2"}, {"dilation": "double"}],
        fallback={"x": "layers", "values": list(range(1, 11)), "y": ["rf"],
                  "series": ("dilation", ["1", "double"]), "xlabel": "layers",
                  "ylabel": "receptive field"},
    ),
    "alibi": Widget(
        page=CH + "04-early-transformer-variants", data=_none,
        caption="ALiBi adds a linear penalty to the attention score, one slope per head: "
                "steep heads look nearby, shallow heads far.",
        api=("fmref.nn.position.alibi_slopes", "fmref.nn.position.alibi_bias"),
        defaults={"heads": 8.0, "head": 1.0, "distance": 16.0}, rel=1e-6,
        reference=alibi_ref,
        grid=[{"heads": float(n), "head": float(h), "distance": float(d)}
              for n in (1, 6, 8, 12, 32) for h in (1, 5, 32) for d in (0, 7, 64)],
        browser=[{"heads": 12.0, "head": 10.0}, {"head": 4.0}, {"distance": 50.0}],
        fallback={"x": "distance", "values": list(range(0, 65, 4)), "y": ["bias"],
                  "series": ("head", [1.0, 4.0, 8.0]), "xlabel": "distance",
                  "ylabel": "bias added to the score"},
    ),
    "alignment": Widget(
        page=CH + "04-early-transformer-variants", data=alignment_data,
        test_data=alignment_test_data,
        caption="What an RNN encoder-decoder attends to while it reverses a sequence: the "
                "alignment of additive (Bahdanau) and dot-product (Luong) scores, by training "
                "step.",
        api=("fmref.models.seq2seq.AdditiveAttention",
             "fmref.models.seq2seq.MultiplicativeAttention", "fmref.zoo.seq2seq_reversal"),
        defaults={"score": "general", "example": "0", "step": 4.0}, rel=1e-9,
        reference=alignment_ref,
        grid=[{"score": k, "example": str(e), "step": float(t)} for k, _ in ALIGN_SCORES
              for e in range(4) for t in (0, 2, 4)],
        browser=[{"score": "additive"}, {"example": "2"}, {"step": 1.0}],
        fallback={"x": "step", "values": [0.0, 1.0, 2.0, 3.0, 4.0], "y": ["diag"],
                  "series": ("score", ["additive", "general"]),
                  "xlabel": "snapshot (every 40 steps)",
                  "ylabel": "mean weight on the anti-diagonal"},
    ),
    "kv-heads": Widget(
        page=CH + "05-self-attention-and-transformers", data=kv_heads_data,
        caption="Multi-head, grouped-query and multi-query attention: fewer key/value heads, "
                "a proportionally smaller KV cache; multi-head latent attention caches one "
                "compressed vector per layer instead.",
        api=("fmref.infer.kv.kv_cache_bytes", "fmref.infer.kv.mla_cache_bytes"),
        defaults={"preset": "0", "kv_heads": 3.0, "seq_len": 13.0},
        reference=kv_heads_ref,
        grid=[{"preset": str(i), "kv_heads": float(h), "seq_len": float(t)}
              for i in range(5) for h in range(8) for t in (10, 17)],
        browser=[{"preset": "1"}, {"kv_heads": 0.0}, {"seq_len": 16.0}],
        fallback={"x": "kv_heads", "values": [float(h) for h in range(6)], "y": ["per_token"],
                  "series": ("preset", ["0", "2"]), "xlabel": "log2 KV heads",
                  "ylabel": "KV cache per token (bytes)"},
    ),
    "online-softmax": Widget(
        page=CH + "06-efficient-transformers", data=online_softmax_data,
        caption="The online softmax of FlashAttention, block by block: a running maximum, a "
                "running sum and a rescaled output give the exact attention at the end.",
        api=("fmref.nn.efficient.tiled_attention",
             "fmref.nn.attention.scaled_dot_product_attention"),
        defaults={"block": "4", "step": 2.0}, rel=1e-6,
        reference=online_softmax_ref,
        grid=[{"block": b, "step": float(s)} for b in ("1", "2", "4", "8", "16")
              for s in (1, 2, 3, 16)],
        browser=[{"block": "8"}, {"step": 1.0}, {"block": "2", "step": 5.0}],
        fallback={"x": "step", "values": [1.0, 2.0, 3.0, 4.0], "y": ["out0", "final0"],
                  "xlabel": "blocks of 4 keys processed", "ylabel": "output coordinate 0"},
    ),
    "rope-scaling": Widget(
        page=CH + "09-large-language-models", data=rope_data,
        also=(CH + "06-efficient-transformers",),  # where the scalings are derived
        caption="RoPE's wavelengths under context extension: position interpolation, dynamic "
                "NTK, YaRN and Llama 3's scaling stretch different frequencies.",
        api=("fmref.nn.position.rope_inv_freq",),
        defaults={"kind": "yarn", "factor": "8"}, rel=1e-6,
        reference=rope_ref,
        grid=[{"kind": k, "factor": f} for k, _ in ROPE_KINDS for f in ("2", "8", "32")],
        browser=[{"kind": "llama3"}, {"factor": "16"}, {"kind": "linear"}],
        fallback={"x": "factor", "values": ["2", "4", "8", "16", "32"], "y": ["longest"],
                  "series": ("kind", ["linear", "dynamic", "yarn", "llama3"]), "logy": True,
                  "xlabel": "scaling factor", "ylabel": "longest wavelength (tokens)"},
    ),
    "lora": Widget(
        page=CH + "07-parameter-efficient-tuning", data=lora_data,
        caption="LoRA's trainable parameters and training memory for a preset, a rank and "
                "the attention projections it adapts.",
        api=("fmref.peft.lora.lora_parameter_count", "fmref.scaling.params.count_parameters"),
        defaults={"preset": "0", "rank": 4.0, "targets": "0"},
        reference=lora_ref,
        grid=[{"preset": str(i), "rank": float(r), "targets": t}
              for i in range(4) for r in (0, 3, 8) for t in ("0", "1")],
        browser=[{"preset": "1"}, {"rank": 6.0}, {"targets": "1"}],
        fallback={"x": "rank", "values": [float(r) for r in range(9)], "y": ["trainable"],
                  "series": ("targets", ["0", "1"]), "logy": True, "xlabel": "log2 rank",
                  "ylabel": "trainable parameters"},
    ),
    "masking": Widget(
        page=CH + "08-language-model-pretraining", data=masking_data,
        caption="BERT's masking and T5's span corruption of one sentence, redrawn: which "
                "tokens each objective hides and what the model must write back.",
        api=("fmref.train.objectives.mask_tokens", "fmref.train.objectives.span_corruption"),
        defaults={"rate": "0.15", "sample": 0.0},
        reference=masking_ref,
        grid=[{"rate": r, "sample": float(s)} for r in ("0.15", "0.3", "0.5") for s in (0, 5, 11)],
        browser=[{"rate": "0.3"}, {"sample": 4.0}],
        fallback={"x": "sample", "values": [float(s) for s in range(12)],
                  "y": ["selected", "t5_target"], "xlabel": "draw (noise 0.15)",
                  "ylabel": "tokens"},
    ),
    "architecture": Widget(
        page=CH + "09-large-language-models", data=architecture_data,
        caption="Nine open models as fmref configures them: where the parameters are, the "
                "KV cache per token and the FLOPs per token at a context length.",
        api=("fmref.scaling.params.parameter_breakdown", "fmref.scaling.flops.flops_per_token",
             "fmref.infer.kv.kv_cache_bytes"),
        defaults={"preset": "0", "seq_len": 13.0},
        reference=architecture_ref,
        grid=[{"preset": str(i), "seq_len": float(t)} for i in range(9) for t in (9, 13, 17)],
        browser=[{"preset": "6"}, {"seq_len": 15.0}, {"preset": "7"}],
        fallback={"x": "preset", "values": [str(i) for i in range(9)], "y": ["params"],
                  "logy": True, "bar": True, "xlabel": "model", "ylabel": "parameters"},
    ),
    "isoflop": Widget(
        page=CH + "10-scaling-law", data=isoflop_data,
        caption="An isoFLOP curve of the Chinchilla law: at a fixed budget the loss has one "
                "minimum, at the compute-optimal model size.",
        api=("fmref.scaling.laws.chinchilla_loss", "fmref.scaling.laws.compute_optimal"),
        defaults={"log_c": 23.0, "log_n": 10.0}, rel=1e-9,
        reference=isoflop_ref,
        grid=[{"log_c": c, "log_n": n} for c in (18.0, 21.5, 26.0) for n in (7.0, 9.3, 12.0)],
        browser=[{"log_c": 21.0}, {"log_n": 9.0}],
        fallback={"x": "log_n", "values": [7 + i / 4 for i in range(21)], "y": ["loss"],
                  "series": ("log_c", [19.0, 21.0, 23.0]), "xlabel": "log10 N",
                  "ylabel": "predicted loss"},
    ),
    "dpo-ppo": Widget(
        page=CH + "11-instruction-tuning-and-rlhf", data=_none,
        caption="The DPO loss against the reward margin and the PPO-clip loss against the "
                "log-ratio: where each gradient vanishes.",
        api=("fmref.align.dpo.dpo_loss", "fmref.align.ppo.ppo_clip_loss"),
        defaults={"x": 0.5, "beta": "1", "eps": "0.2", "advantage": "1"},
        reference=dpo_ppo_ref, rel=1e-9,
        grid=[{"x": x, "beta": b, "eps": e, "advantage": a} for x in (-3.0, -0.3, 0.0, 0.15, 2.5)
              for b in ("0.1", "2") for e in ("0.1", "0.3") for a in ("1", "-1")],
        browser=[{"x": -1.0}, {"beta": "0.1"}, {"eps": "0.1", "x": 0.5}, {"advantage": "-1"}],
        fallback={"x": "x", "values": [i / 10 for i in range(-30, 31, 2)], "y": ["dpo", "ppo"],
                  "xlabel": "log-ratio", "ylabel": "loss"},
    ),
    "memory-planner": Widget(
        page=CH + "12-efficient-llm-training", data=memory_planner_data,
        caption="Memory per accelerator when training: ZeRO-sharded model states plus "
                "activations, with tensor parallelism and recomputation.",
        api=("fmref.train.efficient.zero_memory_per_gpu",
             "fmref.train.efficient.activation_memory"),
        defaults={"preset": "0", "gpus": 3.0, "tp": "1", "stage": "1", "micro_batch": 1.0,
                  "seq_len": "4096", "checkpointing": "selective"},
        reference=memory_planner_ref,
        grid=[{"preset": str(i), "gpus": float(g), "tp": t, "stage": s, "micro_batch": mb,
               "seq_len": sl, "checkpointing": c}
              for i in (0, 2) for g in (0, 6) for t in ("1", "8") for s in ("0", "3")
              for mb, sl, c in ((1.0, "2048", "none"), (7.0, "8192", "full"),
                                (3.0, "4096", "selective"))],
        browser=[{"preset": "2"}, {"gpus": 6.0}, {"tp": "4"}, {"stage": "3"},
                 {"micro_batch": 4.0}, {"seq_len": "8192"}, {"checkpointing": "full"}],
        fallback={"x": "stage", "values": ["0", "1", "2", "3"], "y": ["states", "total"],
                  "xlabel": "ZeRO stage (LLaMA-7B, 8 accelerators)", "ylabel": "bytes"},
    ),
    "pipeline-timeline": Widget(
        page=CH + "12-efficient-llm-training", data=_none,
        caption="One pipeline step drawn: which stage runs which micro-batch's forward and "
                "backward pass, and when, under GPipe and 1F1B; the idle time is the bubble.",
        api=("fmref.train.parallel.formulas.pipeline_schedule",
             "fmref.train.parallel.formulas.pipeline_bubble"),
        defaults={"p": 4.0, "m": 6.0, "schedule": "1f1b", "ratio": "2"},
        reference=pipeline_timeline_ref,
        grid=[{"p": p, "m": m, "schedule": s, "ratio": r} for p in (1.0, 2.0, 5.0, 8.0)
              for m in (1.0, 4.0, 12.0) for s in ("gpipe", "1f1b") for r in ("1", "3")],
        browser=[{"p": 2.0}, {"m": 12.0}, {"schedule": "gpipe"}, {"ratio": "1"}],
        fallback={"x": "m", "values": [float(m) for m in range(1, 13)], "y": ["peak"],
                  "series": ("schedule", ["gpipe", "1f1b"]), "xlabel": "micro-batches",
                  "ylabel": "micro-batches kept by stage 0"},
    ),
    "pipeline-bubble": Widget(
        page=CH + "12-efficient-llm-training", data=_none,
        caption="The pipeline bubble: the idle fraction of a step against stages and "
                "micro-batches, for GPipe/1F1B, the interleaved schedule and zero bubble.",
        api=("fmref.train.parallel.formulas.pipeline_bubble",),
        defaults={"p": 4.0, "m": 8.0, "schedule": "1f1b", "v": 2.0},
        reference=pipeline_ref,
        grid=[{"p": float(a), "m": float(m), "schedule": s, "v": float(v)}
              for a in (1, 4, 16) for m in (1, 8, 64)
              for s in ("gpipe", "1f1b", "interleaved", "zb-h1") for v in (1, 4)],
        browser=[{"p": 8.0}, {"m": 32.0}, {"schedule": "interleaved"}, {"v": 4.0}],
        fallback={"x": "m", "values": [float(m) for m in (1, 2, 4, 8, 16, 32, 64)],
                  "y": ["bubble"], "series": ("schedule", ["1f1b", "interleaved", "zb-h1"]),
                  "xlabel": "micro-batches (4 stages)", "ylabel": "idle fraction"},
    ),
    "speculative": Widget(
        page=CH + "13-efficient-llm-inference", data=_none,
        caption="Speculative decoding's speed-up against the acceptance rate, the number of "
                "drafted tokens and the draft model's cost (Leviathan et al., 2023).",
        api=("fmref.infer.speculative.expected_tokens_per_step",),
        defaults={"alpha": 0.8, "gamma": 4.0, "cost": 0.1},
        reference=speculative_ref,
        grid=[{"alpha": a, "gamma": float(g), "cost": c} for a in (0.0, 0.5, 0.8, 0.95)
              for g in (1, 4, 12) for c in (0.0, 0.1, 0.5, 1.0)],
        browser=[{"alpha": 0.6}, {"gamma": 8.0}, {"cost": 0.3}],
        fallback={"x": "gamma", "values": [float(g) for g in range(1, 13)], "y": ["speedup"],
                  "series": ("alpha", [0.6, 0.8, 0.9]), "xlabel": "draft tokens",
                  "ylabel": "speed-up (draft cost 0.1)"},
    ),
    "bits-per-param": Widget(
        page=CH + "14-compress-and-sparsify", data=bits_data,
        caption="Bits per parameter, scales included, and the weight memory of a preset in "
                "each storage format.",
        api=("fmref.compress.nf4.nf4_bits_per_parameter", "fmref.compress.quant.QuantLinear"),
        defaults={"preset": "0", "format": "3"},
        reference=bits_ref,
        grid=[{"preset": str(i), "format": str(f)} for i in range(4) for f in range(7)],
        browser=[{"preset": "3"}, {"format": "6"}],
        fallback={"x": "format", "values": [str(f) for f in range(7)], "y": ["bits"],
                  "bar": True, "xlabel": "format", "ylabel": "bits per parameter"},
    ),
    "self-consistency": Widget(
        page=CH + "15-llm-prompting", data=self_consistency_data,
        caption="Self-consistency: the accuracy of a majority vote over n sampled answers, "
                "for several single-sample accuracies.",
        api=("fmref.prompting.consistency.majority_vote",),
        defaults={"p": "2", "n": 9.0},
        reference=self_consistency_ref,
        grid=[{"p": str(i), "n": float(n)} for i in range(6) for n in (1, 5, 21)],
        browser=[{"p": "4"}, {"n": 17.0}],
        fallback={"x": "n", "values": [float(n) for n in range(1, 22)], "y": ["vote"],
                  "series": ("p", ["0", "2", "4"]), "xlabel": "samples",
                  "ylabel": "majority-vote accuracy"},
    ),
    "patchify": Widget(
        page=CH + "16-vision-transformers", data=patchify_data,
        caption="An image becomes a sequence of patches: the tokens for an image size and "
                "patch size, and the attention cost that grows with their square.",
        api=("fmref.multimodal.lmm.image_token_count",),
        defaults={"digit_patch": "2", "size": "224", "patch": "16", "cls": True},
        reference=patchify_ref,
        grid=[{"digit_patch": d, "size": s, "patch": p, "cls": c} for d in ("1", "8")
              for s in ("224", "896") for p in ("14", "32") for c in (True, False)],
        browser=[{"digit_patch": "4"}, {"size": "448"}, {"patch": "14"}, {"cls": False}],
        fallback={"x": "patch", "values": ["14", "16", "28", "32"], "y": ["tokens"],
                  "series": ("size", ["224", "448"]), "logy": True, "xlabel": "patch size",
                  "ylabel": "tokens"},
    ),
    "pos-interp": Widget(
        page=CH + "16-vision-transformers", data=pos_interp_data,
        caption="The digit ViT at a larger size: its 4x4 position table interpolated to the new "
                "grid, how alike the interpolated positions are, and the test accuracy "
                "without fine-tuning.",
        api=("fmref.models.vit.interpolate_pos_embed", "fmref.models.vit.ViT"),
        defaults={"size": "16", "mode": "bilinear", "row": 3.0, "col": 3.0},
        reference=pos_interp_ref,
        grid=[{"size": s, "mode": m, "row": r, "col": c} for s in ("8", "10", "16")
              for m in ("bilinear", "nearest") for r, c in ((0.0, 0.0), (7.0, 2.0), (3.0, 5.0))],
        browser=[{"size": "12"}, {"mode": "nearest"}, {"row": 0.0}, {"col": 6.0}],
        fallback={"x": "size", "values": [str(s) for s in POS_SIZES], "y": ["accuracy"],
                  "series": ("mode", ["bilinear", "nearest"]), "xlabel": "image size (pixels)",
                  "ylabel": "test accuracy, no fine-tuning"},
    ),
    "vit-cost": Widget(
        page=CH + "16-vision-transformers", data=_none,
        caption="What a Vision Transformer costs: parameters, tokens and forward FLOPs for "
                "ViT-Base, -Large and -Huge at a resolution and patch size.",
        api=("fmref.models.vit.count_vit_parameters", "fmref.models.vit.vit_forward_flops"),
        defaults={"size": "base", "image": "224", "patch": "16"},
        reference=vit_cost_ref,
        grid=[{"size": m, "image": i, "patch": q} for m in ("base", "large", "huge")
              for i in ("224", "448", "896") for q in ("14", "16", "32")],
        browser=[{"size": "large"}, {"image": "448"}, {"patch": "32"}],
        fallback={"x": "image", "values": ["224", "448", "896"], "y": ["gflops"],
                  "series": ("size", ["base", "large", "huge"]), "logy": True,
                  "xlabel": "image size (patch 16)", "ylabel": "forward GFLOPs"},
    ),
    "guidance": Widget(
        page=CH + "18-image-generation", data=guidance_data, test_data=guidance_test_data,
        caption="Classifier-free guidance on the digit U-Net: the same noise sampled at "
                "growing guidance scales, read back by the digit ViT.",
        api=("fmref.diffusion.guidance.classifier_free_guidance",
             "fmref.diffusion.samplers.sample"),
        defaults={"scale": 2.0},
        reference=guidance_ref,
        grid=[{"scale": float(s)} for s in range(5)],
        browser=[{"scale": 4.0}],
        fallback={"x": "scale", "values": [float(s) for s in range(5)],
                  "y": ["accuracy", "saturation"], "xlabel": "guidance scale index",
                  "ylabel": "share"},
    ),
    "clip-temperature": Widget(
        page=CH + "19-multimodal-pretraining", data=clip_data, test_data=clip_test_data,
        caption="CLIP's similarity matrix and contrastive loss on the trained digit CLIP, "
                "against the temperature and the batch size.",
        api=("fmref.multimodal.contrastive.clip_loss",),
        defaults={"log_tau": -1.0, "batch": 8.0}, rel=1e-6,
        reference=clip_ref,
        grid=[{"log_tau": t, "batch": float(b)} for t in (-2.0, -1.3, 0.0) for b in (2, 5, 8)],
        browser=[{"log_tau": -1.5}, {"batch": 4.0}],
        fallback={"x": "log_tau", "values": [-2 + i / 5 for i in range(11)],
                  "y": ["loss", "chance"],
                  "xlabel": "log10 temperature", "ylabel": "loss (batch 8)"},
    ),
    "image-tokens": Widget(
        page=CH + "20-large-multimodal-models", data=_none,
        caption="How many tokens an image costs a multimodal model: a fixed-size projector, "
                "native resolution, a resampler, or any-resolution tiling.",
        api=("fmref.multimodal.lmm.image_token_count", "fmref.multimodal.lmm.PerceiverResampler"),
        defaults={"size": "672", "connector": "anyres"},
        reference=image_tokens_ref,
        grid=[{"size": s, "connector": c} for s in ("224", "336", "448", "672", "1008", "1344")
              for c in ("projector", "native", "resampler", "anyres")],
        browser=[{"size": "1344"}, {"connector": "native"}],
        fallback={"x": "size", "values": ["224", "336", "448", "672", "1008", "1344"],
                  "y": ["tokens"], "series": ("connector", ["projector", "native", "anyres"]),
                  "logy": True, "xlabel": "image side (pixels)", "ylabel": "image tokens"},
    ),
    "react-trace": Widget(
        page=CH + "21-tool-augmentation", data=react_data,
        caption="The ReAct loop of this chapter, step by step: thoughts, tool calls, the "
                "observations the loop feeds back, and the answer.",
        api=("fmref.agents.react.run_agent", "fmref.agents.react.ScriptedPolicy"),
        defaults={"step": 1.0},
        reference=react_ref,
        grid=[{"step": float(s)} for s in range(1, 5)],
        browser=[{"step": 2.0}, {"step": 4.0}],
        fallback={"x": "step", "values": [1.0, 2.0, 3.0, 4.0], "y": ["calls"],
                  "xlabel": "step", "ylabel": "tool calls so far"},
    ),
    "bm25": Widget(
        page=CH + "22-retrieval-augmentation", data=bm25_data,
        caption="BM25 scores of a typed query over eight short documents, with k1 and b, and "
                "the first document after reciprocal rank fusion with a dense ranking.",
        api=("fmref.rag.bm25.BM25", "fmref.rag.bm25.tokenize",
             "fmref.rag.dense.reciprocal_rank_fusion"),
        defaults={"query": BM25_QUERY, "k1": 1.5, "b": 0.75},
        reference=bm25_ref, rel=1e-9,
        grid=[{"query": q, "k1": k, "b": b}
              for q in (BM25_QUERY, "dense retrieval", "the the the", "k1 b BM25 Über")
              for k in (0.0, 1.2, 3.0) for b in (0.0, 0.75, 1.0)],
        browser=[{"query": "dense retrieval of passages"}, {"k1": 0.5}, {"b": 0.2}],
        fallback={"x": "k1", "values": [i / 5 for i in range(16)], "y": ["top_score"],
                  "series": ("b", [0.0, 0.75, 1.0]), "xlabel": "k1",
                  "ylabel": "best BM25 score"},
    ),
    "optimizer-2d": Widget(
        page="appendices/a-how-models-learn", data=optimizer_data,
        caption="SGD, momentum and Adam on an ill-conditioned quadratic: the path of each "
                "and where it ends after a number of steps.",
        api=("fmref.optim.sgd_step", "fmref.optim.adam_step"),
        defaults={"method": "momentum", "log_lr": -1.5, "steps": 40.0}, rel=1e-7,
        reference=optimizer_ref,
        grid=[{"method": m, "log_lr": lr, "steps": float(s)} for m in ("sgd", "momentum", "adam")
              for lr in (-3.0, -1.5, -1.0, 0.0) for s in (1, 40, 100)],
        browser=[{"method": "adam"}, {"log_lr": -1.0}, {"steps": 80.0}],
        fallback={"x": "log_lr", "values": [-3 + i / 5 for i in range(14)], "y": ["loss"],
                  "series": ("method", ["sgd", "momentum", "adam"]), "logy": True,
                  "xlabel": "log10 learning rate", "ylabel": "loss after 40 steps"},
    ),
    "minhash": Widget(
        page="appendices/b-data-curation", data=minhash_data,
        caption="MinHash estimates the Jaccard similarity of two documents' shingle sets; the "
                "error shrinks as one over the square root of the number of permutations.",
        api=("fmref.data.minhash.minhash_signature", "fmref.data.minhash.estimate_jaccard"),
        defaults={"pair": "0", "perm": 4.0, "seed": 0.0},
        reference=minhash_ref,
        grid=[{"pair": p, "perm": float(k), "seed": float(s)} for p in ("0", "1")
              for k in (0, 4, 8) for s in (0, 4)],
        browser=[{"pair": "1"}, {"perm": 7.0}, {"seed": 2.0}],
        fallback={"x": "perm", "values": [float(k) for k in range(9)], "y": ["estimate", "jaccard"],
                  "xlabel": "log2 permutations", "ylabel": "Jaccard (pair 1, seed 0)"},
    ),
    "lsh": Widget(
        page="appendices/b-data-curation", data=_none,
        caption="Locality-sensitive hashing: the bands and rows fmref picks for a threshold, "
                "and the S-curve of the probability of becoming a candidate pair.",
        api=("fmref.data.minhash.lsh_params",),
        defaults={"threshold": 0.8, "num_perm": "128"},
        reference=lsh_ref, rel=1e-9,
        grid=[{"threshold": t, "num_perm": k} for t in (0.5, 0.7, 0.85, 0.95)
              for k in ("32", "64")],
        browser=[{"threshold": 0.6}, {"num_perm": "64"}],
        fallback={"x": "threshold", "values": [0.5 + i / 20 for i in range(10)],
                  "y": ["p_threshold"], "xlabel": "threshold",
                  "ylabel": "P(candidate) at the threshold"},
    ),
    "passk": Widget(
        page="appendices/c-evaluation", data=_none,
        caption="The unbiased pass@k estimator of Chen et al. (2021) against the plug-in "
                "estimate, from n samples of which c pass.",
        api=("fmref.eval.passk.pass_at_k",),
        defaults={"n": 20.0, "c": 3.0, "k": 5.0}, rel=1e-9,
        reference=passk_ref,
        grid=[{"n": float(n), "c": float(c), "k": float(k)} for n in (1, 10, 200)
              for c in (0, 1, 7, 200) for k in (1, 5, 150)],
        browser=[{"n": 50.0}, {"c": 10.0}, {"k": 20.0}],
        fallback={"x": "k", "values": [float(k) for k in range(1, 21)], "y": ["passk", "naive"],
                  "xlabel": "k (n = 20, c = 3)", "ylabel": "pass@k"},
    ),
    "bootstrap": Widget(
        page="appendices/c-evaluation", data=bootstrap_data,
        caption="A bootstrap 95% interval of an accuracy: how wide it is for a test set's "
                "size, beside the normal approximation.",
        api=("fmref.eval.bootstrap.bootstrap_ci",),
        defaults={"n": "100", "accuracy": "0.7"},
        reference=bootstrap_ref,
        grid=[{"n": str(n), "accuracy": str(a)} for n in BOOT_SIZES for a in (0.5, 0.9)],
        browser=[{"n": "500"}, {"accuracy": "0.9"}],
        fallback={"x": "n", "values": [str(n) for n in BOOT_SIZES], "y": ["half", "normal"],
                  "xlabel": "test items (accuracy 0.7)", "ylabel": "half-width (points)"},
    ),
}
