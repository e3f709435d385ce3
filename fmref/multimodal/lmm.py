"""Connecting a vision encoder to a language model.

Three ways of giving a decoder-only language model eyes:

- **LLaVA** (Liu et al. 2023): a projector maps the vision encoder's patch features
  into the language model's embedding space, and the projected features *replace*
  placeholder image tokens in the text sequence (:class:`VisionProjector`,
  :func:`splice_image_tokens`, :class:`LLaVA`);
- **Flamingo** (Alayrac et al. 2022): the frozen language model's blocks are
  interleaved with new cross-attention blocks whose output passes through
  ``tanh(alpha)``, ``alpha`` initialised at 0, so training starts from the
  unchanged language model (:class:`GatedCrossAttention`, :class:`FlamingoLM`);
- a **Perceiver resampler** (Flamingo) or **Q-Former** (BLIP-2, Li et al. 2023):
  a fixed set of learned queries cross-attends to any number of patch features
  and returns a fixed number of visual tokens (:class:`PerceiverResampler`).

The language model is a :class:`fmref.models.gpt.GPT`; :func:`image_token_count`
gives what an image costs in context.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import check_instance, check_positive_int
from fmref.nn.attention import MultiHeadAttention
from fmref.nn.norm import LayerNorm

__all__ = [
    "image_token_count",
    "VisionProjector",
    "splice_image_tokens",
    "LLaVA",
    "GatedCrossAttention",
    "FlamingoLM",
    "PerceiverResampler",
]


def image_token_count(image_size: int, patch_size: int, cls_token: bool = False) -> int:
    """Visual tokens a ViT encoder hands to the language model for one square image.

    Parameters
    ----------
    image_size : int
        Side of the (resized) image in pixels.
    patch_size : int
        Side of a patch; must divide ``image_size``.
    cls_token : bool, default False
        Count the class token too (LLaVA drops it and keeps the patches).

    Returns
    -------
    int
        ``(image_size // patch_size) ** 2`` (+ 1 with ``cls_token``).

    Raises
    ------
    ValueError
        If a size is not positive or ``patch_size`` does not divide ``image_size``.

    References
    ----------
    .. [1] Liu et al., "Improved Baselines with Visual Instruction Tuning", CVPR 2024
       (LLaVA-1.5: CLIP ViT-L/14 at 336 px).

    Examples
    --------
    >>> from fmref.multimodal.lmm import image_token_count
    >>> image_token_count(336, 14)  # LLaVA-1.5: a 24 x 24 grid
    576
    >>> image_token_count(224, 14)  # LLaVA: 16 x 16
    256
    """
    if image_size < 1 or patch_size < 1 or image_size % patch_size:
        raise ValueError(
            f"patch_size must be positive and divide image_size, got image_size={image_size}, "
            f"patch_size={patch_size}"
        )
    return (image_size // patch_size) ** 2 + int(cls_token)


class VisionProjector(nn.Module):
    """LLaVA's projector from vision features to the language model's embeddings.

    ``depth=1`` is LLaVA's linear layer; ``depth=2`` is LLaVA-1.5's
    ``Linear -> GELU -> Linear`` (``mlp2x_gelu``).

    Parameters
    ----------
    vision_dim : int
        Width of the vision encoder's features.
    lm_dim : int
        Width of the language model's token embeddings.
    depth : {1, 2}, default 2
        Number of linear layers.

    Raises
    ------
    ValueError
        If ``depth`` is not 1 or 2.

    Examples
    --------
    >>> import torch
    >>> from fmref.multimodal.lmm import VisionProjector
    >>> projector = VisionProjector(1024, 4096)  # CLIP ViT-L/14 -> a 7B LLaMA
    >>> projector(torch.randn(1, 576, 1024)).shape
    torch.Size([1, 576, 4096])
    >>> sum(p.numel() for p in projector.parameters())  # about 21M
    20979712
    """

    def __init__(self, vision_dim: int, lm_dim: int, depth: int = 2):
        super().__init__()
        check_positive_int("vision_dim", vision_dim)
        check_positive_int("lm_dim", lm_dim)
        check_positive_int("depth", depth)
        if depth not in (1, 2):
            raise ValueError(f"depth must be 1 (linear) or 2 (MLP), got {depth!r}")
        layers = [nn.Linear(vision_dim, lm_dim)]
        if depth == 2:
            layers += [nn.GELU(), nn.Linear(lm_dim, lm_dim)]
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Project ``(B, N, vision_dim)`` features to ``(B, N, lm_dim)``."""
        return self.net(features)


def splice_image_tokens(token_embeds, input_ids, image_features, image_token_id):
    """Put projected image features where the text has image placeholder tokens.

    Row ``b`` of ``input_ids`` must hold exactly ``N`` placeholders; the ``n``-th
    placeholder of row ``b`` receives ``image_features[b, n]`` (what transformers'
    LLaVA does with ``masked_scatter``).

    Parameters
    ----------
    token_embeds : torch.Tensor
        ``(B, T, D)`` embeddings of ``input_ids``.
    input_ids : torch.Tensor
        ``(B, T)`` token ids.
    image_features : torch.Tensor
        ``(B, N, D)`` projected image features, one image per row.
    image_token_id : int
        Id of the placeholder token.

    Returns
    -------
    torch.Tensor
        ``(B, T, D)``: ``token_embeds`` with the placeholders replaced.

    Raises
    ------
    ValueError
        If the shapes disagree or a row does not hold exactly ``N`` placeholders.

    Examples
    --------
    >>> import torch
    >>> from fmref.multimodal.lmm import splice_image_tokens
    >>> ids = torch.tensor([[5, 0, 0, 7]])  # 0 = <image>
    >>> embeds = torch.zeros(1, 4, 2)
    >>> features = torch.tensor([[[1.0, 1.0], [2.0, 2.0]]])  # two image tokens
    >>> splice_image_tokens(embeds, ids, features, image_token_id=0)[0, :, 0]
    tensor([0., 1., 2., 0.])
    """
    if token_embeds.dim() != 3 or tuple(input_ids.shape) != tuple(token_embeds.shape[:2]):
        raise ValueError(
            f"token_embeds must have shape (B, T, D) matching input_ids (B, T), got "
            f"{tuple(token_embeds.shape)} and {tuple(input_ids.shape)}"
        )
    B, _, D = token_embeds.shape
    if image_features.dim() != 3 or image_features.shape[0] != B or image_features.shape[2] != D:
        raise ValueError(
            f"image_features must have shape ({B}, N, {D}), got {tuple(image_features.shape)}"
        )
    mask = input_ids == image_token_id  # (B, T)
    counts = mask.sum(1)
    if not bool((counts == image_features.shape[1]).all()):
        raise ValueError(
            f"input_ids must hold {image_features.shape[1]} image tokens (id {image_token_id}) "
            f"per row, got {counts.tolist()}"
        )
    mask = mask.unsqueeze(-1).expand_as(token_embeds)  # (B, T, D)
    return token_embeds.masked_scatter(mask, image_features.to(token_embeds.dtype))


def _gpt_trunk(lm, x, hooks=None):
    """Run ``lm``'s positions, blocks and head on embeddings ``x`` (B, T, C)."""
    T = x.shape[1]
    if T > lm.config.block_size:
        raise ValueError(f"sequence of {T} tokens exceeds block_size={lm.config.block_size}")
    x = lm.drop(x + lm.wpe(torch.arange(T, device=x.device)))  # (B, T, C)
    for i, block in enumerate(lm.h):
        if hooks is not None:
            x = hooks(i, x)
        x = block(x)
    return lm.lm_head(lm.ln_f(x))  # (B, T, vocab_size)


class LLaVA(nn.Module):
    """A vision encoder, a projector and a GPT, with image tokens spliced into the text.

    Parameters
    ----------
    vision_encoder : callable
        Maps pixel values to ``(B, N, vision_dim)`` features (e.g. the patch
        tokens of :meth:`fmref.multimodal.clip.CLIP.image_tokens`).
    lm : fmref.models.gpt.GPT
        The language model; its vocabulary includes ``image_token_id``.
    vision_dim : int
        Width of the encoder's features.
    image_token_id : int
        Placeholder id; the prompt holds one per visual token.
    projector_depth : {1, 2}, default 2
        See :class:`VisionProjector`.

    References
    ----------
    .. [1] Liu et al., "Visual Instruction Tuning", NeurIPS 2023.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.multimodal.lmm import LLaVA
    >>> encoder = lambda images: images.flatten(2).transpose(1, 2)  # (B, H*W, C) "patches"
    >>> lm = GPT(GPTConfig(vocab_size=12, block_size=16, n_layer=1, n_head=2, n_embd=8))
    >>> model = LLaVA(encoder, lm, vision_dim=3, image_token_id=0)
    >>> ids = torch.tensor([[0, 0, 0, 0, 5, 6]])  # 4 image tokens, then 2 words
    >>> model(torch.randn(1, 3, 2, 2), ids).shape
    torch.Size([1, 6, 12])
    >>> model.generate(torch.randn(1, 3, 2, 2), ids, max_new_tokens=3).shape
    torch.Size([1, 3])
    """

    def __init__(self, vision_encoder, lm, vision_dim, image_token_id, projector_depth=2):
        super().__init__()
        if not callable(vision_encoder):
            raise TypeError(
                f"vision_encoder must be callable, got {type(vision_encoder).__name__}"
            )
        check_instance("lm", lm, nn.Module)
        self.vision_encoder, self.lm, self.image_token_id = vision_encoder, lm, image_token_id
        self.projector = VisionProjector(vision_dim, lm.config.n_embd, projector_depth)

    def forward(self, pixel_values, input_ids, image_features=None) -> torch.Tensor:
        """Next-token logits ``(B, T, vocab_size)`` of a prompt with image placeholders.

        ``image_features`` (``(B, N, vision_dim)``), when given, replaces the
        encoder's output (a frozen encoder's features can be computed once).
        """
        if image_features is None:
            image_features = self.vision_encoder(pixel_values)  # (B, N, vision_dim)
        features = self.projector(image_features)  # (B, N, C)
        x = splice_image_tokens(self.lm.wte(input_ids), input_ids, features, self.image_token_id)
        return _gpt_trunk(self.lm, x)

    @torch.no_grad()
    def generate(self, pixel_values, input_ids, max_new_tokens, eos_token_id=None):
        """Greedy continuation ``(B, max_new_tokens)``; rows stop repeating ``eos_token_id``."""
        out = input_ids
        for _ in range(max_new_tokens):
            next_id = self(pixel_values, out)[:, -1].argmax(-1, keepdim=True)  # (B, 1)
            if eos_token_id is not None and out.shape[1] > input_ids.shape[1]:
                done = out[:, -1:] == eos_token_id
                next_id = torch.where(done, eos_token_id, next_id)
            out = torch.cat([out, next_id], dim=1)
        return out[:, input_ids.shape[1] :]


class GatedCrossAttention(nn.Module):
    """Flamingo's GATED XATTN-DENSE block, inserted before a frozen LM block.

    ``y = x + tanh(a_attn) * MHA(LN(x), visual)``, then
    ``y = y + tanh(a_ffw) * FFW(LN(y))``, with ``a_attn = a_ffw = 0`` at
    initialisation, so that the block starts as the identity.

    Parameters
    ----------
    d_model : int
        Width of the language model.
    n_heads : int
        Attention heads.
    d_visual : int, optional
        Width of the visual tokens; default ``d_model``. Other widths are
        projected to ``d_model`` first.
    mlp_ratio : int, default 4
        Hidden width of the feed-forward layer over ``d_model``.

    References
    ----------
    .. [1] Alayrac et al., "Flamingo: a Visual Language Model for Few-Shot
       Learning", NeurIPS 2022, sec. 2.2 and figure 4.

    Examples
    --------
    >>> import torch
    >>> from fmref.multimodal.lmm import GatedCrossAttention
    >>> xattn = GatedCrossAttention(d_model=16, n_heads=2, d_visual=24)
    >>> x = torch.randn(2, 5, 16)
    >>> torch.equal(xattn(x, torch.randn(2, 7, 24)), x)  # tanh(0) = 0: the identity
    True
    """

    def __init__(self, d_model, n_heads, d_visual=None, mlp_ratio=4):
        super().__init__()
        d_visual = d_model if d_visual is None else d_visual
        self.d_visual = d_visual
        self.visual_in = nn.Identity() if d_visual == d_model else nn.Linear(d_visual, d_model)
        self.norm_attn = LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads)
        self.attn_gate = nn.Parameter(torch.zeros(()))
        self.norm_ffw = LayerNorm(d_model)
        self.ffw = nn.Sequential(
            nn.Linear(d_model, mlp_ratio * d_model),
            nn.GELU(),
            nn.Linear(mlp_ratio * d_model, d_model),
        )
        self.ffw_gate = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        """Text states ``(B, T, d_model)`` attend to visual tokens ``(B, R, d_visual)``.

        Raises
        ------
        ValueError
            If ``visual`` is not ``(B, R, d_visual)`` with the batch size of ``x``.
        """
        if visual.dim() != 3 or visual.shape[0] != x.shape[0] or visual.shape[2] != self.d_visual:
            raise ValueError(
                f"visual must have shape ({x.shape[0]}, R, {self.d_visual}), "
                f"got {tuple(visual.shape)}"
            )
        context = self.visual_in(visual)  # (B, R, d_model)
        x = x + torch.tanh(self.attn_gate) * self.attn(self.norm_attn(x), context=context)
        return x + torch.tanh(self.ffw_gate) * self.ffw(self.norm_ffw(x))


