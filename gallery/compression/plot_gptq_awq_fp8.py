"""
RTN, GPTQ, AWQ, NF4 and FP8 on the tiny GPT
===========================================

The linear layers of the tiny GPT's blocks (:func:`fmref.zoo.tiny_gpt`) are
quantised with every method of Chapter XIV: int8, FP8 E4M3 and E5M2 (one
scale per tensor or per 32x32 block), NF4, and round-to-nearest, GPTQ and AWQ
at 4 and 3 bits, each with one scale per 32 input columns or per output row.
GPTQ and AWQ calibrate on 128 windows of the training text; the perplexity is
measured on the held-out validation text. The numbers come from the zoo
recipe ``"tiny-gpt-quant"``
(:func:`~fmref.compress.apply.tiny_gpt_quantization`), computed once and
cached; this script only reads and draws them.
"""

# %%
# The measured table
# ------------------
import matplotlib.pyplot as plt
import torch

import fmref.zoo

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
study = fmref.zoo.get("tiny-gpt-quant").load()
rows = study["rows"]
base = rows[0]["perplexity"]  # fp32
print(f"{study['validation_tokens']:,} validation tokens, {study['calibration_tokens']:,} "
      "calibration tokens")  # fmt: skip
for r in rows:
    change = 100 * (r["perplexity"] / base - 1)
    print(
        f"{r['name']:>20} {r['bits']:>2} bits ({r['bits_per_parameter']:5.2f} per "
        f"parameter): perplexity {r['perplexity']:7.3f} ({change:+6.2f}%)"
    )

# %%
# Perplexity against bits per parameter
# -------------------------------------
# One marker per method; the three 3- and 4-bit quantisers are joined by lines,
# solid for one scale per 32 input columns, dashed for one per output row.
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.axhline(base, color="0.5", ls=":", label=f"fp32: {base:.2f}")
colors = {"RTN": "C0", "GPTQ": "C1", "AWQ": "C2"}
for label, color in colors.items():
    for group, style in ((32, "-"), (None, "--")):
        pts = sorted(
            (r["bits_per_parameter"], r["perplexity"])
            for r in rows
            if r["label"] == label and r["group_size"] == group
        )
        name = f"{label} {'g32' if group else 'per row'}"
        ax.plot(*zip(*pts), style, marker="o", color=color, label=name)
for name, marker in (("NF4 g64", "s"), ("int8 per row", "^"), ("FP8 E4M3 per tensor", "D"),
                     ("FP8 E4M3 32x32", "d"), ("FP8 E5M2 per tensor", "v")):  # fmt: skip
    r = next(r for r in rows if r["name"] == name)
    ax.plot(r["bits_per_parameter"], r["perplexity"], marker, color="k", ls="none", label=name)
ax.set_xlabel("bits per parameter (scales and zero points included)")
ax.set_ylabel("validation perplexity")
ax.set_title("On the same grid, GPTQ loses less perplexity than RTN at 3 and 4 bits", fontsize=10)
ax.legend(fontsize=8, ncol=2)
fig.tight_layout()
plt.show()
