"""
What a quality filter buys: training on filtered and unfiltered data
====================================================================

A synthetic crawl holds 800 paragraphs of the Python documentation and 2,400
snippets of junk (menus, keyword spam, markup, repeated sentences, shuffled
paragraphs). The same small GPT is trained for the same 300 steps on the crawl
as it is, after Gopher's rules, after an n-gram classifier, after a
perplexity filter, and on the documentation alone (the oracle), and scored on
held-out documentation. The left panel shows the validation loss during
training; the right panel what each filter kept. The runs come from
:func:`fmref.data.quality.filtering_effect`, trained once and cached by
:mod:`fmref.zoo` (Appendix B).
"""

# %%
# The five runs, trained once and cached.
import matplotlib.pyplot as plt
import torch

from fmref.data.quality import filtering_effect

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
effect = filtering_effect()
runs = effect["runs"]
for name, r in runs.items():
    print(
        f"{name:>10}: {r['kept_good']:>3} good + {r['kept_junk']:>4} junk kept, "
        f"{r['tokens']:,} tokens, final validation loss {r['val_loss'][-1]:.3f}"
    )

# %%
# Validation loss during training, and what each filter kept.
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 2]})
for name, r in runs.items():
    ax0.plot(r["val_step"], r["val_loss"], "o-", ms=3, label=name)
ax0.set(
    xlabel="training step (1,024 tokens each)",
    ylabel="validation loss on held-out docs (nats/token)",
    title="Same model, same steps, differently filtered data",
)
ax0.legend()
names = list(runs)
good = [runs[n]["kept_good"] for n in names]
junk = [runs[n]["kept_junk"] for n in names]
ax1.barh(names, good, label="documentation kept", color="tab:green")
ax1.barh(names, junk, left=good, label="junk kept", color="tab:red")
ax1.invert_yaxis()
ax1.set(xlabel="documents kept", title=f"Crawl: {effect['n_good']} good, {effect['n_junk']} junk")
ax1.legend(loc="lower right")
fig.tight_layout()
plt.show()
