"""Context parallelism: ring attention over ranks that each hold a part of the sequence.

Each of ``W`` ranks holds ``T / W`` tokens of every sequence, and runs the
whole model on them: everything but attention is per token. For attention,
each rank keeps its queries and passes its keys and values around a ring:
at step ``i`` rank ``r`` holds the block of rank ``r - i``, computes the
scores of its queries against it, and folds them into a running softmax
with the online-softmax update of Chapter VI
(:func:`fmref.nn.efficient.tiled_attention`): a running maximum ``m``, a
running normaliser ``ℓ`` and a running output, rescaled by ``exp(m_old -
m_new)`` whenever the maximum grows. After ``W`` steps every query has seen
every key, and the result is exactly full attention (Liu et al. 2023).

The causal mask makes a contiguous split unfair: the rank holding the end
of the sequence attends to ``W`` times more keys than the rank holding its
start. The *zig-zag* split cuts the sequence into ``2W`` chunks and gives rank
``r`` chunks ``r`` and ``2W - 1 - r``, a cheap and an expensive one, so every
rank does the same work (:func:`causal_attention_work`).

The ring's send and receive are an autograd function (:class:`RingPass`):
its backward pass sends the gradients of the keys and values back the way
they came, so ``loss.backward()`` returns to each rank the gradients of its
own keys and values, whatever rank used them.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
from torch.nn import functional as F

from fmref._validate import check_in, check_int, check_positive_int, check_tensor
from fmref.nn.position import apply_rope

__all__ = [
    "LAYOUTS",
    "sequence_positions",
    "causal_attention_work",
    "online_softmax_step",
    "RingPass",
    "ring_attention",
]

LAYOUTS = ("zigzag", "contiguous")


def sequence_positions(seq_len, n_ranks, rank, layout="zigzag"):
    """Positions of the tokens that ``rank`` holds, in the order it holds them.

    Parameters
    ----------
    seq_len : int
        Tokens per sequence; a multiple of ``2 n_ranks`` for ``"zigzag"``, of
        ``n_ranks`` for ``"contiguous"``.
    n_ranks : int
        Ranks sharing the sequence.
    rank : int
        This rank, ``0 <= rank < n_ranks``.
    layout : {"zigzag", "contiguous"}, default "zigzag"
        Chunks ``rank`` and ``2 n_ranks - 1 - rank`` of ``2 n_ranks``, or
        chunk ``rank`` of ``n_ranks``.

    Returns
    -------
    torch.Tensor
        int64 positions, ``seq_len / n_ranks`` of them, increasing.

    Raises
    ------
    ValueError
        If the sizes do not divide or ``rank`` is out of range.

    Examples
    --------
    >>> from fmref.train.parallel.context import sequence_positions
    >>> [sequence_positions(8, 2, r).tolist() for r in range(2)]
    [[0, 1, 6, 7], [2, 3, 4, 5]]
    >>> [sequence_positions(8, 2, r, "contiguous").tolist() for r in range(2)]
    [[0, 1, 2, 3], [4, 5, 6, 7]]
    """
    t = check_positive_int("seq_len", seq_len)
    w = check_positive_int("n_ranks", n_ranks)
    check_int("rank", rank, low=0, high=w - 1)
    check_in("layout", layout, LAYOUTS)
    chunks = 2 * w if layout == "zigzag" else w
    if t % chunks:
        raise ValueError(f"seq_len must be a multiple of {chunks} for a {layout} split, got {t}")
    c = t // chunks
    own = [rank, chunks - 1 - rank] if layout == "zigzag" else [rank]
    return torch.cat([torch.arange(i * c, (i + 1) * c) for i in own])


def causal_attention_work(seq_len, n_ranks, layout="zigzag"):
    """Query-key pairs that each rank scores under a causal mask.

    Parameters
    ----------
    seq_len, n_ranks : int
        As in :func:`sequence_positions`.
    layout : {"zigzag", "contiguous"}, default "zigzag"
        How the sequence is split.

    Returns
    -------
    list of int
        Unmasked pairs per rank; they add up to ``T (T + 1) / 2``.

    Raises
    ------
    ValueError
        As :func:`sequence_positions`.

    References
    ----------
    .. [1] Brandon et al., "Striped Attention: Faster Ring Attention for
       Causal Transformers", 2023 (the imbalance of a contiguous split).

    Examples
    --------
    >>> from fmref.train.parallel.context import causal_attention_work
    >>> causal_attention_work(1024, 4, "contiguous")  # the last rank works 7 times the first
    [32896, 98432, 163968, 229504]
    >>> causal_attention_work(1024, 4)  # zig-zag: equal
    [131200, 131200, 131200, 131200]
    """
    w = check_positive_int("n_ranks", n_ranks)
    return [
        int((sequence_positions(seq_len, w, r, layout) + 1).sum())  # query i sees i + 1 keys
        for r in range(w)
    ]


def online_softmax_step(state, q, k, v, q_pos, k_pos):
    """Fold one block of keys and values into a running causal softmax.

    ``state`` is ``(m, ell, acc)``: per query the largest score so far, the
    sum of ``exp(score - m)`` and the sum of ``exp(score - m) v``; the
    attention output is ``acc / ell`` once every block is folded in. The
    running maximum only keeps the exponentials in range, so it is treated
    as a constant (detached): the gradient of ``acc / ell`` does not depend on it.

    Parameters
    ----------
    state : tuple of torch.Tensor or None
        ``(m, ell, acc)`` of shapes ``(B, H, Tq, 1)``, ``(B, H, Tq, 1)``,
        ``(B, H, Tq, d)``; None before the first block.
    q : torch.Tensor
        ``(B, H, Tq, d)`` queries, already scaled by ``1/sqrt(d)``.
    k, v : torch.Tensor
        ``(B, H, Tk, d)`` keys and values of the block.
    q_pos, k_pos : torch.Tensor
        Positions ``(Tq,)`` and ``(Tk,)``: query ``i`` sees key ``j`` when
        ``k_pos[j] <= q_pos[i]``.

    Returns
    -------
    tuple of torch.Tensor
        The new ``(m, ell, acc)``.

    Raises
    ------
    ValueError
        If ``k`` and ``q`` differ in head size or ``v`` and ``k`` in length.

    References
    ----------
    .. [1] Milakov and Gimelshein, "Online normalizer calculation for
       softmax", 2018.

    Examples
    --------
    Two blocks folded one after the other give causal softmax attention:

    >>> import torch
    >>> from fmref.train.parallel.context import online_softmax_step
    >>> q, k, v = torch.randn(3, 1, 2, 6, 4).unbind(0)
    >>> pos = torch.arange(6)
    >>> state = None
    >>> for block in (slice(3, 6), slice(0, 3)):  # any order
    ...     state = online_softmax_step(state, q / 2, k[..., block, :], v[..., block, :],
    ...                                 pos, pos[block])
    >>> m, ell, acc = state
    >>> ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> torch.allclose(acc / ell, ref, atol=1e-6)
    True
    """
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"k must have the head size {q.shape[-1]} of q, got {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"v must have as many positions as k ({k.shape[-2]}), got {v.shape[-2]}")
    scores = q @ k.transpose(-2, -1)  # (B, H, Tq, Tk)
    visible = k_pos[None, :] <= q_pos[:, None]  # (Tq, Tk)
    scores = scores.masked_fill(~visible, float("-inf"))
    block_max = scores.amax(dim=-1, keepdim=True).detach()  # (B, H, Tq, 1)
    if state is None:
        m_new = block_max
    else:
        m, ell, acc = state
        m_new = torch.maximum(m, block_max)
    m_safe = m_new.masked_fill(m_new == float("-inf"), 0.0)  # rows that have seen nothing yet
    p = torch.exp(scores - m_safe)  # (B, H, Tq, Tk), 0 where masked
    if state is None:
        return m_new, p.sum(dim=-1, keepdim=True), p @ v
    correction = torch.exp(m - m_safe)  # rescales what was summed under the old maximum
    return m_new, ell * correction + p.sum(dim=-1, keepdim=True), acc * correction + p @ v


class RingPass(torch.autograd.Function):
    """Send a tensor to the next rank of the ring and receive the previous rank's.

    The backward pass does the reverse: it sends the gradient to the previous
    rank and receives the next rank's, so every gradient returns to the rank
    that sent the tensor. Both directions post the send and the receive
    together (``batch_isend_irecv``), so no rank waits for another to receive first.

    Examples
    --------
    On one rank the ring is a loop back to itself:

    >>> import torch, torch.distributed as dist
    >>> from fmref.train.parallel.context import RingPass
    >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    >>> x = torch.arange(3.0, requires_grad=True)
    >>> y = RingPass.apply(x)
    >>> (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    >>> y.tolist(), x.grad.tolist()
    ([0.0, 1.0, 2.0], [1.0, 2.0, 3.0])
    >>> dist.destroy_process_group()
    """

    @staticmethod
    def _exchange(x, to, frm):
        x = x.contiguous()
        out = torch.empty_like(x)
        ops = [dist.P2POp(dist.isend, x, to), dist.P2POp(dist.irecv, out, frm)]
        for work in dist.batch_isend_irecv(ops):
            work.wait()
        return out

    @staticmethod
    def forward(ctx, x):
        w, r = dist.get_world_size(), dist.get_rank()
        if w == 1:
            return x.clone()
        return RingPass._exchange(x, (r + 1) % w, (r - 1) % w)

    @staticmethod
    def backward(ctx, grad):
        w, r = dist.get_world_size(), dist.get_rank()
        if w == 1:
            return grad.clone()
        return RingPass._exchange(grad, (r - 1) % w, (r + 1) % w)


def ring_attention(q, k, v, positions, seq_len, layout="zigzag"):
    """Causal attention of this rank's queries over the whole sequence, by a ring.

    Parameters
    ----------
    q : torch.Tensor
        ``(B, H, T/W, d)`` this rank's queries.
    k, v : torch.Tensor
        ``(B, H_kv, T/W, d)`` this rank's keys and values (grouped-query
        attention repeats them after they arrive, so the ring carries ``H_kv`` heads).
    positions : torch.Tensor
        ``(T/W,)`` this rank's positions (:func:`sequence_positions`).
    seq_len : int
        Whole sequence length ``T``.
    layout : {"zigzag", "contiguous"}, default "zigzag"
        The split, to know the positions of the blocks that arrive.

    Returns
    -------
    torch.Tensor
        ``(B, H, T/W, d)``, equal to full causal attention at these positions.

    Raises
    ------
    ValueError
        If ``q``, ``k`` or ``v`` is not 4-D or their sizes disagree.
    RuntimeError
        If no process group is initialised.

    References
    ----------
    .. [1] Liu, Zaharia and Abbeel, "Ring Attention with Blockwise
       Transformers for Near-Infinite Context", ICLR 2024.

    Examples
    --------
    >>> import torch, torch.distributed as dist
    >>> from fmref.train.parallel.context import ring_attention, sequence_positions
    >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    >>> q, k, v = torch.randn(3, 1, 2, 8, 4).unbind(0)
    >>> out = ring_attention(q, k, v, sequence_positions(8, 1, 0), 8)
    >>> ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> torch.allclose(out, ref, atol=1e-6)
    True
    >>> dist.destroy_process_group()
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(name, t, ndim=4)
    if q.shape[1] % k.shape[1] or k.shape != v.shape:
        raise ValueError(
            f"k and v must have the same shape with heads dividing q's {q.shape[1]}, "
            f"got k {tuple(k.shape)} and v {tuple(v.shape)}"
        )
    if not dist.is_initialized():
        raise RuntimeError("ring_attention needs an initialised process group")
    w, r = dist.get_world_size(), dist.get_rank()
    group = q.shape[1] // k.shape[1]
    q = q / math.sqrt(q.shape[-1])
    kv, state = torch.stack([k, v]), None  # (2, B, H_kv, T/W, d): one message per step
    for step in range(w):
        if step:
            kv = RingPass.apply(kv)  # now the block of rank r - step
        source = (r - step) % w
        k_pos = sequence_positions(seq_len, w, source, layout).to(positions.device)
        kb, vb = (t.repeat_interleave(group, dim=1) for t in kv.unbind(0))  # (B, H, T/W, d)
        state = online_softmax_step(state, q, kb, vb, positions, k_pos)
    _, ell, acc = state
    return acc / ell


