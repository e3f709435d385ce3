"""Where training memory goes, and three ways to spend less of it.

Two formulas account for the memory of a training step:

* :func:`zero_memory_per_gpu`: the *model states* (weights, gradients and the
  optimizer's states) per device under data parallelism, with ZeRO stage 0-3
  partitioning them (Rajbhandari et al. 2020: ``2Ψ + 2Ψ + KΨ`` bytes for
  mixed-precision Adam, ``K = 12``);
* :func:`activation_memory`: the activations a Transformer keeps for the
  backward pass (Korthikanti et al. 2022: ``sbh(34 + 5as/h)`` bytes per layer
  in 16-bit, ``2sbh`` with full recomputation).

And three techniques, as options of :func:`train_step` (which mirrors one step
of :func:`fmref.train.loop.train`):

* mixed precision: matrix products in bfloat16 under ``torch.autocast`` while
  the weights, gradients and optimizer states (the *master* copy) stay float32;
* gradient accumulation: ``k`` micro-batches, gradients summed, one step;
* activation checkpointing: each block's activations are dropped after the
  forward pass and recomputed in the backward pass
  (:func:`torch.utils.checkpoint.checkpoint`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from fmref._validate import check_in, check_positive, check_positive_int, check_token_sequence
from fmref.train.objectives import causal_lm_loss

__all__ = [
    "zero_memory_per_gpu",
    "activation_memory",
    "gpt_forward",
    "accumulate_gradients",
    "train_step",
]

PRECISIONS = ("fp32", "bf16")
CHECKPOINTING = ("none", "selective", "full")


def zero_memory_per_gpu(n_params, n_gpus, stage, k=12, bytes_param=2, bytes_grad=2):
    """Bytes of model states per device under ZeRO data parallelism.

    With ``Ψ`` parameters, 16-bit weights and gradients and Adam's float32
    states (master weights, momentum, variance: ``K = 12`` bytes per
    parameter), every data-parallel replica holds ``(2 + 2 + K) Ψ`` bytes.
    ZeRO partitions these states over the ``N_d`` devices, one more kind per
    stage (Rajbhandari et al., Figure 1):

    ====== ================================ ==========================
    stage  partitioned                      bytes per device
    ====== ================================ ==========================
    0      nothing (plain DDP)              ``(2 + 2 + K) Ψ``
    1      optimizer states (P_os)          ``(2 + 2) Ψ + K Ψ / N_d``
    2      + gradients (P_os+g)             ``2 Ψ + (2 + K) Ψ / N_d``
    3      + parameters (P_os+g+p)          ``(2 + 2 + K) Ψ / N_d``
    ====== ================================ ==========================

    Activations, temporary buffers and fragmentation come on top.

    Parameters
    ----------
    n_params : float
        Parameters ``Ψ``.
    n_gpus : int
        Data-parallel devices ``N_d`` (at least 1).
    stage : int
        ZeRO stage, 0 to 3.
    k : float, default 12
        Optimizer-state bytes per parameter (Adam with float32 master weights: 4 + 4 + 4).
    bytes_param, bytes_grad : float, default 2
        Bytes per weight and per gradient (2 for fp16/bf16, 4 for fp32).

    Returns
    -------
    float
        Bytes per device.

    Raises
    ------
    ValueError
        If ``stage`` is not 0-3, ``n_gpus < 1`` or ``n_params`` is not positive.
    TypeError
        If ``n_params`` is not a number.

    References
    ----------
    .. [1] Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training
       Trillion Parameter Models", SC 2020, Section 5 and Figure 1.

    Examples
    --------
    >>> from fmref.train.efficient import zero_memory_per_gpu
    >>> [round(zero_memory_per_gpu(7.5e9, 64, s) / 1e9, 1) for s in range(4)]  # the paper's example
    [120.0, 31.4, 16.6, 1.9]
    """
    psi = check_positive("n_params", n_params)
    check_positive_int("n_gpus", n_gpus)
    check_in("stage", stage, (0, 1, 2, 3))
    for name, v in (("k", k), ("bytes_param", bytes_param), ("bytes_grad", bytes_grad)):
        check_positive(name, v)
    p, g, o = bytes_param * psi, bytes_grad * psi, k * psi
    if stage == 0:
        return p + g + o
    if stage == 1:
        return p + g + o / n_gpus
    if stage == 2:
        return p + (g + o) / n_gpus
    return (p + g + o) / n_gpus


def activation_memory(
    seq_len,
    batch,
    hidden,
    n_layers,
    n_heads,
    checkpointing="none",
    tensor_parallel=1,
    sequence_parallel=False,
):
    """Bytes of activations a GPT-style Transformer keeps for the backward pass (16-bit).

    Korthikanti et al. count, per layer, with sequence length ``s``, micro-batch
    ``b``, width ``h`` and ``a`` heads (2 bytes per value, 1 per dropout mask):
    ``11 sbh + 5 a s² b`` in attention, ``19 sbh`` in the MLP and ``4 sbh`` in
    the two LayerNorms, which is ``sbh (34 + 5 a s / h)``. Then

    * ``"selective"`` recomputation drops the attention scores, softmax and
      dropout (the ``5 a s² b`` part): ``34 sbh``;
    * ``"full"`` recomputation keeps only each layer's input: ``2 sbh``;
    * tensor parallelism of degree ``t`` splits everything but ``10 sbh``
      (LayerNorm and dropout inputs): ``sbh (10 + 24/t + 5as/(ht))``;
    * sequence parallelism splits those ``10 sbh`` along the sequence too:
      ``sbh/t (34 + 5as/h)``, and ``34 sbh / t`` with selective recomputation.

    Korthikanti et al.'s Table 2 lists these five forms; full recomputation
    keeps ``2 sbh`` per layer in every case.

    Embeddings, the output head and the loss are left out.

    Parameters
    ----------
    seq_len, batch, hidden, n_layers, n_heads : int
        ``s``, ``b``, ``h``, ``L`` and ``a``.
    checkpointing : {"none", "selective", "full"} or bool, default "none"
        Recomputation; ``True`` means ``"full"``, ``False`` ``"none"``.
    tensor_parallel : int, default 1
        Tensor-parallel degree ``t`` (with ``"none"`` and ``"selective"``).
    sequence_parallel : bool, default False
        Split the LayerNorm and dropout activations over the ``t`` ranks too.

    Returns
    -------
    int
        Bytes for all ``L`` layers.

    Raises
    ------
    ValueError
        If a size is not a positive int or ``checkpointing`` is unknown.

    References
    ----------
    .. [1] Korthikanti et al., "Reducing Activation Recomputation in Large
       Transformer Models", MLSys 2023, Section 4 and Table 2.

    Examples
    --------
    >>> from fmref.train.efficient import activation_memory
    >>> gpt3 = dict(seq_len=2048, batch=1, hidden=12288, n_layers=96, n_heads=96)
    >>> for mode in ("none", "selective", "full"):  # GPT-3 175B, one sequence
    ...     print(f"{mode:9s} {activation_memory(**gpt3, checkpointing=mode) / 2**30:7.1f} GiB")
    none        256.5 GiB
    selective    76.5 GiB
    full          4.5 GiB

    Korthikanti et al. (Section 5): selective recomputation removes ``5as/h``
    of ``34 + 5as/h``, 70% for GPT-3 and 65% for MT-NLG 530B; tensor and
    sequence parallelism of degree 8 divide what is left by 8.

    >>> mt_nlg = dict(seq_len=2048, batch=1, hidden=20480, n_layers=105, n_heads=128)
    >>> for shape in (gpt3, mt_nlg):
    ...     full = activation_memory(**shape)
    ...     print(round(1 - activation_memory(**shape, checkpointing="selective") / full, 2))
    0.7
    0.65
    >>> tp_sp = activation_memory(**gpt3, checkpointing="selective", tensor_parallel=8,
    ...                           sequence_parallel=True)
    >>> tp_sp * 8 == activation_memory(**gpt3, checkpointing="selective")
    True
    """
    s, b, h, L, a = (
        check_positive_int(n, v)
        for n, v in (
            ("seq_len", seq_len),
            ("batch", batch),
            ("hidden", hidden),
            ("n_layers", n_layers),
            ("n_heads", n_heads),
        )
    )
    t = check_positive_int("tensor_parallel", tensor_parallel)
    if checkpointing is True or checkpointing is False:
        checkpointing = "full" if checkpointing else "none"
    if checkpointing not in CHECKPOINTING:
        raise ValueError(f"checkpointing must be one of {CHECKPOINTING}, got {checkpointing!r}")
    sbh = s * b * h
    if not isinstance(sequence_parallel, bool):
        raise TypeError(f"sequence_parallel must be a bool, got {type(sequence_parallel).__name__}")
    scores = 5 * a * s * s * b  # softmax output, its dropout mask and output (Table 1)
    if checkpointing == "full":
        per_layer = 2 * sbh
    elif sequence_parallel:  # everything split by t (Table 2, rows 3 and 5)
        per_layer = (34 * sbh + (scores if checkpointing == "none" else 0)) // t
    elif checkpointing == "selective":
        per_layer = sbh * 10 + sbh * 24 // t
    else:
        per_layer = sbh * 10 + sbh * 24 // t + 5 * a * s * s * b // t
    return L * per_layer


def gpt_forward(model, idx, checkpointing=False):
    """Logits of a :class:`fmref.models.gpt.GPT`, optionally checkpointing every block.

    The same computation as ``model(idx)``; with ``checkpointing=True`` each
    block runs under :func:`torch.utils.checkpoint.checkpoint`, which keeps only
    the block's input and recomputes its inside during the backward pass.

    Parameters
    ----------
    model : fmref.models.gpt.GPT
        The model (no KV cache is used).
    idx : torch.Tensor
        ``(B, T)`` token ids.
    checkpointing : bool, default False
        Recompute each block's activations in the backward pass.

    Returns
    -------
    torch.Tensor
        ``(B, T, vocab_size)`` logits.

    Raises
    ------
    TypeError
        If ``model`` is not a GPT (it must have ``wte``, ``wpe``, ``h``, ``ln_f``, ``lm_head``).

    References
    ----------
    .. [1] Chen et al., "Training Deep Nets with Sublinear Memory Cost", 2016.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.train.efficient import gpt_forward
    >>> model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16))
    >>> idx = torch.tensor([[1, 2, 3, 4]])
    >>> torch.equal(gpt_forward(model, idx, checkpointing=True), model(idx))
    True
    """
    if not all(hasattr(model, n) for n in ("wte", "wpe", "h", "ln_f", "lm_head")):
        raise TypeError(f"model must be an fmref GPT, got {type(model).__name__}")
    c = model.config
    check_token_sequence("idx", idx, c.vocab_size, c.block_size, "block_size")
    T = idx.shape[1]
    pos = torch.arange(T, device=idx.device)  # (T,)
    x = model.drop(model.wte(idx) + model.wpe(pos))  # (B, T, C)
    for block in model.h:
        if checkpointing and torch.is_grad_enabled():
            x = checkpoint(block, x, use_reentrant=False)  # keeps x, recomputes the inside
        else:
            x = block(x)
    return model.lm_head(model.ln_f(x))  # (B, T, V)


def _check_options(precision, micro_batches, batch):
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    check_positive_int("micro_batches", micro_batches)
    if not isinstance(batch, torch.Tensor) or batch.dim() != 2:
        raise ValueError("batch must be a (B, T) tensor of token ids")
    if micro_batches > batch.shape[0]:
        raise ValueError(
            f"micro_batches must be at most the batch size {batch.shape[0]}, got {micro_batches}"
        )


def accumulate_gradients(model, batch, micro_batches=1, precision="fp32", checkpointing=False):
    """Backpropagate the causal-LM loss of ``batch`` in ``micro_batches`` pieces.

    Each micro-batch's mean loss is weighted by its share of the sequences, so
    the summed gradients equal those of the whole batch at once (same loss,
    less activation memory: only one micro-batch is alive at a time).
    Gradients are *added* to ``.grad``; zero them first.

    Parameters
    ----------
    model : fmref.models.gpt.GPT
        The model; its parameters stay float32 (the master weights).
    batch : torch.Tensor
        ``(B, T)`` token ids; the model predicts each next token.
    micro_batches : int, default 1
        Number of pieces, at most ``B`` (the last may be smaller).
    precision : {"fp32", "bf16"}, default "fp32"
        ``"bf16"`` runs the forward pass under ``torch.autocast`` in bfloat16.
    checkpointing : bool, default False
        Recompute each block's activations in the backward pass.

    Returns
    -------
    float
        The mean loss over the whole batch.

    Raises
    ------
    ValueError
        If ``precision`` is unknown, ``micro_batches`` is not a positive int or
        exceeds ``B``, or ``batch`` is not 2-D.

    References
    ----------
    .. [1] Micikevicius et al., "Mixed Precision Training", ICLR 2018.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.train.efficient import accumulate_gradients
    >>> model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16))
    >>> batch = torch.randint(11, (4, 8))
    >>> loss = accumulate_gradients(model, batch, micro_batches=4)
    >>> one = model.wte.weight.grad.clone(); model.zero_grad()
    >>> round(loss - accumulate_gradients(model, batch), 5)  # the same loss in one piece
    0.0
    >>> torch.allclose(one, model.wte.weight.grad, atol=1e-6)
    True
    """
    _check_options(precision, micro_batches, batch)
    device_type = batch.device.type
    total = 0.0
    for piece in batch.tensor_split(micro_batches, dim=0):
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = gpt_forward(model, piece, checkpointing=checkpointing)
        if precision == "bf16":
            logits = logits.float()  # the softmax and loss in float32
        loss = causal_lm_loss(logits, piece)
        weight = piece.shape[0] / batch.shape[0]
        (loss * weight).backward()
        total += loss.item() * weight
    return total


def train_step(
    model, optimizer, batch, micro_batches=1, precision="fp32", checkpointing=False, grad_clip=0.0
):
    """One optimizer step with the memory-saving options; mirrors a step of ``train``.

    Zero the gradients, :func:`accumulate_gradients` over ``micro_batches``,
    clip the global gradient norm (if ``grad_clip > 0``), step.

    Parameters
    ----------
    model : fmref.models.gpt.GPT
        The model.
    optimizer : torch.optim.Optimizer
        Over ``model``'s parameters.
    batch : torch.Tensor
        ``(B, T)`` token ids.
    micro_batches : int, default 1
        Gradient accumulation steps.
    precision : {"fp32", "bf16"}, default "fp32"
        Mixed precision (bf16 autocast, float32 master weights) or not.
    checkpointing : bool, default False
        Activation checkpointing per block.
    grad_clip : float, default 0.0
        Largest global gradient norm; 0 turns clipping off.

    Returns
    -------
    float
        The batch's mean loss before the step.

    Raises
    ------
    ValueError
        As :func:`accumulate_gradients`.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.train.efficient import train_step
    >>> model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16))
    >>> opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    >>> batch = torch.arange(8).repeat(4, 1)  # the same sequence four times
    >>> losses = [train_step(model, opt, batch, micro_batches=2, precision="bf16",
    ...                      checkpointing=True, grad_clip=1.0) for _ in range(20)]
    >>> losses[-1] < losses[0] / 2
    True
    >>> model.wte.weight.dtype  # master weights stay float32
    torch.float32
    """
    check_in("precision", precision, PRECISIONS)
    optimizer.zero_grad(set_to_none=True)
    loss = accumulate_gradients(model, batch, micro_batches, precision, checkpointing)
    if grad_clip and grad_clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss
