"""Mamba: the parallel scan against the recurrence, and the model against transformers.

Golden logits come from ``transformers.MambaForCausalLM`` (transformers 5.23,
``models/mamba/modeling_mamba.py``) on small random configurations: without
the CUDA kernels it runs its "slow path", a Python loop over tokens, which is
the recurrence written independently of fmref.
"""

import pytest
import torch

from fmref.infer.generate import generate
from fmref.infer.kv import model_kv_cache_bytes
from fmref.models.mamba import (
    Mamba,
    MambaCache,
    MambaConfig,
    mamba_2_8b,
    mamba_state_bytes,
    selective_copy_batch,
    selective_scan,
    selective_scan_step,
)

transformers = pytest.importorskip("transformers")


def _close(ours, theirs, atol=1e-5, rtol=0.0):
    # torch.testing.assert_close imports torch.distributed.tensor (seconds) on first use
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    diff = (ours - theirs).abs().max().item()
    assert diff <= atol + rtol * theirs.abs().max().item(), f"max |difference| {diff:.2e}"


def _inputs(batch, length, channels, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, length, channels, generator=g)
    delta = torch.nn.functional.softplus(torch.randn(batch, length, channels, generator=g))
    A = -torch.rand(channels, n, generator=g) * 2  # (d_inner, N), a decaying state
    B = torch.randn(batch, length, n, generator=g)
    C = torch.randn(batch, length, n, generator=g)
    D = torch.randn(channels, generator=g)
    z = torch.randn(batch, length, channels, generator=g)
    h0 = torch.randn(batch, channels, n, generator=g)
    return u, delta, A, B, C, D, z, h0


@pytest.mark.parametrize("length", [1, 2, 7, 33])
def test_parallel_scan_equals_the_token_by_token_recurrence(length):
    u, delta, A, B, C, D, z, h0 = _inputs(2, length, 5, 4)
    y, h = selective_scan(u, delta, A, B, C, D, z, state=h0)
    # the recurrence written out here, independently of fmref: h = exp(dA) h + d B u
    state, ys = h0.clone(), []
    for t in range(length):
        state = torch.exp(delta[:, t, :, None] * A) * state + (
            delta[:, t, :, None] * u[:, t, :, None] * B[:, t, None, :]
        )
        out = (state * C[:, t, None, :]).sum(-1) + D * u[:, t]
        ys.append(out * torch.nn.functional.silu(z[:, t]))
    _close(y, torch.stack(ys, dim=1), atol=1e-5, rtol=1e-5)
    _close(h, state, atol=1e-5, rtol=1e-5)
    y_seq, h_seq = selective_scan(u, delta, A, B, C, D, z, state=h0, method="sequential")
    _close(y, y_seq, atol=1e-5, rtol=1e-5)
    _close(h, h_seq, atol=1e-5, rtol=1e-5)


def test_scan_splits_at_any_point():
    # the state after a prefix is all the scan needs to continue: two calls = one call
    u, delta, A, B, C, D, z, _ = _inputs(1, 20, 3, 4, seed=1)
    y, h = selective_scan(u, delta, A, B, C, D, z)
    y1, h1 = selective_scan(u[:, :13], delta[:, :13], A, B[:, :13], C[:, :13], D, z[:, :13])
    y2, h2 = selective_scan(u[:, 13:], delta[:, 13:], A, B[:, 13:], C[:, 13:], D, z[:, 13:], h1)
    _close(torch.cat([y1, y2], dim=1), y, atol=1e-5, rtol=1e-5)
    _close(h2, h, atol=1e-5, rtol=1e-5)


def _hf(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=50, hidden_size=24, state_size=6, num_hidden_layers=2, conv_kernel=3,
               expand=2, time_step_rank=3)  # fmt: skip
    return transformers.MambaForCausalLM(transformers.MambaConfig(**{**cfg, **kw})).eval()


@pytest.fixture(scope="module")
def hf_and_ours():
    hf = _hf()
    with torch.no_grad():  # random A, D and norms, so that every parameter matters
        for name, p in hf.named_parameters():
            if name.endswith(("A_log", ".D", "norm.weight", "norm_f.weight")):
                p.add_(0.3 * torch.randn_like(p))
    return hf, Mamba.from_hf(hf)


