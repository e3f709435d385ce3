"""
NF4 levels under the normal density
===================================

QLoRA's 4-bit NormalFloat (:func:`~fmref.compress.nf4.nf4_codebook`) places
its 16 levels at quantiles of a standard normal distribution, scaled to
:math:`[-1, 1]`; int4 absmax spaces its 15 levels evenly. For weights that are
normally distributed, NF4 puts more levels where the weights are, and we check
that it makes a smaller error on them.
"""

# %%
# The two codebooks
# -----------------
import matplotlib.pyplot as plt
import torch

from fmref.compress.nf4 import dequantize_nf4, nf4_codebook, quantize_nf4
from fmref.compress.quant import dequantize_groupwise, quantize_groupwise

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
nf4 = nf4_codebook()
int4 = torch.arange(-7, 8) / 7
print("NF4 levels:", [round(v, 4) for v in nf4.tolist()])

# %%
# Error on normal weights, same group size
# ----------------------------------------
w = torch.randn(512, 512, generator=torch.Generator().manual_seed(0))
err_nf4 = (dequantize_nf4(quantize_nf4(w, group_size=64, double_quant=False)) - w).norm()
err_int4 = (dequantize_groupwise(*quantize_groupwise(w, 4, 64), 64) - w).norm()
print(f"relative error: NF4 {err_nf4 / w.norm():.4f}, int4 absmax {err_int4 / w.norm():.4f}")

# %%
# The figure
# ----------
# A group's absmax of 64 normal values is about 2.4 standard deviations; we draw the
# density of a weight divided by that absmax.
x = torch.linspace(-1, 1, 400)
absmax = w.reshape(-1, 64).abs().amax(1).mean().item()
density = torch.exp(-0.5 * (x * absmax) ** 2) / (2 * torch.pi) ** 0.5 * absmax
fig, ax = plt.subplots(figsize=(7, 3.6))
ax.plot(x, density, "k-", label="density of w / absmax")
ax.vlines(nf4, 0, 0.9 * density.max(), color="C0", label="NF4 levels (16)")
ax.vlines(int4, 0, 0.45 * density.max(), color="C1", label="int4 absmax levels (15)")
ax.set_xlabel("normalised weight")
ax.set_yticks([])
ax.set_title(
    f"NF4 crowds its levels where the weights are: error {err_nf4 / w.norm():.3f} "
    f"vs {err_int4 / w.norm():.3f}"
)
ax.legend(fontsize=8, loc="upper right")
fig.tight_layout()
plt.show()
