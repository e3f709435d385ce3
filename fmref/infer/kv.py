"""How big the KV cache is, and an int8 KV cache that halves it.

For every layer and every token a decoder keeps one key and one value vector
per key/value head:

.. math::

   \\text{bytes} = 2 \\cdot n_\\text{layers} \\cdot n_\\text{kv heads} \\cdot d_\\text{head}
   \\cdot \\text{seq len} \\cdot \\text{batch} \\cdot \\text{bytes per value}.

Grouped-query attention divides it by ``n_heads / n_kv_heads``; storing keys and
values in int8 instead of fp16 divides it by two more (plus one scale per vector).
Multi-head latent attention (DeepSeek-V2/V3) caches neither keys nor values
but one latent and one shared RoPE key per token and layer
(:func:`mla_cache_bytes`): ``kv_lora_rank + qk_rope_head_dim`` numbers, whatever
the number of heads.
"""

from __future__ import annotations

import torch

from fmref._validate import check_positive_int
from fmref.nn.attention import KVCache

__all__ = ["kv_cache_bytes", "mla_cache_bytes", "model_kv_cache_bytes", "QuantizedKVCache"]


def _check_sizes(seq_len, batch, bytes_per_value, **sizes):
    for name, value in (*sizes.items(), ("seq_len", seq_len), ("batch", batch)):
        check_positive_int(name, value)
    if (
        isinstance(bytes_per_value, bool)
        or not isinstance(bytes_per_value, (int, float))
        or bytes_per_value <= 0
    ):
        raise ValueError(f"bytes_per_value must be a number > 0, got {bytes_per_value!r}")


def kv_cache_bytes(
    n_layers, n_kv_heads, d_head, seq_len=1, batch=1, bytes_per_value=2, window=None
):
    """Bytes of the keys and values a decoder caches.

    Parameters
    ----------
    n_layers : int
        Attention layers.
    n_kv_heads : int
        Key/value heads per layer (``n_heads`` for MHA, fewer for GQA, 1 for MQA).
    d_head : int
        Size of one head.
    seq_len : int, default 1
        Cached tokens per sequence (1 gives the per-token figure).
    batch : int, default 1
        Sequences.
    bytes_per_value : float, default 2
        2 for fp16/bf16, 1 for int8/fp8, 0.5 for int4.
    window : int or None, default None
        Sliding-window attention with a rolling-buffer cache (Mistral): a
        token attends to at most ``window`` keys, so the cache keeps only the
        last ``window`` positions of each sequence. None keeps them all.

    Returns
    -------
    float or int
        ``2 * n_layers * n_kv_heads * d_head * min(seq_len, window) * batch *
        bytes_per_value`` (``seq_len`` when ``window`` is None).

    Raises
    ------
    ValueError
        If a size or ``window`` is not a positive int or ``bytes_per_value <= 0``.

    References
    ----------
    .. [1] Pope et al., "Efficiently Scaling Transformer Inference", MLSys 2023.
    .. [2] Jiang et al., "Mistral 7B", 2023 (the rolling buffer cache).

    Examples
    --------
    >>> from fmref.infer.kv import kv_cache_bytes
    >>> kv_cache_bytes(n_layers=32, n_kv_heads=32, d_head=128)  # LLaMA-7B, fp16, per token
    524288
    >>> kv_cache_bytes(32, 32, 128, seq_len=2048) / 2**30  # one full 2,048-token context, GiB
    1.0
    >>> full = kv_cache_bytes(32, 8, 128, seq_len=32768)  # Mistral-7B's shape, 32k tokens
    >>> full / kv_cache_bytes(32, 8, 128, seq_len=32768, window=4096)  # the paper's 8x
    8.0
    """
    _check_sizes(seq_len, batch, bytes_per_value, n_layers=n_layers, n_kv_heads=n_kv_heads,
                 d_head=d_head)  # fmt: skip
    if window is not None:
        check_positive_int("window", window)
        seq_len = min(seq_len, window)  # a rolling buffer of the last `window` positions
    return 2 * n_layers * n_kv_heads * d_head * seq_len * batch * bytes_per_value