class FlamingoLM(nn.Module):
    """A frozen GPT with a :class:`GatedCrossAttention` block before each of its blocks.

    Parameters
    ----------
    lm : fmref.models.gpt.GPT
        The language model; its parameters are frozen (``requires_grad=False``).
    d_visual : int
        Width of the visual tokens (e.g. a :class:`PerceiverResampler`'s output).
    n_heads : int, default 4
        Heads of the cross-attention.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.multimodal.lmm import FlamingoLM
    >>> lm = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8)).eval()
    >>> flamingo = FlamingoLM(lm, d_visual=6, n_heads=2).eval()
    >>> ids, visual = torch.tensor([[1, 2, 3]]), torch.randn(1, 4, 6)
    >>> torch.allclose(flamingo(ids, visual), lm(ids))  # at initialisation: the LM unchanged
    True
    >>> [p.requires_grad for p in (lm.wte.weight, flamingo.xattn[0].attn_gate)]
    [False, True]
    """

    def __init__(self, lm, d_visual, n_heads=4):
        super().__init__()
        check_instance("lm", lm, nn.Module)
        self.lm = lm.requires_grad_(False)
        self.xattn = nn.ModuleList(
            GatedCrossAttention(lm.config.n_embd, n_heads, d_visual) for _ in lm.h
        )

    def forward(self, input_ids: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        """Next-token logits ``(B, T, vocab_size)`` of text conditioned on ``visual`` tokens."""
        return _gpt_trunk(self.lm, self.lm.wte(input_ids), lambda i, x: self.xattn[i](x, visual))


class PerceiverResampler(nn.Module):
    """A fixed number of learned latents that read any number of visual features.

    Each layer: ``latents += MHA(LN(latents), [LN(x); LN(latents)])``, then
    ``latents += FFW(LN(latents))``. Keys and values include the latents, as in
    Flamingo; the output size does not depend on the number of input features.

    Parameters
    ----------
    d_model : int
        Width of the features and of the latents.
    n_latents : int, default 64
        Number of output tokens (Flamingo: 64).
    n_layers : int, default 2
        Layers.
    n_heads : int, default 4
        Attention heads.

    References
    ----------
    .. [1] Alayrac et al., 2022, sec. 2.1 and appendix A.1.1.
    .. [2] Jaegle et al., "Perceiver: General Perception with Iterative Attention",
       ICML 2021.

    Examples
    --------
    >>> import torch
    >>> from fmref.multimodal.lmm import PerceiverResampler
    >>> resampler = PerceiverResampler(d_model=16, n_latents=8)
    >>> resampler(torch.randn(2, 49, 16)).shape, resampler(torch.randn(2, 576, 16)).shape
    (torch.Size([2, 8, 16]), torch.Size([2, 8, 16]))
    """

    def __init__(self, d_model, n_latents=64, n_layers=2, n_heads=4):
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("n_latents", n_latents)
        check_positive_int("n_layers", n_layers)
        check_positive_int("n_heads", n_heads)
        self.d_model = d_model
        self.latents = nn.Parameter(torch.randn(n_latents, d_model) * 0.02)
        self.layers = nn.ModuleList(
            nn.ModuleDict(
                {
                    "norm_x": LayerNorm(d_model),
                    "norm_latents": LayerNorm(d_model),
                    "attn": MultiHeadAttention(d_model, n_heads),
                    "norm_ffw": LayerNorm(d_model),
                    "fc1": nn.Linear(d_model, 4 * d_model),
                    "fc2": nn.Linear(4 * d_model, d_model),
                }
            )
            for _ in range(n_layers)
        )
        self.norm = LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, N, d_model)`` features to ``(B, n_latents, d_model)`` tokens.

        Raises
        ------
        ValueError
            If ``x`` is not ``(B, N, d_model)``.
        """
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (B, N, {self.d_model}), got {tuple(x.shape)}")
        latents = self.latents.expand(x.shape[0], -1, -1)  # (B, R, D)
        for layer in self.layers:
            q = layer["norm_latents"](latents)
            kv = torch.cat([layer["norm_x"](x), q], dim=1)  # (B, N + R, D)
            latents = latents + layer["attn"](q, context=kv)
            h = layer["fc2"](F.gelu(layer["fc1"](layer["norm_ffw"](latents))))
            latents = latents + h
        return self.norm(latents)
