"""
Prefill and decode on the roofline
==================================

:func:`~fmref.infer.roofline.roofline` places a kernel by its arithmetic
intensity (FLOPs per byte moved). A forward pass of an ``N``-parameter model
over ``n`` tokens does about ``2 N n`` FLOPs and reads ``2 N`` bytes of fp16
weights (:func:`~fmref.infer.roofline.forward_cost`): decoding one sequence
has an intensity of 1, prefill of thousands. We place both on the roofline of a
GPU with 312 TFLOP/s of dense bf16 and 2 TB/s of memory bandwidth (an
A100-class accelerator).
"""

# %%
# Decode at several batch sizes, and a prefill
# --------------------------------------------
import matplotlib.pyplot as plt
import numpy as np

from fmref.infer.roofline import forward_cost, roofline

peak, bandwidth, n_params = 312e12, 2.0e12, 7e9
points = {f"decode, batch {b}": forward_cost(n_params, b) for b in (1, 8, 64)}
points["prefill, 2,048 tokens"] = forward_cost(n_params, 2048)
for name, (flops, nbytes) in points.items():
    p = roofline(flops, nbytes, peak, bandwidth)
    print(
        f"{name:>22}: intensity {p.intensity:7.1f} FLOP/B, {p.bound}-bound, "
        f"{p.attainable_flops / 1e12:6.1f} TFLOP/s, {p.time * 1e3:7.2f} ms"
    )

# %%
# The roofline
# ------------
x = np.logspace(-1, 4, 200)
fig, ax = plt.subplots(figsize=(6.4, 4.2))
ax.loglog(x, np.minimum(peak, x * bandwidth) / 1e12, "k-", label="attainable")
for name, (flops, nbytes) in points.items():
    p = roofline(flops, nbytes, peak, bandwidth)
    ax.plot(p.intensity, p.attainable_flops / 1e12, "o", ms=8, label=name)
ax.axvline(peak / bandwidth, color="0.6", ls="--", lw=1)
ax.text(peak / bandwidth * 1.1, 0.5, "ridge point", color="0.4")
ax.set_xlabel("arithmetic intensity (FLOP per byte)")
ax.set_ylabel("attainable TFLOP/s")
ax.set_title("Decoding is memory-bound; prefill is compute-bound")
ax.legend(loc="lower right", fontsize=8)
fig.tight_layout()
plt.show()
