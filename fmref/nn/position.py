"""Position information for attention: sinusoidal, rotary (RoPE) and ALiBi.

Attention is permutation-equivariant: without positions, "dog bites man" and
"man bites dog" give the same multiset of outputs. The three schemes here add
position in three places: to the input (sinusoidal), to the angle of q and k
(RoPE), or to the scores (ALiBi).
"""

from __future__ import annotations

import math

import torch

from fmref._validate import (
    check_in,
    check_int,
    check_number,
    check_positive,
    check_positive_int,
)

__all__ = [
    "sinusoidal_positions",
    "ROPE_SCALING_KEYS",
    "rope_inv_freq",
    "rope_angles",
    "apply_rope",
    "apply_rope_interleaved",
    "alibi_slopes",
    "alibi_bias",
]


def sinusoidal_positions(max_len, d_model):
    """Sinusoidal position encodings of the original Transformer.

    ``PE[p, 2i] = sin(p / 10000^(2i/d_model))`` and
    ``PE[p, 2i+1] = cos(p / 10000^(2i/d_model))``.

    Parameters
    ----------
    max_len : int
        Number of positions.
    d_model : int
        Encoding width (an odd width gets one more sine than cosine column).

    Returns
    -------
    torch.Tensor
        Encodings of shape ``(max_len, d_model)``.

    Raises
    ------
    ValueError
        If ``max_len`` or ``d_model`` is not a positive int.

    References
    ----------
    .. [1] Vaswani et al., "Attention Is All You Need", NeurIPS 2017, section 3.5.

    Examples
    --------
    >>> from fmref.nn.position import sinusoidal_positions
    >>> pe = sinusoidal_positions(50, 8)
    >>> pe.shape
    torch.Size([50, 8])
    >>> pe[0]  # position 0: sin 0 = 0, cos 0 = 1
    tensor([0., 1., 0., 1., 0., 1., 0., 1.])
    >>> round(pe[1, 0].item(), 4)  # sin(1)
    0.8415
    """
    for name, value in (("max_len", max_len), ("d_model", d_model)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    pos = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)  # (max_len, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)  # (ceil(d/2),)
    freq = torch.exp(-math.log(10000.0) * two_i / d_model)  # 1 / 10000^(2i/d)
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: d_model // 2])
    return pe


ROPE_SCALING_KEYS = {
    "linear": ("factor",),
    "dynamic": ("factor", "max_position_embeddings"),
    "yarn": ("factor", "original_max_position_embeddings"),
    "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
}
"""The keys each ``rope_type`` requires (transformers' ``rope_parameters`` names)."""


def _check_scaling(scaling):
    """The validated scaling dict (``rope_type`` and its required keys)."""
    if not isinstance(scaling, dict):
        raise TypeError(f"scaling must be a dict or None, got {type(scaling).__name__}")
    rope_type = scaling.get("rope_type")
    if rope_type in (None, "default"):
        return None
    check_in("scaling['rope_type']", rope_type, tuple(ROPE_SCALING_KEYS))
    for key in ROPE_SCALING_KEYS[rope_type]:
        if key not in scaling:
            raise ValueError(f"scaling['{key}'] is required for rope_type={rope_type!r}")
    check_number("scaling['factor']", scaling["factor"], low=1.0, low_open=True)
    for key in ("max_position_embeddings", "original_max_position_embeddings"):
        if key in ROPE_SCALING_KEYS[rope_type]:
            check_positive_int(f"scaling['{key}']", scaling[key])
    if rope_type == "llama3":
        low = check_positive("scaling['low_freq_factor']", scaling["low_freq_factor"])
        high = check_number("scaling['high_freq_factor']", scaling["high_freq_factor"])
        if high <= low:
            raise ValueError(
                f"scaling['high_freq_factor'] must exceed low_freq_factor={low}, got {high}"
            )
    if rope_type == "yarn":
        fast = scaling.get("beta_fast") or 32
        slow = scaling.get("beta_slow") or 1
        fast = check_positive("scaling['beta_fast']", fast)
        if fast < check_positive("scaling['beta_slow']", slow):
            raise ValueError(f"scaling['beta_fast'] must be >= beta_slow={slow}, got {fast}")
        if scaling.get("attention_factor") is not None:
            check_positive("scaling['attention_factor']", scaling["attention_factor"])
    return scaling


