"""
Three pretraining objectives, token by token
============================================

One sentence, three ways to turn it into a prediction task. A causal language
model (GPT) predicts every token from the tokens to its left. A masked language
model (BERT) sees the whole sentence with about 15% of its tokens corrupted and
predicts the originals there: 80% of the chosen tokens become ``[MASK]``, 10%
a random token, 10% stay as they are. Span corruption (T5) drops whole spans
(here of 1.5 tokens on average, to fit a short sentence; T5 uses 3),
puts a sentinel where each was, and asks a decoder to write the spans out.
The figure colours what the model reads and what it must predict; a last
figure checks BERT's 80/10/10 rule on a hundred thousand tokens.
"""

# %%
# Tokens of one sentence
# ----------------------
# A small byte-level BPE trained on the Python documentation, with the special
# tokens the objectives need: ``[MASK]`` and T5-style sentinels.
import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Patch

from fmref.text.bpe import BPETokenizer
from fmref.text.corpus import python_docs
from fmref.train.objectives import mask_tokens, merge_spans, span_corruption

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes

specials = ["[MASK]"] + [f"<extra_id_{i}>" for i in range(8)]
tok = BPETokenizer.train(python_docs("train"), vocab_size=2048, special_tokens=specials)
mask_id = tok.special_tokens["[MASK]"]
sentinels = [tok.special_tokens[f"<extra_id_{i}>"] for i in range(8)]
text = "The while statement is used for repeated execution as long as an expression is true."
ids = torch.tensor(tok.encode(text))  # (T,)
print(len(ids), "tokens:", [tok.decode([i]) for i in ids.tolist()])


def show(ax, pieces, colors, title):
    """Draw one row of tokens as coloured boxes, one box per token."""
    ax.set_xlim(0, len(ids))
    ax.set_ylim(0, 1)
    ax.axis("off")
    ax.set_title(title, loc="left", fontsize=10)
    for x, (piece, color) in enumerate(zip(pieces, colors)):
        label = piece.strip() or "␣"
        label = label.replace("<extra_id_", "<X").replace(">", ">")
        if len(label) > 7:
            label = label[:6] + "…"
        ax.add_patch(plt.Rectangle((x + 0.04, 0.1), 0.92, 0.8, color=color, ec="white"))
        ax.text(x + 0.5, 0.5, label, ha="center", va="center", fontsize=7)


GREY, BLUE, ORANGE, GREEN, RED, PURPLE = (
    "#dddddd",
    "#8fb3e0",
    "#f2b26b",
    "#9bd49b",
    "#e58c8c",
    "#c6a7e0",
)

# %%
# Causal, masked and span corruption side by side
# -----------------------------------------------
g = torch.Generator().manual_seed(3)
inputs, labels = mask_tokens(
    ids,
    mask_id,
    tok.vocab_size,
    mlm_probability=0.15,
    special_ids=[mask_id, *sentinels],
    generator=g,
)
span_in, span_out = span_corruption(
    ids,
    sentinels,
    noise_density=0.15,
    mean_span_length=1.5,
    generator=torch.Generator().manual_seed(0),
)
print("span input: ", [tok.decode([i]) for i in span_in.tolist()])
print("span target:", [tok.decode([i]) for i in span_out.tolist()])
assert torch.equal(merge_spans(span_in, span_out, sentinels), ids)

fig, axes = plt.subplots(5, 1, figsize=(11, 5.2))
words = [tok.decode([i]) for i in ids.tolist()]
show(
    axes[0],
    words,
    [BLUE] * (len(words) - 1) + [GREY],
    "Causal LM: every token but the last predicts the next one (blue)",
)
mlm_colors = []
for orig, new, lab in zip(ids.tolist(), inputs.tolist(), labels.tolist()):
    if lab == -100:
        mlm_colors.append(GREY)
    elif new == mask_id:
        mlm_colors.append(ORANGE)
    elif new != orig:
        mlm_colors.append(RED)
    else:
        mlm_colors.append(GREEN)
show(
    axes[1],
    [tok.decode([i]) for i in inputs.tolist()],
    mlm_colors,
    "Masked LM input: predict the original at the coloured positions",
)
show(
    axes[2],
    words,
    [GREY if lab == -100 else PURPLE for lab in labels.tolist()],
    "Masked LM targets (the original tokens)",
)
show(
    axes[3],
    [tok.decode([i]) for i in span_in.tolist()],
    [PURPLE if i in sentinels else GREY for i in span_in.tolist()],
    "Span corruption input: a sentinel replaces each dropped span",
)
show(
    axes[4],
    [tok.decode([i]) for i in span_out.tolist()],
    [PURPLE if i in sentinels else BLUE for i in span_out.tolist()],
    "Span corruption target: each sentinel, then the span it replaced",
)
fig.legend(
    handles=[
        Patch(color=ORANGE, label="[MASK] (80%)"),
        Patch(color=RED, label="random token (10%)"),
        Patch(color=GREEN, label="kept (10%)"),
        Patch(color=PURPLE, label="sentinel / target"),
    ],
    loc="lower center",
    ncol=4,
    fontsize=8,
    frameon=False,
)
fig.suptitle("The same sentence under three pretraining objectives")
fig.tight_layout(rect=(0, 0.05, 1, 0.97))
plt.show()

# %%
# BERT's 80/10/10 rule on many tokens
# -----------------------------------
# On 100,000 tokens the shares come out as designed; a position counts as
# "kept" also when the random replacement happens to draw the original token.
tokens = torch.randint(10, tok.vocab_size, (200, 500), generator=torch.Generator().manual_seed(0))
inp, lab = mask_tokens(tokens, mask_id, tok.vocab_size, generator=torch.Generator().manual_seed(1))
sel = lab != -100
shares = {
    "selected": sel.float().mean().item(),
    "[MASK]": ((inp == mask_id) & sel).sum().item() / sel.sum().item(),
    "random": ((inp != mask_id) & (inp != tokens) & sel).sum().item() / sel.sum().item(),
    "kept": ((inp == tokens) & sel).sum().item() / sel.sum().item(),
}
print({k: round(v, 4) for k, v in shares.items()})
fig, ax = plt.subplots(figsize=(6, 3.5))
names = list(shares)
ax.bar(names, [shares[n] for n in names], color=[GREY, ORANGE, RED, GREEN])
ax.bar(
    names,
    [0.15, 0.8, 0.1, 0.1],
    fill=False,
    edgecolor="black",
    linestyle="--",
    label="design: 15% selected; 80/10/10 of them",
)
ax.set_ylabel("fraction")
ax.set_title("Measured shares match BERT's 15% and 80/10/10")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
