"""
Attention weights as heatmaps
=============================

Attention turns each token into a weighted average of the others; the weights
form a ``(T, T)`` matrix whose row ``i`` says where token ``i`` looks. We draw
that matrix twice: for a sentence whose query and key projections are set by
hand, so that we know in advance what the weights should show, and for a small
:class:`~fmref.models.gpt.GPT` trained in a few seconds to copy a sequence,
whose heads learn to look exactly where the next token to copy sits.
"""

# %%
# A hand-built sentence
# ---------------------
# Each word gets a one-hot vector of grammatical features. Attention scores are
# ``q_i · k_j = f_i W_q W_k^T f_j^T``: with ``W_k`` the identity, ``W_q`` alone
# says which feature of the query looks for which feature of the key. We let
# pronouns look for animate nouns, verbs for nouns, and the adjective for the
# pronoun it describes.
import matplotlib.pyplot as plt
import torch

from fmref.nn.attention import attention_weights

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

features = ["det", "noun", "animate", "verb", "prep", "pronoun", "conj", "adj"]
F_ = {name: i for i, name in enumerate(features)}
words = {
    "the": ["det"],
    "cat": ["noun", "animate"],
    "sat": ["verb"],
    "on": ["prep"],
    "mat": ["noun"],
    "because": ["conj"],
    "it": ["pronoun"],
    "was": ["verb"],
    "tired": ["adj"],
}
sentence = "the cat sat on the mat because it was tired".split()
x = torch.zeros(len(sentence), len(features))  # (T, n_features)
for t, word in enumerate(sentence):
    for f in words[word]:
        x[t, F_[f]] = 1.0

w_q = torch.zeros(len(features), len(features))  # which key feature each query feature seeks
w_q[F_["pronoun"], F_["animate"]] = 4.0
w_q[F_["verb"], F_["noun"]] = 2.0
w_q[F_["adj"], F_["pronoun"]] = 4.0
w_q[F_["det"], F_["noun"]] = 1.0
q, k = x @ w_q, x  # W_k = identity
weights = attention_weights(q, k, scale=1.0)  # (T, T)

fig, ax = plt.subplots(figsize=(6.4, 5.4))
im = ax.imshow(weights, cmap="viridis", vmin=0, vmax=1)
ax.set_xticks(range(len(sentence)), sentence, rotation=45, ha="right")
ax.set_yticks(range(len(sentence)), sentence)
ax.set_xlabel("key (attended to)")
ax.set_ylabel("query (attending)")
it = sentence.index("it")
ax.set_title(f"'it' puts {weights[it, 1]:.0%} of its weight on 'cat'", fontsize=11)
fig.colorbar(im, ax=ax, label="attention weight")
fig.tight_layout()

# %%
# Both ``the`` rows are identical, and so are their outputs: attention alone is
# blind to order. The trained model below gets learned position embeddings.
#
# A small GPT trained to copy
# ---------------------------
# Sequences are 7 random digits, a separator, then the same 7 digits. The loss
# is taken only on the second half, where the next token is fully determined by
# the first half. One layer with two heads suffices; the trained weights are
# cached by :func:`fmref.zoo.cached`, so the model is trained once per fmref version.
from torch.nn import functional as F

from fmref.models.gpt import GPT, GPTConfig
from fmref.train.loop import fit
from fmref.zoo import cached

L, SEP = 7, 10
config = GPTConfig(vocab_size=11, block_size=16, n_layer=1, n_head=2, n_embd=32)
settings = dict(L=L, steps=150, batch=32, lr=3e-3, seed=0, **vars(config))


def copy_batch(n, generator):
    digits = torch.randint(0, 10, (n, L), generator=generator)  # (B, L)
    return torch.cat([digits, torch.full((n, 1), SEP), digits], dim=1)  # (B, 2L + 1)


def train():
    torch.set_num_threads(1)  # a model this small trains fastest on one thread
    torch.manual_seed(settings["seed"])
    model = GPT(config)
    g = torch.Generator().manual_seed(settings["seed"])

    def loss_fn(model, seq):  # scored on the copy only
        logits = model(seq[:, :-1])  # (B, 2L, vocab)
        return F.cross_entropy(logits[:, L:].reshape(-1, 11), seq[:, L + 1 :].reshape(-1))

    history = fit(
        model,
        lambda step: copy_batch(settings["batch"], g),
        loss_fn,
        settings["steps"],
        lr=settings["lr"],
        weight_decay=0.01,
    )
    torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
    return model.state_dict(), history["loss"]


state, losses = cached("attention-copy-gpt", settings, train)
model = GPT(config).eval()
model.load_state_dict(state)
print(f"copy loss: first step {losses[0]:.2f}, last step {losses[-1]:.3f}")

# %%
# To read the weights we capture the input of the attention layer with a
# forward hook and call it again with ``need_weights=True``.
captured = {}
hook = model.h[0].attn.register_forward_hook(lambda mod, args, out: captured.update(x=args[0]))
seq = copy_batch(1, torch.Generator().manual_seed(1))
with torch.no_grad():
    logits = model(seq[:, :-1])
    _, w = model.h[0].attn(captured["x"], is_causal=True, need_weights=True)  # (1, H, T, T)
hook.remove()
accuracy = (logits[0, L:].argmax(-1) == seq[0, L + 1 :]).float().mean().item()

labels = [str(t) for t in seq[0, :-1].tolist()]
labels[L] = "|"
fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
for head, ax in enumerate(axes):
    ax.imshow(w[0, head], cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("key position (token)")
    ax.set_ylabel("query position (token)")
    ax.set_title(f"head {head}")
fig.suptitle(
    "After training to copy, queries after '|' look back 7 places, at the digit to copy next "
    f"(copy accuracy {accuracy:.0%})",
    fontsize=10,
)
fig.tight_layout()
plt.show()
