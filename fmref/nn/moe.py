"""Mixture of experts: a softmax router, top-k gating, capacity and load balancing.

Each token is sent to ``top_k`` of ``n_experts`` feed-forward networks; its
output is the gate-weighted sum of theirs. Total parameters grow with
``n_experts`` while the compute per token grows only with ``top_k``.
:func:`load_balancing_loss` is the Switch Transformer's auxiliary loss that
keeps the router from sending every token to the same few experts.

DeepSeek-V3's layer (:class:`DeepSeekMoE`) changes four things: many small
("fine-grained") routed experts, a few shared experts that every token uses,
sigmoid affinities chosen within the best ``topk_group`` of ``n_group`` expert
groups (:func:`sigmoid_gating`), and balance kept by a per-expert bias that
only steers the choice (:func:`update_routing_bias`), not by a loss.

References
----------
.. [1] Shazeer et al., "Outrageously large neural networks: The sparsely-gated
   mixture-of-experts layer", ICLR 2017.
.. [2] Lepikhin et al., "GShard: Scaling giant models with conditional
   computation and automatic sharding", ICLR 2021.
.. [3] Fedus, Zoph and Shazeer, "Switch Transformers: Scaling to trillion
   parameter models with simple and efficient sparsity", JMLR 2022.
.. [4] Jiang et al., "Mixtral of experts", 2024.
.. [5] Dai et al., "DeepSeekMoE: Towards ultimate expert specialization in
   mixture-of-experts language models", ACL 2024.
.. [6] Wang et al., "Auxiliary-loss-free load balancing strategy for
   mixture-of-experts", 2024.
.. [7] DeepSeek-AI, "DeepSeek-V3 technical report", 2024, section 2.1.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fmref._validate import check_int, check_positive, check_positive_int, check_tensor

__all__ = [
    "RouterOutput",
    "top_k_gating",
    "expert_capacity",
    "load_balancing_loss",
    "MoE",
    "sigmoid_gating",
    "update_routing_bias",
    "DeepSeekMoE",
]


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


def _check_groups(n_experts, top_k, n_group, topk_group):
    """Validate DeepSeek-V3's group-limited routing arguments; return ``topk_group``."""
    check_positive_int("n_group", n_group)
    if n_experts % n_group:
        raise ValueError(
            f"n_group must divide the number of experts {n_experts}, got n_group={n_group}"
        )
    if topk_group is None:
        topk_group = n_group
    check_int("topk_group", topk_group, 1, n_group)
    reachable = topk_group * (n_experts // n_group)
    check_int("top_k", top_k, 1, reachable)  # at most the experts of the kept groups
    return topk_group


def sigmoid_gating(
    router_logits,
    top_k,
    bias=None,
    n_group=1,
    topk_group=None,
    norm_topk_prob=True,
    routed_scaling_factor=1.0,
):
    r"""DeepSeek-V3's router: sigmoid affinities, a selection bias, group-limited top-k.

    Each expert's affinity is :math:`s_i = \sigma(u^\top e_i)` (a sigmoid, so
    experts do not compete for one probability mass). The experts are chosen by
    :math:`s_i + b_i`, where :math:`b` is the auxiliary-loss-free balancing
    bias (:func:`update_routing_bias`); the gates use :math:`s_i` alone,
    normalised over the chosen experts and multiplied by
    ``routed_scaling_factor``. With ``n_group > 1`` the experts are split into
    ``n_group`` equal groups, each group is scored by the sum of its two best
    biased affinities, and only the ``topk_group`` best groups may be chosen
    (node-limited routing: a token's experts live on few devices).

    Parameters
    ----------
    router_logits : torch.Tensor
        ``(N, n_experts)``.
    top_k : int
        Routed experts per token.
    bias : torch.Tensor, optional
        ``(n_experts,)`` selection bias (``e_score_correction_bias`` in
        transformers); None means zeros.
    n_group : int, default 1
        Expert groups; must divide ``n_experts``.
    topk_group : int, optional
        Groups a token may use, ``1 <= topk_group <= n_group``; default ``n_group``.
    norm_topk_prob : bool, default True
        Divide the chosen affinities by their sum.
    routed_scaling_factor : float, default 1.0
        Multiplies the gates (2.5 in DeepSeek-V3).

    Returns
    -------
    scores : torch.Tensor
        Sigmoid affinities ``(N, n_experts)``, without the bias.
    gates : torch.Tensor
        ``(N, top_k)`` weights of the chosen experts.
    index : torch.Tensor
        ``(N, top_k)`` expert ids.

    Raises
    ------
    ValueError
        If ``n_group`` does not divide the experts, ``topk_group`` is not in
        ``[1, n_group]``, ``top_k`` is not in ``[1, topk_group * n_experts / n_group]``,
        or ``bias`` is not ``(n_experts,)``.

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V3 technical report", 2024, eq. (12)-(16)
       and section 2.1.2; transformers' ``DeepseekV3TopkRouter``.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.moe import sigmoid_gating
    >>> logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    >>> scores, gates, index = sigmoid_gating(logits, top_k=2)
    >>> sorted(index[0].tolist()), round(gates.sum().item(), 4)
    ([0, 1], 1.0)

    A bias of +3 on expert 3 makes it chosen, but its gate still comes from
    its own (low) affinity:

    >>> _, gates, index = sigmoid_gating(logits, 2, bias=torch.tensor([0.0, 0.0, 0.0, 3.0]))
    >>> sorted(index[0].tolist())
    [0, 3]
    >>> # sigmoid(-1) / (sigmoid(2) + sigmoid(-1))
    >>> round(gates[0, index[0].tolist().index(3)].item(), 4)
    0.2339

    Two groups ``{0, 1}`` and ``{2, 3}``, one kept: the second group cannot be chosen.

    >>> logits = torch.tensor([[2.0, 1.9, 1.95, -5.0]])
    >>> _, _, index = sigmoid_gating(logits, 2, n_group=2, topk_group=1)
    >>> sorted(index[0].tolist())
    [0, 1]
    """
    check_tensor("router_logits", router_logits, dtype="float", ndim=2, shape="(N, n_experts)")
    n_tokens, n_experts = router_logits.shape
    topk_group = _check_groups(n_experts, top_k, n_group, topk_group)
    check_positive("routed_scaling_factor", routed_scaling_factor)
    scores = router_logits.float().sigmoid()  # (N, E)
    choice = scores
    if bias is not None:
        check_tensor("bias", bias, dtype="float", ndim=1, shape="(n_experts,)")
        if bias.shape[0] != n_experts:
            raise ValueError(f"bias must have shape ({n_experts},), got {tuple(bias.shape)}")
        choice = scores + bias  # (N, E) biased only for the choice
    if n_group > 1:
        size = n_experts // n_group
        grouped = choice.view(n_tokens, n_group, size)  # (N, G, E/G)
        group_scores = grouped.topk(min(2, size), dim=-1)[0].sum(dim=-1)  # (N, G) two best
        keep = torch.zeros_like(group_scores, dtype=torch.bool)
        keep.scatter_(1, group_scores.topk(topk_group, dim=-1)[1], True)  # (N, G)
        keep = keep.unsqueeze(-1).expand(-1, -1, size).reshape(n_tokens, n_experts)
        choice = choice.masked_fill(~keep, float("-inf"))
    index = choice.topk(top_k, dim=-1)[1]  # (N, k)
    gates = scores.gather(1, index)  # (N, k) unbiased affinities
    if norm_topk_prob:
        gates = gates / (gates.sum(dim=-1, keepdim=True) + 1e-20)
    return scores, gates * routed_scaling_factor, index


def update_routing_bias(bias, tokens_per_expert, update_rate=1e-3):
    r"""Auxiliary-loss-free balancing: one step of the bias update.

    :math:`b_i \leftarrow b_i + \gamma\,\mathrm{sign}(\bar c - c_i)`.

    After each training step, an expert that received more than the mean load
    :math:`\bar c` has its selection bias lowered by :math:`\gamma`, one that
    received fewer has it raised. The bias enters only the choice of experts
    (:func:`sigmoid_gating`), never the gates, so balancing adds no gradient
    that fights the language-modelling loss.

    Parameters
    ----------
    bias : torch.Tensor
        ``(n_experts,)`` current bias.
    tokens_per_expert : torch.Tensor
        ``(n_experts,)`` load of the last step (token-expert assignments).
    update_rate : float, default 1e-3
        :math:`\gamma` (0.001 for DeepSeek-V3's first 14.3T tokens, then 0).

    Returns
    -------
    torch.Tensor
        The new bias, same shape and dtype as ``bias``.

    Raises
    ------
    ValueError
        If the shapes differ or ``update_rate`` is negative.

    References
    ----------
    .. [1] Wang et al., "Auxiliary-loss-free load balancing strategy for
       mixture-of-experts", 2024, Algorithm 1.
    .. [2] DeepSeek-AI, "DeepSeek-V3 technical report", 2024, section 2.1.2.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.moe import update_routing_bias
    >>> update_routing_bias(torch.zeros(4), torch.tensor([8.0, 2.0, 5.0, 5.0]), 0.5)
    tensor([-0.5000,  0.5000,  0.0000,  0.0000])
    """
    check_tensor("bias", bias, dtype="float", ndim=1, shape="(n_experts,)")
    check_tensor("tokens_per_expert", tokens_per_expert, ndim=1, shape="(n_experts,)")
    if tokens_per_expert.shape != bias.shape:
        raise ValueError(
            f"tokens_per_expert must have the shape of bias {tuple(bias.shape)}, "
            f"got {tuple(tokens_per_expert.shape)}"
        )
    if (
        isinstance(update_rate, bool)
        or not isinstance(update_rate, (int, float))
        or update_rate < 0
    ):
        raise ValueError(f"update_rate must be a number >= 0, got {update_rate!r}")
    load = tokens_per_expert.to(bias.dtype)
    return bias + update_rate * torch.sign(load.mean() - load)


class DeepSeekMoE(nn.Module):
    """DeepSeek-V3's feed-forward layer: shared experts plus fine-grained routed experts.

    ``y = shared(x) + sum_i g_i expert_i(x)`` over the ``top_k`` routed experts
    that :func:`sigmoid_gating` picks. Every expert is a SwiGLU MLP
    (:class:`fmref.models.llama.SwiGLU`) of width ``d_expert``, far narrower
    than a dense layer's: DeepSeek-V3 splits each token's feed-forward compute
    over 8 of 256 routed experts of width 2,048 plus one shared expert,
    where a dense layer would have width 18,432. The ``n_shared_experts`` shared
    experts are stored as one SwiGLU of width ``n_shared_experts * d_expert``
    (the sum of several SwiGLUs over the same input is one wider SwiGLU).

    Parameters
    ----------
    d_model : int
        Token width.
    d_expert : int
        Hidden width of each expert (``moe_intermediate_size``).
    n_routed_experts : int
        Routed experts.
    top_k : int
        Routed experts per token (``num_experts_per_tok``).
    n_shared_experts : int, default 1
        Shared experts (0 for none).
    n_group : int, default 1
        Expert groups of the group-limited routing.
    topk_group : int, optional
        Groups a token may use (default ``n_group``).
    routed_scaling_factor : float, default 1.0
        Multiplies the routed gates.
    norm_topk_prob : bool, default True
        Normalise the chosen affinities to sum to 1 (before the scaling).

    Attributes
    ----------
    gate : torch.nn.Linear
        Router ``d_model -> n_routed_experts``, no bias.
    e_score_correction_bias : torch.Tensor
        Buffer ``(n_routed_experts,)``: the selection bias (saved with the weights).
    tokens_per_expert : torch.Tensor
        Non-saved buffer: assignments per expert counted in training mode since
        the last :meth:`update_bias`.
    experts : torch.nn.ModuleList of fmref.models.llama.SwiGLU
    shared_experts : fmref.models.llama.SwiGLU or None

    Raises
    ------
    ValueError
        If a size is not a positive int or the routing arguments do not fit
        (see :func:`sigmoid_gating`).

    References
    ----------
    .. [1] Dai et al., "DeepSeekMoE", ACL 2024 (fine-grained and shared experts).
    .. [2] DeepSeek-AI, "DeepSeek-V3 technical report", 2024, eq. (12)-(16).

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.moe import DeepSeekMoE
    >>> moe = DeepSeekMoE(d_model=16, d_expert=8, n_routed_experts=8, top_k=2,
    ...                   n_shared_experts=1, n_group=4, topk_group=2)
    >>> y, info = moe(torch.randn(2, 5, 16))
    >>> y.shape, info.expert_index.shape, int(info.tokens_per_expert.sum())
    (torch.Size([2, 5, 16]), torch.Size([10, 2]), 20)
    >>> sum(p.numel() for p in moe.parameters())  # 9 experts of 3 * 16 * 8, an 8 x 16 router
    3584
    """

    def __init__(
        self,
        d_model,
        d_expert,
        n_routed_experts,
        top_k,
        n_shared_experts=1,
        n_group=1,
        topk_group=None,
        routed_scaling_factor=1.0,
        norm_topk_prob=True,
    ):
        super().__init__()
        from fmref.models.llama import SwiGLU  # the experts are Llama's SwiGLU MLPs

        check_positive_int("d_model", d_model)
        check_positive_int("d_expert", d_expert)
        check_positive_int("n_routed_experts", n_routed_experts)
        check_int("n_shared_experts", n_shared_experts, low=0)
        self.topk_group = _check_groups(n_routed_experts, top_k, n_group, topk_group)
        check_positive("routed_scaling_factor", routed_scaling_factor)
        self.n_experts, self.top_k, self.n_group = n_routed_experts, top_k, n_group
        self.routed_scaling_factor, self.norm_topk_prob = routed_scaling_factor, norm_topk_prob
        self.gate = nn.Linear(d_model, n_routed_experts, bias=False)
        self.register_buffer("e_score_correction_bias", torch.zeros(n_routed_experts))
        self.register_buffer("tokens_per_expert", torch.zeros(n_routed_experts), persistent=False)
        self.experts = nn.ModuleList(SwiGLU(d_model, d_expert) for _ in range(n_routed_experts))
        self.shared_experts = (
            SwiGLU(d_model, d_expert * n_shared_experts) if n_shared_experts else None
        )

    def forward(self, x):
        """Route every token of ``x`` ``(..., d_model)``.

        Returns
        -------
        y : torch.Tensor
            Same shape as ``x``.
        info : RouterOutput
            ``router_probs`` holds the affinities normalised to sum to 1 per
            token, ``gates`` the scaled gates, and ``aux_loss`` DeepSeek-V3's
            complementary balance loss ``sum_i f_i P_i`` over these tokens
            (eq. 17-20 without its factor alpha; :func:`load_balancing_loss`
            of the normalised affinities).
        """
        shape = x.shape
        tokens = x.reshape(-1, shape[-1])  # (N, C)
        scores, gates, index = sigmoid_gating(
            self.gate(tokens),
            self.top_k,
            self.e_score_correction_bias,
            self.n_group,
            self.topk_group,
            self.norm_topk_prob,
            self.routed_scaling_factor,
        )  # (N, E), (N, k), (N, k)
        gates = gates.to(tokens.dtype)
        y = torch.zeros_like(tokens)
        for e, expert in enumerate(self.experts):
            tok, slot = torch.nonzero(index == e, as_tuple=True)  # tokens routed to e
            if tok.numel():
                y.index_add_(0, tok, gates[tok, slot].unsqueeze(-1) * expert(tokens[tok]))
        if self.shared_experts is not None:
            y = y + self.shared_experts(tokens)
        dispatch = F.one_hot(index, self.n_experts).sum(dim=1)  # (N, E)
        load = dispatch.sum(dim=0)  # (E,)
        if self.training:
            self.tokens_per_expert += load.to(self.tokens_per_expert.dtype)
        affinity = scores / scores.sum(dim=-1, keepdim=True)  # (N, E) s'_{i,t}
        info = RouterOutput(
            router_probs=affinity,
            expert_index=index,
            gates=gates,
            expert_mask=dispatch,
            tokens_per_expert=load,
            dropped=0,
            aux_loss=load_balancing_loss(affinity, dispatch),
        )
        return y.view(shape), info

    @torch.no_grad()
    def update_bias(self, update_rate=1e-3):
        """Apply :func:`update_routing_bias` with the load counted since the last call.

        Call it after each optimiser step (``fmref.train.loop.fit``'s
        ``after_step``). It resets ``tokens_per_expert``.

        Parameters
        ----------
        update_rate : float, default 1e-3
            :math:`\\gamma`.

        Returns
        -------
        torch.Tensor
            The new bias.

        Examples
        --------
        >>> import torch
        >>> from fmref.nn.moe import DeepSeekMoE
        >>> moe = DeepSeekMoE(8, 4, n_routed_experts=4, top_k=1).train()
        >>> _ = moe(torch.randn(32, 8))
        >>> int(moe.tokens_per_expert.sum()), int((moe.update_bias(0.1) != 0).sum()) > 0
        (32, True)
        >>> int(moe.tokens_per_expert.sum())
        0
        """
        new = update_routing_bias(self.e_score_correction_bias, self.tokens_per_expert, update_rate)
        self.e_score_correction_bias.copy_(new)
        self.tokens_per_expert.zero_()
        return new