def _attention(attn, x, angles, positions, seq_len, layout):
    """A :class:`~fmref.models.llama.LlamaAttention` whose scores go round the ring."""
    q = attn._heads(attn.q_proj(x), attn.n_heads)  # (B, H, T/W, d)
    k = attn._heads(attn.k_proj(x), attn.n_kv_heads)  # (B, H_kv, T/W, d)
    v = attn._heads(attn.v_proj(x), attn.n_kv_heads)
    q, k = apply_rope(q, angles), apply_rope(k, angles)  # at the tokens' true positions
    y = ring_attention(q, k, v, positions, seq_len, layout)  # (B, H, T/W, d)
    B, _, T, _ = y.shape
    return attn.out_proj(y.transpose(1, 2).reshape(B, T, -1))


def _context_parallel_forward(model, ids, positions, seq_len, layout):
    """Logits of a plain :class:`~fmref.models.llama.Llama` at this rank's positions."""
    angles = model.rope[positions]  # (T/W, d/2)
    x = model.tok_embeddings(ids)  # (B, T/W, C)
    for block in model.layers:
        h = block.attention_norm(x)
        x = x + _attention(block.attention, h, angles, positions, seq_len, layout)
        x = x + block.feed_forward(block.ffn_norm(x))
    return model.output(model.norm(x))  # (B, T/W, V)


