"""BitFit: fine-tune the bias terms only (Ben Zaken et al. 2022).

Every weight matrix stays frozen; only the additive biases of the linear
layers (and of the normalisation layers, which have them) train. In a
Transformer those are well under 0.1% of the parameters of a large model,
and on small and medium-sized tasks BitFit was found competitive with full
fine-tuning of BERT. It needs no new module at all: the adapted model *is* the
base model with a few changed vectors.
"""

from __future__ import annotations

from torch import nn

from fmref._validate import check_instance

__all__ = ["apply_bitfit"]


def apply_bitfit(model):
    """Freeze every parameter of ``model`` except those named ``bias``, in place.

    Parameters
    ----------
    model : torch.nn.Module
        The model (modified in place).

    Returns
    -------
    int
        Number of trainable parameters left.

    Raises
    ------
    ValueError
        If the model has no bias parameter (e.g. LLaMA, whose layers have none).

    References
    ----------
    .. [1] Ben Zaken, Goldberg and Ravfogel, "BitFit: Simple Parameter-efficient
       Fine-tuning for Transformer-based Masked Language-models", ACL 2022.

    Examples
    --------
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.peft.bitfit import apply_bitfit
    >>> from fmref.peft.lora import trainable_parameters
    >>> model = GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32))
    >>> apply_bitfit(model)  # per layer: q, k, v, out 4*32, c_fc 128, c_proj 32, 2 LNs 64; ln_f 32
    736
    >>> trainable_parameters(model)[0]
    736
    """
    check_instance("model", model, nn.Module)
    n = 0
    for name, p in model.named_parameters():
        is_bias = name.rpartition(".")[2] == "bias"
        p.requires_grad_(is_bias)
        n += p.numel() if is_bias else 0
    if n == 0:
        kind = type(model).__name__
        raise ValueError(f"model must have bias parameters for BitFit; {kind} has none")
    return n