def rope_inv_freq(d_head, theta=10000.0, scaling=None, seq_len=None):
    """RoPE frequencies, optionally rescaled for a context longer than the training one.

    Pair ``i`` of a head of size ``d`` turns by ``inv_freq[i] = theta^(-2i/d)``
    radians per position. Past the training length the slow pairs meet angles
    they never saw; each ``rope_type`` changes the frequencies so that they do not:

    - ``"linear"``, position interpolation (Chen et al. 2023): every frequency
      divided by ``factor`` (positions squeezed into the trained range).
    - ``"dynamic"``, dynamic NTK scaling: the base grows with the sequence,
      ``theta * (factor * seq_len / max_position_embeddings - (factor - 1))^(d / (d - 2))``
      once ``seq_len`` exceeds ``max_position_embeddings`` (fast pairs barely move,
      the slowest is interpolated).
    - ``"yarn"`` (Peng et al. 2023): pairs that turn more than ``beta_fast`` times
      over the original context keep their frequency, pairs that turn fewer than
      ``beta_slow`` times are divided by ``factor``, a linear ramp in between; and
      an ``attention_factor`` ``0.1 ln(factor) + 1`` that multiplies cos and sin
      (so the logits by its square).
    - ``"llama3"``: wavelengths shorter than ``original / high_freq_factor`` kept,
      longer than ``original / low_freq_factor`` divided by ``factor``, smoothly
      blended between.

    The formulas are those of transformers' ``ROPE_INIT_FUNCTIONS``, with the same
    key names (``rope_parameters`` of a transformers config).

    Parameters
    ----------
    d_head : int
        Size of one attention head; must be even.
    theta : float, default 10000.0
        Base of the frequencies.
    scaling : dict, optional
        ``{"rope_type": ..., "factor": ...}`` and the keys of that type
        (:data:`ROPE_SCALING_KEYS`): ``max_position_embeddings`` (dynamic);
        ``original_max_position_embeddings`` and optional ``beta_fast`` (32),
        ``beta_slow`` (1), ``attention_factor``, ``mscale``, ``mscale_all_dim``,
        ``truncate`` (True) (yarn); ``low_freq_factor``, ``high_freq_factor``,
        ``original_max_position_embeddings`` (llama3). ``None`` or
        ``rope_type="default"``: no scaling.
    seq_len : int, optional
        Current sequence length, used by ``"dynamic"`` only (default: no growth).

    Returns
    -------
    inv_freq : torch.Tensor
        ``(d_head // 2,)`` float32 radians per position.
    attention_factor : float
        Multiplier of cos and sin (1.0 except for YaRN).

    Raises
    ------
    ValueError
        If ``d_head`` is odd, ``theta`` is not positive, ``rope_type`` is unknown,
        a required key is missing, ``factor`` is not above 1, or
        ``high_freq_factor <= low_freq_factor``.
    TypeError
        If ``scaling`` is not a dict.

    References
    ----------
    .. [1] Chen et al., "Extending Context Window of Large Language Models via
       Positional Interpolation", 2023.
    .. [2] Peng et al., "YaRN: Efficient Context Window Extension of Large
       Language Models", ICLR 2024.
    .. [3] Grattafiori et al., "The Llama 3 Herd of Models", 2024.

    Examples
    --------
    >>> from fmref.nn.position import rope_inv_freq
    >>> inv, af = rope_inv_freq(8)
    >>> [round(f, 4) for f in inv.tolist()], af
    ([1.0, 0.1, 0.01, 0.001], 1.0)
    >>> inv, af = rope_inv_freq(8, scaling={"rope_type": "linear", "factor": 4.0})
    >>> [round(f, 6) for f in inv.tolist()]
    [0.25, 0.025, 0.0025, 0.00025]
    >>> yarn = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64}
    >>> inv, af = rope_inv_freq(8, scaling=yarn)
    >>> [round(f, 6) for f in inv.tolist()], round(af, 4)  # fast kept, slow / 4, ramp between
    ([1.0, 0.0625, 0.0025, 0.00025], 1.1386)
    >>> rope_inv_freq(8, scaling={"rope_type": "linear", "factor": 1.0})
    Traceback (most recent call last):
    ...
    ValueError: scaling['factor'] must be a finite number > 1.0, got 1.0
    """
    d_head = check_positive_int("d_head", d_head)
    if d_head % 2:
        raise ValueError(f"d_head must be a positive even int, got {d_head!r}")
    theta = check_positive("theta", theta)
    scaling = None if scaling is None else _check_scaling(scaling)
    exponents = torch.arange(0, d_head, 2, dtype=torch.int64).float() / d_head  # (d/2,) 2i/d
    inv_freq = 1.0 / theta**exponents  # (d/2,)
    if scaling is None:
        return inv_freq, 1.0
    kind, factor = scaling["rope_type"], float(scaling["factor"])
    if kind == "linear":
        return inv_freq / factor, 1.0
    if kind == "dynamic":
        trained = scaling["max_position_embeddings"]
        length = trained if seq_len is None else check_positive_int("seq_len", seq_len)
        length = max(length, trained)  # no change within the trained length
        base = theta * (factor * length / trained - (factor - 1)) ** (d_head / (d_head - 2))
        return 1.0 / base**exponents, 1.0
    if kind == "yarn":
        return _yarn(d_head, theta, factor, scaling)
    return _llama3(inv_freq, factor, scaling), 1.0


