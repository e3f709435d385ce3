"""Efficient attention: tiled (FlashAttention) attention, sparse patterns, linear attention.

:func:`tiled_attention` computes exact attention one ``tile_size x tile_size``
block of scores at a time with an *online softmax* (a running maximum and a
running normaliser per query), so the ``T x T`` score matrix never exists: the
extra memory is ``O(T d + tile_size^2)`` instead of ``O(T^2)``. The mask
functions build the sparse patterns of the Sparse Transformer and Longformer as
bool masks (``True`` = attend) for
:func:`fmref.nn.attention.scaled_dot_product_attention`; they show *which*
scores are kept, while a production kernel would also skip computing the rest.
:func:`linear_attention` replaces the softmax by a feature map so that the cost
grows linearly with ``T``.

References
----------
.. [1] Dao et al., "FlashAttention: Fast and memory-efficient exact attention
   with IO-awareness", NeurIPS 2022.
.. [2] Milakov and Gimelshein, "Online normalizer calculation for softmax", 2018.
.. [3] Child et al., "Generating long sequences with sparse Transformers", 2019.
.. [4] Beltagy et al., "Longformer: The long-document Transformer", 2020.
.. [5] Katharopoulos et al., "Transformers are RNNs: Fast autoregressive
   Transformers with linear attention", ICML 2020.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fmref._validate import check_positive_int
from fmref.nn.attention import causal_mask

__all__ = [
    "tiled_attention",
    "sliding_window_mask",
    "strided_mask",
    "fixed_mask",
    "global_tokens_mask",
    "linear_attention",
    "attention_memory_bytes",
]


def tiled_attention(q, k, v, tile_size=128, is_causal=False, *, scale=None):
    r"""Exact softmax attention over tiles with an online softmax (FlashAttention's algorithm).

    For each tile of queries, the key/value tiles are visited in order while
    three running quantities are kept per query row: the maximum score seen so
    far :math:`m`, the normaliser :math:`\ell = \sum_j e^{s_j - m}` and the
    unnormalised output :math:`o = \sum_j e^{s_j - m} v_j`. A new tile with
    scores :math:`S` updates them as

    .. math::

        m' = \max(m, \max_j S_j), \quad
        \ell' = e^{m - m'} \ell + \sum_j e^{S_j - m'}, \quad
        o' = e^{m - m'} o + e^{S - m'} V_\text{tile},

    and the output is :math:`o / \ell` after the last tile.

    Parameters
    ----------
    q : torch.Tensor
        Queries ``(..., Tq, d)``.
    k : torch.Tensor
        Keys ``(..., Tk, d)``.
    v : torch.Tensor
        Values ``(..., Tk, d_v)``.
    tile_size : int
        Queries and keys per tile (default 128).
    is_causal : bool
        Causal mask aligned bottom-right, fmref's convention
        (:func:`fmref.nn.attention.causal_mask`): query ``i`` sees keys
        ``0 .. Tk - Tq + i``. Key tiles entirely in the future are skipped.
    scale : float, optional
        Score multiplier, default ``1 / sqrt(d)``.

    Returns
    -------
    torch.Tensor
        ``(..., Tq, d_v)``, equal (up to rounding) to
        :func:`fmref.nn.attention.scaled_dot_product_attention`.

    Raises
    ------
    ValueError
        If ``tile_size`` is not an int >= 1, or the shapes of ``q``, ``k``, ``v`` disagree.

    References
    ----------
    .. [1] Dao et al., "FlashAttention", NeurIPS 2022, Algorithm 1.
    .. [2] Milakov and Gimelshein, "Online normalizer calculation for softmax", 2018.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.attention import scaled_dot_product_attention
    >>> from fmref.nn.efficient import tiled_attention
    >>> q, k, v = torch.randn(3, 2, 300, 16).unbind(0)  # (B, T, d) each
    >>> out = tiled_attention(q, k, v, tile_size=64, is_causal=True)
    >>> ref = scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> out.shape, torch.allclose(out, ref, atol=1e-5)
    (torch.Size([2, 300, 16]), True)
    """
    check_positive_int("tile_size", tile_size)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"k must have the head dimension of q ({q.shape[-1]}), got {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"v must have as many positions as k ({k.shape[-2]}), got {v.shape[-2]}")
    t_q, t_k, d = q.shape[-2], k.shape[-2], q.shape[-1]
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    offset = t_k - t_q  # causal: query i sits at absolute position offset + i (bottom-right)
    batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    out = q.new_empty(*batch, t_q, v.shape[-1])  # (..., Tq, d_v): the only T-sized output
    for q0 in range(0, t_q, tile_size):
        q_tile = q[..., q0 : q0 + tile_size, :] * scale  # (..., Bq, d)
        n_q = q_tile.shape[-2]
        m = q.new_full((*batch, n_q, 1), float("-inf"))  # running max
        ell = q.new_zeros((*batch, n_q, 1))  # running normaliser
        acc = q.new_zeros((*batch, n_q, v.shape[-1]))  # running unnormalised output
        last = offset + q0 + n_q - 1  # absolute position of the tile's last query
        k_end = min(t_k, last + 1) if is_causal else t_k  # later key tiles are all masked
        for k0 in range(0, k_end, tile_size):
            s = q_tile @ k[..., k0 : k0 + tile_size, :].transpose(-2, -1)  # (..., Bq, Bk)
            if is_causal and k0 + s.shape[-1] > offset + q0 + 1:  # tile crosses the diagonal
                rows = torch.arange(q0, q0 + n_q, device=q.device).unsqueeze(-1) + offset
                cols = torch.arange(k0, k0 + s.shape[-1], device=q.device)
                s = s.masked_fill(cols > rows, float("-inf"))
            m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))  # (..., Bq, 1)
            m_safe = m_new.masked_fill(m_new == float("-inf"), 0.0)  # rows with nothing yet
            p = torch.exp(s - m_safe)  # (..., Bq, Bk)
            correction = torch.exp(m - m_safe)  # rescales what was summed under the old max
            ell = ell * correction + p.sum(dim=-1, keepdim=True)
            acc = acc * correction + p @ v[..., k0 : k0 + tile_size, :]
            m = m_new
        # A row that saw no key (Tk == 0, or causal with Tq > Tk) returns zeros, as torch does.
        out[..., q0 : q0 + n_q, :] = acc / ell.clamp_min(torch.finfo(ell.dtype).tiny)
    return out


def sliding_window_mask(seq_len, window, causal=True, device=None):
    """Local attention: each query sees the ``window`` most recent keys (itself included).

    Parameters
    ----------
    seq_len : int
        Sequence length ``T``.
    window : int
        Keys per query. With ``causal=False`` a query sees ``window`` keys on
        each side plus itself (Longformer's ``w = 2 * window + 1`` total).
    causal : bool
        Only look back (default True, as in Mistral).
    device : torch.device, optional
        Device of the mask.

    Returns
    -------
    torch.Tensor
        Bool mask ``(T, T)``, ``True`` = attend.

    Raises
    ------
    ValueError
        If ``seq_len`` or ``window`` is not an int >= 1.

    References
    ----------
    .. [1] Beltagy et al., "Longformer", 2020; Jiang et al., "Mistral 7B", 2023.

    Examples
    --------
    >>> from fmref.nn.efficient import sliding_window_mask
    >>> sliding_window_mask(5, 2).int()
    tensor([[1, 0, 0, 0, 0],
            [1, 1, 0, 0, 0],
            [0, 1, 1, 0, 0],
            [0, 0, 1, 1, 0],
            [0, 0, 0, 1, 1]], dtype=torch.int32)
    >>> sliding_window_mask(5, 1, causal=False).sum(-1).tolist()
    [2, 3, 3, 3, 2]
    """
    check_positive_int("seq_len", seq_len)
    check_positive_int("window", window)
    if causal:
        return causal_mask(seq_len, seq_len, window=window, device=device)
    i = torch.arange(seq_len, device=device)
    return (i.unsqueeze(-1) - i).abs() <= window


def strided_mask(seq_len, stride, device=None):
    """Strided pattern of the Sparse Transformer (causal).

    Query ``i`` attends to key ``j <= i`` when ``i - j < stride`` (the local
    head) or ``(i - j) % stride == 0`` (the strided head); the two heads together
    connect every pair in two steps with about ``2 sqrt(T)`` keys per query when
    ``stride ~ sqrt(T)``.

    Parameters
    ----------
    seq_len : int
        Sequence length ``T``.
    stride : int
        Stride ``l``.
    device : torch.device, optional
        Device of the mask.

    Returns
    -------
    torch.Tensor
        Bool mask ``(T, T)``, ``True`` = attend.

    Raises
    ------
    ValueError
        If ``seq_len`` or ``stride`` is not an int >= 1.

    References
    ----------
    .. [1] Child et al., "Generating long sequences with sparse Transformers",
       2019, section 4.2, Figure 3(b).

    Examples
    --------
    >>> from fmref.nn.efficient import strided_mask
    >>> strided_mask(6, 2)[5].int().tolist()  # local: 4, 5; strided: 1, 3, 5
    [0, 1, 0, 1, 1, 1]
    """
    check_positive_int("seq_len", seq_len)
    check_positive_int("stride", stride)
    i = torch.arange(seq_len, device=device)
    diff = i.unsqueeze(-1) - i  # (T, T): i - j
    return (diff >= 0) & ((diff < stride) | (diff % stride == 0))


def fixed_mask(seq_len, stride, n_summary=1, device=None):
    """Fixed pattern of the Sparse Transformer (causal).

    Query ``i`` attends to key ``j <= i`` in its own block of ``stride``
    positions (``j // stride == i // stride``) and to the last ``n_summary``
    positions of every block (``j % stride >= stride - n_summary``), which act
    as summaries that later blocks read.

    Parameters
    ----------
    seq_len : int
        Sequence length ``T``.
    stride : int
        Block length ``l``.
    n_summary : int
        Summary positions per block, ``c`` in the paper (default 1).
    device : torch.device, optional
        Device of the mask.

    Returns
    -------
    torch.Tensor
        Bool mask ``(T, T)``, ``True`` = attend.

    Raises
    ------
    ValueError
        If an argument is not an int >= 1, or ``n_summary > stride``.

    References
    ----------
    .. [1] Child et al., "Generating long sequences with sparse Transformers",
       2019, section 4.2, Figure 3(c).

    Examples
    --------
    >>> from fmref.nn.efficient import fixed_mask
    >>> fixed_mask(8, 4)[6].int().tolist()  # own block 4..6, summary 3
    [0, 0, 0, 1, 1, 1, 1, 0]
    """
    check_positive_int("seq_len", seq_len)
    check_positive_int("stride", stride)
    check_positive_int("n_summary", n_summary)
    if n_summary > stride:
        raise ValueError(f"n_summary must be <= stride ({stride}), got {n_summary}")
    i = torch.arange(seq_len, device=device)
    row, col = i.unsqueeze(-1), i.unsqueeze(0)
    same_block = row // stride == col // stride
    summary = col % stride >= stride - n_summary
    return (col <= row) & (same_block | summary)


def global_tokens_mask(seq_len, window, global_idx, device=None):
    """Longformer attention: a bidirectional sliding window plus global tokens.

    Global tokens (e.g. ``[CLS]`` or question tokens) attend to every position
    and every position attends to them; the rest attend within ``window``
    positions on each side.

    Parameters
    ----------
    seq_len : int
        Sequence length ``T``.
    window : int
        One-sided window ``w / 2``.
    global_idx : sequence of int
        Positions of the global tokens.
    device : torch.device, optional
        Device of the mask.

    Returns
    -------
    torch.Tensor
        Bool mask ``(T, T)``, ``True`` = attend.

    Raises
    ------
    ValueError
        If ``seq_len`` or ``window`` is not an int >= 1, or an index in
        ``global_idx`` is outside ``[0, seq_len)``.

    References
    ----------
    .. [1] Beltagy et al., "Longformer: The long-document Transformer", 2020, section 3.1.

    Examples
    --------
    >>> from fmref.nn.efficient import global_tokens_mask
    >>> mask = global_tokens_mask(6, 1, [0])
    >>> mask[0].all().item(), mask[:, 0].all().item(), mask[5].int().tolist()
    (True, True, [1, 0, 0, 0, 1, 1])
    """
    mask = sliding_window_mask(seq_len, window, causal=False, device=device)
    idx = torch.as_tensor(list(global_idx), dtype=torch.long, device=device)
    if idx.numel() and (idx.min() < 0 or idx.max() >= seq_len):
        raise ValueError(f"global_idx must hold positions in [0, {seq_len}), got {idx.tolist()}")
    mask[idx, :] = True
    mask[:, idx] = True
    return mask


def linear_attention(q, k, v, causal=False, eps=1e-6):
    r"""Linear attention with the feature map :math:`\phi(x) = \mathrm{elu}(x) + 1`.

    Replacing :math:`\exp(q \cdot k)` by :math:`\phi(q) \cdot \phi(k)` lets the
    sum over keys be computed once, :math:`\phi(Q)\,(\phi(K)^\top V)`, in
    :math:`O(T d^2)` instead of :math:`O(T^2 d)`:

    .. math::

        o_i = \frac{\phi(q_i)^\top \sum_j \phi(k_j) v_j^\top}{\phi(q_i)^\top \sum_j \phi(k_j)},

    with the sums over :math:`j \le i` (prefix sums, i.e. an RNN) when causal.

    Parameters
    ----------
    q, k : torch.Tensor
        ``(..., T, d)``.
    v : torch.Tensor
        ``(..., T, d_v)``.
    causal : bool
        Sum only over past keys (default False).
    eps : float
        Added to the denominator (default 1e-6).

    Returns
    -------
    torch.Tensor
        ``(..., T, d_v)``.

    Raises
    ------
    ValueError
        If the shapes of ``q``, ``k`` and ``v`` disagree, or ``causal`` is used with ``Tq != Tk``.

    References
    ----------
    .. [1] Katharopoulos et al., "Transformers are RNNs", ICML 2020, eq. 6-9.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.efficient import linear_attention
    >>> q, k, v = torch.randn(3, 2, 50, 8).unbind(0)
    >>> linear_attention(q, k, v, causal=True).shape
    torch.Size([2, 50, 8])
    >>> out = linear_attention(q, k, torch.ones(2, 50, 8))  # weights sum to 1
    >>> torch.allclose(out, torch.ones(2, 50, 8), atol=1e-5)
    True
    """
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"k must have the head dimension of q ({q.shape[-1]}), got {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"v must have as many positions as k ({k.shape[-2]}), got {v.shape[-2]}")
    phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1  # positive features (..., T, d)
    if not causal:
        kv = phi_k.transpose(-2, -1) @ v  # (..., d, d_v): independent of T
        z = phi_k.sum(dim=-2)  # (..., d)
        return (phi_q @ kv) / ((phi_q * z.unsqueeze(-2)).sum(-1, keepdim=True) + eps)
    if q.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"causal=True needs as many queries as keys, got q {q.shape[-2]} and k {k.shape[-2]}"
        )
    kv = torch.cumsum(phi_k.unsqueeze(-1) * v.unsqueeze(-2), dim=-3)  # (..., T, d, d_v) prefix sums
    z = torch.cumsum(phi_k, dim=-2)  # (..., T, d)
    num = (phi_q.unsqueeze(-2) @ kv).squeeze(-2)  # (..., T, d_v)
    return num / ((phi_q * z).sum(-1, keepdim=True) + eps)


def attention_memory_bytes(
    seq_len, d_head=64, n_heads=1, batch=1, tile_size=None, bytes_per_element=4
):
    """Bytes of the attention intermediates: the score matrix, or one tile of it.

    Naive attention holds the scores and the softmax weights, two ``T x T``
    tensors per head; tiled attention holds two ``tile x tile`` tiles plus the
    running statistics ``(T, d + 2)`` per head. Inputs and output are not counted.

    Parameters
    ----------
    seq_len : int
        ``T``.
    d_head : int
        Head size ``d`` (default 64).
    n_heads, batch : int
        Heads and batch size (default 1).
    tile_size : int, optional
        None for naive attention, else the tile size of :func:`tiled_attention`.
    bytes_per_element : int
        4 for fp32 (default), 2 for fp16/bf16.

    Returns
    -------
    int
        Bytes.

    Raises
    ------
    ValueError
        If an argument is not an int >= 1.

    Examples
    --------
    >>> from fmref.nn.efficient import attention_memory_bytes
    >>> attention_memory_bytes(4096) / 2**20  # two 4096 x 4096 fp32 matrices, in MiB
    128.0
    >>> round(attention_memory_bytes(4096, tile_size=128) / 2**20, 3)
    1.156
    """
    for name, value in (
        ("seq_len", seq_len),
        ("d_head", d_head),
        ("n_heads", n_heads),
        ("batch", batch),
        ("bytes_per_element", bytes_per_element),
    ):
        check_positive_int(name, value)
    if tile_size is None:
        per_head = 2 * seq_len * seq_len
    else:
        check_positive_int("tile_size", tile_size)
        t = min(tile_size, seq_len)
        per_head = 2 * t * t + seq_len * (d_head + 2)
    return per_head * n_heads * batch * bytes_per_element
