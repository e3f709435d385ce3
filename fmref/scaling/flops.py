"""Training compute: the ``6 N D`` rule and a count from the architecture.

A forward pass spends about 2 FLOPs per parameter per token (one multiply and
one add in every matrix product); the backward pass spends about twice that
(the gradient with respect to the input and with respect to the weights), so a
training step costs about ``6 N`` FLOPs per token and a run ``C ≈ 6 N D``.
:func:`flops_per_token` counts the matrix products of a real configuration,
attention over the context included, so the rule can be checked.
"""

from __future__ import annotations

from fmref._validate import check_positive
from fmref.models.gpt import GPTConfig
from fmref.models.llama import LlamaConfig

__all__ = ["training_flops", "flops_per_token"]


def training_flops(n_params, n_tokens):
    """Training compute by the rule ``C = 6 N D``.

    Parameters
    ----------
    n_params : float
        Parameters ``N``.
    n_tokens : float
        Training tokens ``D``.

    Returns
    -------
    float
        FLOPs.

    Raises
    ------
    ValueError
        If ``n_params`` or ``n_tokens`` is not positive.
    TypeError
        If either is not a number.

    References
    ----------
    .. [1] Kaplan et al., "Scaling Laws for Neural Language Models", 2020, Section 2.1.

    Examples
    --------
    >>> from fmref.scaling.flops import training_flops
    >>> f"{training_flops(70e9, 1.4e12):.2e}"  # Chinchilla
    '5.88e+23'
    >>> f"{training_flops(175e9, 300e9):.2e}"  # GPT-3
    '3.15e+23'
    """
    return 6.0 * check_positive("n_params", n_params) * check_positive("n_tokens", n_tokens)


def flops_per_token(config, seq_len=None, training=True):
    """FLOPs per token of a GPT or LLaMA configuration, counted matrix by matrix.

    Per layer and token (width ``C``, context ``T``; 2 FLOPs per multiply-add):
    the query/key/value and output projections, the feed-forward matrices, and
    attention over the context: ``2 T d`` for the scores ``q·k`` and ``2 T d``
    for the weighted sum of values, where ``d`` is the total query width. The
    full ``T x T`` score matrix is counted, as a dense kernel computes it
    (Hoffmann et al., Appendix F, count the same way). Add the output head,
    ``2 C V``. Embedding look-ups, norms and softmax are left out: they are not
    matrix products and cost ``O(C)`` per token.

    A training step costs three forward passes' worth (forward, and a backward
    pass twice as expensive), so ``training=True`` multiplies by 3.

    Parameters
    ----------
    config : fmref.models.gpt.GPTConfig or fmref.models.llama.LlamaConfig
        The model.
    seq_len : int, optional
        Context length ``T``; default ``config.block_size`` (GPT) or
        ``config.max_seq_len`` (LLaMA).
    training : bool, default True
        Forward plus backward (``True``) or forward only (``False``).

    Returns
    -------
    int
        FLOPs per token.

    Raises
    ------
    TypeError
        If ``config`` is neither a ``GPTConfig`` nor a ``LlamaConfig``.
    ValueError
        If ``seq_len`` is not a positive int.

    References
    ----------
    .. [1] Kaplan et al., "Scaling Laws for Neural Language Models", 2020, Table 1.
    .. [2] Hoffmann et al., "Training Compute-Optimal Large Language Models",
       2022, Appendix F.

    Examples
    --------
    >>> from fmref.models.gpt import GPTConfig
    >>> from fmref.scaling.flops import flops_per_token
    >>> from fmref.scaling.params import count_parameters
    >>> config = GPTConfig()  # GPT-2 small, T = 1024
    >>> f = flops_per_token(config)
    >>> round(f / (6 * count_parameters(config)), 3)  # the 6N rule is close
    1.144
    >>> flops_per_token(config, training=False) * 3 == f
    True
    """
    if isinstance(config, GPTConfig):
        L, C, V = config.n_layer, config.n_embd, config.vocab_size
        q_width, kv_width, ffn = C, C, 8 * C * C  # c_fc and c_proj: 2 x C x 4C
        T = config.block_size if seq_len is None else seq_len
    elif isinstance(config, LlamaConfig):
        L, C, V = config.n_layers, config.dim, config.vocab_size
        q_width = config.n_heads * config.head_dim
        kv_width = config.n_kv_heads * config.head_dim
        ffn = 3 * C * config.hidden_dim  # w1, w3 (C -> F) and w2 (F -> C)
        T = config.max_seq_len if seq_len is None else seq_len
    else:
        raise TypeError(f"config must be a GPTConfig or a LlamaConfig, got {type(config).__name__}")
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"seq_len must be a positive int, got {seq_len!r}")
    projections = C * q_width + 2 * C * kv_width + q_width * C  # q, k, v, out weights
    attention = 2 * T * q_width  # scores q.k and the weighted sum of v (mult-adds)
    forward = 2 * (L * (projections + ffn + attention) + C * V)  # 2 FLOPs per mult-add
    return 3 * forward if training else forward
