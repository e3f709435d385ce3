"""
Perplexity against bits per parameter on a small GPT
====================================================

The tiny GPT trained on the Python documentation (:func:`fmref.zoo.tiny_gpt`,
loaded from the shared cache) has the linear layers of its blocks compressed
by :func:`~fmref.compress.apply.compress_weights` to fewer and fewer bits:
bf16, int8 per channel, group-wise int4 and int3, NF4, and group-wise int2.
We measure the validation perplexity of each with
:func:`~fmref.compress.apply.lm_perplexity`.
"""

# %%
# The model and the validation tokens
# -----------------------------------
import matplotlib.pyplot as plt
import torch

from fmref.compress.apply import compress_weights, lm_perplexity
from fmref.compress.quant import dequantize_groupwise, quantize_groupwise
from fmref.text.corpus import python_docs
from fmref.zoo import tiny_gpt

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
model, tokenizer, _ = tiny_gpt()
ids = torch.tensor(tokenizer.encode(python_docs("validation")))[:8193]  # (N,)
base = lm_perplexity(model, ids)
print(f"fp32 perplexity {base:.2f} on {ids.numel() - 1} validation tokens")

# %%
# Compress and evaluate
# ---------------------
# int3 and int2 are not among the methods of
# :func:`~fmref.compress.apply.compress_weights`; we apply
# :func:`~fmref.compress.quant.quantize_groupwise` to the same layers by hand.
points = []
for label, method, group in [
    ("bf16", "bf16", None),
    ("int8", "int8", None),
    ("int4 g32", "int4", 32),
    ("NF4 g64", "nf4", 64),
]:
    small, report = compress_weights(model, method, group_size=group)
    points.append((label, report["bits_per_parameter"], lm_perplexity(small, ids)))
for bits in (3, 2):
    small, report = compress_weights(model, "fp32")
    with torch.no_grad():
        for name, module in small.named_modules():
            if isinstance(module, torch.nn.Linear) and name.startswith("h."):
                codes, scales = quantize_groupwise(module.weight, bits, 32)
                module.weight.copy_(dequantize_groupwise(codes, scales, 32))
    points.append((f"int{bits} g32", bits + 16 / 32, lm_perplexity(small, ids)))
for label, bpp, ppl in points:
    print(
        f"{label:>9}: {bpp:5.2f} bits per parameter, perplexity {ppl:7.2f} "
        f"({100 * (ppl / base - 1):+.1f}%)"
    )

# %%
# The trade-off
# -------------
fig, ax = plt.subplots(figsize=(6.4, 4))
ax.axhline(base, color="0.5", ls="--", label=f"fp32 (32 bits): {base:.1f}")
for label, bpp, ppl in points:
    ax.plot(bpp, ppl, "o", color="C0")
    ax.annotate(label, (bpp, ppl), textcoords="offset points", xytext=(5, 5), fontsize=8)
ax.set_xlabel("bits per parameter (scales included)")
ax.set_ylabel("validation perplexity")
ax.set_yscale("log")
ax.set_title("Down to 4 bits perplexity barely moves; at 2 bits it rises")
ax.legend()
fig.tight_layout()
plt.show()