def _yarn(d_head, theta, factor, scaling):
    """YaRN's blend of interpolated and kept frequencies (Peng et al. 2023, eq. 17-20)."""
    original = scaling["original_max_position_embeddings"]
    attention_factor = scaling.get("attention_factor")
    if attention_factor is None:

        def mscale(scale, m=1.0):
            return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

        m, m_all = scaling.get("mscale"), scaling.get("mscale_all_dim")
        attention_factor = mscale(factor)
        if m and m_all:
            attention_factor = mscale(factor, m) / mscale(factor, m_all)
    beta_fast, beta_slow = scaling.get("beta_fast") or 32, scaling.get("beta_slow") or 1

    def dim_of(rotations):  # the pair index that turns `rotations` times over `original`
        return d_head * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(theta))

    low, high = dim_of(beta_fast), dim_of(beta_slow)
    if scaling.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, d_head - 1)
    if low == high:
        high += 0.001  # transformers' guard against a zero-width ramp
    ramp = ((torch.arange(d_head // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
    keep = 1 - ramp  # 1: extrapolate (keep the frequency), 0: interpolate (divide by factor)
    pos_freqs = theta ** (torch.arange(0, d_head, 2).float() / d_head)  # (d/2,)
    inv_freq = (1.0 / (factor * pos_freqs)) * (1 - keep) + (1.0 / pos_freqs) * keep
    return inv_freq, float(attention_factor)


def _llama3(inv_freq, factor, scaling):
    """Llama 3.1's piecewise rescaling by wavelength."""
    original = scaling["original_max_position_embeddings"]
    low_f, high_f = scaling["low_freq_factor"], scaling["high_freq_factor"]
    low_wavelen, high_wavelen = original / low_f, original / high_f
    wavelen = 2 * math.pi / inv_freq  # (d/2,) positions per turn
    scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (original / wavelen - low_f) / (high_f - low_f)  # 0 at low_wavelen, 1 at high_wavelen
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
    return torch.where(medium, smoothed, scaled)


def rope_angles(d_head, max_len, theta=10000.0, scaling=None):
    """Rotation angles of rotary position embeddings (RoPE).

    Pair ``i`` of position ``p`` turns by ``p * theta^(-2i/d_head)``.

    Parameters
    ----------
    d_head : int
        Size of one attention head; must be even.
    max_len : int
        Number of positions.
    theta : float, default 10000.0
        Base of the frequencies (Llama 3 uses 500000).
    scaling : dict, optional
        A RoPE scaling of :func:`rope_inv_freq` (``"dynamic"`` is computed for a
        sequence of ``max_len`` tokens). Its ``attention_factor`` is not applied
        here: take it from :func:`rope_inv_freq`.

    Returns
    -------
    torch.Tensor
        Angles of shape ``(max_len, d_head // 2)`` (float32).

    Raises
    ------
    ValueError
        If ``d_head`` is odd or not positive, ``max_len`` is negative, or
        ``scaling`` is invalid (see :func:`rope_inv_freq`).

    References
    ----------
    .. [1] Su et al., "RoFormer: Enhanced Transformer with Rotary Position
       Embedding", 2021.

    Examples
    --------
    >>> from fmref.nn.position import rope_angles
    >>> rope_angles(4, 3)  # frequencies 1 and 1/100
    tensor([[0.0000, 0.0000],
            [1.0000, 0.0100],
            [2.0000, 0.0200]])
    >>> rope_angles(4, 3, scaling={"rope_type": "linear", "factor": 2.0})  # half the angles
    tensor([[0.0000, 0.0000],
            [0.5000, 0.0050],
            [1.0000, 0.0100]])
    """
    if not isinstance(d_head, int) or d_head < 2 or d_head % 2:
        raise ValueError(f"d_head must be a positive even int, got {d_head!r}")
    if not isinstance(max_len, int) or max_len < 0:
        raise ValueError(f"max_len must be a non-negative int, got {max_len!r}")
    inv_freq, _ = rope_inv_freq(d_head, theta, scaling, seq_len=max(max_len, 1))
    pos = torch.arange(max_len, dtype=torch.float32)
    return torch.outer(pos, inv_freq)  # (max_len, d_head // 2)


def _check_rope(x, angles):
    if x.shape[-1] != 2 * angles.shape[-1]:
        raise ValueError(
            f"angles must have shape (T, {x.shape[-1] // 2}) for d_head={x.shape[-1]}, "
            f"got {tuple(angles.shape)}"
        )
    if angles.shape[-2] != x.shape[-2]:
        raise ValueError(
            f"angles must have one row per position (T={x.shape[-2]}), got {angles.shape[-2]}"
        )


def apply_rope(x, angles):
    """Rotate ``x`` by RoPE angles, rotate-half convention (GPT-NeoX, transformers).

    Feature ``j`` is paired with feature ``j + d_head/2``:
    ``x * cos + rotate_half(x) * sin`` with ``rotate_half(x) = [-x2, x1]``.

    Parameters
    ----------
    x : torch.Tensor
        Queries or keys ``(..., T, d_head)``.
    angles : torch.Tensor
        ``(T, d_head // 2)``, rows of :func:`rope_angles` for these positions.

    Returns
    -------
    torch.Tensor
        Rotated tensor, same shape and dtype as ``x``.

    Raises
    ------
    ValueError
        If ``angles`` does not have shape ``(T, d_head // 2)``.

    References
    ----------
    .. [1] Su et al., "RoFormer", 2021.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.position import apply_rope, rope_angles
    >>> x = torch.tensor([[1.0, 0.0, 0.0, 0.0]]).repeat(3, 1)  # (T=3, d_head=4)
    >>> apply_rope(x, rope_angles(4, 3))[:, [0, 2]]  # (cos p, sin p) in pair 0
    tensor([[ 1.0000,  0.0000],
            [ 0.5403,  0.8415],
            [-0.4161,  0.9093]])
    """
    _check_rope(x, angles)
    cos = torch.cat([angles.cos(), angles.cos()], dim=-1).to(x.dtype)  # (T, d_head)
    sin = torch.cat([angles.sin(), angles.sin()], dim=-1).to(x.dtype)
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    rotated = torch.cat([-x2, x1], dim=-1)  # rotate_half(x)
    return x * cos + rotated * sin


def apply_rope_interleaved(x, angles):
    """Rotate ``x`` by RoPE angles, interleaved-pairs convention (Meta's LLaMA code).

    Features ``(2i, 2i+1)`` form pair ``i``. It equals :func:`apply_rope` after
    the permutation that puts even features first and odd features second, which
    is why transformers permutes the q/k weights when converting Meta checkpoints.

    Parameters
    ----------
    x : torch.Tensor
        ``(..., T, d_head)``.
    angles : torch.Tensor
        ``(T, d_head // 2)``.

    Returns
    -------
    torch.Tensor
        Rotated tensor, same shape as ``x``.

    Raises
    ------
    ValueError
        If ``angles`` does not have shape ``(T, d_head // 2)``.

    References
    ----------
    .. [1] Touvron et al., "LLaMA", 2023 (the ``apply_rotary_emb`` of Meta's code).

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.position import apply_rope, apply_rope_interleaved, rope_angles
    >>> x, a = torch.randn(5, 8), rope_angles(8, 5)
    >>> perm = torch.cat([torch.arange(0, 8, 2), torch.arange(1, 8, 2)])  # evens, odds
    >>> torch.allclose(apply_rope_interleaved(x, a)[:, perm], apply_rope(x[:, perm], a), atol=1e-6)
    True
    """
    _check_rope(x, angles)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)  # (T, d_head // 2)
    x_even, x_odd = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x_even * cos - x_odd * sin
    out[..., 1::2] = x_even * sin + x_odd * cos
    return out


def alibi_slopes(n_heads):
    """Head slopes of ALiBi, exactly as the paper's reference code computes them.

    For ``n`` a power of two the slopes are ``2^(-8/n), 2^(-16/n), ..., 2^(-8)``.
    Otherwise take those of the closest smaller power of two ``p`` and add every
    other slope of ``2p`` heads until there are ``n``.

    Parameters
    ----------
    n_heads : int
        Number of attention heads.

    Returns
    -------
    torch.Tensor
        Slopes ``(n_heads,)``, float32.

    Raises
    ------
    ValueError
        If ``n_heads`` is not a positive int.

    References
    ----------
    .. [1] Press, Smith and Lewis, "Train Short, Test Long: Attention with Linear
       Biases Enables Input Length Extrapolation", ICLR 2022.

    Examples
    --------
    >>> from fmref.nn.position import alibi_slopes
    >>> alibi_slopes(8).tolist()
    [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625]
    >>> [round(s, 4) for s in alibi_slopes(6).tolist()]
    [0.25, 0.0625, 0.0156, 0.0039, 0.5, 0.125]
    """
    if not isinstance(n_heads, int) or n_heads < 1:
        raise ValueError(f"n_heads must be a positive int, got {n_heads!r}")

    def power_of_2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))  # = 2^(-8/n)
        return [start * start**i for i in range(n)]

    def slopes(n):
        if math.log2(n).is_integer():
            return power_of_2(n)
        closest = 2 ** math.floor(math.log2(n))
        return power_of_2(closest) + slopes(2 * closest)[0::2][: n - closest]

    return torch.tensor(slopes(n_heads), dtype=torch.float32)