def mla_cache_bytes(n_layers, kv_lora_rank, qk_rope_head_dim, seq_len=1, batch=1,
                    bytes_per_value=2):  # fmt: skip
    """Bytes of a multi-head latent attention cache (:class:`fmref.nn.mla.MLACache`).

    Each layer keeps, per token, the key/value latent (``kv_lora_rank``
    numbers) and the RoPE key shared by all heads (``qk_rope_head_dim``).

    Parameters
    ----------
    n_layers : int
        Attention layers.
    kv_lora_rank : int
        Width of the latent (512 in DeepSeek-V2 and V3).
    qk_rope_head_dim : int
        Width of the decoupled RoPE key (64).
    seq_len, batch, bytes_per_value
        As in :func:`kv_cache_bytes`.

    Returns
    -------
    float or int
        ``n_layers * (kv_lora_rank + qk_rope_head_dim) * seq_len * batch * bytes_per_value``.

    Raises
    ------
    ValueError
        If a size is not a positive int or ``bytes_per_value <= 0``.

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V2", 2024, Table 1: ``(d_c + d_h^R) l``
       elements per token.

    Examples
    --------
    >>> from fmref.infer.kv import kv_cache_bytes, mla_cache_bytes
    >>> mla = mla_cache_bytes(n_layers=61, kv_lora_rank=512, qk_rope_head_dim=64)
    >>> mha = kv_cache_bytes(n_layers=61, n_kv_heads=128, d_head=128)  # 128 heads of 128
    >>> mla, mha, round(mha / mla, 1)  # bf16 bytes per token: DeepSeek-V3 against MHA
    (70272, 3997696, 56.9)
    """
    _check_sizes(seq_len, batch, bytes_per_value, n_layers=n_layers, kv_lora_rank=kv_lora_rank,
                 qk_rope_head_dim=qk_rope_head_dim)  # fmt: skip
    return n_layers * (kv_lora_rank + qk_rope_head_dim) * seq_len * batch * bytes_per_value


def model_kv_cache_bytes(config, seq_len=1, batch=1, bytes_per_value=2, rolling_buffer=False):
    """The KV-cache bytes of a model, from its configuration.

    One branch per kind of configuration: :func:`kv_cache_bytes` for a
    :class:`~fmref.models.gpt.GPTConfig` or :class:`~fmref.models.llama.LlamaConfig`
    (keys and values per key/value head), :func:`mla_cache_bytes` for a
    :class:`~fmref.models.deepseek.DeepSeekV3Config` (a latent and a RoPE key),
    :func:`~fmref.models.mamba.mamba_state_bytes` for a
    :class:`~fmref.models.mamba.MambaConfig` (a fixed state: ``seq_len`` does not count).

    Parameters
    ----------
    config : GPTConfig, LlamaConfig, DeepSeekV3Config or MambaConfig
        The model's configuration (no weights are allocated).
    seq_len, batch, bytes_per_value
        As in :func:`kv_cache_bytes`.
    rolling_buffer : bool, default False
        For a config with a ``sliding_window`` (Mistral), count a rolling
        buffer of that many positions, as Mistral's reference code caches.
        False counts every position, as :class:`~fmref.nn.attention.KVCache`
        stores them (it masks the keys outside the window instead of
        evicting them).

    Returns
    -------
    float or int

    Raises
    ------
    TypeError
        If ``config`` is none of these configurations.

    Examples
    --------
    >>> from fmref.models.llama import llama2_70b
    >>> from fmref.infer.kv import model_kv_cache_bytes
    >>> model_kv_cache_bytes(llama2_70b()) / 2**10  # KiB per token, GQA with 8 kv heads
    320.0
    >>> from fmref.models.llama import mistral_7b
    >>> [model_kv_cache_bytes(mistral_7b(), 8192, rolling_buffer=r) / 2**30 for r in (False, True)]
    [1.0, 0.5]
    >>> from fmref.models.deepseek import deepseek_v3
    >>> model_kv_cache_bytes(deepseek_v3()) / 2**10  # KiB per token: 61 layers x 576 x 2 bytes
    68.625
    >>> from fmref.models.mamba import mamba_2_8b
    >>> [model_kv_cache_bytes(mamba_2_8b(), n) / 2**20 for n in (1, 100_000)]  # MiB, fixed
    [11.875, 11.875]
    """
    from fmref.models.deepseek import DeepSeekV3Config  # models import fmref.nn, not this module
    from fmref.models.mamba import MambaConfig, mamba_state_bytes

    if isinstance(config, MambaConfig):  # a recurrent state of fixed size, whatever seq_len
        check_positive_int("seq_len", seq_len)
        return mamba_state_bytes(config, batch, bytes_per_value)

    if isinstance(config, DeepSeekV3Config):  # MLA: the latent and the shared RoPE key
        return mla_cache_bytes(
            config.num_hidden_layers,
            config.kv_lora_rank,
            config.qk_rope_head_dim,
            seq_len,
            batch,
            bytes_per_value,
        )
    if hasattr(config, "n_layer") and hasattr(config, "n_embd"):  # GPTConfig
        return kv_cache_bytes(
            config.n_layer,
            config.n_head,
            config.n_embd // config.n_head,
            seq_len,
            batch,
            bytes_per_value,
        )
    if hasattr(config, "n_layers") and hasattr(config, "n_kv_heads"):  # LlamaConfig
        return kv_cache_bytes(
            config.n_layers,
            config.n_kv_heads,
            config.head_dim,  # dim // n_heads unless set (Qwen3-0.6B, gpt-oss)
            seq_len,
            batch,
            bytes_per_value,
            window=config.sliding_window if rolling_buffer else None,
        )
    raise TypeError(
        "config must be a GPTConfig, LlamaConfig, DeepSeekV3Config or MambaConfig, "
        f"got {type(config).__name__}"
    )


