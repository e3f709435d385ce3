"""
Best-of-N: accuracy against the number of samples, with a verifier, reward models and votes
===========================================================================================

Test-time compute buys accuracy without training: sample N answers and pick
one. How much it buys depends on how the pick is made:

- a **verifier** that checks the answer exactly picks a right one whenever
  any sample is right: its curve is pass@N (:func:`fmref.eval.passk.pass_at_k`);
- a learned **reward model** picks the answer it scores highest: the outcome
  reward model (ORM) scores a whole answer, the process reward model (PRM)
  each step (:func:`fmref.align.prm.train_reward_models`);
- **majority voting** (self-consistency) picks the most frequent final
  answer; **weighted voting** adds up the ORM's scores per answer.

The samples are 16 answers per held-out question from the base model of the
sums task and from the model after GRPO
(:func:`fmref.eval.testtime.sample_sums_answers`, from the shared cache); the
curves are unbiased estimates from those 16 (:func:`fmref.eval.testtime.accuracy_against_n`).
"""

# %%
# The curves
# ----------
import matplotlib.pyplot as plt
import torch

from fmref.eval.testtime import accuracy_against_n
from fmref.zoo import get

torch.set_num_threads(1)

samples = get("sums-test-time").load()
ns = [1, 2, 4, 8, 16]
curves = {name: accuracy_against_n(samples[name], samples["answers"], ns, draws=30)
          for name in ("base", "rlvr")}
for name, c in curves.items():
    print(name)
    for rule, acc in c.items():
        print(f"  {rule:<16}" + " ".join(f"{a:6.1%}" for a in acc))

# %%
# The figure
# ----------
styles = {"pass@N": ("k", "-"), "best-of-N prm": ("tab:blue", "-"),
          "best-of-N orm": ("tab:orange", "-"), "weighted orm": ("tab:orange", ":"),
          "weighted prm": ("tab:blue", ":"), "majority": ("tab:green", "--")}
labels = {"pass@N": "verifier (pass@N)", "best-of-N prm": "best-of-N, PRM",
          "best-of-N orm": "best-of-N, ORM", "weighted orm": "voting weighted by the ORM",
          "weighted prm": "voting weighted by the PRM", "majority": "majority voting"}
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, (name, title) in zip(axes, (("base", "base model"), ("rlvr", "after GRPO"))):
    for rule, acc in curves[name].items():
        colour, line = styles[rule]
        ax.plot(ns, acc, line, color=colour, marker="o", label=labels[rule])
    ax.set(xscale="log", xticks=ns, xticklabels=ns, xlabel="samples per question N",
           title=title)
    ax.grid(alpha=0.3)
axes[0].set_ylabel("accuracy on held-out questions")
axes[0].legend(fontsize=8)
base = curves["base"]
fig.suptitle(f"Base model: one sample {base['pass@N'][0]:.0%}; 16 samples: verifier "
             f"{base['pass@N'][-1]:.0%}, PRM {base['best-of-N prm'][-1]:.0%}, "
             f"majority {base['majority'][-1]:.0%}")
fig.tight_layout()
plt.show()
