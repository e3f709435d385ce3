"""BERT: a bidirectional transformer encoder with post-norm blocks.

BERT reads the whole sequence at once: no causal mask, only a padding mask
that hides ``[PAD]`` keys. Each token's input is the sum of three learned
embeddings (token, absolute position, segment ``A``/``B``), normalised by a
LayerNorm; each block is *post-norm*, ``x = norm(x + attn(x))`` then
``x = norm(x + ffn(x))``, with an exact (erf) GELU and LayerNorm epsilon
``1e-12``. The model returns the last hidden states ``(B, T, hidden_size)``,
which a masked-LM head (Chapter VIII) or a pooling layer (retrieval) uses.

:meth:`Bert.from_hf` copies a ``transformers.BertModel``; the tests compare
hidden states with transformers, padding masks included, so that published
checkpoints (for example all-MiniLM-L6-v2) can be loaded into this class.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import check_hf_model, check_instance, check_positive_int
from fmref.nn.attention import MultiHeadAttention
from fmref.nn.norm import LayerNorm

__all__ = ["BertConfig", "BertEmbeddings", "BertLayer", "Bert"]

_INT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


@dataclass
class BertConfig:
    """Shape of a BERT encoder (the names of Google's ``bert_config.json``).

    The defaults are BERT-base.

    Parameters
    ----------
    vocab_size : int, default 30522
        WordPiece vocabulary size.
    hidden_size : int, default 768
        Model width ``C``.
    num_hidden_layers : int, default 12
        Number of encoder blocks.
    num_attention_heads : int, default 12
        Attention heads; must divide ``hidden_size``.
    intermediate_size : int, default 3072
        Width of the feed-forward layer (``4 C``).
    max_position_embeddings : int, default 512
        Rows of the learned position table: the longest input.
    type_vocab_size : int, default 2
        Number of segment ids (sentence ``A`` and ``B``).
    layer_norm_eps : float, default 1e-12
        Epsilon of every LayerNorm.
    hidden_dropout_prob : float, default 0.1
        Dropout on embeddings and residual branches while training.
    attention_probs_dropout_prob : float, default 0.1
        Dropout on the attention weights while training.

    Raises
    ------
    ValueError
        If a size is not a positive int, ``hidden_size`` is not divisible by
        ``num_attention_heads``, or a probability is outside ``[0, 1)``.

    References
    ----------
    .. [1] Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers
       for Language Understanding", NAACL 2019.

    Examples
    --------
    >>> from fmref.models.bert import BertConfig
    >>> cfg = BertConfig()  # BERT-base
    >>> cfg.hidden_size, cfg.num_hidden_layers, cfg.layer_norm_eps
    (768, 12, 1e-12)
    >>> BertConfig(hidden_size=100, num_attention_heads=12)
    Traceback (most recent call last):
    ...
    ValueError: hidden_size must be divisible by num_attention_heads=12, got hidden_size=100
    """

    vocab_size: int = 30522  # WordPiece vocabulary (bert-base-uncased)
    hidden_size: int = 768  # width C
    num_hidden_layers: int = 12  # encoder blocks
    num_attention_heads: int = 12  # heads per block
    intermediate_size: int = 3072  # feed-forward width, 4 C
    max_position_embeddings: int = 512  # longest input
    type_vocab_size: int = 2  # segments A and B
    layer_norm_eps: float = 1e-12  # LayerNorm epsilon (Google's TF code)
    hidden_dropout_prob: float = 0.1  # embeddings and residual branches
    attention_probs_dropout_prob: float = 0.1  # attention weights

    def __post_init__(self):
        for name in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
        ):
            value = getattr(self, name)
            check_positive_int(name, value)
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size must be divisible by num_attention_heads={self.num_attention_heads},"
                f" got hidden_size={self.hidden_size}"
            )
        if not self.layer_norm_eps > 0:
            raise ValueError(f"layer_norm_eps must be positive, got {self.layer_norm_eps!r}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")


class BertEmbeddings(nn.Module):
    """Token + position + segment embeddings, then LayerNorm and dropout.

    Parameters
    ----------
    config : BertConfig
        Model shape.

    Attributes
    ----------
    word_embeddings : torch.nn.Embedding
        ``(vocab_size, hidden_size)``.
    position_embeddings : torch.nn.Embedding
        ``(max_position_embeddings, hidden_size)``, learned.
    token_type_embeddings : torch.nn.Embedding
        ``(type_vocab_size, hidden_size)``.
    norm : fmref.nn.norm.LayerNorm

    Examples
    --------
    >>> import torch
    >>> from fmref.models.bert import BertConfig, BertEmbeddings
    >>> emb = BertEmbeddings(BertConfig(vocab_size=50, hidden_size=8, num_attention_heads=2))
    >>> ids = torch.tensor([[2, 7, 3]])
    >>> emb(ids, torch.zeros_like(ids)).shape  # (B, T, C)
    torch.Size([1, 3, 8])
    """

    def __init__(self, config):
        super().__init__()
        check_instance("config", config, BertConfig)
        C = config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, C)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, C)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, C)
        self.norm = LayerNorm(C, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids):
        pos = torch.arange(input_ids.shape[1], device=input_ids.device)  # (T,)
        x = (
            self.word_embeddings(input_ids)  # (B, T, C)
            + self.position_embeddings(pos)  # (T, C), broadcast over B
            + self.token_type_embeddings(token_type_ids)
        )  # (B, T, C)
        return self.dropout(self.norm(x))


class BertLayer(nn.Module):
    """One post-norm encoder block.

    ``x = attention_norm(x + attention(x))``, then
    ``x = output_norm(x + output(gelu(intermediate(x))))``.

    Parameters
    ----------
    config : BertConfig
        Model shape.

    Attributes
    ----------
    attention : fmref.nn.attention.MultiHeadAttention
        Bidirectional self-attention with biases.
    attention_norm, output_norm : fmref.nn.norm.LayerNorm
    intermediate, output : torch.nn.Linear
        Feed-forward ``C -> intermediate_size -> C``.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.bert import BertConfig, BertLayer
    >>> layer = BertLayer(BertConfig(hidden_size=8, num_attention_heads=2, intermediate_size=32))
    >>> pad = torch.tensor([True, True, False])[None, None, None, :]  # (B, 1, 1, T)
    >>> layer(torch.randn(1, 3, 8), attn_mask=pad).shape
    torch.Size([1, 3, 8])
    """

    def __init__(self, config):
        super().__init__()
        check_instance("config", config, BertConfig)
        C = config.hidden_size
        self.attention = MultiHeadAttention(
            C, config.num_attention_heads, bias=True, dropout=config.attention_probs_dropout_prob
        )
        self.attention_norm = LayerNorm(C, eps=config.layer_norm_eps)
        self.intermediate = nn.Linear(C, config.intermediate_size)
        self.output = nn.Linear(config.intermediate_size, C)
        self.output_norm = LayerNorm(C, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x, attn_mask=None):
        x = self.attention_norm(x + self.dropout(self.attention(x, attn_mask=attn_mask)))
        h = F.gelu(self.intermediate(x))  # (B, T, intermediate_size), exact erf GELU
        return self.output_norm(x + self.dropout(self.output(h)))  # (B, T, C)


class Bert(nn.Module):
    """BERT encoder: embeddings and ``num_hidden_layers`` post-norm blocks.

    Parameters
    ----------
    config : BertConfig
        Model shape.

    Attributes
    ----------
    embeddings : BertEmbeddings
    layers : torch.nn.ModuleList of BertLayer

    Raises
    ------
    TypeError
        If ``config`` is not a :class:`BertConfig`.

    References
    ----------
    .. [1] Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers
       for Language Understanding", NAACL 2019.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.bert import Bert, BertConfig
    >>> cfg = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
    ...                  num_attention_heads=4, intermediate_size=64)
    >>> model = Bert(cfg).eval()
    >>> ids = torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])  # 0 = [PAD]
    >>> mask = (ids != 0).long()  # 1 = real token
    >>> hidden = model(ids, attention_mask=mask)
    >>> hidden.shape  # (B, T, hidden_size)
    torch.Size([2, 4, 32])

    Padding does not change the real tokens' states:

    >>> alone = model(ids[1:, :2])
    >>> torch.allclose(hidden[1, :2], alone[0], atol=1e-5)
    True
    """

    def __init__(self, config):
        super().__init__()
        check_instance("config", config, BertConfig)
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module):
        # BERT's initialisation (as transformers): N(0, 0.02) weights, zero biases.
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        """Last hidden states of every token.

        Parameters
        ----------
        input_ids : torch.Tensor
            Token ids ``(B, T)``, an integer tensor, ``T <= max_position_embeddings``.
        attention_mask : torch.Tensor, optional
            ``(B, T)`` of 1 (real token) and 0 (padding), bool or integer;
            padding keys are hidden from every query. Default: all ones.
        token_type_ids : torch.Tensor, optional
            Segment ids ``(B, T)`` below ``type_vocab_size``; default zeros.

        Returns
        -------
        torch.Tensor
            Hidden states ``(B, T, hidden_size)``.

        Raises
        ------
        TypeError
            If ``input_ids`` or ``token_type_ids`` is not an integer tensor.
        ValueError
            If ``input_ids`` is not 2-D or too long, or ``attention_mask`` /
            ``token_type_ids`` do not have its shape, or the mask holds values
            other than 0 and 1.
        """
        if not isinstance(input_ids, torch.Tensor) or input_ids.dtype not in _INT_DTYPES:
            kind = getattr(input_ids, "dtype", type(input_ids).__name__)
            raise TypeError(f"input_ids must be an integer tensor (torch.long), got {kind}")
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must have shape (B, T), got {tuple(input_ids.shape)}")
        if input_ids.shape[1] > self.config.max_position_embeddings:
            raise ValueError(
                f"input_ids has {input_ids.shape[1]} tokens, more than "
                f"max_position_embeddings={self.config.max_position_embeddings}"
            )
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        elif getattr(token_type_ids, "dtype", None) not in _INT_DTYPES:
            raise TypeError("token_type_ids must be an integer tensor like input_ids")
        elif token_type_ids.shape != input_ids.shape:
            raise ValueError(
                f"token_type_ids must have the shape of input_ids {tuple(input_ids.shape)}, "
                f"got {tuple(token_type_ids.shape)}"
            )
        attn_mask = None
        if attention_mask is not None:
            if attention_mask.shape != input_ids.shape:
                raise ValueError(
                    f"attention_mask must have the shape of input_ids {tuple(input_ids.shape)}, "
                    f"got {tuple(attention_mask.shape)}"
                )
            if not ((attention_mask == 0) | (attention_mask == 1)).all():
                raise ValueError("attention_mask must hold only 0 (padding) and 1 (token)")
            attn_mask = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, T): keys to attend
        x = self.embeddings(input_ids, token_type_ids)  # (B, T, C)
        for layer in self.layers:
            x = layer(x, attn_mask=attn_mask)
        return x

    @classmethod
    def from_hf(cls, hf_model):
        """Copy a ``transformers.BertModel`` (the pooler, if any, is left out).

        Parameters
        ----------
        hf_model : transformers.BertModel
            An encoder with ``hidden_act="gelu"``.

        Returns
        -------
        Bert
            A model in eval mode whose hidden states equal ``last_hidden_state``.

        Raises
        ------
        TypeError
            If ``hf_model`` is not a ``transformers.BertModel``.
        ValueError
            If it is configured as a decoder or with another activation.

        Examples
        --------
        >>> import torch
        >>> import transformers
        >>> from fmref.models.bert import Bert
        >>> hf = transformers.BertModel(transformers.BertConfig(
        ...     vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        ...     intermediate_size=64, max_position_embeddings=16)).eval()
        >>> model = Bert.from_hf(hf)
        >>> ids = torch.tensor([[2, 5, 9, 3, 0, 0]])
        >>> mask = torch.tensor([[1, 1, 1, 1, 0, 0]])
        >>> ref = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        >>> torch.allclose(model(ids, attention_mask=mask), ref, atol=1e-4)
        True
        """
        check_hf_model("hf_model", hf_model, "BertModel")
        c = hf_model.config
        if c.hidden_act != "gelu":
            raise ValueError(f"hf_model.config.hidden_act must be 'gelu', got {c.hidden_act!r}")
        if c.is_decoder:
            raise ValueError("hf_model.config.is_decoder must be False (an encoder)")
        config = BertConfig(
            vocab_size=c.vocab_size,
            hidden_size=c.hidden_size,
            num_hidden_layers=c.num_hidden_layers,
            num_attention_heads=c.num_attention_heads,
            intermediate_size=c.intermediate_size,
            max_position_embeddings=c.max_position_embeddings,
            type_vocab_size=c.type_vocab_size,
            layer_norm_eps=c.layer_norm_eps,
            hidden_dropout_prob=float(c.hidden_dropout_prob),
            attention_probs_dropout_prob=float(c.attention_probs_dropout_prob),
        )
        return cls.from_hf_state_dict(hf_model.state_dict(), config)

    @classmethod
    def from_hf_state_dict(cls, state_dict, config):
        """Build a model from a transformers-style BERT state dict.

        The names are those of ``transformers.BertModel`` (``encoder.layer.0.
        attention.self.query.weight`` ...), with or without a ``bert.`` prefix,
        as a ``model.safetensors`` checkpoint stores them; pooler and head
        weights are ignored.

        Parameters
        ----------
        state_dict : dict of str to torch.Tensor
            The checkpoint's tensors.
        config : BertConfig
            The model's shape (from the checkpoint's ``config.json``).

        Returns
        -------
        Bert
            A model in eval mode.

        Raises
        ------
        TypeError
            If ``config`` is not a :class:`BertConfig`.
        KeyError
            If a weight the model needs is missing from ``state_dict``.

        Examples
        --------
        >>> import torch
        >>> from fmref.models.bert import Bert, BertConfig
        >>> cfg = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1,
        ...                  num_attention_heads=2, intermediate_size=16)
        >>> hf_names = {"embeddings.word_embeddings.weight": torch.ones(50, 8)}
        >>> Bert.from_hf_state_dict(hf_names, cfg)
        Traceback (most recent call last):
        ...
        KeyError: 'state_dict lacks embeddings.position_embeddings.weight'
        """
        if not isinstance(config, BertConfig):
            raise TypeError(f"config must be a BertConfig, got {type(config).__name__}")
        src = {k.removeprefix("bert."): v for k, v in state_dict.items()}

        def take(key):
            if key not in src:
                raise KeyError(f"state_dict lacks {key}")
            return src[key]

        dst = {}
        for part in ("word", "position", "token_type"):
            key = f"embeddings.{part}_embeddings.weight"
            dst[key] = take(key)  # same names in both models
        pairs = {
            "attention.q_proj": "attention.self.query",
            "attention.k_proj": "attention.self.key",
            "attention.v_proj": "attention.self.value",
            "attention.out_proj": "attention.output.dense",
            "attention_norm": "attention.output.LayerNorm",
            "intermediate": "intermediate.dense",
            "output": "output.dense",
            "output_norm": "output.LayerNorm",
        }
        for kind in ("weight", "bias"):
            dst[f"embeddings.norm.{kind}"] = take(f"embeddings.LayerNorm.{kind}")
            for i in range(config.num_hidden_layers):
                for ours, theirs in pairs.items():
                    dst[f"layers.{i}.{ours}.{kind}"] = take(f"encoder.layer.{i}.{theirs}.{kind}")
        model = cls(config)
        model.load_state_dict(dst)
        return model.eval()