def _quantize(x):
    """int8 absmax per vector: ``x ≈ codes * scale``, scale ``(..., 1)``."""
    scale = x.abs().amax(dim=-1, keepdim=True).clamp_min(1e-8) / 127.0  # (B, H, T, 1)
    codes = torch.round(x / scale).clamp(-127, 127).to(torch.int8)  # (B, H, T, d_head)
    return codes, scale


class QuantizedKVCache(KVCache):
    """A :class:`~fmref.nn.attention.KVCache` that stores keys and values in int8.

    Every cached key and value vector is quantised with its own absmax scale
    (one float per token, head and layer); attention reads the dequantised
    values. It is a drop-in replacement: pass it as ``kv_cache`` to a model or
    to :func:`fmref.infer.generate.generate`.

    Parameters
    ----------
    n_layers : int
        Number of attention layers.

    Attributes
    ----------
    keys, values : list of torch.Tensor or None
        int8 codes ``(B, n_kv_heads, T, d_head)`` per layer.
    key_scales, value_scales : list of torch.Tensor or None
        Scales ``(B, n_kv_heads, T, 1)`` per layer.

    References
    ----------
    .. [1] Hooper et al., "KVQuant: Towards 10 Million Context Length LLM
       Inference with KV Cache Quantization", 2024.

    Examples
    --------
    >>> import torch
    >>> from fmref.infer.kv import QuantizedKVCache
    >>> cache = QuantizedKVCache(n_layers=1)
    >>> k = torch.randn(1, 2, 3, 8)  # (B, n_kv_heads, T, d_head)
    >>> k_all, v_all = cache.update(0, k, -k)
    >>> cache.keys[0].dtype, cache.length
    (torch.int8, 3)
    >>> bool((k_all - k).abs().max() <= k.abs().max() / 254 + 1e-6)  # half a step
    True
    >>> cache.nbytes()  # 2 tensors x 48 codes + 2 x 6 float32 scales
    144
    """

    def __init__(self, n_layers):
        super().__init__(n_layers)
        self.key_scales = [None] * n_layers
        self.value_scales = [None] * n_layers

    def update(self, layer, k, v):
        """Quantise and append ``k``, ``v`` ``(B, n_kv_heads, T_new, d_head)``; return
        all dequantised keys and values of ``layer``."""
        self._check_layer(layer)
        if k.shape != v.shape:
            raise ValueError(f"v must have the shape of k {tuple(k.shape)}, got {tuple(v.shape)}")
        (kc, ks), (vc, vs) = _quantize(k), _quantize(v)
        if self.keys[layer] is None:
            self.keys[layer], self.values[layer] = kc, vc
            self.key_scales[layer], self.value_scales[layer] = ks, vs
        else:
            self.keys[layer] = torch.cat([self.keys[layer], kc], dim=-2)
            self.values[layer] = torch.cat([self.values[layer], vc], dim=-2)
            self.key_scales[layer] = torch.cat([self.key_scales[layer], ks], dim=-2)
            self.value_scales[layer] = torch.cat([self.value_scales[layer], vs], dim=-2)
        k_all = self.keys[layer].to(k.dtype) * self.key_scales[layer]  # (B, H, T, d_head)
        v_all = self.values[layer].to(v.dtype) * self.value_scales[layer]
        return k_all, v_all

    def crop(self, length):
        """Keep the first ``length`` tokens of every layer."""
        super().crop(length)
        for layer in range(self.n_layers):
            if self.key_scales[layer] is not None:
                self.key_scales[layer] = self.key_scales[layer][..., :length, :]
                self.value_scales[layer] = self.value_scales[layer][..., :length, :]

    def reset(self):
        """Empty every layer."""
        super().reset()
        self.key_scales = [None] * self.n_layers
        self.value_scales = [None] * self.n_layers

    def nbytes(self):
        """Bytes held: int8 codes plus the scales."""
        tensors = self.keys + self.values + self.key_scales + self.value_scales
        return sum(t.numel() * t.element_size() for t in tensors if t is not None)
