"""In-context learning, shown on a tiny GPT trained on random functions.

Every training sequence is a fresh random function ``f`` from ``K`` symbols to
``K`` symbols, written as ``x₁ (x₁, f(x₁)) x₂ (x₂, f(x₂)) ...``: each input token is
followed by one token that names the pair, the demonstration. No function repeats, so
the weights cannot memorise any of them: the only way to predict ``f(x_i)`` is to
find an earlier pair with the same ``x`` *in the prompt* and copy its answer.
After training, the model infers functions it has never seen from the
demonstrations in its context, and its accuracy follows the best possible curve:
1 when ``x_i`` appeared before, ``1/K`` (a guess) when it did not. This is the
induction-head mechanism behind few-shot prompting (Olsson et al., 2022).

Tokens ``0 .. K-1`` are inputs ``x``; token ``K + x K + y`` is the pair ``(x, y)``.
(One token per pair lets a single attention layer do the look-up, which trains in
seconds; with ``x`` and ``y`` as separate tokens the model needs a two-layer
induction circuit and thousands of steps.)
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from fmref._validate import check_overrides, check_positive, check_positive_int
from fmref.models.gpt import GPT, GPTConfig
from fmref.train.loop import cosine_schedule, fit

__all__ = [
    "random_function_batch",
    "train_icl_model",
    "icl_accuracy",
    "copy_batch",
    "COPY_GPT_SETTINGS",
    "copy_gpt",
]


def random_function_batch(batch, n_pairs, n_symbols=8, generator=None):
    """Sequences of ``(x, f(x))`` pairs, one random function per sequence.

    Parameters
    ----------
    batch : int
        Sequences.
    n_pairs : int
        Pairs per sequence.
    n_symbols : int, default 8
        ``K``: size of the domain and of the range.
    generator : torch.Generator, optional
        Randomness.

    Returns
    -------
    tokens : torch.Tensor
        ``(batch, 2 * n_pairs)`` long: ``x`` in ``[0, K)`` at even positions, the
        pair ``K + x K + f(x)`` at odd positions.
    seen : torch.Tensor
        Bool ``(batch, n_pairs)``: whether ``x_i`` already appeared in an earlier pair.

    Raises
    ------
    ValueError
        If a size is not a positive int.

    Examples
    --------
    >>> import torch
    >>> from fmref.prompting.icl import random_function_batch
    >>> tokens, seen = random_function_batch(2, 5, n_symbols=4,
    ...                                      generator=torch.Generator().manual_seed(0))
    >>> tokens.shape, seen.shape
    (torch.Size([2, 10]), torch.Size([2, 5]))
    >>> x, pair = tokens[:, 0::2], tokens[:, 1::2] - 4
    >>> bool((x < 4).all() and torch.equal(pair // 4, x))  # each pair repeats its x
    True
    """
    for name, v in (("batch", batch), ("n_pairs", n_pairs), ("n_symbols", n_symbols)):
        check_positive_int(name, v)
    f = torch.randint(0, n_symbols, (batch, n_symbols), generator=generator)  # (B, K) tables
    x = torch.randint(0, n_symbols, (batch, n_pairs), generator=generator)  # (B, P)
    y = f.gather(1, x)  # (B, P)
    pairs = n_symbols + x * n_symbols + y  # (B, P) one token per demonstration
    tokens = torch.stack([x, pairs], dim=-1).reshape(batch, 2 * n_pairs)
    earlier = (x[:, :, None] == x[:, None, :]).tril(-1)  # (B, P, P): x_i == x_j with j < i
    return tokens, earlier.any(-1)


def _config(n_symbols, n_pairs):
    return GPTConfig(
        vocab_size=n_symbols + n_symbols**2, block_size=2 * n_pairs, n_layer=1, n_head=2, n_embd=48
    )


def _loss(model, tokens):
    logits = model(tokens[:, :-1])[:, 0::2]  # (B, P, V): predictions at the x positions
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1::2].reshape(-1))


def train_icl_model(n_symbols=8, n_pairs=12, steps=300, batch=32, lr=1e-2, seed=0, use_cache=True):
    """Train (or load from :mod:`fmref.zoo`'s cache) the tiny in-context learner.

    A 1-layer, 2-head GPT of width 48, trained with AdamW to predict each pair
    token from its input ``x`` on random-function sequences
    (:func:`random_function_batch`).

    Parameters
    ----------
    n_symbols : int, default 8
        ``K``.
    n_pairs : int, default 12
        Pairs per training sequence (the context is ``2 * n_pairs`` tokens).
    steps : int, default 300
        Optimiser steps.
    batch : int, default 32
        Sequences per step.
    lr : float, default 1e-2
        Peak learning rate (linear warm-up over 50 steps, then cosine decay).
    seed : int, default 0
        Seed of the initialisation and of the data.
    use_cache : bool, default True
        Load the trained weights from the cache if present, train and store them
        otherwise.

    Returns
    -------
    fmref.models.gpt.GPT
        The trained model, in eval mode.

    References
    ----------
    .. [1] Olsson et al., "In-context Learning and Induction Heads", 2022.
    .. [2] Garg et al., "What Can Transformers Learn In-Context? A Case Study
       of Simple Function Classes", NeurIPS 2022.

    Examples
    --------
    >>> from fmref.prompting.icl import train_icl_model
    >>> model = train_icl_model(n_symbols=4, n_pairs=4, steps=2, use_cache=False)
    >>> model.config.vocab_size, model.training  # 4 inputs and 16 pairs
    (20, False)
    """
    for name, v in (("n_symbols", n_symbols), ("n_pairs", n_pairs), ("steps", steps)):
        check_positive_int(name, v)
    check_positive_int("batch", batch)
    check_positive("lr", lr)
    settings = dict(
        n_symbols=n_symbols, n_pairs=n_pairs, steps=steps, batch=batch, lr=lr, seed=seed
    )

    def train():
        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        model = GPT(_config(n_symbols, n_pairs))
        fit(
            model,
            lambda step: random_function_batch(batch, n_pairs, n_symbols, g)[0],
            _loss,
            steps,
            lr=lambda step: cosine_schedule(step, min(50, steps), steps, lr, 0.0),
            weight_decay=0.01,
        )
        return model.state_dict()

    if use_cache:
        from fmref.zoo import cached

        state = cached("icl-gpt", settings, train)
    else:
        state = train()
    model = GPT(_config(n_symbols, n_pairs))
    model.load_state_dict(state)
    return model.eval()


@torch.no_grad()
def icl_accuracy(model, n_sequences=512, generator=None):
    """Accuracy of predicting ``f(x_i)`` at each pair position, on new random functions.

    Parameters
    ----------
    model : fmref.models.gpt.GPT
        From :func:`train_icl_model`.
    n_sequences : int, default 512
        Test sequences.
    generator : torch.Generator, optional
        Randomness of the test functions.

    Returns
    -------
    dict
        ``"by_position"``: accuracy at pair ``i`` (``i`` demonstrations before it),
        ``(n_pairs,)``; ``"seen"``/``"unseen"``: accuracy when ``x_i`` did / did
        not appear earlier in the context; ``"optimal"``: the best possible
        accuracy at each position, ``P(seen) + P(unseen) / K``.

    Examples
    --------
    >>> import torch
    >>> from fmref.prompting.icl import icl_accuracy, train_icl_model
    >>> model = train_icl_model(n_symbols=4, n_pairs=4, steps=2, use_cache=False)
    >>> acc = icl_accuracy(model, n_sequences=64)
    >>> acc["by_position"].shape, round(acc["optimal"][0].item(), 2)  # no demo: 1/K
    (torch.Size([4]), 0.25)
    """
    check_positive_int("n_sequences", n_sequences)
    k = int(round((model.config.vocab_size + 0.25) ** 0.5 - 0.5))  # V = K + K^2
    n_pairs = model.config.block_size // 2
    tokens, seen = random_function_batch(n_sequences, n_pairs, k, generator)
    x = tokens[:, 0::2]  # (N, P)
    logits = model(tokens[:, :-1])[:, 0::2, k:].reshape(n_sequences, n_pairs, k, k)
    guess = logits[torch.arange(n_sequences)[:, None], torch.arange(n_pairs), x]  # (N, P, K)
    correct = guess.argmax(-1) == (tokens[:, 1::2] - k) % k  # (N, P): compare f(x_i)
    positions = torch.arange(n_pairs, dtype=torch.float)
    p_seen = 1 - (1 - 1 / k) ** positions  # (P,) chance that x_i appeared among i demos
    return {
        "by_position": correct.float().mean(0),
        "seen": correct[seen].float().mean().item() if seen.any() else float("nan"),
        "unseen": correct[~seen].float().mean().item(),
        "optimal": p_seen + (1 - p_seen) / k,
    }


#: The separator token of :func:`copy_batch` (digits are tokens 0 to 9).
COPY_SEP = 10

#: Settings of :func:`copy_gpt`: digits to copy ``L``, AdamW steps, batch size,
#: learning rate, seed, and the GPT's depth, heads and width.
COPY_GPT_SETTINGS: dict = {
    "L": 7,
    "steps": 150,
    "batch": 32,
    "lr": 3e-3,
    "seed": 0,
    "n_layer": 1,
    "n_head": 2,
    "n_embd": 32,
}


def copy_batch(n, length=7, generator=None):
    """Copy-task sequences: ``length`` random digits, a separator (token 10), the same digits.

    Parameters
    ----------
    n : int
        Sequences.
    length : int, default 7
        Digits to copy.
    generator : torch.Generator, optional
        Randomness.

    Returns
    -------
    torch.Tensor
        ``(n, 2 * length + 1)`` long.

    Raises
    ------
    ValueError
        If a size is not a positive int.

    Examples
    --------
    >>> import torch
    >>> from fmref.prompting.icl import copy_batch
    >>> copy_batch(1, 3, torch.Generator().manual_seed(0)).tolist()
    [[4, 9, 3, 10, 4, 9, 3]]
    """
    n, length = check_positive_int("n", n), check_positive_int("length", length)
    digits = torch.randint(0, 10, (n, length), generator=generator)  # (B, L)
    return torch.cat([digits, torch.full((n, 1), COPY_SEP), digits], dim=1)  # (B, 2L + 1)


def copy_gpt(**overrides):
    """A small GPT trained to copy digits after a separator, trained once and cached.

    Sequences come from :func:`copy_batch`; the cross-entropy is taken only on
    the copy, where each next token is fully determined by the first half, so
    the heads learn to look back ``L`` places (the gallery's attention heatmaps).
    AdamW with weight decay 0.01, on one thread.

    Parameters
    ----------
    **overrides
        Settings to change from :data:`COPY_GPT_SETTINGS` (e.g. ``steps=2``
        for a quick test); a different setting is a different cached model.

    Returns
    -------
    (fmref.models.gpt.GPT, dict)
        The model in eval mode (vocabulary of 11: digits and the separator,
        block size 16) and the history ``{"loss": [...]}`` (one loss per step).

    Raises
    ------
    ValueError
        If an override names an unknown setting.

    Examples
    --------
    >>> from fmref.prompting.icl import copy_gpt
    >>> model, history = copy_gpt(steps=2, n_embd=8)
    >>> model.config.vocab_size, model.config.block_size, len(history["loss"])
    (11, 16, 2)
    """
    from fmref.zoo import cached, one_thread

    s = check_overrides("overrides", overrides, COPY_GPT_SETTINGS)
    config = GPTConfig(
        vocab_size=11, block_size=16, n_layer=s["n_layer"], n_head=s["n_head"], n_embd=s["n_embd"]
    )
    L = s["L"]

    @one_thread()  # the result must not depend on the caller's thread count
    @torch.enable_grad()  # the caller may be inside torch.no_grad()
    def train():
        torch.manual_seed(s["seed"])
        model = GPT(config)
        g = torch.Generator().manual_seed(s["seed"])

        def loss_fn(model, seq):  # scored on the copy only
            logits = model(seq[:, :-1])  # (B, 2L, vocab)
            return F.cross_entropy(logits[:, L:].reshape(-1, 11), seq[:, L + 1 :].reshape(-1))

        history = fit(
            model,
            lambda step: copy_batch(s["batch"], L, g),
            loss_fn,
            s["steps"],
            lr=s["lr"],
            weight_decay=0.01,
        )
        return {"state_dict": model.state_dict(), "losses": history["loss"]}

    result = cached("attention-copy-gpt", {**s, **vars(config)}, train)
    model = GPT(config)
    model.load_state_dict(result["state_dict"])
    return model.eval(), {"loss": result["losses"]}
