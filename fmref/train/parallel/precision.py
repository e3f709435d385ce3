"""Mixed precision as large runs use it: bf16 autocast, and FP8 with delayed scaling.

* **bf16**: the matrix products run in bfloat16 under ``torch.autocast``
  while the weights, their gradients and AdamW's states stay float32 (the
  *master* weights); bfloat16 has float32's exponent range, so no loss scaling.
* **FP8** (Micikevicius et al. 2022): the inputs and weights of every linear
  layer are cast to E4M3 (4 exponent bits, 3 mantissa bits, largest value
  448) for the forward pass, the gradients flowing back to E5M2 (5 and 2,
  largest 57,344: more range, less precision). Eight bits cannot hold a
  tensor's values without a scale: each tensor is multiplied by ``max / amax``
  before the cast, and *delayed* scaling takes ``amax`` from a history of the
  last steps' maxima instead of the current tensor, so that no extra pass over
  the data is needed (Transformer Engine's recipe). Here the casts are real
  (torch's ``float8_e4m3fn`` and ``float8_e5m2``) and the products are
  computed in float32 from the cast values: the rounding is FP8's, the speed
  is not.
"""

from __future__ import annotations

import torch
from torch import nn

from fmref._validate import check_in, check_instance, check_positive_int

__all__ = ["DelayedScaling", "Float8Linear", "to_float8", "precision_losses"]

PRECISIONS = ("fp32", "bf16", "fp8")


class DelayedScaling:
    """Per-tensor FP8 scale from a history of recent absolute maxima.

    Parameters
    ----------
    dtype : torch.dtype
        ``torch.float8_e4m3fn`` or ``torch.float8_e5m2``.
    history : int, default 16
        Steps of ``amax`` remembered; the scale uses their maximum.
    margin : int, default 0
        Extra headroom: the scale is divided by ``2 ** margin``.

    Attributes
    ----------
    amax_history : list of float
        The recent maxima, oldest first.

    Raises
    ------
    ValueError
        If ``dtype`` is not an FP8 type or ``history`` is not a positive int.

    References
    ----------
    .. [1] Micikevicius et al., "FP8 Formats for Deep Learning", 2022.
    .. [2] NVIDIA Transformer Engine, ``DelayedScaling`` recipe.

    Examples
    --------
    >>> import torch
    >>> from fmref.train.parallel.precision import DelayedScaling
    >>> meta = DelayedScaling(torch.float8_e4m3fn)
    >>> x = torch.tensor([0.001, 0.5, 2.0])
    >>> meta.quantize(x).tolist()  # first call: scaled by 448 / 2.0 from x itself
    [0.0009765625, 0.5, 2.0]
    >>> meta.quantize(10 * x).tolist()  # the old amax 2.0: 5.0 and 20.0 saturate at 2.0
    [0.010044642724096775, 2.0, 2.0]
    >>> meta.amax_history
    [2.0, 20.0]
    """

    def __init__(self, dtype, history=16, margin=0):
        check_in("dtype", dtype, (torch.float8_e4m3fn, torch.float8_e5m2))
        self.dtype = dtype
        self.history = check_positive_int("history", history)
        self.margin = margin
        self.fmax = torch.finfo(dtype).max
        self.amax_history = []

    def quantize(self, x):
        """``x`` rounded to FP8 with the delayed scale, returned as float32.

        Parameters
        ----------
        x : torch.Tensor
            Float tensor.

        Returns
        -------
        torch.Tensor
            ``cast(x * scale).float() / scale``, saturated at the format's largest value.
        """
        amax = x.detach().abs().max().item()
        known = max(self.amax_history) if self.amax_history else amax  # delayed: the past
        scale = self.fmax / known / 2**self.margin if known > 0 else 1.0
        self.amax_history = (self.amax_history + [amax])[-self.history :]
        q = (x.detach().float() * scale).clamp(-self.fmax, self.fmax).to(self.dtype)
        return q.float() / scale


class _Fp8Matmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, layer):
        xq = layer.x_scaling.quantize(x)  # E4M3
        wq = layer.w_scaling.quantize(weight)  # E4M3
        ctx.save_for_backward(xq, wq)
        ctx.layer = layer
        return xq @ wq.t()  # (..., out), accumulated in float32

    @staticmethod
    def backward(ctx, grad):
        xq, wq = ctx.saved_tensors
        gq = ctx.layer.g_scaling.quantize(grad)  # E5M2
        grad_x = gq @ wq  # (..., in)
        grad_w = gq.reshape(-1, gq.shape[-1]).t() @ xq.reshape(-1, xq.shape[-1])  # (out, in)
        return grad_x, grad_w, None