def alibi_bias(n_heads, t_q, t_k):
    """ALiBi score bias ``-m_h * |i - j|`` for every head, query and key.

    Queries are aligned bottom-right (query ``i`` is at position ``t_k - t_q + i``).
    For keys at or before the query this is the paper's ``m_h * (j - i)``; keys in
    the future (which a causal mask removes) get the symmetric penalty.

    Parameters
    ----------
    n_heads : int
        Number of heads.
    t_q : int
        Number of queries.
    t_k : int
        Number of keys.

    Returns
    -------
    torch.Tensor
        Float bias ``(n_heads, t_q, t_k)`` to add to the scores (``attn_mask``).

    Raises
    ------
    ValueError
        If ``n_heads`` is not a positive int.

    References
    ----------
    .. [1] Press, Smith and Lewis, "Train Short, Test Long", ICLR 2022.

    Examples
    --------
    >>> from fmref.nn.position import alibi_bias
    >>> alibi_bias(2, 3, 3)[0]  # slope 1/16 for head 0 of 2
    tensor([[-0.0000, -0.0625, -0.1250],
            [-0.0625, -0.0000, -0.0625],
            [-0.1250, -0.0625, -0.0000]])
    """
    check_int("t_q", t_q, low=0)
    check_int("t_k", t_k, low=0)
    slopes = alibi_slopes(n_heads)  # (H,)
    i = torch.arange(t_q).unsqueeze(1) + (t_k - t_q)  # (Tq, 1) absolute
    j = torch.arange(t_k).unsqueeze(0)  # (1, Tk)
    distance = (i - j).abs().float()  # (Tq, Tk)
    return -slopes[:, None, None] * distance  # (H, Tq, Tk)
