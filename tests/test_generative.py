"""Tests of fmref.generative: FID, VAE, VQ, GAN losses, autoregressive models."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import linalg as scipy_linalg

from fmref.generative.autoregressive import MADE, MaskedLinear, dequantize_pixels, quantize_pixels
from fmref.generative.fid import feature_statistics, frechet_distance
from fmref.generative.gan import discriminator_loss, generator_loss
from fmref.generative.vae import VAE, gaussian_kl, reparameterize, vae_loss
from fmref.generative.vq import VectorQuantizer, codebook_usage

# ---------------------------------------------------------------- Fréchet distance


def _reference_fid(mu1, s1, mu2, s2):
    # the formula of Heusel et al.'s reference code (TTUR, fid.py): scipy's sqrtm of the product
    covmean = scipy_linalg.sqrtm(s1 @ s2)
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frechet_distance_matches_scipy_sqrtm_formula(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(200, 6)), rng.normal(size=(150, 6)) @ rng.normal(size=(6, 6)) + 0.5
    mu1, s1 = a.mean(0), np.cov(a, rowvar=False)
    mu2, s2 = b.mean(0), np.cov(b, rowvar=False)
    ours = frechet_distance(
        torch.tensor(mu1), torch.tensor(s1), torch.tensor(mu2), torch.tensor(s2)
    )
    assert ours == pytest.approx(_reference_fid(mu1, s1, mu2, s2), rel=1e-6)


@given(
    st.lists(st.floats(-3, 3), min_size=3, max_size=3),
    st.lists(st.floats(0.01, 4), min_size=3, max_size=3),
    st.lists(st.floats(0.01, 4), min_size=3, max_size=3),
)
@settings(max_examples=40, deadline=None)
def test_frechet_distance_of_diagonal_gaussians_has_a_closed_form(dmu, v1, v2):
    # diagonal covariances commute: tr(S1 + S2 - 2 sqrt(S1 S2)) = sum (sqrt(v1) - sqrt(v2))^2
    v1, v2 = torch.tensor(v1, dtype=torch.float64), torch.tensor(v2, dtype=torch.float64)
    expected = sum(x * x for x in dmu) + float(((v1.sqrt() - v2.sqrt()) ** 2).sum())
    got = frechet_distance(torch.zeros(3), torch.diag(v1), torch.tensor(dmu), torch.diag(v2))
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_feature_statistics_match_numpy_and_reject_bad_shapes():
    f = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    mu, sigma = feature_statistics(f)
    np.testing.assert_allclose(sigma.numpy(), np.cov(f.double().numpy(), rowvar=False), rtol=1e-10)
    np.testing.assert_allclose(mu.numpy(), f.double().mean(0).numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="features"):
        feature_statistics(torch.randn(1, 4))
    with pytest.raises(ValueError, match="mu1"):
        frechet_distance(torch.zeros(2), torch.eye(3), torch.zeros(2), torch.eye(2))


# ---------------------------------------------------------------- VAE


def test_reparameterize_has_the_right_moments_and_gradients():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.full((20000,), 2.0), torch.full((20000,), math.log(0.25))
    z = reparameterize(mu, logvar, generator=g)
    assert z.mean().item() == pytest.approx(2.0, abs=0.02)
    assert z.std().item() == pytest.approx(0.5, abs=0.02)


@given(st.floats(-3, 3), st.floats(-3, 3))
@settings(max_examples=30, deadline=None)
def test_gaussian_kl_matches_torch_distributions(m, lv):
    q = torch.distributions.Normal(torch.tensor([m]), torch.tensor([math.exp(lv / 2)]))
    p = torch.distributions.Normal(torch.zeros(1), torch.ones(1))
    expected = torch.distributions.kl_divergence(q, p).sum().item()
    assert gaussian_kl(torch.tensor([m]), torch.tensor([lv])).item() == pytest.approx(
        expected, rel=1e-5, abs=1e-6
    )


def test_vae_learns_to_reconstruct_a_tiny_dataset():
    torch.manual_seed(0)
    x = torch.randn(32, 1, 8, 8, generator=torch.Generator().manual_seed(1)).clamp(-1, 1)
    vae = VAE(hidden=64, latent_dim=4)
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(60):
        recon, mu, logvar = vae(x, generator=g)
        loss = vae_loss(x, recon, mu, logvar)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert vae.decode(torch.zeros(2, 4)).shape == (2, 1, 8, 8)


def test_vae_loss_rejects_bad_weights():
    x = torch.zeros(2, 4)
    with pytest.raises(ValueError, match="beta"):
        vae_loss(x, x, torch.zeros(2, 2), torch.zeros(2, 2), beta=-1)
    with pytest.raises(ValueError, match="sigma"):
        vae_loss(x, x, torch.zeros(2, 2), torch.zeros(2, 2), sigma=0)


# ---------------------------------------------------------------- VQ


def test_vector_quantizer_picks_the_nearest_code_and_its_losses():
    vq = VectorQuantizer(num_codes=16, code_dim=3, beta=0.25)
    z = torch.randn(5, 7, 3, requires_grad=True)
    z_q, codes, loss = vq(z)
    brute = ((z.detach()[..., None, :] - vq.codebook.weight.detach()) ** 2).sum(-1).argmin(-1)
    assert torch.equal(codes, brute)
    torch.testing.assert_close(z_q, vq.codebook.weight[codes])
    e = vq.codebook.weight[codes].detach()
    torch.testing.assert_close(
        loss, 1.25 * ((z.detach() - e) ** 2).mean()
    )  # (1 + beta) * mse in value
    loss.backward()
    assert vq.codebook.weight.grad is not None and z.grad is not None


def test_vector_quantizer_rejects_wrong_width():
    with pytest.raises(ValueError, match="code_dim"):
        VectorQuantizer(4, 3)(torch.randn(2, 2))


def test_codebook_usage_extremes():
    assert codebook_usage(torch.arange(8), 8) == (1.0, 8.0)
    assert codebook_usage(torch.tensor([3, 3, 3]), 8) == (0.125, 1.0)


# ---------------------------------------------------------------- GAN


@given(st.floats(-8, 8))
@settings(max_examples=30, deadline=None)
def test_gan_losses_match_their_formulas(logit):
    l = torch.tensor([logit], dtype=torch.float64)
    d = torch.sigmoid(l)
    assert generator_loss(l, "minimax").item() == pytest.approx(torch.log1p(-d).item(), abs=1e-9)
    assert generator_loss(l, "non_saturating").item() == pytest.approx(
        -torch.log(d).item(), rel=1e-6, abs=1e-9
    )
    assert discriminator_loss(l, l).item() == pytest.approx(
        (-torch.log(d) - torch.log1p(-d)).item(), rel=1e-6
    )


def test_generator_loss_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        generator_loss(torch.zeros(1), "wasserstein")


# ---------------------------------------------------------------- autoregressive


def test_made_is_autoregressive():
    # the logits at position i must not change when any token at position >= i changes
    torch.manual_seed(0)
    model = MADE(seq_len=10, vocab_size=3, hidden=40, num_layers=2)
    x = torch.randint(0, 3, (1, 10))
    base = model(x)
    for j in range(10):
        y = x.clone()
        y[0, j] = (y[0, j] + 1) % 3
        changed = (model(y) - base).abs().amax(-1)[0] > 1e-7  # (L,)
        assert not changed[: j + 1].any()


def test_made_nll_of_an_untrained_model_is_near_uniform_and_it_learns():
    torch.manual_seed(0)
    model = MADE(seq_len=8, vocab_size=2, hidden=32)
    data = torch.tensor([[0, 1] * 4, [1, 0] * 4]).repeat(
        16, 1
    )  # two sequences, each fixed given its first bit
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    start = model.nll(data).mean().item()
    assert start == pytest.approx(8 * math.log(2), rel=0.2)
    for _ in range(150):
        loss = model.nll(data).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert model.nll(data).mean().item() < math.log(2) + 0.1  # only the first bit stays uncertain
    s = model.sample(20, generator=torch.Generator().manual_seed(0))
    assert (
        sum(row.tolist() in ([0, 1] * 4, [1, 0] * 4) for row in s) >= 16
    )  # nearly every sample is valid


def test_pixel_quantization_round_trips_within_half_a_bin():
    x = torch.linspace(-1, 1, 101)
    for levels in (2, 4, 17):
        back = dequantize_pixels(quantize_pixels(x, levels), levels)
        assert (back - x).abs().max().item() <= 1 / levels + 1e-6
    with pytest.raises(ValueError, match="levels"):
        quantize_pixels(x, 1)


def test_masked_linear_rejects_a_mask_of_the_wrong_shape():
    with pytest.raises(ValueError, match="mask"):
        MaskedLinear(3, 2, torch.ones(3, 2))
