"""Tests of fmref.models.vit."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.models.vit import (
    ViT,
    ViTBlock,
    ViTConfig,
    count_vit_parameters,
    digits_split,
    interpolate_pos_embed,
    train_image_classifier,
)
from fmref.vision import patchify

SMALL = dict(
    image_size=8,
    patch_size=2,
    num_channels=1,
    hidden_size=32,
    num_layers=2,
    num_heads=4,
    mlp_dim=64,
    num_classes=10,
)


def test_vit_b16_parameter_count_is_the_papers():
    # ViT-B/16 with a 1,000-class head: 86,567,656 parameters (Dosovitskiy et al. 2021,
    # table 1 "86M"; the exact figure is that of transformers' vit-base-patch16-224 with its
    # ImageNet-1k head, as in the issue)
    assert count_vit_parameters(ViTConfig()) == 86_567_656
    with torch.device("meta"):
        model = ViT(ViTConfig())
    assert model.num_parameters() == 86_567_656


@pytest.mark.parametrize(
    "kwargs", [SMALL, dict(SMALL, patch_size=4, num_channels=3, mlp_dim=16, num_classes=3)]
)
def test_analytic_count_equals_module_count(kwargs):
    config = ViTConfig(**kwargs)
    assert ViT(config).num_parameters() == count_vit_parameters(config)


def test_from_hf_logits_match_transformers():
    import transformers
    hf_config = transformers.ViTConfig(
        image_size=12,
        patch_size=4,
        num_channels=3,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=48,
        num_labels=7,
    )
    torch.manual_seed(0)
    hf = transformers.ViTForImageClassification(hf_config).eval()
    model = ViT.from_hf(hf)
    x = torch.randn(4, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(model(x), hf(pixel_values=x).logits, rtol=0, atol=1e-4)
    assert model.config.layer_norm_eps == hf_config.layer_norm_eps
    assert model.num_parameters() == sum(p.numel() for p in hf.parameters())


@pytest.mark.parametrize(
    "change, match",
    [
        ({"hidden_act": "relu"}, "hidden_act"),
        ({"qkv_bias": False}, "qkv_bias"),
        ({"image_size": [8, 12]}, "image_size"),
    ],
)
def test_from_hf_rejects_unsupported_configs(change, match):
    import transformers
    hf_config = transformers.ViTConfig(
        image_size=8,
        patch_size=4,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        num_labels=2,
    )
    for key, value in change.items():
        setattr(hf_config, key, value)
    hf = transformers.ViTForImageClassification(hf_config) if "image_size" not in change else None
    if hf is None:  # a non-square model cannot be checked by building it; fake its config
        hf = transformers.ViTForImageClassification(
            transformers.ViTConfig(
                image_size=8,
                patch_size=4,
                hidden_size=16,
                num_hidden_layers=1,
                num_attention_heads=2,
                intermediate_size=16,
                num_labels=2,
            )
        )
        hf.config.image_size = [8, 12]
    with pytest.raises(ValueError, match=match):
        ViT.from_hf(hf)


def test_from_hf_accepts_square_size_pairs():
    import transformers
    hf = transformers.ViTForImageClassification(
        transformers.ViTConfig(
            image_size=[8, 8],
            patch_size=[4, 4],
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=16,
            num_labels=2,
        )
    ).eval()
    assert ViT.from_hf(hf).config.image_size == 8


def test_patch_embedding_conv_equals_linear_map_of_patchify():
    model = ViT(ViTConfig(**dict(SMALL, num_channels=3)))
    x = torch.randn(2, 3, 8, 8)
    conv = model.patch_embed(x).flatten(2).transpose(1, 2)  # (B, N, D)
    linear = patchify(x, 2) @ model.patch_embed.weight.flatten(1).T + model.patch_embed.bias
    torch.testing.assert_close(conv, linear)


@given(st.integers(1, 3), st.sampled_from([1, 2, 4]), st.integers(1, 3))
@settings(max_examples=20, deadline=None)
def test_patchify_is_a_permutation_of_the_pixels(channels, patch, blocks):
    size = patch * blocks
    x = torch.randn(2, channels, size, size)
    p = patchify(x, patch)
    assert p.shape == (2, blocks * blocks, channels * patch * patch)
    torch.testing.assert_close(p.flatten(1).sort().values, x.flatten(1).sort().values)


def test_attention_maps_are_row_stochastic_and_features_feed_the_head():
    model = ViT(ViTConfig(**SMALL)).eval()
    x = torch.randn(3, 1, 8, 8)
    maps = model.attention_maps(x)
    assert maps.shape == (2, 3, 4, 17, 17)
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 3, 4, 17))
    torch.testing.assert_close(model.head(model.features(x)), model(x))


def test_position_embeddings_break_permutation_invariance():
    # without positions a ViT is blind to where a patch is; with them it is not
    model = ViT(ViTConfig(**SMALL)).eval()
    x = torch.randn(1, 1, 8, 8)
    swapped = torch.cat([x[..., 4:, :], x[..., :4, :]], dim=-2)  # move whole 2x2 patches around
    with torch.no_grad():
        assert not torch.allclose(model(x), model(swapped), atol=1e-4)
        model.pos_embed.zero_()
        torch.testing.assert_close(model(x), model(swapped), rtol=0, atol=1e-5)


def test_block_returns_weights_only_when_asked():
    block = ViTBlock(ViTConfig(**SMALL))
    x = torch.randn(2, 17, 32)
    assert block(x).shape == (2, 17, 32)
    assert len(block(x, need_weights=True)) == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(SMALL, image_size=10, patch_size=4), "patch_size"),
        (dict(SMALL, hidden_size=30), "hidden_size"),
        (dict(SMALL, num_layers=0), "num_layers"),
        (dict(SMALL, num_heads=True), "num_heads"),
    ],
)
def test_bad_config_raises_value_error_naming_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ViTConfig(**kwargs)


def test_bad_input_shapes_raise():
    model = ViT(ViTConfig(**SMALL))
    with pytest.raises(ValueError, match="pixel_values"):
        model(torch.randn(2, 1, 10, 10))
    with pytest.raises(ValueError, match="pixel_values"):
        model(torch.randn(1, 8, 8))
    with pytest.raises(ValueError, match="patch_size"):
        patchify(torch.randn(1, 1, 6, 6), 4)
    with pytest.raises(ValueError, match="patch_size"):
        patchify(torch.randn(1, 1, 6, 6), 0)  # was a ZeroDivisionError
    with pytest.raises(ValueError, match="images"):
        patchify(torch.randn(6, 6), 2)
    with pytest.raises(ValueError, match="epochs"):
        train_image_classifier(model, (None, None, None, None), epochs=0)


def test_digits_split_is_stratified_and_deterministic():
    x_train, y_train, x_test, y_test = digits_split()
    assert len(y_train) == 1347 and len(y_test) == 450
    share = torch.bincount(y_test, minlength=10) / torch.bincount(
        torch.cat([y_train, y_test]), minlength=10
    )
    assert (share - 0.25).abs().max() < 0.01  # every class is split 75/25
    assert torch.equal(digits_split()[3], y_test)


def test_train_image_classifier_learns_a_tiny_vit():
    torch.manual_seed(0)
    data = digits_split()
    small = tuple(t[:256] for t in data[:2]) + tuple(t[:200] for t in data[2:])
    model = ViT(ViTConfig(**dict(SMALL, hidden_size=16, num_layers=1, num_heads=2, mlp_dim=32)))
    history = train_image_classifier(model, small, epochs=15, batch_size=64, lr=5e-3, seed=0)
    assert len(history["train_loss"]) == 15
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["test_accuracy"][-1] > 0.25  # 10% is chance


def test_forward_flops_linear_part_is_twice_tokens_times_block_weights():
    from fmref.models.vit import vit_forward_flops

    config = ViTConfig(**SMALL)
    model = ViT(config)
    weights = sum(
        m.weight.numel()
        for b in model.blocks
        for m in (b.attn.q_proj, b.attn.k_proj, b.attn.v_proj, b.attn.out_proj, b.fc1, b.fc2)
    )
    flops = vit_forward_flops(config)
    assert flops["linear"] == 2 * (config.num_patches + 1) * weights
    assert flops["total"] == sum(v for k, v in flops.items() if k != "total")



# -- position-embedding interpolation ---------------------------------------------------------
def test_interpolated_positions_equal_transformers_at_a_new_resolution():
    transformers = pytest.importorskip("transformers")
    # transformers' ViTEmbeddings.interpolate_pos_encoding (bicubic, align_corners=False)
    cfg = transformers.ViTConfig(image_size=8, patch_size=2, num_channels=1, hidden_size=32,
                                 num_hidden_layers=2, num_attention_heads=4,
                                 intermediate_size=64, num_labels=10)  # fmt: skip
    torch.manual_seed(0)
    hf = transformers.ViTForImageClassification(cfg).eval()
    with torch.no_grad():
        hf.vit.embeddings.position_embeddings.normal_()  # not all zeros: a real test
    model = ViT.from_hf(hf).eval()
    for size in [(12, 12), (16, 16), (8, 12), (6, 6)]:
        x = torch.randn(3, 1, *size)
        with torch.no_grad():
            want = hf(pixel_values=x, interpolate_pos_encoding=True).logits
            got = model(x, interpolate_pos_encoding=True)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
        grid = (size[0] // 2, size[1] // 2)
        emb = torch.zeros(1, 1 + grid[0] * grid[1], 32)
        hf_pos = hf.vit.embeddings.interpolate_pos_encoding(emb, *size)
        torch.testing.assert_close(interpolate_pos_embed(model.pos_embed, grid), hf_pos,
                                   atol=1e-6, rtol=0)  # fmt: skip
    x = torch.randn(2, 1, 8, 8)  # the trained size: interpolation changes nothing
    assert torch.equal(model(x, interpolate_pos_encoding=True), model(x))


def test_interpolation_keeps_the_class_token_and_the_grid_s_layout():
    g, D = 4, 3
    ys, xs = torch.meshgrid(torch.arange(g), torch.arange(g), indexing="ij")
    pos = torch.cat([torch.full((1, 1, D), 7.0),  # class token
                     torch.stack([ys, xs, ys + xs], -1).float().reshape(1, g * g, D)], 1)
    out = interpolate_pos_embed(pos, (8, 6))
    assert out.shape == (1, 1 + 8 * 6, D) and torch.equal(out[:, 0], pos[:, 0])
    grid = out[0, 1:].reshape(8, 6, D)
    # a linear ramp stays monotone along its axis and constant across the other
    assert (grid[1:, :, 0] >= grid[:-1, :, 0]).all() and (grid[:, 1:, 1] >= grid[:, :-1, 1]).all()
    assert torch.allclose(grid[:, 0, 0], grid[:, -1, 0])


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((torch.zeros(1, 1 + 15, 4), 4), "square grid, got 16 positions"),
        ((torch.zeros(2, 17, 4), 4), "pos_embed must be a \\(1, n_prefix"),
        ((torch.zeros(1, 17, 4), 0), "grid must be a positive"),
        ((torch.zeros(1, 17, 4), (2, 3, 4)), "grid must be an int or a pair"),
    ],
)
def test_interpolate_pos_embed_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        interpolate_pos_embed(*args)


def test_vit_refuses_partial_patches_with_interpolation():
    model = ViT(ViTConfig(image_size=8, patch_size=2, num_channels=1, hidden_size=8,
                          num_layers=1, num_heads=2, mlp_dim=16, num_classes=3))  # fmt: skip
    with pytest.raises(ValueError, match="positive multiples of patch_size=2"):
        model(torch.zeros(1, 1, 9, 8), interpolate_pos_encoding=True)
    with pytest.raises(ValueError, match="interpolate_pos_encoding=True accepts other sizes"):
        model(torch.zeros(1, 1, 12, 12))