def _run_context_parallel(settings):
    """Train the tiny Llama with its sequences split over the world (ring attention)."""
    from fmref.train.parallel.common import (
        _all_reduce_flat,
        _device,
        _fit,
        _SyncAdamW,
        global_batch,
        tiny_llama,
    )

    w, r, device = dist.get_world_size(), dist.get_rank(), _device()
    T, layout = settings.seq_len, settings.layout
    positions = sequence_positions(T, w, r, layout).to(device)
    model = tiny_llama(n_layers=settings.n_layers, seq_len=T, **settings.shape()).to(device)
    params = list(model.parameters())

    def sync():  # every rank's loss is a part of one sum: add the ranks' gradients
        _all_reduce_flat(p.grad for p in params if p.grad is not None)

    optimizer = _SyncAdamW(params, sync, lr=settings.lr, weight_decay=0.0)
    n_targets = settings.batch_size * (T - 1)  # the global mean is over B (T - 1) predictions

    def loss_fn(model, batch):
        target = torch.cat([batch[:, 1:], torch.full_like(batch[:, :1], -100)], dim=1)  # (B, T)
        logits = _context_parallel_forward(model, batch[:, positions], positions, T, layout)
        flat = logits.reshape(-1, logits.shape[-1])  # (B T/W, V)
        local = F.cross_entropy(flat, target[:, positions].reshape(-1), ignore_index=-100,
                                reduction="sum")  # fmt: skip
        return local / n_targets  # this rank's share of the global mean

    def batch(step):
        return global_batch(step, settings.batch_size, T).to(device)

    history = _fit(model, batch, loss_fn, settings, optimizer)
    return dict(model=model, optimizer=optimizer, history=history, owned=model.state_dict(),
                loss_reduce="sum")  # fmt: skip
