"""
A tiny CLIP on digits: similarities and zero-shot accuracy
==========================================================

A :class:`~fmref.multimodal.clip.CLIP` with two small towers is trained on
scikit-learn's 8x8 digits paired with captions such as "a photo of the digit
seven" (:func:`~fmref.multimodal.digits.digits_clip`; the digit nine and its name
are held out of training). We draw the cosine similarities between ten test
images and the ten class prompts, then measure zero-shot accuracy honestly: with
the training templates, with templates never seen in training, and on the
held-out digit.
"""

# %%
# Image-text similarities
# -----------------------
import matplotlib.pyplot as plt
import torch
from torch.nn import functional as F

from fmref.models.vit import digits_split
from fmref.multimodal.digits import (
    DIGIT_NAMES,
    HELD_OUT_DIGIT,
    TRAIN_TEMPLATES,
    UNSEEN_TEMPLATES,
    digits_clip,
    digits_tokenizer,
    zero_shot_accuracy,
)

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

model, info = digits_clip()
tok = digits_tokenizer()
_, _, x_test, y_test = digits_split()
first = torch.stack([(y_test == k).nonzero()[0, 0] for k in range(10)])  # one test image per digit
prompts = tok.encode([f"a photo of the digit {name}" for name in DIGIT_NAMES], 10)
with torch.no_grad():
    img = F.normalize(model.encode_image(x_test[first]), dim=-1)  # (10, 32)
    txt = F.normalize(model.encode_text(prompts), dim=-1)  # (10, 32)
sim = img @ txt.T  # (10 images, 10 prompts)

fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), gridspec_kw={"width_ratios": [1, 3]})
axes[0].imshow(torch.cat(list(x_test[first, 0]), dim=0), cmap="gray_r")
axes[0].set_xticks([])
axes[0].set_yticks([4 + 8 * k for k in range(10)], [f"image {k}" for k in range(10)])
axes[0].set_title("test images")
im = axes[1].imshow(sim, cmap="viridis")
axes[1].set_xticks(range(10), DIGIT_NAMES, rotation=45)
axes[1].set_yticks(range(10), [f"image of {k}" for k in range(10)])
axes[1].set_xlabel('prompt "a photo of the digit ..."')
axes[1].set_ylabel("test image")
fig.colorbar(im, ax=axes[1], label="cosine similarity")
axes[1].set_title("Most matching pairs light the diagonal; the held-out nine has none")
fig.tight_layout()
plt.show()

# %%
# Zero-shot accuracy, measured honestly
# -------------------------------------
# Test images of the nine trained digits, classified among all ten prompts; then
# the held-out digit's test images alone.
seen = y_test != HELD_OUT_DIGIT
results = {
    "training templates": zero_shot_accuracy(
        model, tok, x_test[seen], y_test[seen], TRAIN_TEMPLATES
    ),
    "unseen templates": zero_shot_accuracy(
        model, tok, x_test[seen], y_test[seen], UNSEEN_TEMPLATES
    ),
    "held-out digit 9": zero_shot_accuracy(
        model, tok, x_test[~seen], y_test[~seen], TRAIN_TEMPLATES
    ),
}
for name, acc in results.items():
    print(f"zero-shot accuracy, {name:<20}: {acc:.3f}")
print(f"final learned temperature 1/exp(t) = {1 / torch.tensor(info['logit_scale'][-1]).exp():.3f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
axes[0].bar(list(results), list(results.values()), color=["tab:blue", "tab:green", "tab:red"])
axes[0].axhline(0.1, color="gray", ls="--", label="chance (10 classes)")
axes[0].set_ylabel("zero-shot accuracy")
axes[0].set_ylim(0, 1)
axes[0].legend()
axes[0].set_title("New templates transfer; a new class does not")
axes[1].plot(range(1, len(info["loss"]) + 1), info["loss"], label="CLIP loss")
axes[1].axhline(torch.log(torch.tensor(64 / 9)).item(), color="gray", ls="--",
                label="ln(64 / 9): same-digit captions in a batch")  # fmt: skip
axes[1].set_xlabel("epoch")
axes[1].set_ylabel("training loss")
axes[1].legend()
axes[1].set_title("The loss falls toward the floor set by same-class pairs")
fig.tight_layout()
plt.show()
