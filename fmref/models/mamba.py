"""Mamba: a language model built from selective state-space layers instead of attention.

A state-space layer keeps, for each of its ``d_inner`` channels, a state of
``d_state`` numbers and updates it once per token,

.. math::

   h_t = \\bar A_t h_{t-1} + \\bar B_t x_t, \\qquad y_t = C_t h_t + D x_t,

with :math:`\\bar A_t = \\exp(\\Delta_t A)` and :math:`\\bar B_t = \\Delta_t B_t`
(the discretisation of Mamba's reference code). S4 fixed :math:`\\Delta, B, C`;
Mamba makes them functions of the input (*selection*), so a token can decide
how much of the past to keep (:math:`\\Delta \\to 0`: ignore me) or to forget
(large :math:`\\Delta`: reset to me). The recurrence is linear in :math:`h`, so
a whole sequence is computed by a parallel *scan* (:func:`selective_scan`,
``log2 T`` steps of elementwise products) during training, and one token at a
time from a fixed-size state during generation (:func:`selective_scan_step`,
:class:`MambaCache`): no cache grows with the context.

Names follow the reference code ``mamba_ssm`` and transformers'
``MambaForCausalLM`` (``in_proj``, ``conv1d``, ``x_proj``, ``dt_proj``,
``A_log``, ``D``, ``out_proj``, ``norm_f``), so :meth:`Mamba.from_hf` copies
the weights name for name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import (
    check_hf_model,
    check_instance,
    check_int,
    check_positive,
    check_positive_int,
    check_tensor,
    check_token_sequence,
)
from fmref.nn.norm import RMSNorm

__all__ = [
    "MambaConfig",
    "selective_scan",
    "selective_scan_step",
    "MambaCache",
    "MambaMixer",
    "MambaBlock",
    "Mamba",
    "mamba_state_bytes",
    "mamba_2_8b",
    "selective_copy_batch",
    "train_selective_copy",
]


@dataclass
class MambaConfig:
    """Shape of a Mamba language model (``mamba_ssm``'s names).

    Parameters
    ----------
    vocab_size : int
        Number of token ids.
    d_model : int
        Model width ``C``.
    n_layer : int
        Number of Mamba blocks.
    d_state : int, default 16
        State size ``N`` per channel (S4's and Mamba's ``N = 16``).
    d_conv : int, default 4
        Width of the causal depthwise convolution before the scan.
    expand : int, default 2
        ``d_inner = expand * d_model`` channels inside a block.
    dt_rank : int or None, default None
        Rank of the projection that makes the step size; ``None`` means
        ``ceil(d_model / 16)``.
    max_seq_len : int, default 2048
        Longest sequence accepted (the recurrence itself has no limit: this is
        the length the model was trained at, the context
        :func:`fmref.infer.generate.generate` respects).
    norm_eps : float, default 1e-5
        Epsilon of every RMSNorm.
    conv_bias : bool, default True
        Bias in the convolution.
    bias : bool, default False
        Biases in ``in_proj`` and ``out_proj``.
    tie_embeddings : bool, default True
        The output head shares the embedding table.

    Raises
    ------
    ValueError
        If a size is not a positive int or ``norm_eps`` is not positive.

    References
    ----------
    .. [1] Gu and Dao, "Mamba: Linear-Time Sequence Modeling with Selective
       State Spaces", COLM 2024 (arXiv 2312.00752).

    Examples
    --------
    >>> from fmref.models.mamba import MambaConfig
    >>> cfg = MambaConfig(vocab_size=64, d_model=32, n_layer=2)
    >>> cfg.d_inner, cfg.dt_rank, cfg.d_state
    (64, 2, 16)
    >>> MambaConfig(64, 32, 2, d_state=0)
    Traceback (most recent call last):
    ...
    ValueError: d_state must be a positive int (>= 1), got 0
    """

    vocab_size: int  # number of token ids
    d_model: int  # model width C
    n_layer: int  # Mamba blocks
    d_state: int = 16  # N: state size per channel
    d_conv: int = 4  # causal depthwise convolution width
    expand: int = 2  # d_inner = expand * d_model
    dt_rank: int | None = None  # rank of the step-size projection; None = ceil(d_model / 16)
    max_seq_len: int = 2048  # longest sequence accepted (the training length)
    norm_eps: float = 1e-5  # RMSNorm epsilon
    conv_bias: bool = True  # bias in conv1d
    bias: bool = False  # biases in in_proj and out_proj
    tie_embeddings: bool = True  # lm_head shares the embedding

    def __post_init__(self):
        for name in ("vocab_size", "d_model", "n_layer", "d_state", "d_conv", "expand"):
            check_positive_int(name, getattr(self, name))
        if self.dt_rank is None:
            self.dt_rank = math.ceil(self.d_model / 16)
        check_positive_int("dt_rank", self.dt_rank)
        check_positive_int("max_seq_len", self.max_seq_len)
        check_positive("norm_eps", self.norm_eps)

    @property
    def d_inner(self):
        """Channels inside a block, ``expand * d_model``."""
        return self.expand * self.d_model


def _check_shaped(name, value, shape, words):
    """``value`` if it is a float tensor of exactly ``shape`` (``words`` names the dims)."""
    check_tensor(name, value, dtype="float", ndim=len(shape), shape=words)
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {words} = {tuple(shape)}, "
                         f"got {tuple(value.shape)}")  # fmt: skip
    return value


def _check_scan_inputs(u, delta, A, B, C, D, z, state, ndim):
    """The state to start from (zeros if ``state`` is None), after checking every shape.

    ``ndim`` is 3 for a sequence ``(batch, T, d_inner)``, 2 for one token ``(batch, d_inner)``.
    """
    lead_words = "(batch, T, " if ndim == 3 else "(batch, "
    check_tensor("u", u, dtype="float", ndim=ndim, shape=lead_words + "d_inner)")
    lead, channels = tuple(u.shape[:-1]), u.shape[-1]
    check_tensor("A", A, dtype="float", ndim=2, shape="(d_inner, d_state)")
    n = A.shape[1]
    _check_shaped("A", A, (channels, n), "(d_inner, d_state)")
    _check_shaped("delta", delta, u.shape, lead_words + "d_inner)")
    _check_shaped("B", B, lead + (n,), lead_words + "d_state)")
    _check_shaped("C", C, lead + (n,), lead_words + "d_state)")
    if D is not None:
        _check_shaped("D", D, (channels,), "(d_inner,)")
    if z is not None:
        _check_shaped("z", z, u.shape, lead_words + "d_inner)")
    if state is None:
        return u.new_zeros(u.shape[0], channels, n)
    return _check_shaped("state", state, (u.shape[0], channels, n), "(batch, d_inner, d_state)")


def _hillis_steele(a, b):
    """Every ``h_t = a_t h_{t-1} + b_t`` (``h_{-1} = 0``) along dim 1, in log2 T rounds."""
    length, offset = a.shape[1], 1
    while offset < length:  # after the round, (a_t, b_t) compose tokens t - 2 * offset + 1 .. t
        b = torch.cat([b[:, :offset], a[:, offset:] * b[:, :-offset] + b[:, offset:]], dim=1)
        a = torch.cat([a[:, :offset], a[:, offset:] * a[:, :-offset]], dim=1)
        offset *= 2
    return b


class _LinearScan(torch.autograd.Function):
    """The scan with its own backward pass: the adjoint recurrence is a scan too, run in reverse.

    With ``h_t = a_t h_{t-1} + b_t`` and ``g_t = dL/dh_t``, the total gradient
    ``lam_t = g_t + a_{t+1} lam_{t+1}`` gives ``dL/db_t = lam_t`` and
    ``dL/da_t = lam_t h_{t-1}`` (Mamba's kernel does the same). Autograd through
    the slices of :func:`_hillis_steele` would allocate a full-size zero tensor
    per slice instead.
    """

    @staticmethod
    def forward(ctx, a, b):
        h = _hillis_steele(a, b)
        ctx.save_for_backward(a, h)
        return h

    @staticmethod
    def backward(ctx, grad):
        a, h = ctx.saved_tensors
        a_next = torch.cat([a[:, 1:], torch.zeros_like(a[:, :1])], dim=1)  # a_{t+1}, 0 at the end
        lam = _hillis_steele(a_next.flip(1), grad.flip(1)).flip(1)  # the reverse scan
        h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)  # h_{t-1}
        return lam * h_prev, lam


def selective_scan(u, delta, A, B, C, D=None, z=None, state=None, method="parallel"):
    """Run the selective state-space recurrence over a whole sequence.

    ``h_t = exp(delta_t A) * h_{t-1} + delta_t B_t u_t`` for every channel
    (``h`` is ``(d_inner, d_state)``), ``y_t = h_t C_t + D u_t``, then
    ``y_t * silu(z_t)`` when a gate is given. The step ``h -> a h + b`` composes
    associatively, ``(a1, b1) then (a2, b2) = (a1 a2, a2 b1 + b2)``, so
    ``method="parallel"`` computes every prefix in ``ceil(log2 T)`` rounds of
    elementwise products (Hillis and Steele's scan); ``"sequential"`` runs the
    recurrence token by token with :func:`selective_scan_step`. Both give the
    same result up to rounding.

    Parameters
    ----------
    u : torch.Tensor
        Inputs ``(batch, T, d_inner)``.
    delta : torch.Tensor
        Positive step sizes ``(batch, T, d_inner)`` (after the softplus).
    A : torch.Tensor
        ``(d_inner, d_state)``, negative for a decaying state.
    B, C : torch.Tensor
        Input-dependent ``(batch, T, d_state)``, shared by all channels.
    D : torch.Tensor, optional
        Skip connection ``(d_inner,)``.
    z : torch.Tensor, optional
        Gate ``(batch, T, d_inner)``.
    state : torch.Tensor, optional
        State ``(batch, d_inner, d_state)`` before the first token; zeros if omitted.
    method : {"parallel", "sequential"}, default "parallel"
        The scan or the token-by-token recurrence.

    Returns
    -------
    y : torch.Tensor
        ``(batch, T, d_inner)``.
    state : torch.Tensor
        The state after the last token ``(batch, d_inner, d_state)``.

    Raises
    ------
    ValueError
        If the shapes do not match or ``method`` is unknown.
    TypeError
        If an input is not a floating-point tensor.

    References
    ----------
    .. [1] Gu and Dao, "Mamba", 2023, Algorithm 2 and section 3.3.2.
    .. [2] Hillis and Steele, "Data Parallel Algorithms", CACM 1986;
       Blelloch, "Prefix Sums and Their Applications", 1990.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.mamba import selective_scan
    >>> g = torch.Generator().manual_seed(0)
    >>> u, delta = torch.randn(2, 9, 3, generator=g), torch.rand(2, 9, 3, generator=g)
    >>> A = -torch.rand(3, 4, generator=g)  # (d_inner, d_state)
    >>> B, C = torch.randn(2, 9, 4, generator=g), torch.randn(2, 9, 4, generator=g)
    >>> y, h = selective_scan(u, delta, A, B, C)
    >>> y.shape, h.shape
    (torch.Size([2, 9, 3]), torch.Size([2, 3, 4]))
    >>> y2, h2 = selective_scan(u, delta, A, B, C, method="sequential")
    >>> torch.allclose(y, y2, atol=1e-6), torch.allclose(h, h2, atol=1e-6)
    (True, True)

    With ``delta = 0`` every token is ignored: the state never leaves zero.

    >>> y, h = selective_scan(u, torch.zeros_like(u), A, B, C)
    >>> float(y.abs().max()), float(h.abs().max())
    (0.0, 0.0)
    """
    state = _check_scan_inputs(u, delta, A, B, C, D, z, state, ndim=3)
    if method not in ("parallel", "sequential"):
        raise ValueError(f"method must be 'parallel' or 'sequential', got {method!r}")
    length = u.shape[1]
    if method == "sequential":
        ys = []
        for t in range(length):
            y, state = _step(u[:, t], delta[:, t], A, B[:, t], C[:, t], None, None, state)
            ys.append(y)
        y = torch.stack(ys, dim=1)  # (batch, T, d_inner)
    else:
        a = torch.exp(delta[..., None] * A)  # (batch, T, d_inner, N): discretised A
        b = (delta * u)[..., None] * B[:, :, None, :]  # (batch, T, d_inner, N): delta B u
        b = torch.cat([a[:, :1] * state[:, None] + b[:, :1], b[:, 1:]], dim=1)  # fold in h_0
        h = _LinearScan.apply(a, b)  # (batch, T, d_inner, N): every state
        state = h[:, -1]  # (batch, d_inner, N)
        y = (h @ C[..., None]).squeeze(-1)  # (batch, T, d_inner): h_t C_t
    if D is not None:
        y = y + u * D
    if z is not None:
        y = y * F.silu(z)
    return y, state


def selective_scan_step(u, delta, A, B, C, D=None, z=None, state=None):
    """One token of the selective state-space recurrence: the generation form.

    Parameters
    ----------
    u, delta : torch.Tensor
        ``(batch, d_inner)``.
    A : torch.Tensor
        ``(d_inner, d_state)``.
    B, C : torch.Tensor
        ``(batch, d_state)``.
    D : torch.Tensor, optional
        ``(d_inner,)``.
    z : torch.Tensor, optional
        Gate ``(batch, d_inner)``.
    state : torch.Tensor, optional
        ``(batch, d_inner, d_state)`` before this token; zeros if omitted.

    Returns
    -------
    y : torch.Tensor
        ``(batch, d_inner)``.
    state : torch.Tensor
        The updated state ``(batch, d_inner, d_state)``.

    Raises
    ------
    ValueError
        If the shapes do not match.
    TypeError
        If an input is not a floating-point tensor.

    References
    ----------
    .. [1] Gu and Dao, "Mamba", 2023, equation 2a-2b.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.mamba import selective_scan_step
    >>> u, delta = torch.ones(1, 1), torch.full((1, 1), 0.5)
    >>> A, B, C = -torch.ones(1, 1), torch.ones(1, 1), torch.ones(1, 1)
    >>> y, h = selective_scan_step(u, delta, A, B, C)  # h = 0.5 * 1 * 1
    >>> y2, h2 = selective_scan_step(u, delta, A, B, C, state=h)  # h = e^-0.5 h + 0.5
    >>> round(float(y), 4), round(float(y2), 4)
    (0.5, 0.8033)
    """
    state = _check_scan_inputs(u, delta, A, B, C, D, z, state, ndim=2)
    return _step(u, delta, A, B, C, D, z, state)


def _step(u, delta, A, B, C, D, z, state):
    """:func:`selective_scan_step` without the checks (the scan calls it T times)."""
    a = torch.exp(delta[..., None] * A)  # (batch, d_inner, N)
    state = a * state + (delta * u)[..., None] * B[:, None, :]  # (batch, d_inner, N)
    y = (state @ C[..., None]).squeeze(-1)  # (batch, d_inner)
    if D is not None:
        y = y + u * D
    if z is not None:
        y = y * F.silu(z)
    return y, state


class MambaCache:
    """The recurrent state of a :class:`Mamba` model: fixed size, whatever the length.

    Per layer it holds the last ``d_conv - 1`` inputs of the convolution and the
    ``(d_inner, d_state)`` state of the scan; ``length`` counts the tokens seen.
    It plays the part of a KV cache (:class:`fmref.nn.attention.KVCache`) for
    :func:`fmref.infer.generate.generate`, but its size does not grow.

    Parameters
    ----------
    n_layers : int
        Number of layers.

    Attributes
    ----------
    conv_states : list of torch.Tensor or None
        ``(batch, d_inner, d_conv - 1)`` per layer.
    ssm_states : list of torch.Tensor or None
        ``(batch, d_inner, d_state)`` per layer.
    length : int
        Tokens consumed so far.

    Raises
    ------
    ValueError
        If ``n_layers`` is not a positive int.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.mamba import Mamba, MambaConfig
    >>> model = Mamba(MambaConfig(vocab_size=32, d_model=16, n_layer=2)).eval()
    >>> cache = model.make_kv_cache()
    >>> _ = model(torch.randint(0, 32, (1, 10)), kv_cache=cache)
    >>> size = cache.nbytes()
    >>> _ = model(torch.randint(0, 32, (1, 5)), kv_cache=cache)
    >>> cache.length, cache.nbytes() == size  # 15 tokens, the same bytes as after 10
    (15, True)
    >>> size  # 2 layers * 32 channels * (16 + 3) values * 4 bytes
    4864
    """

    def __init__(self, n_layers):
        self.n_layers = check_positive_int("n_layers", n_layers)
        self.reset()

    def reset(self):
        """Forget everything: no state, length 0."""
        self.conv_states = [None] * self.n_layers
        self.ssm_states = [None] * self.n_layers
        self.length = 0

    def nbytes(self):
        """Bytes held by the states.

        Returns
        -------
        int
        """
        tensors = [t for t in self.conv_states + self.ssm_states if t is not None]
        return sum(t.numel() * t.element_size() for t in tensors)

    def __repr__(self):
        return f"MambaCache(n_layers={self.n_layers}, length={self.length})"


class MambaMixer(nn.Module):
    """The selective state-space layer of a Mamba block.

    ``in_proj`` splits the input into ``x`` and a gate ``z``; ``x`` goes through a
    causal depthwise convolution and SiLU, then ``x_proj`` makes the
    input-dependent ``(dt, B, C)``, ``dt_proj`` and a softplus make the step
    ``delta``; :func:`selective_scan` mixes the sequence and ``out_proj`` maps
    back to ``d_model``.

    Parameters
    ----------
    config : MambaConfig
        Model shape.
    layer_idx : int
        Position in the stack (its slot in a :class:`MambaCache`).

    Attributes
    ----------
    in_proj : torch.nn.Linear
        ``d_model -> 2 * d_inner`` (``x`` and ``z``).
    conv1d : torch.nn.Conv1d
        Depthwise, kernel ``d_conv``, causal.
    x_proj : torch.nn.Linear
        ``d_inner -> dt_rank + 2 * d_state``, no bias.
    dt_proj : torch.nn.Linear
        ``dt_rank -> d_inner``, with bias.
    A_log : torch.nn.Parameter
        ``(d_inner, d_state)``; ``A = -exp(A_log)``, initialised to ``-(1..N)``
        (S4D-Real).
    D : torch.nn.Parameter
        ``(d_inner,)`` skip connection.
    out_proj : torch.nn.Linear
        ``d_inner -> d_model``.

    References
    ----------
    .. [1] Gu and Dao, "Mamba", 2023, Figure 3 and section 3.4.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.mamba import MambaConfig, MambaMixer
    >>> mixer = MambaMixer(MambaConfig(vocab_size=8, d_model=16, n_layer=1), layer_idx=0)
    >>> mixer(torch.randn(2, 7, 16)).shape  # (B, T, C)
    torch.Size([2, 7, 16])
    >>> -mixer.A_log.exp()[0, :4]
    tensor([-1., -2., -3., -4.], grad_fn=<NegBackward0>)
    """

    def __init__(self, config, layer_idx):
        super().__init__()
        check_instance("config", config, MambaConfig)
        c = config
        self.layer_idx = check_int("layer_idx", layer_idx, low=0, high=c.n_layer - 1)
        self.d_inner, self.d_state, self.d_conv, self.dt_rank = (
            c.d_inner, c.d_state, c.d_conv, c.dt_rank
        )  # fmt: skip
        self.in_proj = nn.Linear(c.d_model, 2 * c.d_inner, bias=c.bias)
        self.conv1d = nn.Conv1d(
            c.d_inner, c.d_inner, c.d_conv, groups=c.d_inner, padding=c.d_conv - 1, bias=c.conv_bias
        )
        self.x_proj = nn.Linear(c.d_inner, c.dt_rank + 2 * c.d_state, bias=False)
        self.dt_proj = nn.Linear(c.dt_rank, c.d_inner, bias=True)
        A = torch.arange(1, c.d_state + 1, dtype=torch.float32).repeat(c.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))  # (d_inner, N): S4D-Real A = -(1..N)
        self.D = nn.Parameter(torch.ones(c.d_inner))
        self.out_proj = nn.Linear(c.d_inner, c.d_model, bias=c.bias)
        with torch.no_grad():  # mamba_ssm's step init: delta ~ log-uniform(1e-3, 0.1)
            nn.init.uniform_(self.dt_proj.weight, -(c.dt_rank**-0.5), c.dt_rank**-0.5)
            log_dt = torch.rand(c.d_inner) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)
            dt = log_dt.exp().clamp(min=1e-4)
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus^-1(dt)

    def forward(self, x, cache=None):
        """Mix the sequence ``x``, continuing from ``cache`` if given.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, T, d_model)``.
        cache : MambaCache, optional
            The state before ``x``; updated in place with the state after it.

        Returns
        -------
        torch.Tensor
            ``(B, T, d_model)``.
        """
        batch, length, _ = x.shape
        xz = self.in_proj(x)  # (B, T, 2 * d_inner)
        u, z = xz.chunk(2, dim=-1)  # (B, T, d_inner) each
        u = u.transpose(1, 2)  # (B, d_inner, T)
        prev = None if cache is None else cache.conv_states[self.layer_idx]
        if prev is None:
            prev = u.new_zeros(batch, self.d_inner, self.d_conv - 1)  # causal: zeros before t=0
        if prev.shape[0] != batch:
            raise ValueError(f"kv_cache holds a batch of {prev.shape[0]}, got x of batch {batch}")
        window = torch.cat([prev, u], dim=-1)  # (B, d_inner, d_conv - 1 + T)
        u = F.conv1d(window, self.conv1d.weight, self.conv1d.bias, groups=self.d_inner)
        u = F.silu(u).transpose(1, 2)  # (B, T, d_inner)
        dt, B, C = self.x_proj(u).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))  # (B, T, d_inner)
        A = -torch.exp(self.A_log.float())  # (d_inner, N)
        state = None if cache is None else cache.ssm_states[self.layer_idx]
        if cache is not None and length == 1:  # generation: one recurrent step
            y, state = selective_scan_step(
                u[:, 0], delta[:, 0], A, B[:, 0], C[:, 0], self.D, z[:, 0], state
            )
            y = y[:, None]  # (B, 1, d_inner)
        else:  # training or prefill: the parallel scan
            y, state = selective_scan(u, delta, A, B, C, self.D, z, state)
        if cache is not None:
            keep = window.shape[-1] - self.d_conv + 1  # the last d_conv - 1 inputs
            cache.conv_states[self.layer_idx] = window[..., keep:].clone()
            cache.ssm_states[self.layer_idx] = state
        return self.out_proj(y)  # (B, T, d_model)


class MambaBlock(nn.Module):
    """One residual block: ``x + mixer(norm(x))`` (no separate MLP in Mamba).

    Parameters
    ----------
    config : MambaConfig
        Model shape.
    layer_idx : int
        Position of the block in the stack.

    Attributes
    ----------
    norm : fmref.nn.norm.RMSNorm
    mixer : MambaMixer

    Examples
    --------
    >>> import torch
    >>> from fmref.models.mamba import MambaBlock, MambaConfig
    >>> block = MambaBlock(MambaConfig(vocab_size=8, d_model=16, n_layer=1), layer_idx=0)
    >>> block(torch.randn(2, 5, 16)).shape
    torch.Size([2, 5, 16])
    """

    def __init__(self, config, layer_idx):
        super().__init__()
        check_instance("config", config, MambaConfig)
        self.norm = RMSNorm(config.d_model, eps=config.norm_eps)
        self.mixer = MambaMixer(config, layer_idx)

    def forward(self, x, cache=None):
        return x + self.mixer(self.norm(x), cache=cache)  # (B, T, C)


class Mamba(nn.Module):
    """Mamba causal language model: embedding, Mamba blocks, RMSNorm, tied head.

    Parameters
    ----------
    config : MambaConfig
        Model shape.

    Attributes
    ----------
    embedding : torch.nn.Embedding
        ``(vocab_size, d_model)``; no position table: the recurrence orders tokens.
    layers : torch.nn.ModuleList of MambaBlock
    norm_f : fmref.nn.norm.RMSNorm
    lm_head : torch.nn.Linear
        ``d_model -> vocab_size``, tied to ``embedding`` unless
        ``config.tie_embeddings`` is False.

    Raises
    ------
    TypeError
        If ``config`` is not a :class:`MambaConfig`.

    References
    ----------
    .. [1] Gu and Dao, "Mamba: Linear-Time Sequence Modeling with Selective
       State Spaces", COLM 2024.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.mamba import Mamba, MambaConfig
    >>> model = Mamba(MambaConfig(vocab_size=64, d_model=32, n_layer=2)).eval()
    >>> idx = torch.randint(0, 64, (2, 12))
    >>> logits = model(idx)  # the parallel scan
    >>> logits.shape
    torch.Size([2, 12, 64])

    The recurrent form, one token at a time from the state, gives the same logits:

    >>> cache = model.make_kv_cache()
    >>> steps = torch.cat([model(idx[:, t : t + 1], kv_cache=cache) for t in range(12)], dim=1)
    >>> cache.length, torch.allclose(steps, logits, atol=1e-5)
    (12, True)
    """

    def __init__(self, config):
        super().__init__()
        check_instance("config", config, MambaConfig)
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.d_model)
        nn.init.normal_(self.embedding.weight, std=0.02)
        self.layers = nn.ModuleList(MambaBlock(config, i) for i in range(config.n_layer))
        self.norm_f = RMSNorm(config.d_model, eps=config.norm_eps)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.embedding.weight

    def make_kv_cache(self):
        """An empty :class:`MambaCache` with one slot per layer.

        Returns
        -------
        MambaCache

        Examples
        --------
        >>> from fmref.models.mamba import Mamba, MambaConfig
        >>> Mamba(MambaConfig(16, 8, 3)).make_kv_cache()
        MambaCache(n_layers=3, length=0)
        """
        return MambaCache(self.config.n_layer)

    def forward(self, idx, kv_cache=None):
        """Logits of the next token at every position.

        Parameters
        ----------
        idx : torch.Tensor
            Token ids ``(B, T)``.
        kv_cache : MambaCache, optional
            The state after the earlier tokens; ``idx`` continues them and the
            state is advanced in place.

        Returns
        -------
        torch.Tensor
            ``(B, T, vocab_size)``.

        Raises
        ------
        TypeError
            If ``idx`` is not an integer tensor or ``kv_cache`` not a :class:`MambaCache`.
        ValueError
            If ``idx`` is not ``(B, T)`` with ``T >= 1`` and ids in the vocabulary,
            the sequence exceeds ``max_seq_len``, or the cache has another number
            of layers or another batch size.
        """
        c = self.config
        if kv_cache is not None:
            check_instance("kv_cache", kv_cache, MambaCache)
        check_token_sequence("idx", idx, c.vocab_size, c.max_seq_len, "max_seq_len",
                             kv_cache, c.n_layer)  # fmt: skip
        x = self.embedding(idx)  # (B, T, C)
        for layer in self.layers:
            x = layer(x, cache=kv_cache)
        if kv_cache is not None:
            kv_cache.length += idx.shape[1]
        return self.lm_head(self.norm_f(x))  # (B, T, vocab_size)

    @classmethod
    def from_hf(cls, hf_model):
        """Copy a transformers ``MambaForCausalLM`` (same weights, same logits).

        Parameters
        ----------
        hf_model : transformers.MambaForCausalLM
            A model with SiLU activations.

        Returns
        -------
        Mamba
            In eval mode; ``max_seq_len`` is set to 2048 (transformers has none).

        Raises
        ------
        TypeError
            If ``hf_model`` is not a ``MambaForCausalLM``.
        ValueError
            If its activation is not SiLU.

        Examples
        --------
        >>> import torch
        >>> import transformers
        >>> from fmref.models.mamba import Mamba
        >>> hf_cfg = transformers.MambaConfig(vocab_size=64, hidden_size=32, state_size=8,
        ...                                   num_hidden_layers=2)
        >>> hf = transformers.MambaForCausalLM(hf_cfg).eval()
        >>> model = Mamba.from_hf(hf)
        >>> model.config.d_inner, model.config.dt_rank
        (64, 2)
        >>> idx = torch.randint(0, 64, (1, 10))
        >>> torch.allclose(model(idx), hf(idx).logits, atol=1e-5)
        True
        """
        check_hf_model("hf_model", hf_model, "MambaForCausalLM")
        c = hf_model.config
        if c.hidden_act != "silu":
            raise ValueError(f"hf_model.config.hidden_act must be 'silu', got {c.hidden_act!r}")
        config = MambaConfig(
            vocab_size=c.vocab_size,
            d_model=c.hidden_size,
            n_layer=c.num_hidden_layers,
            d_state=c.state_size,
            d_conv=c.conv_kernel,
            expand=c.intermediate_size // c.hidden_size,
            dt_rank=int(c.time_step_rank),
            norm_eps=c.layer_norm_epsilon,
            conv_bias=c.use_conv_bias,
            bias=c.use_bias,
            tie_embeddings=bool(c.tie_word_embeddings),
        )
        if config.d_inner != c.intermediate_size:
            raise ValueError(
                f"hf_model.config.intermediate_size must be a multiple of hidden_size, "
                f"got {c.intermediate_size}"
            )
        src = hf_model.state_dict()
        dst = {"embedding.weight": src["backbone.embeddings.weight"],
               "norm_f.weight": src["backbone.norm_f.weight"],
               "lm_head.weight": src["lm_head.weight"]}  # fmt: skip
        for key, value in src.items():
            if key.startswith("backbone.layers."):
                dst[key.removeprefix("backbone.")] = value  # same names inside a block
        model = cls(config)
        model.load_state_dict(dst)
        return model.eval()


def mamba_state_bytes(config, batch=1, bytes_per_value=2):
    """Bytes of the recurrent state a :class:`Mamba` model keeps while generating.

    Per layer: the scan state ``d_inner * d_state`` and the convolution's last
    ``d_conv - 1`` inputs ``d_inner * (d_conv - 1)``. It does not depend on the
    number of tokens, where a KV cache grows by
    :func:`fmref.infer.kv.kv_cache_bytes` per token.

    Parameters
    ----------
    config : MambaConfig
        Model shape.
    batch : int, default 1
        Sequences.
    bytes_per_value : float, default 2
        2 for fp16/bf16 (the reference code keeps the states in the model's dtype).

    Returns
    -------
    int or float
        ``n_layer * d_inner * (d_state + d_conv - 1) * batch * bytes_per_value``.

    Raises
    ------
    TypeError
        If ``config`` is not a :class:`MambaConfig`.
    ValueError
        If ``batch`` is not a positive int or ``bytes_per_value`` not positive.

    References
    ----------
    .. [1] Gu and Dao, "Mamba", 2023, section 3.3 (the state is ``(D, N)`` per layer).

    Examples
    --------
    >>> from fmref.models.mamba import mamba_2_8b, mamba_state_bytes
    >>> from fmref.infer.kv import kv_cache_bytes
    >>> state = mamba_state_bytes(mamba_2_8b())  # 64 layers, 5,120 channels, N = 16
    >>> f"{state:,} bytes"
    '12,451,840 bytes'
    >>> per_token = kv_cache_bytes(n_layers=32, n_kv_heads=32, d_head=80)  # Pythia-2.8B
    >>> per_token, round(state / per_token, 1)  # the state weighs this many tokens of KV
    (327680, 38.0)
    """
    check_instance("config", config, MambaConfig)
    check_positive_int("batch", batch)
    check_positive("bytes_per_value", bytes_per_value)
    c = config
    return c.n_layer * c.d_inner * (c.d_state + c.d_conv - 1) * batch * bytes_per_value


def mamba_2_8b():
    """Configuration of Mamba-2.8B (``state-spaces/mamba-2.8b``), without weights.

    Returns
    -------
    MambaConfig
        64 layers of width 2,560 (5,120 channels inside), ``N = 16``,
        vocabulary 50,277 padded to 50,280, trained on 2,048-token sequences.

    References
    ----------
    .. [1] Gu and Dao, "Mamba", 2023, Table 3 (the 2.8B model trained on the Pile);
       the shape is the ``config.json`` of ``state-spaces/mamba-2.8b``.

    Examples
    --------
    >>> from fmref.models.mamba import mamba_2_8b
    >>> cfg = mamba_2_8b()
    >>> cfg.d_inner, cfg.dt_rank, cfg.d_state  # 2 x 2,560 channels, ceil(2,560 / 16)
    (5120, 160, 16)

    Its 2,768,345,600 parameters (2.8B) are counted in ``tests/test_mamba.py``
    on the meta device, where transformers' ``MambaForCausalLM`` of this shape
    counts the same.
    """
    return MambaConfig(vocab_size=50280, d_model=2560, n_layer=64)


def selective_copy_batch(batch, n_memorize=4, n_noise=12, n_symbols=8, generator=None):
    """Sequences of the selective-copying task: recall the few symbols hidden among noise.

    ``n_memorize`` symbols (ids ``2 .. n_symbols + 1``) sit at random, ordered
    positions among ``n_noise`` noise tokens (id 0); a separator (id 1) follows,
    then the symbols again in order. A model that predicts the last
    ``n_memorize`` tokens must pick out the symbols and skip the noise at
    varying distances: a fixed (time-invariant) convolution or S4 cannot, an
    input-dependent recurrence or attention can.

    Parameters
    ----------
    batch : int
        Number of sequences.
    n_memorize : int, default 4
        Symbols to recall.
    n_noise : int, default 12
        Noise tokens among them.
    n_symbols : int, default 8
        Distinct symbols.
    generator : torch.Generator, optional
        Randomness.

    Returns
    -------
    torch.Tensor
        ``(batch, n_memorize + n_noise + 1 + n_memorize)`` token ids, vocabulary
        ``n_symbols + 2``; the targets are the last ``n_memorize`` tokens.

    Raises
    ------
    ValueError
        If a size is not a positive int (``n_noise`` may be 0).

    References
    ----------
    .. [1] Gu and Dao, "Mamba", 2023, section 3.1 and Figure 2.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.mamba import selective_copy_batch
    >>> selective_copy_batch(2, n_memorize=3, n_noise=4, generator=torch.Generator().manual_seed(0))
    tensor([[0, 0, 0, 0, 6, 9, 7, 1, 6, 9, 7],
            [2, 0, 0, 0, 0, 5, 5, 1, 2, 5, 5]])
    """
    check_positive_int("batch", batch)
    check_positive_int("n_memorize", n_memorize)
    check_int("n_noise", n_noise, low=0)
    check_positive_int("n_symbols", n_symbols)
    length = n_memorize + n_noise
    symbols = torch.randint(2, n_symbols + 2, (batch, n_memorize), generator=generator)
    keys = torch.rand(batch, length, generator=generator)
    slots = keys.argsort(dim=1)[:, :n_memorize].sort(dim=1).values  # (batch, n_memorize)
    seq = torch.zeros(batch, length, dtype=torch.long)
    seq.scatter_(1, slots, symbols)
    sep = torch.ones(batch, 1, dtype=torch.long)
    return torch.cat([seq, sep, symbols], dim=1)


def train_selective_copy(model, steps=300, batch=32, lr=3e-3, n_memorize=4, n_noise=12,
                         n_symbols=8, seed=0, eval_batch=512):  # fmt: skip
    """Train ``model`` on :func:`selective_copy_batch` through :func:`fmref.train.loop.fit`.

    The cross-entropy is taken on the recalled symbols only (the tokens after
    the separator); AdamW with a cosine schedule (10% warm-up, floor ``lr / 10``).

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(B, T)`` ids to ``(B, T, n_symbols + 2)`` logits (a :class:`Mamba`
        or an attention model of the same vocabulary).
    steps, batch : int
        Optimiser steps and sequences per step.
    lr : float
        Peak learning rate.
    n_memorize, n_noise, n_symbols : int
        The task (:func:`selective_copy_batch`).
    seed : int
        Seeds the batches.
    eval_batch : int
        Fresh sequences for the final accuracy.

    Returns
    -------
    dict
        ``loss`` (one per step) and ``accuracy``: the fraction of recalled
        symbols the trained model gets right (greedy, teacher-forced) on
        ``eval_batch`` unseen sequences.

    Raises
    ------
    ValueError
        If a size is not a positive int.

    Examples
    --------
    >>> from fmref.models.mamba import Mamba, MambaConfig, train_selective_copy
    >>> model = Mamba(MambaConfig(vocab_size=10, d_model=16, n_layer=1, max_seq_len=64))
    >>> history = train_selective_copy(model, steps=3, eval_batch=8)
    >>> len(history["loss"]), 0.0 <= history["accuracy"] <= 1.0
    (3, True)
    """
    from fmref.train.loop import cosine_schedule, fit

    for name, value in (("steps", steps), ("batch", batch), ("eval_batch", eval_batch)):
        check_positive_int(name, value)
    check_positive("lr", lr)
    k, g = n_memorize, torch.Generator().manual_seed(seed)

    def make(n):
        return selective_copy_batch(n, n_memorize, n_noise, n_symbols, g)

    def loss_fn(model, seq):
        logits = model(seq[:, :-1])[:, -k:]  # (B, k, V): predictions of the recalled symbols
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), seq[:, -k:].reshape(-1))

    def schedule(step):
        return cosine_schedule(step, max(1, steps // 10), steps, lr, lr / 10)

    history = fit(model, lambda step: make(batch), loss_fn, steps, lr=schedule, weight_decay=0.01)
    model.eval()
    with torch.no_grad():
        seq = make(eval_batch)
        pred = model(seq[:, :-1])[:, -k:].argmax(-1)  # (B, k)
        accuracy = (pred == seq[:, -k:]).float().mean().item()
    return {"loss": history["loss"], "accuracy": accuracy}