def test_from_hf_gives_the_logits_of_transformers(hf_and_ours):
    hf, model = hf_and_ours
    idx = torch.randint(0, 50, (3, 17), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours, theirs = model(idx), hf(idx, use_cache=False).logits
    # measured max |difference| 9.5e-07 (parallel scan against transformers' loop)
    _close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_from_hf_with_biases_and_an_untied_head():
    hf = _hf(seed=1, use_bias=True, use_conv_bias=False, tie_word_embeddings=False)
    model = Mamba.from_hf(hf)
    assert model.lm_head.weight is not model.embedding.weight
    idx = torch.randint(0, 50, (2, 9), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        theirs = hf(idx, use_cache=False).logits
        _close(model(idx), theirs, atol=1e-5, rtol=1e-5)


def test_recurrent_form_equals_the_parallel_form(hf_and_ours):
    _, model = hf_and_ours
    idx = torch.randint(0, 50, (2, 15), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full = model(idx)
        cache = model.make_kv_cache()
        prefill = model(idx[:, :6], kv_cache=cache)  # the scan from the state, then steps
        steps = [model(idx[:, t : t + 1], kv_cache=cache) for t in range(6, 15)]
    _close(torch.cat([prefill, *steps], dim=1), full, atol=1e-5, rtol=1e-5)
    assert cache.length == 15


def test_cached_generation_equals_uncached_and_transformers(hf_and_ours):
    hf, model = hf_and_ours
    prompt = torch.randint(0, 50, (1, 5), generator=torch.Generator().manual_seed(3))
    cached = generate(model, prompt, max_new_tokens=8, temperature=0)
    assert torch.equal(cached, generate(model, prompt, 8, temperature=0, use_cache=False))
    theirs = hf.generate(prompt, max_new_tokens=8, do_sample=False, use_cache=True,
                         pad_token_id=0, eos_token_id=None)  # fmt: skip
    assert torch.equal(cached, theirs)


def test_state_is_fixed_size_and_matches_the_formula():
    cfg = MambaConfig(vocab_size=20, d_model=16, n_layer=3, d_state=5, d_conv=3, max_seq_len=256)
    model = Mamba(cfg).eval()
    cache = model.make_kv_cache()
    sizes = []
    with torch.no_grad():
        for chunk in (4, 1, 100):
            model(torch.zeros(2, chunk, dtype=torch.long), kv_cache=cache)
            sizes.append(cache.nbytes())
    expected = mamba_state_bytes(cfg, batch=2, bytes_per_value=4)  # fp32
    assert sizes == [expected] * 3 == [3 * 32 * (5 + 2) * 2 * 4] * 3
    # fmref.infer.kv counts the same fixed state, whatever the sequence length
    for seq_len in (1, 105, 10**6):
        assert model_kv_cache_bytes(cfg, seq_len, batch=2, bytes_per_value=4) == expected


def test_mamba_2_8b_has_the_published_size():
    # state-spaces/mamba-2.8b: "2.8B" (Gu and Dao 2023, Table 3). transformers 5.23's
    # MambaForCausalLM(MambaConfig(vocab_size=50280, hidden_size=2560, num_hidden_layers=64))
    # counts 2,768,345,600 on the meta device (checked when this test was written; the
    # tiny from_hf tests prove both have the same parameter names and shapes per layer)
    with torch.device("meta"):
        ours = Mamba(mamba_2_8b())
    assert sum(p.numel() for p in ours.parameters()) == 2_768_345_600


def test_parallel_scan_gradients_equal_the_recurrence_gradients():
    # the scan's own backward pass (a reverse scan) against autograd through the loop
    inputs = [t.double().requires_grad_() for t in _inputs(2, 11, 3, 4, seed=4)]
    u, delta, A, B, C, D, z, h0 = inputs
    grads = {}
    for method in ("parallel", "sequential"):
        y, h = selective_scan(u, delta, A, B, C, D, z, state=h0, method=method)
        grads[method] = torch.autograd.grad((y.sin().sum() + h.cos().sum()), inputs)
    for ours, loop in zip(grads["parallel"], grads["sequential"]):
        _close(ours, loop, atol=1e-10, rtol=1e-10)


def test_selective_copy_targets_are_the_symbols_in_order():
    seq = selective_copy_batch(64, n_memorize=5, n_noise=9, n_symbols=6,
                               generator=torch.Generator().manual_seed(0))  # fmt: skip
    body, sep, answer = seq[:, :14], seq[:, 14], seq[:, 15:]
    assert (sep == 1).all() and seq.max() <= 7
    for row, target in zip(body, answer):
        assert torch.equal(row[row >= 2], target)


def test_bad_input():
    with pytest.raises(ValueError, match="d_state"):
        MambaConfig(10, 8, 1, d_state=0)
    with pytest.raises(ValueError, match="d_conv"):
        MambaConfig(10, 8, 1, d_conv=-1)
    with pytest.raises(ValueError, match="expand"):
        MambaConfig(10, 8, 1, expand=0)
    u, delta, A, B, C, D, z, h0 = _inputs(2, 4, 3, 5)
    with pytest.raises(ValueError, match="B must have shape"):
        selective_scan(u, delta, A, B[:, :3], C)
    with pytest.raises(ValueError, match="state"):
        selective_scan(u, delta, A, B, C, state=h0[:1])
    with pytest.raises(ValueError, match="method"):
        selective_scan(u, delta, A, B, C, method="chunked")
    with pytest.raises(TypeError, match="delta"):
        selective_scan_step(u[:, 0], 3, A, B[:, 0], C[:, 0])
    model = Mamba(MambaConfig(10, 8, 2, max_seq_len=8))
    cache = model.make_kv_cache()
    model(torch.zeros(2, 3, dtype=torch.long), kv_cache=cache)
    with pytest.raises(ValueError, match="batch"):
        model(torch.zeros(1, 1, dtype=torch.long), kv_cache=cache)
    with pytest.raises(ValueError, match="max_seq_len"):
        model(torch.zeros(2, 6, dtype=torch.long), kv_cache=cache)
    with pytest.raises(ValueError, match="n_layers"):
        model(torch.zeros(2, 1, dtype=torch.long), kv_cache=MambaCache(3))
    with pytest.raises(TypeError, match="hf_model"):
        Mamba.from_hf(model)
