"""Tests of fmref.diffusion.denoisers (untrained networks; its doctest checks the trained one)."""

import pytest
import torch

from fmref.diffusion.denoisers import MLPDenoiser, TinyUNet, timestep_embedding
from fmref.diffusion.samplers import ddpm_loss
from fmref.diffusion.schedules import alphas_cumprod, linear_beta_schedule


def test_timestep_embedding_matches_diffusers():
    from diffusers.models.embeddings import get_timestep_embedding

    t = torch.tensor([0, 1, 17, 500, 999])
    # diffusers' DDPM convention: [sin, cos], frequencies exp(-log(10000) i / half)
    ref = get_timestep_embedding(t, 32, flip_sin_to_cos=False, downscale_freq_shift=0)
    torch.testing.assert_close(timestep_embedding(t, 32), ref)


def test_timestep_embedding_rejects_odd_width():
    with pytest.raises(ValueError, match="dim"):
        timestep_embedding(torch.tensor([1]), 7)


def test_unet_output_depends_on_time_and_label_and_null_label_equals_none():
    torch.manual_seed(0)
    model = TinyUNet(channels=(16, 32), emb_dim=32, num_classes=10).eval()
    x = torch.randn(2, 1, 8, 8)
    t = torch.tensor([10, 10])
    with torch.no_grad():
        a = model(x, t, torch.tensor([1, 1]))
        b = model(x, t, torch.tensor([2, 2]))
        c = model(x, torch.tensor([500, 500]), torch.tensor([1, 1]))
        torch.testing.assert_close(model(x, t), model(x, t, torch.tensor([10, 10])))
    assert not torch.allclose(a, b) and not torch.allclose(a, c)


def test_unconditional_unet_and_bad_widths():
    model = TinyUNet(channels=(8, 16), emb_dim=16)
    assert model(torch.randn(3, 1, 8, 8), torch.tensor([1, 2, 3])).shape == (3, 1, 8, 8)
    with pytest.raises(ValueError, match="channels"):
        TinyUNet(channels=(12, 16))


def test_mlp_denoiser_fits_a_point_mass():
    # one training point: the optimal eps-predictor is known, and a few hundred steps get close
    torch.manual_seed(0)
    abar = alphas_cumprod(linear_beta_schedule(100))
    model = MLPDenoiser(hidden=64, num_layers=2, time_dim=16)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x0 = torch.tensor([[1.0, -1.0]]).repeat(256, 1)
    g = torch.Generator().manual_seed(0)
    first = None
    for _ in range(200):
        loss = ddpm_loss(model, x0, abar, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.5 * first
