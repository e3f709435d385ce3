"""
Reliability diagram and temperature scaling
===========================================

A classifier's confidence should match its accuracy. Here a five-class
problem is generated from known probabilities, and a "model" reports logits
that are 2.5 times too sharp, the typical failure of a large network trained
to low loss. Its reliability diagram
(:func:`fmref.eval.calibration.reliability_bins`) sits below the diagonal:
at 90% confidence it is right far less often. Dividing the logits by a single
temperature fitted on held-out data (:func:`fmref.eval.calibration.fit_temperature`)
brings the bars back onto the diagonal and the expected calibration error
(:func:`fmref.eval.calibration.expected_calibration_error`) close to zero,
without changing a single prediction.
"""

# %%
# Synthetic data with known probabilities, and an over-confident model.
import matplotlib.pyplot as plt
import torch

from fmref.eval.calibration import (
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
g = torch.Generator().manual_seed(0)
true_logits = torch.randn(20_000, 5, generator=g) * 1.5
labels = torch.multinomial(torch.softmax(true_logits, -1), 1, generator=g).squeeze(1)
model_logits = 2.5 * true_logits  # right ranking, too confident
held_out, test = slice(0, 10_000), slice(10_000, None)
T = fit_temperature(model_logits[held_out], labels[held_out])


def confidence_and_correct(logits):
    conf, pred = torch.softmax(logits, -1).max(-1)
    return conf, pred == labels[test]


before = confidence_and_correct(model_logits[test])
after = confidence_and_correct(model_logits[test] / T)
ece_before, ece_after = (expected_calibration_error(*x) for x in (before, after))
print(f"fitted temperature {T:.2f}; ECE {ece_before:.3f} before, {ece_after:.3f} after")

# %%
# Reliability diagrams: accuracy per confidence bin against the diagonal.
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
for ax, (conf, correct), name, ece in (
    (axes[0], before, "model", ece_before),
    (axes[1], after, f"model / T, T = {T:.2f}", ece_after),
):
    bins = reliability_bins(conf, correct, n_bins=10)
    centres = (bins["edges"][:-1] + bins["edges"][1:]) / 2
    filled = bins["count"] > 0
    ax.bar(centres[filled], bins["accuracy"][filled], width=0.09, alpha=0.7, label="accuracy")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    ax.set(xlabel="confidence", title=f"{name}: ECE {ece:.3f}", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
axes[0].set_ylabel("accuracy in the bin")
fig.suptitle("Over-confident logits fall below the diagonal; one temperature fixes them")
fig.tight_layout()
plt.show()
