"""
A judge's position bias, before and after swapping
==================================================

A model judge that is unsure which of two answers is better tends to pick the
one shown first. :class:`fmref.eval.judge.SimulatedJudge` plants that habit with
a known strength (the probability of following position when unsure), on 1,000
arithmetic questions that each have a right and a wrong answer. For each
strength we measure, with :func:`fmref.eval.judge.position_bias`, how often the
first answer wins, and with :func:`fmref.eval.judge.judge_pairs` how often the
verdict names the wrong answer, asking once in a fixed order or in both orders
and keeping only consistent verdicts. Swapping leaves the measured bias where
it is (it is a property of the judge) but removes its effect on the result:
the wrong winners stay near zero whatever the strength.
"""

# %%
# Measure
# -------
import matplotlib.pyplot as plt
import numpy as np

from fmref.eval.judge import SimulatedJudge, judge_items, judge_pairs, position_bias

items, labels = judge_items(1000, seed=0)
pairs = [item[:3] for item in items]
strengths = np.linspace(0.0, 1.0, 6)
first_rate, wrong_once, wrong_swapped = [], [], []
for p in strengths:
    judge = SimulatedJudge(skill=0.6, position=float(p), verbosity=0.0)
    first_rate.append(position_bias(judge, items)["first_rate"])
    for swap, out in ((False, wrong_once), (True, wrong_swapped)):
        winners = judge_pairs(judge, pairs, swap=swap)["winners"]
        out.append(np.mean([w not in ("tie", lab) for w, lab in zip(winners, labels)]))
for p, first, once, both in zip(strengths, first_rate, wrong_once, wrong_swapped):
    print(f"position {p:.1f}: first wins {first:.3f}, wrong winner {once:.3f} in one order, "
          f"{both:.3f} in both")

# %%
# Plot
# ----
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.5, 3.6))
ax1.plot(strengths, first_rate, "o-", color="C3")
ax1.axhline(0.5, color="0.5", ls=":", label="order-blind judge")
ax1.set(xlabel="planted bias: P(pick first | unsure)",
        ylabel="first answer's share of wins", title="Measured bias")
ax1.legend(frameon=False)
ax2.plot(strengths, wrong_once, "o-", label="one order")
ax2.plot(strengths, wrong_swapped, "s-", label="both orders, consistent only")
ax2.set(xlabel="planted bias: P(pick first | unsure)",
        ylabel="items with the wrong winner", title="Effect on the verdicts")
ax2.legend(frameon=False)
fig.suptitle("Swapping the order does not remove a judge's bias, only its effect",
             fontsize=10)
fig.tight_layout()
plt.show()