class Float8Linear(nn.Module):
    """A linear layer whose products see FP8 inputs, weights and gradients.

    The float32 weight (and bias) of ``linear`` stay the master copy that the
    optimizer updates; each forward pass casts the input and the weight to
    E4M3, each backward pass the output gradient to E5M2, every tensor with
    its own :class:`DelayedScaling`.

    Parameters
    ----------
    linear : torch.nn.Linear
        The layer to wrap (its parameters are shared, not copied).

    Attributes
    ----------
    weight, bias : torch.nn.Parameter
        The wrapped layer's.
    x_scaling, w_scaling, g_scaling : DelayedScaling

    Raises
    ------
    TypeError
        If ``linear`` is not a ``torch.nn.Linear``.

    Examples
    --------
    >>> import torch
    >>> from fmref.train.parallel.precision import Float8Linear
    >>> layer = torch.nn.Linear(64, 32)
    >>> x = torch.randn(8, 64)
    >>> y = Float8Linear(layer)(x)
    >>> err = ((y - layer(x)).norm() / layer(x).norm()).item()
    >>> 0 < err < 0.1  # a few per cent: E4M3 keeps 3 mantissa bits
    True
    """

    def __init__(self, linear):
        super().__init__()
        check_instance("linear", linear, nn.Linear)
        self.weight, self.bias = linear.weight, linear.bias
        self.x_scaling = DelayedScaling(torch.float8_e4m3fn)
        self.w_scaling = DelayedScaling(torch.float8_e4m3fn)
        self.g_scaling = DelayedScaling(torch.float8_e5m2)

    def forward(self, x):
        y = _Fp8Matmul.apply(x, self.weight, self)
        return y if self.bias is None else y + self.bias


def to_float8(model, skip=("output",)):
    """Replace the ``nn.Linear`` layers of ``model`` (but ``skip``) with :class:`Float8Linear`.

    The output head usually stays in higher precision (its logits feed a
    softmax over the whole vocabulary).

    Parameters
    ----------
    model : torch.nn.Module
        Changed in place.
    skip : tuple of str, default ("output",)
        Names (last component) of linear layers left alone.

    Returns
    -------
    torch.nn.Module
        ``model``.

    Examples
    --------
    >>> from fmref.train.parallel.common import tiny_llama
    >>> from fmref.train.parallel.precision import Float8Linear, to_float8
    >>> model = to_float8(tiny_llama())
    >>> sum(isinstance(m, Float8Linear) for m in model.modules()), type(model.output).__name__
    (14, 'Linear')
    """
    check_instance("model", model, nn.Module)
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.Linear) and child_name not in skip:
                setattr(module, child_name, Float8Linear(child))
    return model


def precision_losses(steps=20, precisions=PRECISIONS, batch_size=8, seq_len=16, lr=3e-3):
    """Training losses of the tiny Llama in fp32, bf16 and simulated FP8 on the same batches.

    All three start from the same weights, see the same batches and keep
    float32 master weights; they differ only in the precision of the
    products: float32, bfloat16 under ``torch.autocast``, or FP8 casts
    (:func:`to_float8`). The loss itself is always computed in float32.

    Parameters
    ----------
    steps : int, default 20
        Optimizer steps.
    precisions : tuple of str, default ("fp32", "bf16", "fp8")
        Which runs.
    batch_size, seq_len : int
        The global batches (:func:`~fmref.train.parallel.common.global_batch`).
    lr : float, default 3e-3
        AdamW's learning rate.

    Returns
    -------
    dict of str to list of float
        The loss per step of each run.

    Raises
    ------
    ValueError
        If a precision is unknown or ``steps`` is not a positive int.

    References
    ----------
    .. [1] Micikevicius et al., "Mixed Precision Training", ICLR 2018.
    .. [2] Micikevicius et al., "FP8 Formats for Deep Learning", 2022.

    Examples
    --------
    >>> from fmref.train.parallel.precision import precision_losses
    >>> losses = precision_losses(steps=20)
    >>> {k: round(v[-1], 3) for k, v in losses.items()}
    {'fp32': 3.681, 'bf16': 3.68, 'fp8': 3.685}
    """
    from fmref.train.loop import fit
    from fmref.train.objectives import causal_lm_loss
    from fmref.train.parallel.common import global_batch, tiny_llama

    check_positive_int("steps", steps)
    for p in precisions:
        check_in("precisions", p, PRECISIONS)
    out = {}
    for precision in precisions:
        model = tiny_llama(seq_len=seq_len)
        if precision == "fp8":
            to_float8(model)

        def loss_fn(model, batch, _bf16=precision == "bf16"):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=_bf16):
                logits = model(batch)
            return causal_lm_loss(logits.float(), batch)  # the softmax in float32

        history = fit(model, lambda s: global_batch(s, batch_size, seq_len), loss_fn, steps, lr=lr)
        out[precision] = history["loss"]
    return out
