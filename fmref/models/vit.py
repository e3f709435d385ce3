"""Vision Transformer (ViT): an image as a sequence of patches.

An image is cut into ``P x P`` patches, each patch is flattened and projected to
``hidden_size`` (a strided convolution does both at once), a learned class token
is prepended, learned position embeddings are added, and a stack of pre-norm
Transformer encoder blocks runs over the sequence. The class token's final state
feeds a linear classifier.

The config keeps the names of transformers' ``ViTConfig`` where they exist;
:meth:`ViT.from_hf` copies a ``transformers.ViTForImageClassification`` and the
tests check that both give the same logits. :func:`train_digits_vit` trains a small
ViT on scikit-learn's 8x8 digits; :func:`fmref.zoo.digits_vit` runs it once and caches it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import (
    check_instance,
    check_int,
    check_number,
    check_positive_int,
    check_tensor,
)
from fmref.nn.attention import MultiHeadAttention
from fmref.nn.norm import LayerNorm
from fmref.train.loop import chunk_means, cosine_schedule, epoch_batches, fit

__all__ = [
    "ViTConfig",
    "count_vit_parameters",
    "vit_forward_flops",
    "ViTBlock",
    "ViT",
    "interpolate_pos_embed",
    "digits_split",
    "train_image_classifier",
    "train_digits_vit",
    "train_digits_cnn",
]


@dataclass
class ViTConfig:
    """Hyper-parameters of a ViT; the defaults are ViT-B/16 for ImageNet-1k.

    Parameters
    ----------
    image_size : int, default 224
        Height = width of the input images.
    patch_size : int, default 16
        Side of a square patch; must divide ``image_size``.
    num_channels : int, default 3
        Input channels (3 for RGB, 1 for grey-scale digits).
    hidden_size : int, default 768
        Model width ``d_model``; must be divisible by ``num_heads``.
    num_layers : int, default 12
        Number of encoder blocks (transformers: ``num_hidden_layers``).
    num_heads : int, default 12
        Attention heads per block (transformers: ``num_attention_heads``).
    mlp_dim : int, default 3072
        Width of the MLP's hidden layer (transformers: ``intermediate_size``).
    num_classes : int, default 1000
        Classes of the linear head (transformers: ``num_labels``).
    dropout : float, default 0.0
        Dropout on embeddings, attention weights and residual branches.
    layer_norm_eps : float, default 1e-6
        LayerNorm epsilon (the original JAX code's; transformers uses 1e-12).

    Raises
    ------
    ValueError
        If a size is not positive, ``patch_size`` does not divide
        ``image_size``, or ``hidden_size`` is not divisible by ``num_heads``.

    References
    ----------
    .. [1] Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for
       Image Recognition at Scale", ICLR 2021, table 1.

    Examples
    --------
    >>> from fmref.models.vit import ViTConfig
    >>> c = ViTConfig()  # ViT-B/16
    >>> c.num_patches, c.hidden_size // c.num_heads
    (196, 64)
    >>> ViTConfig(image_size=30, patch_size=4)
    Traceback (most recent call last):
    ...
    ValueError: patch_size must divide image_size=30, got patch_size=4
    """

    image_size: int = 224  # height = width of the input
    patch_size: int = 16  # 16x16 patches -> 14x14 = 196 tokens at 224
    num_channels: int = 3  # RGB
    hidden_size: int = 768  # d_model
    num_layers: int = 12  # encoder blocks
    num_heads: int = 12  # d_head = 768 / 12 = 64
    mlp_dim: int = 3072  # 4 x hidden_size
    num_classes: int = 1000  # ImageNet-1k head
    dropout: float = 0.0  # no dropout (pre-training used 0.1)
    layer_norm_eps: float = 1e-6  # JAX original; transformers: 1e-12

    def __post_init__(self):
        for name in (
            "image_size",
            "patch_size",
            "num_channels",
            "hidden_size",
            "num_layers",
            "num_heads",
            "mlp_dim",
            "num_classes",
        ):
            value = getattr(self, name)
            check_positive_int(name, value)
        if self.image_size % self.patch_size:
            raise ValueError(
                f"patch_size must divide image_size={self.image_size}, "
                f"got patch_size={self.patch_size}"
            )
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size must be divisible by num_heads={self.num_heads}, "
                f"got {self.hidden_size}"
            )

    @property
    def num_patches(self) -> int:
        """Number of patch tokens, ``(image_size // patch_size) ** 2``."""
        return (self.image_size // self.patch_size) ** 2


def count_vit_parameters(config: ViTConfig) -> int:
    """Parameters of a :class:`ViT`, counted from the config alone.

    ``D = hidden_size``, ``N = num_patches``, ``L = num_layers``, ``M = mlp_dim``:
    patch embedding ``C*P*P*D + D``, class token ``D``, positions ``(N + 1) * D``;
    per block ``4 * (D*D + D)`` (q, k, v, output), ``2*D*M + M + D`` (MLP) and
    ``4 * D`` (two LayerNorms); a final LayerNorm ``2 * D``; the head ``D*K + K``.

    Parameters
    ----------
    config : ViTConfig
        The model's sizes.

    Returns
    -------
    int
        Number of parameters.

    References
    ----------
    .. [1] Dosovitskiy et al., 2021, table 1 (ViT-Base: 86M).

    Examples
    --------
    >>> from fmref.models.vit import ViTConfig, count_vit_parameters
    >>> f"{count_vit_parameters(ViTConfig()):,}"  # ViT-B/16, 1,000-class head
    '86,567,656'
    """
    check_instance("config", config, ViTConfig)
    c = config
    D, M, K = c.hidden_size, c.mlp_dim, c.num_classes
    embed = c.num_channels * c.patch_size**2 * D + D + D + (c.num_patches + 1) * D
    block = 4 * (D * D + D) + (2 * D * M + M + D) + 4 * D
    return embed + c.num_layers * block + 2 * D + D * K + K


def vit_forward_flops(config: ViTConfig) -> dict:
    """Floating-point operations of one forward pass on one image, by part.

    A matrix product of ``(m, k)`` by ``(k, n)`` costs ``2 m k n`` FLOPs (a
    multiply and an add). With ``T = N + 1`` tokens: the patch embedding costs
    ``2 N (C P^2) D``; each block's linear layers ``2 T (4 D^2 + 2 D M)``; each
    block's attention scores and weighted sum ``2 * 2 T^2 D``; the head
    ``2 D K``. Norms, softmax and GELU are left out (they are a few percent).

    Parameters
    ----------
    config : ViTConfig
        The model's sizes.

    Returns
    -------
    dict
        ``{"patch_embed", "linear", "attention", "head", "total"}`` in FLOPs.

    Examples
    --------
    >>> from fmref.models.vit import ViTConfig, vit_forward_flops
    >>> flops = vit_forward_flops(ViTConfig())  # ViT-B/16 at 224x224
    >>> round(flops["total"] / 1e9, 1), round(flops["attention"] / flops["total"], 3)
    (35.1, 0.041)
    """
    check_instance("config", config, ViTConfig)
    c = config
    N, D, M, L = c.num_patches, c.hidden_size, c.mlp_dim, c.num_layers
    T = N + 1
    parts = {
        "patch_embed": 2 * N * (c.num_channels * c.patch_size**2) * D,
        "linear": L * 2 * T * (4 * D * D + 2 * D * M),
        "attention": L * 2 * 2 * T * T * D,
        "head": 2 * D * c.num_classes,
    }
    parts["total"] = sum(parts.values())
    return parts


def interpolate_pos_embed(pos_embed: torch.Tensor, grid, n_prefix: int = 1) -> torch.Tensor:
    """Resize learned 2-D position embeddings to a new patch grid (bicubic).

    A ViT trained on ``g x g`` patches has one learned embedding per grid cell.
    At a higher resolution the image has more patches; the ViT paper
    (Dosovitskiy et al., section 3.2) fine-tunes there after a 2-D interpolation of the
    pre-trained embeddings according to their location in the original image.
    The patch embeddings are laid out as a ``(D, g, g)`` image and resized with
    bicubic interpolation (``align_corners=False``, as DeiT, DINO and transformers'
    ``interpolate_pos_encoding`` do); the class token's embedding is kept.

    Parameters
    ----------
    pos_embed : torch.Tensor
        ``(1, n_prefix + g * g, D)``: prefix tokens first, then the grid in raster order.
    grid : int or tuple of int
        The new grid ``(h, w)`` in patches (an int means square).
    n_prefix : int, default 1
        Tokens before the grid that have no position in the image (the class token).

    Returns
    -------
    torch.Tensor
        ``(1, n_prefix + h * w, D)``.

    Raises
    ------
    ValueError
        If ``pos_embed`` is not ``(1, n_prefix + g * g, D)`` for a whole ``g``, or a
        grid side is not a positive int.

    Examples
    --------
    The digits ViT's 4 x 4 grid of positions, stretched for 16 x 16 images:

    >>> import torch
    >>> from fmref.models.vit import interpolate_pos_embed
    >>> pos = torch.randn(1, 1 + 4 * 4, 32)
    >>> interpolate_pos_embed(pos, 8).shape
    torch.Size([1, 65, 32])
    >>> torch.equal(interpolate_pos_embed(pos, 4), pos)  # the same grid: unchanged
    True
    """
    check_tensor("pos_embed", pos_embed, dtype="float", ndim=3, finite=True)
    if pos_embed.shape[0] != 1:
        raise ValueError(
            f"pos_embed must be a (1, n_prefix + g * g, D) tensor, got {tuple(pos_embed.shape)}"
        )
    check_int("n_prefix", n_prefix, low=0)
    sides = (grid, grid) if isinstance(grid, int) else grid
    if not isinstance(sides, (tuple, list)) or len(sides) != 2:
        raise ValueError(f"grid must be an int or a pair (h, w), got {grid!r}")
    h, w = sides
    check_positive_int("grid", h)
    check_positive_int("grid", w)
    n = pos_embed.shape[1] - n_prefix
    g = math.isqrt(max(n, 0))
    if n < 1 or g * g != n:
        raise ValueError(
            f"pos_embed must hold n_prefix={n_prefix} tokens then a square grid, "
            f"got {pos_embed.shape[1]} positions"
        )
    if (h, w) == (g, g):
        return pos_embed
    prefix, patches = pos_embed[:, :n_prefix], pos_embed[:, n_prefix:]
    D = pos_embed.shape[-1]
    patches = patches.reshape(1, g, g, D).permute(0, 3, 1, 2)  # (1, D, g, g)
    patches = F.interpolate(patches, size=(h, w), mode="bicubic", align_corners=False)
    return torch.cat([prefix, patches.permute(0, 2, 3, 1).reshape(1, h * w, D)], dim=1)


class ViTBlock(nn.Module):
    """Pre-norm encoder block: ``x + MHA(LN(x))``, then ``x + MLP(LN(x))``.

    The MLP is ``Linear(D, mlp_dim)``, exact (erf) GELU, ``Linear(mlp_dim, D)``.

    Parameters
    ----------
    config : ViTConfig
        Sizes.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.vit import ViTBlock, ViTConfig
    >>> config = ViTConfig(image_size=8, patch_size=2, hidden_size=16, num_heads=2, mlp_dim=32)
    >>> block = ViTBlock(config)
    >>> out, weights = block(torch.randn(3, 17, 16), need_weights=True)
    >>> out.shape, weights.shape  # weights: (B, heads, tokens, tokens)
    (torch.Size([3, 17, 16]), torch.Size([3, 2, 17, 17]))
    """

    def __init__(self, config: ViTConfig):
        super().__init__()
        check_instance("config", config, ViTConfig)
        D = config.hidden_size
        self.norm1 = LayerNorm(D, eps=config.layer_norm_eps)
        self.attn = MultiHeadAttention(D, config.num_heads, dropout=config.dropout)
        self.norm2 = LayerNorm(D, eps=config.layer_norm_eps)
        self.fc1 = nn.Linear(D, config.mlp_dim)
        self.fc2 = nn.Linear(config.mlp_dim, D)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, need_weights: bool = False):
        """Run the block on ``(B, T, D)`` tokens; optionally return attention weights."""
        a, weights = self.attn(self.norm1(x), need_weights=True)  # (B, T, D), (B, H, T, T)
        x = x + self.dropout(a)
        h = self.fc2(F.gelu(self.fc1(self.norm2(x))))  # (B, T, D)
        x = x + self.dropout(h)
        return (x, weights) if need_weights else x


class ViT(nn.Module):
    """Vision Transformer classifier.

    Parameters
    ----------
    config : ViTConfig, optional
        Sizes; default ViT-B/16.

    Attributes
    ----------
    patch_embed : torch.nn.Conv2d
        Kernel = stride = ``patch_size``: one linear projection per patch.
    cls_token : torch.nn.Parameter
        ``(1, 1, D)`` learned class token.
    pos_embed : torch.nn.Parameter
        ``(1, N + 1, D)`` learned 1-D position embeddings (class token first).

    References
    ----------
    .. [1] Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021, eqs. 1-4.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.vit import ViT, ViTConfig
    >>> config = ViTConfig(image_size=8, patch_size=2, num_channels=1, hidden_size=32,
    ...                    num_layers=2, num_heads=4, mlp_dim=64, num_classes=10)
    >>> model = ViT(config)
    >>> x = torch.randn(5, 1, 8, 8)
    >>> model(x).shape
    torch.Size([5, 10])
    >>> model.attention_maps(x).shape  # (layers, B, heads, 1 + 16 tokens, 1 + 16 tokens)
    torch.Size([2, 5, 4, 17, 17])
    >>> from fmref.models.vit import count_vit_parameters
    >>> model.num_parameters(), count_vit_parameters(config)
    (18218, 18218)
    """

    def __init__(self, config: ViTConfig | None = None):
        super().__init__()
        check_instance("config", ViTConfig() if config is None else config, ViTConfig)
        self.config = c = config or ViTConfig()
        D = c.hidden_size
        self.patch_embed = nn.Conv2d(
            c.num_channels, D, kernel_size=c.patch_size, stride=c.patch_size
        )
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, c.num_patches + 1, D))
        self.dropout = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(ViTBlock(c) for _ in range(c.num_layers))
        self.norm = LayerNorm(D, eps=c.layer_norm_eps)
        self.head = nn.Linear(D, c.num_classes)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def _check(self, pixel_values: torch.Tensor, interpolate: bool = False) -> None:
        c = self.config
        if interpolate:  # any size made of whole patches
            P = c.patch_size
            if (pixel_values.dim() != 4 or pixel_values.shape[1] != c.num_channels
                    or pixel_values.shape[2] % P or pixel_values.shape[3] % P
                    or 0 in pixel_values.shape[2:]):  # fmt: skip
                raise ValueError(
                    f"pixel_values must have shape (B, {c.num_channels}, H, W) with H and W "
                    f"positive multiples of patch_size={P}, got {tuple(pixel_values.shape)}"
                )
            return
        expected = (c.num_channels, c.image_size, c.image_size)
        if pixel_values.dim() != 4 or tuple(pixel_values.shape[1:]) != expected:
            raise ValueError(
                f"pixel_values must have shape "
                f"(B, {c.num_channels}, {c.image_size}, {c.image_size}), "
                f"got {tuple(pixel_values.shape)} (interpolate_pos_encoding=True "
                f"accepts other sizes)"
            )

    def embed(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False):
        """Tokens entering the first block: ``[cls; patches] + positions``, ``(B, N + 1, D)``.

        With ``interpolate_pos_encoding=True`` the image may have any size made
        of whole patches, and the positions are :func:`interpolate_pos_embed`'s.
        """
        self._check(pixel_values, interpolate_pos_encoding)
        x = self.patch_embed(pixel_values)  # (B, D, H/P, W/P)
        grid = tuple(x.shape[2:])
        x = x.flatten(2).transpose(1, 2)  # (B, N, D), raster order
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # (B, 1, D)
        pos = self.pos_embed
        if interpolate_pos_encoding:
            pos = interpolate_pos_embed(pos, grid)
        x = torch.cat([cls, x], dim=1) + pos  # (B, N + 1, D)
        return self.dropout(x)

    def _encode(self, pixel_values: torch.Tensor, need_weights: bool, interpolate=False):
        x = self.embed(pixel_values, interpolate)
        maps = []
        for block in self.blocks:
            x, w = block(x, need_weights=True)
            maps.append(w)
        return self.norm(x), maps  # (B, N + 1, D), L x (B, H, N + 1, N + 1)

    def features(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False):
        """The class token's final (normalised) state, ``(B, D)``: the image's embedding."""
        return self._encode(pixel_values, False, interpolate_pos_encoding)[0][:, 0]

    def forward(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False):
        """Class logits ``(B, num_classes)`` of ``(B, C, H, W)`` images.

        ``interpolate_pos_encoding=True`` (transformers' name) runs the model on
        images of another size, with the position embeddings resized by
        :func:`interpolate_pos_embed`.

        Raises
        ------
        ValueError
            If ``pixel_values`` does not have shape ``(B, num_channels, image_size, image_size)``
            (with ``interpolate_pos_encoding``: ``(B, num_channels, H, W)`` in whole patches).
        """
        return self.head(self.features(pixel_values, interpolate_pos_encoding))

    @torch.no_grad()
    def attention_maps(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Attention weights of every block, ``(L, B, heads, N + 1, N + 1)``.

        Row 0 of each map is where the class token looks; reshape
        ``maps[l, b, h, 0, 1:]`` to ``(H/P, W/P)`` to draw it over the image.
        """
        return torch.stack(self._encode(pixel_values, True)[1])

    def num_parameters(self) -> int:
        """Number of parameters (equals :func:`count_vit_parameters` of the config)."""
        return sum(p.numel() for p in self.parameters())

    @classmethod
    @torch.no_grad()
    def from_hf(cls, hf_model) -> ViT:
        """Build a ViT with the weights of a ``transformers.ViTForImageClassification``.

        Module names of transformers 5.x: ``vit.embeddings.{cls_token,
        position_embeddings, patch_embeddings.projection}``, ``vit.layers[i].
        {layernorm_before, attention.{q,k,v,o}_proj, layernorm_after, mlp.fc1,
        mlp.fc2}``, ``vit.layernorm`` and ``classifier``.

        Parameters
        ----------
        hf_model : transformers.ViTForImageClassification
            Source model, square images and patches, exact GELU, q/k/v biases.

        Returns
        -------
        ViT
            A model in eval mode with the same weights.

        Raises
        ------
        ValueError
            If the source uses another activation than ``"gelu"``, no q/k/v
            biases, or non-square images or patches.

        Examples
        --------
        >>> import torch
        >>> from transformers import ViTConfig as HFConfig, ViTForImageClassification
        >>> from fmref.models.vit import ViT
        >>> hf = ViTForImageClassification(HFConfig(image_size=8, patch_size=2, num_channels=1,
        ...     hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        ...     num_labels=10)).eval()
        >>> model = ViT.from_hf(hf)
        >>> x = torch.randn(2, 1, 8, 8)
        >>> torch.allclose(model(x), hf(pixel_values=x).logits, atol=1e-4)
        True
        """
        hc = hf_model.config
        if hc.hidden_act != "gelu":
            raise ValueError(f"hf_model must use hidden_act='gelu', got {hc.hidden_act!r}")
        if not hc.qkv_bias:
            raise ValueError("hf_model must use qkv_bias=True")
        sizes = {}
        for name in ("image_size", "patch_size"):
            value = getattr(hc, name)
            if isinstance(value, (list, tuple)):
                if value[0] != value[1]:
                    raise ValueError(f"hf_model must use a square {name}, got {value}")
                value = value[0]
            sizes[name] = int(value)
        config = ViTConfig(
            image_size=sizes["image_size"],
            patch_size=sizes["patch_size"],
            num_channels=hc.num_channels,
            hidden_size=hc.hidden_size,
            num_layers=hc.num_hidden_layers,
            num_heads=hc.num_attention_heads,
            mlp_dim=hc.intermediate_size,
            num_classes=hc.num_labels,
            dropout=hc.hidden_dropout_prob,
            layer_norm_eps=hc.layer_norm_eps,
        )
        model = cls(config)
        src = hf_model.vit
        emb = src.embeddings
        model.cls_token.copy_(emb.cls_token)
        model.pos_embed.copy_(emb.position_embeddings)
        model.patch_embed.load_state_dict(emb.patch_embeddings.projection.state_dict())
        for block, layer in zip(model.blocks, src.layers):
            block.norm1.load_state_dict(layer.layernorm_before.state_dict())
            block.norm2.load_state_dict(layer.layernorm_after.state_dict())
            att = layer.attention
            for ours, theirs in [
                ("q_proj", att.q_proj),
                ("k_proj", att.k_proj),
                ("v_proj", att.v_proj),
                ("out_proj", att.o_proj),
            ]:
                getattr(block.attn, ours).load_state_dict(theirs.state_dict())
            block.fc1.load_state_dict(layer.mlp.fc1.state_dict())
            block.fc2.load_state_dict(layer.mlp.fc2.state_dict())
        model.norm.load_state_dict(src.layernorm.state_dict())
        model.head.load_state_dict(hf_model.classifier.state_dict())
        return model.eval()


def digits_split(test_size: float = 0.25, seed: int = 0):
    """scikit-learn's 8x8 digits as tensors, split into stratified train and test sets.

    Pixel values 0-16 are scaled to ``[-1, 1]``.

    Parameters
    ----------
    test_size : float, default 0.25
        Share of the 1,797 images held out for testing.
    seed : int, default 0
        Seed of the shuffled split.

    Returns
    -------
    tuple of torch.Tensor
        ``(x_train, y_train, x_test, y_test)``; images ``(n, 1, 8, 8)`` float32,
        labels ``(n,)`` int64.

    Raises
    ------
    ImportError
        If scikit-learn is not installed (it ships the digits; fmref does not need it otherwise).

    Examples
    --------
    >>> from fmref.models.vit import digits_split
    >>> x_train, y_train, x_test, y_test = digits_split()
    >>> x_train.shape, x_test.shape, float(x_train.min()), float(x_train.max())
    (torch.Size([1347, 1, 8, 8]), torch.Size([450, 1, 8, 8]), -1.0, 1.0)
    """
    check_number("test_size", test_size, 0.0, 1.0, low_open=True, high_open=True)
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as err:  # pragma: no cover - the test and docs extras install it
        raise ImportError("digits_split needs scikit-learn: pip install scikit-learn") from err
    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0  # (1797, 1, 8, 8)
    y = torch.tensor(data.target, dtype=torch.long)
    idx_train, idx_test = train_test_split(
        torch.arange(len(y)).numpy(), test_size=test_size, random_state=seed, stratify=data.target
    )
    idx_train, idx_test = torch.as_tensor(idx_train), torch.as_tensor(idx_test)
    return x[idx_train], y[idx_train], x[idx_test], y[idx_test]


def train_image_classifier(
    model: nn.Module,
    data,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 0.05,
    seed: int = 0,
) -> dict:
    """Train a classifier with AdamW and a cosine learning rate; record a learning curve.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(B, C, H, W)`` images to logits; trained in place.
    data : tuple of torch.Tensor
        ``(x_train, y_train, x_test, y_test)``, e.g. from :func:`digits_split`.
    epochs : int, default 30
        Passes over the training set.
    batch_size : int, default 64
        Examples per step.
    lr : float, default 3e-3
        Peak learning rate (cosine decay to 0, one epoch of linear warm-up).
    weight_decay : float, default 0.05
        AdamW weight decay.
    seed : int, default 0
        Seed of the shuffles.

    Returns
    -------
    dict
        ``{"train_loss": [...], "test_accuracy": [...]}``, one entry per epoch.

    Raises
    ------
    ValueError
        If ``epochs`` or ``batch_size`` is not positive.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from fmref.models.vit import train_image_classifier
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(64, 1, 2, 2, generator=g)
    >>> y = (x.flatten(1).sum(1) > 0).long()
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    >>> history = train_image_classifier(model, (x, y, x, y), epochs=20, batch_size=16, lr=0.05)
    >>> history["test_accuracy"][-1] > 0.9
    True
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(
            f"epochs and batch_size must be positive, got epochs={epochs}, batch_size={batch_size}"
        )
    x_train, y_train, x_test, y_test = data
    g = torch.Generator().manual_seed(seed)
    steps_per_epoch = math.ceil(len(y_train) / batch_size)
    total = epochs * steps_per_epoch

    def loss_fn(model, idx):
        return F.cross_entropy(model(x_train[idx]), y_train[idx])

    def test_accuracy(model):
        return (model(x_test).argmax(-1) == y_test).float().mean().item()

    history = fit(
        model,
        epoch_batches(len(y_train), batch_size, epochs, g),
        loss_fn,
        total,
        lr=lambda step: cosine_schedule(step, steps_per_epoch, total, lr, 0.0),
        weight_decay=weight_decay,
        eval_fn=test_accuracy,
        eval_every=steps_per_epoch,
    )
    model.eval()
    return {
        "train_loss": chunk_means(history["loss"], steps_per_epoch),
        "test_accuracy": history["eval"],
    }


# the ViT trained on digits that Chapter XVI, the gallery and FID share
DIGITS_VIT_CONFIG = ViTConfig(
    image_size=8,
    patch_size=2,
    num_channels=1,
    hidden_size=64,
    num_layers=2,
    num_heads=4,
    mlp_dim=128,
    num_classes=10,
)
DIGITS_VIT_TRAINING = {"epochs": 30, "batch_size": 64, "lr": 3e-3, "weight_decay": 0.05, "seed": 0}


@torch.enable_grad()  # the caller may be inside torch.no_grad()
def train_digits_vit() -> dict:
    """Train the small ViT of Chapter XVI on scikit-learn's digits (no cache).

    Config ``DIGITS_VIT_CONFIG``: 8x8 images, 2x2 patches (16 tokens +
    class token), width 64, 2 blocks of 4 heads, MLP 128; trained with
    :func:`train_image_classifier` and ``DIGITS_VIT_TRAINING`` on the
    stratified 75% split of :func:`digits_split`. :func:`fmref.zoo.digits_vit`
    runs it once on one thread and caches the result.

    Returns
    -------
    dict
        ``{"state_dict": ..., "history": ...}`` (per-epoch loss and test accuracy).

    Examples
    --------
    >>> from fmref.models.vit import DIGITS_VIT_TRAINING, train_digits_vit
    >>> from fmref.zoo import digits_vit  # this function's result, trained once and cached
    >>> model, history = digits_vit()
    >>> len(history["test_accuracy"]) == DIGITS_VIT_TRAINING["epochs"], train_digits_vit.__name__
    (True, 'train_digits_vit')
    """
    torch.manual_seed(DIGITS_VIT_TRAINING["seed"])
    model = ViT(DIGITS_VIT_CONFIG)
    history = train_image_classifier(model, digits_split(), **DIGITS_VIT_TRAINING)
    return {"state_dict": model.state_dict(), "history": history}


@torch.enable_grad()  # the caller may be inside torch.no_grad()
def train_digits_cnn() -> dict:
    """Train Chapter III's CNN like :func:`train_digits_vit` (no cache).

    :class:`fmref.nn.conv.SmallCNN` (two 3x3 conv blocks with max pooling, a
    linear head).

    Same optimiser, schedule, epochs and split as the digit ViT, so that the two
    learning curves differ only by architecture; :func:`fmref.zoo.digits_cnn`
    caches the result.

    Returns
    -------
    dict
        ``{"state_dict": ..., "history": ...}``.

    Examples
    --------
    :func:`fmref.zoo.digits_cnn` runs it once and caches it (Chapter XVI plots
    the two learning curves); the settings are the ViT's:

    >>> from fmref.models.vit import DIGITS_VIT_TRAINING
    >>> from fmref.zoo import get
    >>> get("digits-cnn").function, DIGITS_VIT_TRAINING["epochs"], DIGITS_VIT_TRAINING["lr"]
    ('fmref.zoo:digits_cnn', 30, 0.003)
    """
    from fmref.nn.conv import CNNConfig, SmallCNN

    torch.manual_seed(DIGITS_VIT_TRAINING["seed"])
    model = SmallCNN(CNNConfig())
    history = train_image_classifier(model, digits_split(), **DIGITS_VIT_TRAINING)
    return {"state_dict": model.state_dict(), "history": history}
