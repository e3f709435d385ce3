"""Mixture of experts: a softmax router, top-k gating, capacity and load balancing.

Each token is sent to ``top_k`` of ``n_experts`` feed-forward networks; its
output is the gate-weighted sum of theirs. Total parameters grow with
``n_experts`` while the compute per token grows only with ``top_k``.
:func:`load_balancing_loss` is the Switch Transformer's auxiliary loss that
keeps the router from sending every token to the same few experts.

References
----------
.. [1] Shazeer et al., "Outrageously large neural networks: The sparsely-gated
   mixture-of-experts layer", ICLR 2017.
.. [2] Lepikhin et al., "GShard: Scaling giant models with conditional
   computation and automatic sharding", ICLR 2021.
.. [3] Fedus, Zoph and Shazeer, "Switch Transformers: Scaling to trillion
   parameter models with simple and efficient sparsity", JMLR 2022.
.. [4] Jiang et al., "Mixtral of experts", 2024.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fmref._validate import check_int, check_positive, check_positive_int

__all__ = ["RouterOutput", "top_k_gating", "expert_capacity", "load_balancing_loss", "MoE"]


@dataclass
class RouterOutput:
    """What the router decided for a batch of ``N`` tokens.

    Attributes
    ----------
    router_probs : torch.Tensor
        Softmax over experts ``(N, n_experts)``.
    expert_index : torch.Tensor
        Chosen experts ``(N, top_k)``, best first.
    gates : torch.Tensor
        Weights of the chosen experts ``(N, top_k)``, renormalised to sum to 1.
    expert_mask : torch.Tensor
        ``(N, n_experts)``, 1 where a token was dispatched (kept after capacity).
    tokens_per_expert : torch.Tensor
        Tokens each expert processed ``(n_experts,)``.
    dropped : int
        Token-expert assignments dropped because an expert was full.
    aux_loss : torch.Tensor
        :func:`load_balancing_loss` of this batch (a scalar).

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.moe import MoE
    >>> _, info = MoE(8, 16, n_experts=4)(torch.randn(10, 8))
    >>> int(info.tokens_per_expert.sum()), info.dropped  # 10 tokens x top-2
    (20, 0)
    """

    router_probs: torch.Tensor
    expert_index: torch.Tensor
    gates: torch.Tensor
    expert_mask: torch.Tensor
    tokens_per_expert: torch.Tensor
    dropped: int
    aux_loss: torch.Tensor


def top_k_gating(router_logits, top_k):
    """Softmax router with top-k selection, gates renormalised over the chosen experts.

    Parameters
    ----------
    router_logits : torch.Tensor
        ``(N, n_experts)``.
    top_k : int
        Experts per token, ``1 <= top_k <= n_experts``.

    Returns
    -------
    probs : torch.Tensor
        Softmax over all experts ``(N, n_experts)``.
    gates : torch.Tensor
        ``(N, top_k)``; each row sums to 1 (Mixtral's ``softmax`` over the top-k
        logits, which equals the renormalised top-k probabilities).
    index : torch.Tensor
        ``(N, top_k)`` expert ids, highest probability first.

    Raises
    ------
    ValueError
        If ``top_k`` is not in ``[1, n_experts]``.

    References
    ----------
    .. [1] Jiang et al., "Mixtral of experts", 2024, eq. (1)-(2).

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.moe import top_k_gating
    >>> probs, gates, index = top_k_gating(torch.tensor([[2.0, 1.0, 0.0, 1.0]]), top_k=2)
    >>> index.tolist(), [round(g, 4) for g in gates[0].tolist()]
    ([[0, 1]], [0.7311, 0.2689])
    """
    n_experts = router_logits.shape[-1]
    check_int("top_k", top_k, 1, n_experts)
    probs = torch.softmax(router_logits, dim=-1)  # (N, E)
    top_p, index = probs.topk(top_k, dim=-1)  # (N, k)
    gates = top_p / top_p.sum(dim=-1, keepdim=True)
    return probs, gates, index


def expert_capacity(n_tokens, n_experts, top_k=1, capacity_factor=1.0):
    r"""Slots per expert: :math:`\lceil \text{capacity\_factor} \cdot N \cdot k / E \rceil`.

    Parameters
    ----------
    n_tokens : int
        Tokens in the batch ``N``.
    n_experts : int
        Experts ``E``.
    top_k : int
        Experts per token ``k`` (default 1).
    capacity_factor : float
        1.0 means exactly an even share (default 1.0); the Switch Transformer
        trains with 1.0-1.25.

    Returns
    -------
    int
        Capacity of each expert.

    Raises
    ------
    ValueError
        If ``n_tokens`` is negative, ``n_experts`` is not positive, ``top_k`` is
        not in ``[1, n_experts]`` or ``capacity_factor`` is not positive.
    TypeError
        If a count is not an int or ``capacity_factor`` not a number.

    References
    ----------
    .. [1] Fedus et al., "Switch Transformers", 2022, section 2.2.

    Examples
    --------
    >>> from fmref.nn.moe import expert_capacity
    >>> expert_capacity(1024, n_experts=8, top_k=2, capacity_factor=1.25)
    320
    """
    check_int("n_tokens", n_tokens, low=0)
    check_positive_int("n_experts", n_experts)
    check_int("top_k", top_k, 1, n_experts)
    check_positive("capacity_factor", capacity_factor)
    return math.ceil(capacity_factor * n_tokens * top_k / n_experts)


def load_balancing_loss(router_probs, expert_mask):
    r"""Switch Transformer auxiliary loss :math:`E \sum_i f_i P_i`.

    :math:`f_i` is the fraction of dispatched assignments that went to expert
    :math:`i` (tokens sent to :math:`i` divided by :math:`N k` when each token
    goes to :math:`k` experts), :math:`P_i` the mean router probability of
    expert :math:`i`. It equals 1 for a perfectly uniform router and grows
    towards :math:`E` as routing collapses onto one expert.

    Parameters
    ----------
    router_probs : torch.Tensor
        ``(N, n_experts)`` softmax outputs.
    expert_mask : torch.Tensor
        ``(N, n_experts)`` 0/1 dispatch mask (``k`` ones per row), or
        ``(N, k, n_experts)`` one-hot choices.

    Returns
    -------
    torch.Tensor
        Scalar loss (multiply by a small coefficient, e.g. 0.01, before adding it).

    Raises
    ------
    ValueError
        If the shapes disagree.

    References
    ----------
    .. [1] Fedus et al., "Switch Transformers", 2022, eq. (4)-(6).

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.moe import load_balancing_loss
    >>> probs = torch.full((8, 4), 0.25)
    >>> mask = torch.eye(4).repeat(2, 1)  # two tokens per expert
    >>> load_balancing_loss(probs, mask).item()
    1.0
    """
    if expert_mask.dim() == 3:
        expert_mask = expert_mask.sum(dim=1)  # (N, k, E) -> (N, E)
    if expert_mask.shape != router_probs.shape or router_probs.dim() != 2:
        raise ValueError(
            f"expert_mask must have the shape of router_probs (N, n_experts) = "
            f"{tuple(router_probs.shape)}, got {tuple(expert_mask.shape)}"
        )
    n_experts = router_probs.shape[-1]
    mask = expert_mask.to(router_probs.dtype)
    f = mask.sum(dim=0) / mask.sum().clamp_min(1.0)  # (E,) fraction of assignments
    p = router_probs.mean(dim=0)  # (E,) mean router probability
    return n_experts * (f * p).sum()


class MoE(nn.Module):
    """Sparse mixture-of-experts feed-forward layer.

    Parameters
    ----------
    d_model : int
        Token width.
    d_ff : int
        Hidden width of each expert MLP (Linear, GELU, Linear).
    n_experts : int
        Number of experts.
    top_k : int
        Experts per token (default 2, as in GShard and Mixtral; Switch uses 1).
    capacity_factor : float, optional
        If given, each expert takes at most :func:`expert_capacity` tokens;
        the rest are dropped (the expert adds nothing for them, so a residual
        connection around the layer passes them through). First choices are
        served before second choices, in token order (GShard's policy).

    Attributes
    ----------
    router : torch.nn.Linear
        ``d_model -> n_experts``, no bias.
    experts : torch.nn.ModuleList
        ``n_experts`` MLPs.

    Raises
    ------
    ValueError
        If ``top_k`` is not in ``[1, n_experts]`` or ``capacity_factor`` is not positive.

    References
    ----------
    .. [1] Shazeer et al., "Outrageously large neural networks", ICLR 2017.
    .. [2] Fedus et al., "Switch Transformers", JMLR 2022.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.moe import MoE
    >>> moe = MoE(d_model=16, d_ff=32, n_experts=8, top_k=2)
    >>> y, info = moe(torch.randn(2, 5, 16))  # (B, T, C)
    >>> y.shape, info.gates.shape
    (torch.Size([2, 5, 16]), torch.Size([10, 2]))
    >>> total = sum(p.numel() for p in moe.parameters())
    >>> active = moe.router.weight.numel() + 2 * sum(p.numel() for p in moe.experts[0].parameters())
    >>> total, active
    (8704, 2272)
    """

    def __init__(self, d_model, d_ff, n_experts, top_k=2, capacity_factor=None):
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("d_ff", d_ff)
        check_positive_int("n_experts", n_experts)
        check_int("top_k", top_k, 1, n_experts)
        if capacity_factor is not None and capacity_factor <= 0:
            raise ValueError(f"capacity_factor must be > 0 or None, got {capacity_factor}")
        self.n_experts, self.top_k, self.capacity_factor = n_experts, top_k, capacity_factor
        self.router = nn.Linear(d_model, n_experts, bias=False)
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
            for _ in range(n_experts)
        )

    def forward(self, x):
        """Route every token of ``x`` ``(..., d_model)`` to its experts.

        Returns
        -------
        y : torch.Tensor
            Same shape as ``x``.
        info : RouterOutput
            Routing decisions, load statistics and the balancing loss.
        """
        shape = x.shape
        tokens = x.reshape(-1, shape[-1])  # (N, C)
        n = tokens.shape[0]
        probs, gates, index = top_k_gating(
            self.router(tokens), self.top_k
        )  # (N, E), (N, k), (N, k)
        one_hot = F.one_hot(index, self.n_experts)  # (N, k, E)
        keep = torch.ones_like(gates, dtype=torch.bool)  # (N, k)
        if self.capacity_factor is not None:
            cap = expert_capacity(n, self.n_experts, self.top_k, self.capacity_factor)
            # position of each assignment in its expert's queue:
            # choice 1 of all tokens, then choice 2 ...
            order = one_hot.transpose(0, 1).reshape(-1, self.n_experts)  # (k*N, E)
            position = (torch.cumsum(order, dim=0) - 1) * order  # (k*N, E)
            position = position.sum(-1).view(self.top_k, n).T  # (N, k)
            keep = position < cap
        dispatch = (one_hot * keep.unsqueeze(-1)).sum(dim=1)  # (N, E) 0/1
        y = torch.zeros_like(tokens)
        for e, expert in enumerate(self.experts):
            tok, slot = torch.nonzero((index == e) & keep, as_tuple=True)  # tokens routed to e
            if tok.numel():
                y.index_add_(0, tok, gates[tok, slot].unsqueeze(-1) * expert(tokens[tok]))
        info = RouterOutput(
            router_probs=probs,
            expert_index=index,
            gates=gates,
            expert_mask=dispatch,
            tokens_per_expert=dispatch.sum(dim=0),
            dropped=int((~keep).sum()),
            aux_loss=load_balancing_loss(probs, one_hot.sum(dim=1)),
        )
        return y.view(shape), info
