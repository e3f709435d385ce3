"""
In-context learning of random functions
=======================================

A one-layer GPT is trained on sequences that each spell out a fresh random
function of 8 symbols as input/demonstration pairs
(:func:`~fmref.prompting.icl.random_function_batch`; the model comes from the
shared cache through :func:`~fmref.prompting.icl.train_icl_model`). No function
repeats, so nothing about any particular function can be stored in the
weights. On new functions we measure how often the model predicts
:math:`f(x_i)` after :math:`i` demonstrations, against the best any learner can
do: certain when :math:`x_i` was demonstrated, a guess (1 in 8) when it was not.
"""

# %%
# The trained model on unseen functions
# -------------------------------------
import matplotlib.pyplot as plt
import torch

from fmref.prompting.icl import icl_accuracy, train_icl_model

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
model = train_icl_model()  # 8 symbols, 12 pairs per sequence
acc = icl_accuracy(model, n_sequences=1024, generator=torch.Generator().manual_seed(1))
print(f"accuracy when x was demonstrated before: {acc['seen']:.3f}")
print(f"accuracy when it was not (chance is 1/8): {acc['unseen']:.3f}")

# %%
# Accuracy against the number of demonstrations
# ---------------------------------------------
shots = range(len(acc["by_position"]))
fig, ax = plt.subplots(figsize=(6.4, 4))
ax.plot(shots, acc["optimal"], "k--", label="best possible: P(seen) + P(unseen) / 8")
ax.plot(shots, acc["by_position"], "o-", label="tiny GPT")
ax.axhline(1 / 8, color="0.6", lw=1, label="chance")
ax.set_xlabel("demonstrations in the prompt")
ax.set_ylabel("accuracy of the next answer")
ax.set_ylim(0, 1)
ax.set_title("The model learns each new function from its prompt, as well as possible")
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()
