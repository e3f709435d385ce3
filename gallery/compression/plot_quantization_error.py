"""
Quantisation error per scheme
=============================

The same weight matrix, normally distributed with a few large outliers as in
trained transformers, is quantised by four schemes from :mod:`fmref.compress`:
int8 with one absmax scale for the whole tensor, int8 with one scale per output
channel, int4 with one scale per group of 32 weights, and NF4 with groups of 64.
The histograms show the error each makes on every weight; the vertical lines
are half a quantisation step of the per-tensor scheme.
"""

# %%
# A weight with outliers
# ----------------------
import matplotlib.pyplot as plt
import torch

from fmref.compress.nf4 import dequantize_nf4, quantize_nf4
from fmref.compress.quant import (
    dequantize_absmax,
    dequantize_groupwise,
    quantize_absmax,
    quantize_groupwise,
)

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
g = torch.Generator().manual_seed(0)
w = torch.randn(256, 512, generator=g) * 0.02  # (out, in)
w[torch.randint(0, 256, (8,), generator=g), torch.randint(0, 512, (8,), generator=g)] = 0.5

schemes = {
    "int8, per tensor": dequantize_absmax(*quantize_absmax(w, 8)),
    "int8, per channel": dequantize_absmax(*quantize_absmax(w, 8, dim=1)),
    "int4, groups of 32": dequantize_groupwise(*quantize_groupwise(w, 4, 32), 32),
    "NF4, groups of 64": dequantize_nf4(quantize_nf4(w, group_size=64)),
}
errors = {name: (w_hat - w).flatten() for name, w_hat in schemes.items()}
for name, e in errors.items():
    rel = e.norm() / w.norm()
    print(f"{name:>20}: relative error {rel:.4f}, largest {e.abs().max():.5f}")

# %%
# Histograms
# ----------
half_step = w.abs().max().item() / 127 / 2
fig, axes = plt.subplots(2, 2, figsize=(9, 6), sharex=True)
for ax, (name, e) in zip(axes.flat, errors.items()):
    ax.hist(e.numpy(), bins=101, range=(-0.02, 0.02), color="C0")
    ax.axvline(-half_step, color="C3", ls="--", lw=1)
    ax.axvline(half_step, color="C3", ls="--", lw=1)
    ax.set_title(f"{name}: relative error {e.norm() / w.norm():.3f}")
    ax.set_yscale("log")
for ax in axes[1]:
    ax.set_xlabel("quantised minus original weight")
for ax in axes[:, 0]:
    ax.set_ylabel("weights")
fig.suptitle("Outliers coarsen a shared scale; finer granularity confines the damage")
fig.tight_layout()
plt.show()
