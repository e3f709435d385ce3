"""CLIP: an image tower and a text tower trained to agree, and zero-shot classification.

Both towers are pre-norm Transformer encoders built from :mod:`fmref.nn`, with the
details of OpenAI's CLIP that differ from :class:`fmref.models.vit.ViT`: the patch
convolution has no bias, a LayerNorm runs *before* the first block
(``pre_layrnorm``), the MLP uses quick-GELU ``x * sigmoid(1.702 x)``, and the
text tower is causal and pooled at the end-of-text token. Each tower ends in a
bias-free projection to the shared embedding space; a learned log inverse
temperature scales the cosine similarities. :meth:`CLIP.from_hf` copies a
``transformers.CLIPModel`` and the tests check that the logits agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import check_instance, check_positive_int, check_tensor
from fmref.multimodal.contrastive import CLIP_LOGIT_SCALE_INIT, clip_loss
from fmref.nn.attention import MultiHeadAttention
from fmref.nn.norm import LayerNorm

__all__ = ["CLIPConfig", "quick_gelu", "CLIPEncoderLayer", "CLIP", "zero_shot_classify"]


@dataclass
class CLIPConfig:
    """Sizes of a CLIP; the defaults are OpenAI's ViT-B/32 CLIP.

    Parameters
    ----------
    image_size, patch_size, num_channels : int
        Square input images and patches (224, 32, 3).
    vision_width, vision_layers, vision_heads, vision_mlp_dim : int
        The image tower (768, 12, 12, 3072).
    vocab_size, context_length : int
        Text tokens (49,408 BPE ids) and the longest text (77 tokens).
    text_width, text_layers, text_heads, text_mlp_dim : int
        The text tower (512, 12, 8, 2048).
    projection_dim : int
        Width of the shared embedding space (512).
    hidden_act : {"quick_gelu", "gelu"}
        MLP activation of both towers.
    layer_norm_eps : float
        LayerNorm epsilon (1e-5).
    eos_token_id : int or None
        The text is pooled at the first ``eos_token_id``; ``None`` pools at the
        largest token id instead (OpenAI's rule: end-of-text has the highest id).
    logit_scale_init : float
        Initial log inverse temperature, ``ln(1/0.07)``.

    Raises
    ------
    ValueError
        If a size is not a positive int, ``patch_size`` does not divide
        ``image_size``, a width is not divisible by its heads, or ``hidden_act``
        is unknown.

    References
    ----------
    .. [1] Radford et al., "Learning Transferable Visual Models From Natural Language
       Supervision", ICML 2021, sec. 2.4 and table 19.

    Examples
    --------
    >>> from fmref.multimodal.clip import CLIPConfig
    >>> c = CLIPConfig()
    >>> c.num_patches, c.vision_width // c.vision_heads, round(c.logit_scale_init, 4)
    (49, 64, 2.6593)
    """

    image_size: int = 224  # square images
    patch_size: int = 32  # ViT-B/32: 7 x 7 = 49 patches
    num_channels: int = 3  # RGB
    vision_width: int = 768  # image tower d_model
    vision_layers: int = 12  # image tower blocks
    vision_heads: int = 12  # d_head 64
    vision_mlp_dim: int = 3072  # 4 x width
    vocab_size: int = 49408  # byte-level BPE
    context_length: int = 77  # longest text
    text_width: int = 512  # text tower d_model
    text_layers: int = 12  # text tower blocks
    text_heads: int = 8  # d_head 64
    text_mlp_dim: int = 2048  # 4 x width
    projection_dim: int = 512  # shared embedding space
    hidden_act: str = "quick_gelu"  # x * sigmoid(1.702 x)
    layer_norm_eps: float = 1e-5  # both towers
    eos_token_id: int | None = None  # None: pool at argmax(input_ids)
    logit_scale_init: float = CLIP_LOGIT_SCALE_INIT  # ln(1 / 0.07)

    def __post_init__(self):
        for name in (
            "image_size", "patch_size", "num_channels", "vision_width", "vision_layers",
            "vision_heads", "vision_mlp_dim", "vocab_size", "context_length", "text_width",
            "text_layers", "text_heads", "text_mlp_dim", "projection_dim",
        ):  # fmt: skip
            value = getattr(self, name)
            check_positive_int(name, value)
        if self.image_size % self.patch_size:
            raise ValueError(
                f"patch_size must divide image_size={self.image_size}, got {self.patch_size}"
            )
        for tower in ("vision", "text"):
            width, heads = getattr(self, f"{tower}_width"), getattr(self, f"{tower}_heads")
            if width % heads:
                raise ValueError(f"{tower}_width must be divisible by {tower}_heads={heads}")
        if self.hidden_act not in _ACTIVATIONS:
            raise ValueError(
                f"hidden_act must be one of {sorted(_ACTIVATIONS)}, got {self.hidden_act!r}"
            )

    @property
    def num_patches(self) -> int:
        """Patch tokens per image, ``(image_size // patch_size) ** 2``."""
        return (self.image_size // self.patch_size) ** 2


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    """CLIP's sigmoid approximation of GELU, ``x * sigmoid(1.702 x)``.

    Parameters
    ----------
    x : torch.Tensor
        Any tensor.

    Returns
    -------
    torch.Tensor
        Same shape as ``x``.

    References
    ----------
    .. [1] Hendrycks and Gimpel, "Gaussian Error Linear Units (GELUs)", 2016, sec. 2.

    Examples
    --------
    >>> import torch
    >>> from fmref.multimodal.clip import quick_gelu
    >>> x = torch.linspace(-3, 3, 61)
    >>> round((quick_gelu(x) - torch.nn.functional.gelu(x)).abs().max().item(), 3)
    0.02
    """
    check_tensor("x", x, dtype="float")
    return x * torch.sigmoid(1.702 * x)


_ACTIVATIONS = {"quick_gelu": quick_gelu, "gelu": F.gelu}


class CLIPEncoderLayer(nn.Module):
    """Pre-norm block of both towers: ``x + MHA(LN(x))``, then ``x + MLP(LN(x))``.

    Parameters
    ----------
    width, heads, mlp_dim : int
        ``d_model``, attention heads and MLP hidden width.
    hidden_act : {"quick_gelu", "gelu"}, default "quick_gelu"
        MLP activation.
    eps : float, default 1e-5
        LayerNorm epsilon.

    Examples
    --------
    >>> import torch
    >>> from fmref.multimodal.clip import CLIPEncoderLayer
    >>> layer = CLIPEncoderLayer(16, 2, 32)
    >>> layer(torch.randn(3, 5, 16), is_causal=True).shape
    torch.Size([3, 5, 16])
    """

    def __init__(self, width, heads, mlp_dim, hidden_act="quick_gelu", eps=1e-5):
        super().__init__()
        self.layer_norm1 = LayerNorm(width, eps=eps)
        self.self_attn = MultiHeadAttention(width, heads)
        self.layer_norm2 = LayerNorm(width, eps=eps)
        self.fc1 = nn.Linear(width, mlp_dim)
        self.fc2 = nn.Linear(mlp_dim, width)
        self.act = _ACTIVATIONS[hidden_act]

    def forward(self, x, attn_mask=None, is_causal=False):
        """Run the block on ``(B, T, width)``; masks as in ``MultiHeadAttention``."""
        x = x + self.self_attn(self.layer_norm1(x), attn_mask=attn_mask, is_causal=is_causal)
        return x + self.fc2(self.act(self.fc1(self.layer_norm2(x))))  # (B, T, width)


class CLIP(nn.Module):
    """Contrastive image-text model: two towers, two projections and a temperature.

    Parameters
    ----------
    config : CLIPConfig, optional
        Sizes; default ViT-B/32.

    Attributes
    ----------
    logit_scale : torch.nn.Parameter
        Scalar log inverse temperature, initialised to ``config.logit_scale_init``.

    References
    ----------
    .. [1] Radford et al., "Learning Transferable Visual Models From Natural Language
       Supervision", ICML 2021.

    Examples
    --------
    >>> import torch
    >>> from fmref.multimodal.clip import CLIP, CLIPConfig
    >>> config = CLIPConfig(image_size=8, patch_size=2, num_channels=1, vision_width=32,
    ...     vision_layers=1, vision_heads=2, vision_mlp_dim=64, vocab_size=20, context_length=6,
    ...     text_width=32, text_layers=1, text_heads=2, text_mlp_dim=64, projection_dim=16)
    >>> model = CLIP(config)
    >>> images, texts = torch.randn(3, 1, 8, 8), torch.randint(0, 19, (3, 6))
    >>> logits_per_image, logits_per_text = model(images, texts)
    >>> logits_per_image.shape, torch.equal(logits_per_image, logits_per_text.T)
    (torch.Size([3, 3]), True)
    >>> round(model.logit_scale.exp().item(), 2)  # inverse temperature 1 / 0.07
    14.29
    >>> model.loss(images, texts).shape  # clip_loss of the three pairs
    torch.Size([])
    """

    def __init__(self, config: CLIPConfig | None = None):
        super().__init__()
        check_instance("config", CLIPConfig() if config is None else config, CLIPConfig)
        self.config = c = config or CLIPConfig()
        Dv, Dt = c.vision_width, c.text_width
        # image tower
        self.patch_embedding = nn.Conv2d(
            c.num_channels, Dv, kernel_size=c.patch_size, stride=c.patch_size, bias=False
        )
        self.class_embedding = nn.Parameter(torch.randn(Dv) * Dv**-0.5)
        self.vision_position_embedding = nn.Parameter(torch.randn(c.num_patches + 1, Dv) * 0.02)
        self.pre_layrnorm = LayerNorm(Dv, eps=c.layer_norm_eps)  # transformers' spelling
        self.vision_layers = nn.ModuleList(
            CLIPEncoderLayer(Dv, c.vision_heads, c.vision_mlp_dim, c.hidden_act, c.layer_norm_eps)
            for _ in range(c.vision_layers)
        )
        self.post_layernorm = LayerNorm(Dv, eps=c.layer_norm_eps)
        # text tower
        self.token_embedding = nn.Embedding(c.vocab_size, Dt)
        self.text_position_embedding = nn.Parameter(torch.randn(c.context_length, Dt) * 0.01)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.text_layers = nn.ModuleList(
            CLIPEncoderLayer(Dt, c.text_heads, c.text_mlp_dim, c.hidden_act, c.layer_norm_eps)
            for _ in range(c.text_layers)
        )
        self.final_layer_norm = LayerNorm(Dt, eps=c.layer_norm_eps)
        # shared space
        self.visual_projection = nn.Linear(Dv, c.projection_dim, bias=False)
        self.text_projection = nn.Linear(Dt, c.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(c.logit_scale_init)))

    def image_tokens(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Final states of the image tower's tokens, ``(B, 1 + N, vision_width)``.

        The class token comes first; LLaVA-style models feed the patch tokens to a
        language model (:mod:`fmref.multimodal.lmm`).

        Raises
        ------
        ValueError
            If ``pixel_values`` is not ``(B, num_channels, image_size, image_size)``.
        """
        c = self.config
        expected = (c.num_channels, c.image_size, c.image_size)
        if pixel_values.dim() != 4 or tuple(pixel_values.shape[1:]) != expected:
            raise ValueError(
                f"pixel_values must have shape (B, {c.num_channels}, {c.image_size}, "
                f"{c.image_size}), got {tuple(pixel_values.shape)}"
            )
        x = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)  # (B, N, Dv)
        cls = self.class_embedding.expand(x.shape[0], 1, -1)  # (B, 1, Dv)
        x = torch.cat([cls, x], dim=1) + self.vision_position_embedding  # (B, 1 + N, Dv)
        x = self.pre_layrnorm(x)
        for layer in self.vision_layers:
            x = layer(x)
        return x

    def encode_image(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Projected (not normalised) image embeddings ``(B, projection_dim)``."""
        pooled = self.post_layernorm(self.image_tokens(pixel_values)[:, 0])  # (B, Dv)
        return self.visual_projection(pooled)

    def encode_text(self, input_ids: torch.Tensor, attention_mask=None) -> torch.Tensor:
        """Projected (not normalised) text embeddings ``(B, projection_dim)``.

        Parameters
        ----------
        input_ids : torch.Tensor
            ``(B, T)`` token ids, ``T <= context_length``, each row holding an
            end-of-text token (see :class:`CLIPConfig`'s ``eos_token_id``).
        attention_mask : torch.Tensor, optional
            ``(B, T)`` with 1 for real tokens and 0 for padding.

        Raises
        ------
        ValueError
            If ``input_ids`` is not 2-D, too long, or a row lacks ``eos_token_id``.
        """
        c = self.config
        if input_ids.dim() != 2 or not 1 <= input_ids.shape[1] <= c.context_length:
            raise ValueError(
                f"input_ids must have shape (B, T) with T <= context_length={c.context_length}, "
                f"got {tuple(input_ids.shape)}"
            )
        B, T = input_ids.shape
        x = self.token_embedding(input_ids) + self.text_position_embedding[:T]  # (B, T, Dt)
        mask = None
        if attention_mask is not None:
            causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            mask = causal & attention_mask.bool()[:, None, None, :]  # (B, 1, T, T)
        for layer in self.text_layers:
            x = layer(x, attn_mask=mask, is_causal=mask is None)
        x = self.final_layer_norm(x)
        if c.eos_token_id is None:
            eos = input_ids.argmax(-1)  # (B,) the end-of-text id is the largest
        else:
            hits = input_ids == c.eos_token_id
            if not hits.any(-1).all():
                raise ValueError(f"input_ids must hold eos_token_id={c.eos_token_id} in every row")
            eos = hits.int().argmax(-1)  # (B,) first end-of-text
        return self.text_projection(x[torch.arange(B, device=x.device), eos])

    def forward(self, pixel_values, input_ids, attention_mask=None):
        """Scaled cosine similarities of every image with every text.

        Returns
        -------
        (torch.Tensor, torch.Tensor)
            ``logits_per_image`` ``(B_img, B_txt)`` and its transpose ``logits_per_text``.
        """
        x = F.normalize(self.encode_image(pixel_values), dim=-1)  # (Bi, P)
        y = F.normalize(self.encode_text(input_ids, attention_mask), dim=-1)  # (Bt, P)
        logits_per_image = self.logit_scale.exp() * x @ y.T  # (Bi, Bt)
        return logits_per_image, logits_per_image.T

    def loss(self, pixel_values, input_ids, attention_mask=None):
        """:func:`~fmref.multimodal.contrastive.clip_loss` of a batch of matching pairs."""
        return clip_loss(
            self.encode_image(pixel_values),
            self.encode_text(input_ids, attention_mask),
            self.logit_scale,
        )

    @classmethod
    @torch.no_grad()
    def from_hf(cls, hf_model) -> CLIP:
        """Build a CLIP with the weights of a ``transformers.CLIPModel``.

        transformers 5.x names: ``vision_model.{embeddings.{class_embedding,
        patch_embedding, position_embedding}, pre_layrnorm, encoder.layers,
        post_layernorm}``, ``text_model.{embeddings.{token_embedding,
        position_embedding}, encoder.layers, final_layer_norm}``, each layer
        ``{layer_norm1, self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1, mlp.fc2}``,
        then ``visual_projection``, ``text_projection`` and ``logit_scale``. A text
        config with ``eos_token_id == 2`` (checkpoints older than transformers PR
        #24773) pools at the largest id, as transformers does.

        Parameters
        ----------
        hf_model : transformers.CLIPModel
            Source model; both towers must use the same activation and epsilon.

        Returns
        -------
        CLIP
            A model in eval mode with the same weights.

        Raises
        ------
        ValueError
            If the towers use different or unsupported activations or epsilons.

        Examples
        --------
        >>> import torch
        >>> from transformers import CLIPConfig as HFConfig, CLIPModel
        >>> from fmref.multimodal.clip import CLIP
        >>> hf = CLIPModel(HFConfig(
        ...     text_config=dict(vocab_size=50, hidden_size=32, intermediate_size=64,
        ...         num_hidden_layers=1, num_attention_heads=4, max_position_embeddings=8,
        ...         eos_token_id=49),
        ...     vision_config=dict(image_size=8, patch_size=4, hidden_size=32,
        ...         intermediate_size=64, num_hidden_layers=1, num_attention_heads=4),
        ...     projection_dim=16)).eval()
        >>> model = CLIP.from_hf(hf)
        >>> images, ids = torch.randn(2, 3, 8, 8), torch.tensor([[3, 7, 49], [5, 49, 0]])
        >>> ours = model(images, ids)[0]
        >>> theirs = hf(input_ids=ids, pixel_values=images).logits_per_image
        >>> torch.allclose(ours, theirs, atol=1e-5)
        True
        """
        tc, vc = hf_model.config.text_config, hf_model.config.vision_config
        if tc.hidden_act != vc.hidden_act or tc.hidden_act not in _ACTIVATIONS:
            raise ValueError(
                f"hf_model must use one hidden_act in {sorted(_ACTIVATIONS)} for both towers, "
                f"got text {tc.hidden_act!r} and vision {vc.hidden_act!r}"
            )
        if tc.layer_norm_eps != vc.layer_norm_eps:
            raise ValueError("hf_model must use the same layer_norm_eps in both towers")
        config = CLIPConfig(
            image_size=vc.image_size, patch_size=vc.patch_size, num_channels=vc.num_channels,
            vision_width=vc.hidden_size, vision_layers=vc.num_hidden_layers,
            vision_heads=vc.num_attention_heads, vision_mlp_dim=vc.intermediate_size,
            vocab_size=tc.vocab_size, context_length=tc.max_position_embeddings,
            text_width=tc.hidden_size, text_layers=tc.num_hidden_layers,
            text_heads=tc.num_attention_heads, text_mlp_dim=tc.intermediate_size,
            projection_dim=hf_model.config.projection_dim, hidden_act=tc.hidden_act,
            layer_norm_eps=tc.layer_norm_eps,
            eos_token_id=None if tc.eos_token_id == 2 else tc.eos_token_id,
            logit_scale_init=math.log(1 / 0.07),
        )  # fmt: skip
        model = cls(config)
        vm, tm = hf_model.vision_model, hf_model.text_model
        model.class_embedding.copy_(vm.embeddings.class_embedding)
        model.patch_embedding.weight.copy_(vm.embeddings.patch_embedding.weight)
        model.vision_position_embedding.copy_(vm.embeddings.position_embedding.weight)
        model.token_embedding.weight.copy_(tm.embeddings.token_embedding.weight)
        model.text_position_embedding.copy_(tm.embeddings.position_embedding.weight)
        pairs = [
            (model.pre_layrnorm, vm.pre_layrnorm),
            (model.post_layernorm, vm.post_layernorm),
            (model.final_layer_norm, tm.final_layer_norm),
            (model.visual_projection, hf_model.visual_projection),
            (model.text_projection, hf_model.text_projection),
        ]
        for ours_layers, hf_layers in [
            (model.vision_layers, vm.encoder.layers),
            (model.text_layers, tm.encoder.layers),
        ]:
            for ours, theirs in zip(ours_layers, hf_layers):
                pairs += [
                    (ours.layer_norm1, theirs.layer_norm1),
                    (ours.layer_norm2, theirs.layer_norm2),
                    (ours.fc1, theirs.mlp.fc1),
                    (ours.fc2, theirs.mlp.fc2),
                ]
                for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    pairs.append((getattr(ours.self_attn, name), getattr(theirs.self_attn, name)))
        for ours, theirs in pairs:
            ours.load_state_dict(theirs.state_dict())
        model.logit_scale.copy_(hf_model.logit_scale)
        return model.eval()


@torch.no_grad()
def zero_shot_classify(model: CLIP, images: torch.Tensor, class_prompts: torch.Tensor):
    """Classify images by the prompt they are most similar to, with no training.

    Each class is described by one or more prompts ("a photo of the digit
    seven", ...); the class embedding is the normalised mean of its prompts'
    normalised embeddings (CLIP's prompt ensembling), and each image goes to the
    class of highest cosine similarity.

    Parameters
    ----------
    model : CLIP
        A trained model.
    images : torch.Tensor
        ``(B, C, H, W)`` images.
    class_prompts : torch.Tensor
        Token ids ``(K, T)`` (one prompt per class) or ``(K, M, T)`` (``M``
        prompts per class), each prompt ending in end-of-text.

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        Predicted class indices ``(B,)`` and class probabilities ``(B, K)``.

    Raises
    ------
    ValueError
        If ``class_prompts`` is not 2-D or 3-D, or as :meth:`CLIP.encode_text`.

    References
    ----------
    .. [1] Radford et al., 2021, sec. 3.1.4 (prompt engineering and ensembling).

    Examples
    --------
    >>> import torch
    >>> from fmref.multimodal.clip import CLIP, CLIPConfig, zero_shot_classify
    >>> model = CLIP(CLIPConfig(image_size=8, patch_size=4, num_channels=1, vision_width=16,
    ...     vision_layers=1, vision_heads=2, vision_mlp_dim=32, vocab_size=10, context_length=4,
    ...     text_width=16, text_layers=1, text_heads=2, text_mlp_dim=32, projection_dim=8))
    >>> prompts = torch.tensor([[[1, 2, 9], [3, 2, 9]], [[1, 4, 9], [3, 4, 9]]])  # (K=2, M=2, T=3)
    >>> pred, probs = zero_shot_classify(model, torch.randn(5, 1, 8, 8), prompts)
    >>> pred.shape, probs.shape, torch.allclose(probs.sum(-1), torch.ones(5))
    (torch.Size([5]), torch.Size([5, 2]), True)
    """
    check_instance("model", model, CLIP)
    if class_prompts.dim() == 2:
        class_prompts = class_prompts[:, None]  # (K, 1, T)
    if class_prompts.dim() != 3:
        raise ValueError(
            f"class_prompts must have shape (K, T) or (K, M, T), got {tuple(class_prompts.shape)}"
        )
    K, M, T = class_prompts.shape
    text = F.normalize(model.encode_text(class_prompts.reshape(K * M, T)), dim=-1)  # (K*M, P)
    classes = F.normalize(text.reshape(K, M, -1).mean(1), dim=-1)  # (K, P)
    image = F.normalize(model.encode_image(images), dim=-1)  # (B, P)
    probs = (model.logit_scale.exp() * image @ classes.T).softmax(-1)  # (B, K)
    return probs.argmax(-1), probs
