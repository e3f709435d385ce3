"""
A tiny multimodal language model answers questions about digits
================================================================

:func:`~fmref.multimodal.digits.digits_lmm` connects the frozen image tower of the
tiny CLIP to a small GPT through a two-layer projector, LLaVA-style: the 16 patch
features of a digit become 16 "image tokens" in front of the question, and the
model answers by generating words. We ask it about test digits it never saw in
training, show its answers, and count how often they are right.
"""

# %%
# Answers on held-out digits
# --------------------------
import matplotlib.pyplot as plt
import torch

from fmref.models.vit import digits_split
from fmref.multimodal.digits import QUESTIONS, answer, digits_lmm

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

model, info = digits_lmm()
_, _, x_test, y_test = digits_split()
accuracy = {}
for question, label in QUESTIONS.items():
    replies = answer(model, x_test, question)
    accuracy[question] = sum(r == label(y) for r, y in zip(replies, y_test.tolist())) / len(y_test)
    print(f"{question:<28} accuracy on {len(y_test)} held-out digits: {accuracy[question]:.3f}")

replies = answer(model, x_test[:24], "which digit is this ?")
parity = answer(model, x_test[:24], "is the digit even or odd ?")
fig, axes = plt.subplots(3, 8, figsize=(11, 5))
for ax, image, reply, odd, y in zip(axes.flat, x_test[:24, 0], replies, parity, y_test[:24]):
    ax.imshow(image, cmap="gray_r")
    ok = reply == QUESTIONS["which digit is this ?"](int(y))
    ax.set_title(f"{reply}, {odd}", color="tab:green" if ok else "tab:red", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(
    f'Answers to "which digit is this ?" and "even or odd ?" on test digits '
    f"({accuracy['which digit is this ?']:.0%} named correctly; red = wrong)"
)
fig.tight_layout()
plt.show()

# %%
# Where it errs
# -------------
# The confusion matrix of the generated digit names: rows are the true digits,
# columns the answers.
names = [QUESTIONS["which digit is this ?"](k) for k in range(10)]
all_replies = answer(model, x_test, "which digit is this ?")
confusion = torch.zeros(10, 10)
for reply, y in zip(all_replies, y_test.tolist()):
    if reply in names:
        confusion[y, names.index(reply)] += 1
fig, ax = plt.subplots(figsize=(5.5, 5))
ax.imshow(confusion, cmap="Blues")
for i in range(10):
    for j in range(10):
        if confusion[i, j]:
            ax.text(j, i, int(confusion[i, j]), ha="center", va="center", fontsize=8)
ax.set_xticks(range(10), names, rotation=45)
ax.set_yticks(range(10), names)
ax.set_xlabel("generated answer")
ax.set_ylabel("true digit")
ax.set_title("Most answers sit on the diagonal")
fig.tight_layout()
plt.show()
