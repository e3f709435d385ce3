"""GPT-2: a decoder-only Transformer with learned positions and pre-norm blocks.

The names follow nanoGPT (``GPTConfig``, ``Block``, ``MLP``, ``n_embd``, ``c_fc``);
:meth:`GPT.from_hf` loads the weights of a ``transformers.GPT2LMHeadModel`` and
the tests check that both give the same logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import check_instance, check_token_sequence
from fmref.nn.attention import KVCache, MultiHeadAttention
from fmref.nn.norm import LayerNorm

__all__ = ["GPTConfig", "MLP", "Block", "GPT", "count_gpt_parameters"]


_PRESETS = {  # (n_layer, n_head, n_embd), Radford et al. 2019, table 2
    "gpt2": (12, 12, 768),  # 124M
    "gpt2-medium": (24, 16, 1024),  # 350M
    "gpt2-large": (36, 20, 1280),  # 774M
    "gpt2-xl": (48, 25, 1600),  # 1558M
}


@dataclass
class GPTConfig:
    """Hyper-parameters of a GPT; the defaults are GPT-2 small (124M).

    Parameters
    ----------
    vocab_size : int, default 50257
        Number of tokens (GPT-2's BPE; nanoGPT pads it to 50304 for speed).
    block_size : int, default 1024
        Context length: the most positions a sequence may have.
    n_layer : int, default 12
        Number of Transformer blocks.
    n_head : int, default 12
        Attention heads per block.
    n_embd : int, default 768
        Model width ``d_model``; must be divisible by ``n_head``.
    dropout : float, default 0.0
        Dropout on embeddings, attention weights and residual branches.
    bias : bool, default True
        Biases in the linear layers and LayerNorms (GPT-2 has them).

    Raises
    ------
    ValueError
        If ``n_embd`` is not divisible by ``n_head``, a size is not positive, or
        the preset name is unknown.

    References
    ----------
    .. [1] Radford et al., "Language Models are Unsupervised Multitask Learners", 2019.

    Examples
    --------
    >>> from fmref.models.gpt import GPTConfig
    >>> GPTConfig.gpt2("gpt2-medium")
    GPTConfig(vocab_size=50257, block_size=1024, n_layer=24, n_head=16, n_embd=1024,
              dropout=0.0, bias=True)
    >>> GPTConfig(vocab_size=97, block_size=16, n_layer=2, n_head=2, n_embd=32).n_embd // 2
    16
    """

    vocab_size: int = 50257  # GPT-2 BPE tokens
    block_size: int = 1024  # context length
    n_layer: int = 12  # Transformer blocks
    n_head: int = 12  # attention heads
    n_embd: int = 768  # width d_model
    dropout: float = 0.0  # 0 for pretraining large models, ~0.1 for fine-tuning
    bias: bool = True  # biases in Linear and LayerNorm, as GPT-2

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"n_embd must be divisible by n_head={self.n_head}, got n_embd={self.n_embd}"
            )

    @classmethod
    def gpt2(cls, name="gpt2", **overrides):
        """Config of a published GPT-2 size (allocates nothing).

        Parameters
        ----------
        name : {"gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"}
            Model size.
        **overrides
            Fields to change, e.g. ``dropout=0.1``.
        """
        if name not in _PRESETS:
            raise ValueError(f"name must be one of {sorted(_PRESETS)}, got {name!r}")
        n_layer, n_head, n_embd = _PRESETS[name]
        fields = dict(n_layer=n_layer, n_head=n_head, n_embd=n_embd)
        fields.update(overrides)
        return cls(**fields)


def count_gpt_parameters(config, exclude_embeddings=False):
    """Number of parameters of ``GPT(config)``, by formula, with the tied head counted once.

    Per block: ``12 C²`` weights (``4 C²`` in attention, ``8 C²`` in the MLP), plus
    ``13 C`` biases and LayerNorm parameters (``2 C``, the LayerNorm gains, when
    ``bias=False``).

    Parameters
    ----------
    config : GPTConfig
        The model's configuration.
    exclude_embeddings : bool, default False
        Drop the position embedding ``wpe`` (nanoGPT's ``non_embedding`` count;
        the token embedding stays because it is also the output head).

    Returns
    -------
    int
        ``V C + T C + L (12 C² + 13 C) + 2 C`` with biases, or
        ``V C + T C + L (12 C² + 2 C) + C`` without.

    Examples
    --------
    >>> from fmref.models.gpt import GPTConfig, count_gpt_parameters
    >>> f"{count_gpt_parameters(GPTConfig.gpt2('gpt2')):,}"
    '124,439,808'
    >>> f"{count_gpt_parameters(GPTConfig.gpt2('gpt2-xl')):,}"
    '1,557,611,200'
    """
    check_instance("config", config, GPTConfig)
    V, T, L, C = config.vocab_size, config.block_size, config.n_layer, config.n_embd
    if config.bias:
        # ln_1 2C, q/k/v/out 4(C² + C), ln_2 2C, c_fc 4C² + 4C, c_proj 4C² + C
        per_block, final_norm = 12 * C * C + 13 * C, 2 * C
    else:
        per_block, final_norm = 12 * C * C + 2 * C, C  # only the LayerNorm gains
    embeddings = V * C + (0 if exclude_embeddings else T * C)  # wte (= lm_head) + wpe
    return embeddings + L * per_block + final_norm


class MLP(nn.Module):
    """Position-wise feed-forward network: ``c_proj(GELU_tanh(c_fc(x)))``, width ``4 C``.

    Parameters
    ----------
    config : GPTConfig
        Uses ``n_embd``, ``bias`` and ``dropout``.

    References
    ----------
    .. [1] Hendrycks and Gimpel, "Gaussian Error Linear Units (GELUs)", 2016.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPTConfig, MLP
    >>> mlp = MLP(GPTConfig(n_embd=8, n_head=2))
    >>> mlp.c_fc.weight.shape, mlp(torch.randn(1, 3, 8)).shape
    (torch.Size([32, 8]), torch.Size([1, 3, 8]))
    """

    def __init__(self, config):
        super().__init__()
        check_instance("config", config, GPTConfig)
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        h = F.gelu(self.c_fc(x), approximate="tanh")  # (B, T, 4C), GPT-2's "gelu_new"
        return self.dropout(self.c_proj(h))  # (B, T, C)


class Block(nn.Module):
    """Pre-norm Transformer block: ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``.

    Parameters
    ----------
    config : GPTConfig
        The model's configuration.

    References
    ----------
    .. [1] Xiong et al., "On Layer Normalization in the Transformer Architecture", ICML 2020.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import Block, GPTConfig
    >>> block = Block(GPTConfig(n_embd=8, n_head=2))
    >>> block(torch.randn(2, 5, 8)).shape
    torch.Size([2, 5, 8])
    """

    def __init__(self, config):
        super().__init__()
        check_instance("config", config, GPTConfig)
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = MultiHeadAttention(
            config.n_embd, config.n_head, bias=config.bias, dropout=config.dropout
        )
        self.resid_dropout = nn.Dropout(config.dropout)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, kv_cache=None, layer_idx=0):
        a = self.attn(self.ln_1(x), is_causal=True, kv_cache=kv_cache, layer_idx=layer_idx)
        x = x + self.resid_dropout(a)  # (B, T, C)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """GPT-2 language model: embeddings, ``n_layer`` pre-norm blocks, tied output head.

    Parameters
    ----------
    config : GPTConfig
        The model's configuration.

    Attributes
    ----------
    wte, wpe : torch.nn.Embedding
        Token and learned position embeddings.
    h : torch.nn.ModuleList
        The blocks.
    ln_f : LayerNorm
        Final normalisation.
    lm_head : torch.nn.Linear
        Output head; its weight *is* ``wte.weight`` (tied).

    References
    ----------
    .. [1] Radford et al., "Language Models are Unsupervised Multitask Learners", 2019.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig, count_gpt_parameters
    >>> config = GPTConfig(vocab_size=97, block_size=16, n_layer=2, n_head=2, n_embd=32)
    >>> model = GPT(config).eval()
    >>> model(torch.tensor([[1, 2, 3]])).shape  # (B, T, vocab_size)
    torch.Size([1, 3, 97])
    >>> model.num_parameters() == count_gpt_parameters(config)
    True
    >>> cache = model.make_kv_cache()
    >>> logits = model(torch.tensor([[1, 2]]), kv_cache=cache)
    >>> logits = model(torch.tensor([[3]]), kv_cache=cache)  # one new token
    >>> cache.length
    3
    """

    def __init__(self, config):
        super().__init__()
        check_instance("config", config, GPTConfig)
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        self.apply(self._init_weights)
        # GPT-2 scales the residual projections by 1/sqrt(N), N = 2 n_layer residual layers.
        for block in self.h:
            for proj in (block.attn.out_proj, block.mlp.c_proj):
                nn.init.normal_(proj.weight, mean=0.0, std=0.02 / (2 * config.n_layer) ** 0.5)

    @staticmethod
    def _init_weights(module):
        # GPT-2's initialisation: N(0, 0.02) for weights and embeddings, zero biases.
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def make_kv_cache(self):
        """An empty :class:`~fmref.nn.attention.KVCache` with one slot per block."""
        return KVCache(self.config.n_layer)

    def num_parameters(self, exclude_embeddings=False):
        """Parameters, the tied head counted once; ``exclude_embeddings`` drops ``wpe``."""
        n = sum(p.numel() for p in self.parameters())  # parameters() de-duplicates
        return n - self.wpe.weight.numel() if exclude_embeddings else n

    def forward(self, idx, kv_cache=None):
        """Logits of the next token at every position.

        Parameters
        ----------
        idx : torch.Tensor
            Token ids ``(B, T)``, an integer tensor.
        kv_cache : KVCache, optional
            Cache of the earlier tokens; it is extended with ``idx``'s keys and
            values, and positions continue from ``kv_cache.length``.

        Returns
        -------
        torch.Tensor
            Logits ``(B, T, vocab_size)``.

        Raises
        ------
        TypeError
            If ``idx`` is not an integer tensor.
        ValueError
            If ``idx`` is not 2-D, holds no token or an id outside the vocabulary,
            the cache has the wrong number of layers, or the cached plus new tokens
            exceed ``block_size``.
        """
        c = self.config
        past = check_token_sequence(
            "idx", idx, c.vocab_size, c.block_size, "block_size", kv_cache, c.n_layer
        )
        pos = torch.arange(past, past + idx.shape[1], device=idx.device)  # (T,) absolute positions
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C)
        for i, block in enumerate(self.h):
            x = block(x, kv_cache=kv_cache, layer_idx=i)
        return self.lm_head(self.ln_f(x))  # (B, T, vocab_size)

    @classmethod
    def from_hf(cls, hf_model):
        """Build a GPT with the weights of a ``transformers.GPT2LMHeadModel``.

        GPT-2's ``Conv1D`` stores weights as ``(in, out)``, the transpose of
        :class:`torch.nn.Linear`, and fuses q, k and v into one ``c_attn``.

        Parameters
        ----------
        hf_model : transformers.GPT2LMHeadModel
            Source model (transformers 5.x module names).

        Returns
        -------
        GPT
            A model in eval mode with the same weights.

        Raises
        ------
        ValueError
            If the source uses an activation other than GPT-2's tanh GELU
            (``"gelu_new"``) or a non-standard attention scaling.

        Examples
        --------
        >>> import torch
        >>> from transformers import GPT2Config, GPT2LMHeadModel
        >>> from fmref.models.gpt import GPT
        >>> hf = GPT2LMHeadModel(GPT2Config(vocab_size=97, n_positions=16, n_embd=32,
        ...                                 n_layer=2, n_head=2)).eval()
        >>> model = GPT.from_hf(hf)
        >>> idx = torch.tensor([[5, 7, 11]])
        >>> torch.allclose(model(idx), hf(idx).logits, atol=1e-4)
        True
        """
        hc = hf_model.config
        if hc.activation_function not in ("gelu_new", "gelu_pytorch_tanh"):
            raise ValueError(
                f"hf_model must use activation_function='gelu_new', got {hc.activation_function!r}"
            )
        if not hc.scale_attn_weights or hc.scale_attn_by_inverse_layer_idx:
            raise ValueError(
                "hf_model must use scale_attn_weights=True and "
                "scale_attn_by_inverse_layer_idx=False"
            )
        config = GPTConfig(
            vocab_size=hc.vocab_size,
            block_size=hc.n_positions,
            n_layer=hc.n_layer,
            n_head=hc.n_head,
            n_embd=hc.n_embd,
            dropout=hc.resid_pdrop,
            bias=True,
        )
        model = cls(config)
        src = hf_model.transformer
        C = config.n_embd

        def copy_conv1d(linear, conv):  # Conv1D weight (in, out) -> Linear (out, in)
            linear.weight.copy_(conv.weight.t())
            linear.bias.copy_(conv.bias)

        def copy_ln(ln, hf_ln):
            ln.weight.copy_(hf_ln.weight)
            ln.bias.copy_(hf_ln.bias)
            ln.eps = hf_ln.eps

        with torch.no_grad():
            model.wte.weight.copy_(src.wte.weight)
            model.wpe.weight.copy_(src.wpe.weight)
            for block, hf_block in zip(model.h, src.h):
                copy_ln(block.ln_1, hf_block.ln_1)
                copy_ln(block.ln_2, hf_block.ln_2)
                w = hf_block.attn.c_attn.weight  # (C, 3C): [q | k | v] along out
                b = hf_block.attn.c_attn.bias  # (3C,)
                for i, proj in enumerate((block.attn.q_proj, block.attn.k_proj, block.attn.v_proj)):
                    proj.weight.copy_(w[:, i * C : (i + 1) * C].t())
                    proj.bias.copy_(b[i * C : (i + 1) * C])
                copy_conv1d(block.attn.out_proj, hf_block.attn.c_proj)
                copy_conv1d(block.mlp.c_fc, hf_block.mlp.c_fc)
                copy_conv1d(block.mlp.c_proj, hf_block.mlp.c_proj)
            copy_ln(model.ln_f, src.ln_f)
        return model.eval()
