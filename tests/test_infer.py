"""Tests of fmref.infer: sampling filters vs transformers, generation with and without
the KV cache, speculative decoding's exact distribution, KV sizes, the paged allocator,
the batching simulator and the roofline."""

import math
import random

import pytest
import torch

from fmref.infer.batching import Request, StepCost, poisson_trace, simulate_batching
from fmref.infer.generate import context_length, generate
from fmref.infer.kv import QuantizedKVCache, kv_cache_bytes, model_kv_cache_bytes
from fmref.infer.paged import PagedKVAllocator
from fmref.infer.roofline import forward_cost, roofline
from fmref.infer.sampling import sample_next, sampling_probs, top_k_filter, top_p_filter
from fmref.infer.speculative import (
    SpeculativeStats,
    expected_tokens_per_step,
    speculative_generate,
)
from fmref.models.gpt import GPT, GPTConfig
from fmref.models.llama import Llama, LlamaConfig, llama2_70b, llama_7b, mistral_7b


def small_gpt(seed=0, vocab=37, block=48, scale=1.0):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=vocab, block_size=block, n_layer=2, n_head=2, n_embd=32))
    with torch.no_grad():
        model.wte.weight.mul_(scale)  # peakier next-token distributions
    return model.eval()


def small_llama(seed=0, window=None, vocab=37, block=48, scale=1.0):
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=vocab,
        dim=32,
        n_layers=2,
        n_heads=4,
        n_kv_heads=2,
        hidden_dim=64,
        max_seq_len=block,
        sliding_window=window,
    )
    model = Llama(cfg)
    with torch.no_grad():
        model.output.weight.mul_(scale)  # untied head: spread the logits
    return model.eval()


# --------------------------------------------------------------------- sampling
@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9, 0.99, 1.0])
def test_top_p_matches_transformers_warper(p):
    from transformers.generation.logits_process import TopPLogitsWarper

    g = torch.Generator().manual_seed(int(p * 100))
    logits = torch.randn(64, 50, generator=g) * 3  # (B, V)
    ours = top_p_filter(logits, p)
    theirs = TopPLogitsWarper(top_p=p)(None, logits.clone())
    assert torch.equal(torch.isinf(ours), torch.isinf(theirs))
    torch.testing.assert_close(ours[~torch.isinf(ours)], logits[~torch.isinf(ours)])


@pytest.mark.parametrize("k", [1, 3, 50, 80])
def test_top_k_matches_transformers_warper(k):
    from transformers.generation.logits_process import TopKLogitsWarper

    logits = torch.randn(16, 50, generator=torch.Generator().manual_seed(k))
    theirs = TopKLogitsWarper(top_k=k)(None, logits.clone())
    assert torch.equal(top_k_filter(logits, k), theirs)


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([0.1, 0.4, 0.2, 0.3])
    kept = torch.isfinite(top_p_filter(probs.log(), 0.65))
    assert kept.tolist() == [False, True, False, True]  # 0.4 + 0.3 >= 0.65, 0.4 alone not


def test_temperature_sharpens_and_flattens():
    logits = torch.tensor([2.0, 1.0, 0.0])
    cold, warm = sampling_probs(logits, 0.5), sampling_probs(logits, 2.0)
    assert cold[0] > sampling_probs(logits)[0] > warm[0]
    assert torch.allclose(sampling_probs(logits, 1e6), torch.full((3,), 1 / 3), atol=1e-5)


def test_sample_next_is_reproducible_and_respects_filters():
    logits = torch.randn(4, 20, generator=torch.Generator().manual_seed(0))
    draws = [
        sample_next(logits, 1.0, top_k=3, generator=torch.Generator().manual_seed(5))
        for _ in range(2)
    ]
    assert torch.equal(draws[0], draws[1]) and draws[0].shape == (4,)
    top3 = torch.topk(logits, 3).indices
    g = torch.Generator().manual_seed(1)
    for _ in range(50):
        tok = sample_next(logits, 1.3, top_k=3, generator=g)
        assert all(tok[b] in top3[b] for b in range(4))
    assert sample_next(torch.tensor([0.0, 2.0, 1.0])).dim() == 0
    assert torch.equal(sample_next(logits, 0), logits.argmax(-1))


def test_sample_next_frequencies_follow_the_probabilities():
    logits = torch.tensor([0.0, 1.0, 2.0])
    g = torch.Generator().manual_seed(0)
    draws = sample_next(logits.expand(20000, 3), generator=g)
    freq = torch.bincount(draws, minlength=3) / 20000
    assert torch.allclose(freq, torch.softmax(logits, -1), atol=0.015)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(temperature=-0.1), "temperature"),
        (dict(top_p=0.0), "p must"),
        (dict(top_p=1.5), "p must"),
        (dict(top_k=0), "k must"),
        (dict(top_k=2.5), "k must"),
    ],
)
def test_sampling_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_next(torch.randn(2, 5), **kwargs)


def test_sampling_rejects_non_float_logits():
    with pytest.raises(TypeError, match="logits"):
        sample_next(torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="logits"):
        top_k_filter(torch.zeros(()), 1)


# --------------------------------------------------------------------- generate
@pytest.mark.parametrize(
    "make",
    [small_gpt, small_llama, lambda: small_llama(window=5)],
    ids=["gpt", "llama-gqa", "llama-sliding-window"],
)
def test_kv_cache_generation_matches_full_recompute(make):
    model = make()
    idx = torch.randint(0, 37, (2, 6), generator=torch.Generator().manual_seed(3))
    cached = generate(model, idx, 30, temperature=0, use_cache=True)
    uncached = generate(model, idx, 30, temperature=0, use_cache=False)
    assert cached.shape == (2, 36)
    assert torch.equal(cached[:, :6], idx)
    assert torch.equal(cached, uncached)


def test_sliding_window_continues_past_the_context_like_recompute():
    model = small_gpt(block=12)
    idx = torch.randint(0, 37, (1, 5), generator=torch.Generator().manual_seed(4))
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(model, idx, 20)
    cached = generate(model, idx, 20, temperature=0, sliding_window=True)
    uncached = generate(model, idx, 20, temperature=0, use_cache=False, sliding_window=True)
    assert cached.shape == (1, 25) and torch.equal(cached, uncached)


def test_generate_is_reproducible_and_restores_training_mode():
    model = small_gpt().train()
    idx = torch.zeros(1, 1, dtype=torch.long)
    a = generate(model, idx, 8, top_p=0.9, generator=torch.Generator().manual_seed(0))
    b = generate(model, idx, 8, top_p=0.9, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and model.training
    assert torch.equal(generate(model, idx, 0), idx)


@pytest.mark.parametrize("use_cache", [True, False], ids=["kv-cache", "recompute"])
def test_generate_with_eos_stops_once_every_row_ended_and_keeps_the_same_tokens(use_cache):
    model = small_gpt(vocab=5)  # five tokens: each row soon samples the end token
    idx = torch.randint(0, 5, (6, 3), generator=torch.Generator().manual_seed(1))
    full = generate(model, idx, 40, use_cache=use_cache,
                    generator=torch.Generator().manual_seed(2))[:, 3:]  # (6, 40)
    short = generate(model, idx, 40, use_cache=use_cache, eos_id=4,
                     generator=torch.Generator().manual_seed(2))
    assert torch.equal(short[:, :3], idx)
    short = short[:, 3:]
    ends = [row.index(4) for row in full.tolist()]  # every row ends within 40 tokens
    assert short.shape == (6, max(ends) + 1) and max(ends) + 1 < 40
    for row, end in enumerate(ends):  # the same tokens up to the end, then padding
        assert torch.equal(short[row, : end + 1], full[row, : end + 1])
        assert (short[row, end + 1 :] == 4).all()
    assert torch.equal(generate(model, idx, 40, temperature=0, eos_id=0),  # 0 never comes
                       generate(model, idx, 40, temperature=0))


def test_generate_rejects_bad_input():
    model = small_gpt()
    with pytest.raises(TypeError, match="idx"):
        generate(model, torch.zeros(1, 3), 2)
    with pytest.raises(ValueError, match="idx"):
        generate(model, torch.zeros(3, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(model, torch.zeros(1, 3, dtype=torch.long), -1)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, torch.zeros(1, 3, dtype=torch.long), 2, temperature=-1)
    with pytest.raises(ValueError, match="eos_id"):
        generate(model, torch.zeros(1, 3, dtype=torch.long), 2, eos_id=37)
    with pytest.raises(TypeError, match="eos_id"):
        generate(model, torch.zeros(1, 3, dtype=torch.long), 2, eos_id=1.0)
    with pytest.raises(TypeError, match="config"):
        context_length(torch.nn.Linear(2, 2))
    assert context_length(small_llama()) == 48


# --------------------------------------------------------------------- KV cache
def test_kv_cache_sizes_of_published_models():
    # fp16 bytes per token: LLaMA-7B 2*32*32*128*2 = 512 KiB; LLaMA-2-70B with 8 KV heads
    # 2*80*8*128*2 = 320 KiB; Mistral-7B 2*32*8*128*2 = 128 KiB (Jiang et al. 2023, Table 1).
    assert model_kv_cache_bytes(llama_7b()) == 512 * 1024
    assert model_kv_cache_bytes(llama2_70b()) == 320 * 1024
    assert model_kv_cache_bytes(mistral_7b()) == 128 * 1024
    gpt2 = GPTConfig()  # 12 layers, 12 heads of 64: 2*12*768*2 = 36 KiB per token
    assert model_kv_cache_bytes(gpt2, seq_len=1024, batch=2) == 36 * 1024 * 1024 * 2
    assert kv_cache_bytes(2, 4, 8, bytes_per_value=0.5) == 64


def test_rolling_buffer_counts_the_window_only():
    # Mistral-7B (Jiang et al. 2023, Sec. 2): a rolling buffer of W = 4,096 positions
    # "reduces the cache memory usage by 8x" on a sequence of 32k tokens.
    full = model_kv_cache_bytes(mistral_7b(), seq_len=32768)
    assert full / model_kv_cache_bytes(mistral_7b(), seq_len=32768, rolling_buffer=True) == 8
    assert model_kv_cache_bytes(mistral_7b(), 1000, rolling_buffer=True) == 1000 * 128 * 1024
    assert model_kv_cache_bytes(llama_7b(), 8192, rolling_buffer=True) == 8192 * 512 * 1024
    assert kv_cache_bytes(2, 4, 8, seq_len=10, window=3) == kv_cache_bytes(2, 4, 8, seq_len=3)


def test_a_sliding_window_model_never_reads_keys_older_than_its_window():
    # Why a rolling buffer of W positions suffices: overwrite every cached key and value
    # older than the window with garbage and the next token's logits do not move.
    w = 4
    model = small_llama(window=w).eval()
    idx = torch.randint(0, 37, (2, 13), generator=torch.Generator().manual_seed(3))
    cache = model.make_kv_cache()
    with torch.no_grad():
        model(idx[:, :-1], kv_cache=cache)  # 12 positions cached
        before = model(idx[:, -1:], kv_cache=cache)
        cache.crop(12)
        for layer in range(cache.n_layers):  # keep positions 9, 10, 11 (+ the new 12th)
            cache.keys[layer][..., : 12 - (w - 1), :] = 1e4
            cache.values[layer][..., : 12 - (w - 1), :] = -1e4
        after = model(idx[:, -1:], kv_cache=cache)
        cache.crop(12)
        cache.keys[0][..., 12 - (w - 1), :] = 1e4  # the oldest key inside the window counts
        inside = model(idx[:, -1:], kv_cache=cache)
    torch.testing.assert_close(after, before, rtol=0, atol=0)
    assert (inside - before).abs().max() > 1e-3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_layers=0), "n_layers"),
        (dict(n_kv_heads=1.5), "n_kv_heads"),
        (dict(seq_len=-1), "seq_len"),
        (dict(bytes_per_value=0), "bytes_per_value"),
        (dict(window=0), "window"),
    ],
)
def test_kv_cache_bytes_rejects_bad_values(kwargs, match):
    args = dict(n_layers=2, n_kv_heads=2, d_head=8) | kwargs
    with pytest.raises(ValueError, match=match):
        kv_cache_bytes(**args)
    with pytest.raises(TypeError, match="config"):
        model_kv_cache_bytes(object())


def test_quantized_kv_cache_is_close_and_stores_one_byte_per_value():
    model = small_llama()
    idx = torch.randint(0, 37, (2, 20), generator=torch.Generator().manual_seed(5))
    qcache, cache = QuantizedKVCache(2), model.make_kv_cache()
    with torch.no_grad():
        ref = model(idx, kv_cache=cache)
        out = model(idx, kv_cache=qcache)
    torch.testing.assert_close(out, ref, atol=2e-2, rtol=0)
    fp32 = sum(t.numel() * 4 for t in cache.keys + cache.values)
    d_head = 8  # one byte per value plus a 4-byte scale per vector of 8
    assert qcache.nbytes() == fp32 / 4 * (1 + 4 / d_head)
    tokens = generate(model, idx[:1, :4], 10, temperature=0, kv_cache=QuantizedKVCache(2))
    assert tokens.shape == (1, 14)
    qcache.crop(5)
    assert qcache.length == 5 and qcache.key_scales[0].shape[-2] == 5
    qcache.reset()
    assert qcache.nbytes() == 0
    with pytest.raises(ValueError, match="v must"):
        qcache.update(0, torch.zeros(1, 1, 2, 4), torch.zeros(1, 1, 3, 4))


# ------------------------------------------------------------------ speculative
class BigramLM(torch.nn.Module):
    """A stand-in language model, fast enough for thousands of runs: the logits of the
    next token depend on the current token only, through a table ``(V, V)``. It speaks
    the models' protocol (``config``, ``make_kv_cache``, ``model(idx, kv_cache=...)``)."""

    def __init__(self, table, block_size=16):
        super().__init__()
        self.table = table  # (V, V) logits of the next token given the current one
        self.config = GPTConfig(
            vocab_size=table.shape[0], block_size=block_size, n_layer=1, n_head=1, n_embd=1
        )

    def make_kv_cache(self):
        from fmref.nn.attention import KVCache

        return KVCache(1)

    def forward(self, idx, kv_cache=None):
        if kv_cache is not None:  # record the positions, as a real model would
            z = torch.zeros(1, 1, idx.shape[1], 1)
            kv_cache.update(0, z, z)
        return self.table[idx]  # (B, T, V)


def test_speculative_output_distribution_is_the_targets():
    from scipy import stats as scipy_stats
    V = 4
    g = torch.Generator().manual_seed(0)
    target = BigramLM(torch.randn(V, V, generator=g))
    draft = BigramLM(torch.randn(V, V, generator=g))
    p, q = torch.softmax(target.table, -1), torch.softmax(draft.table, -1)  # (V, V)
    idx = torch.tensor([[0, 1]])
    joint = (p[1][:, None] * p).flatten()  # exact target P(x1, x2) = p(x1 | 1) p(x2 | x1)
    assert (p[1] - q[1]).abs().sum() > 0.3  # the draft really differs from the target
    n, counts, stats = 2000, torch.zeros(V * V), SpeculativeStats()
    for _ in range(n):
        out, s = speculative_generate(target, draft, idx, 2, gamma=3, generator=g)
        counts[out[0, 2] * V + out[0, 3]] += 1
        stats.accepted += s.accepted
        stats.drafted += s.drafted
        stats.checked += s.checked
        # checked drafts: the accepted ones plus at most one rejection per step
        assert s.accepted <= s.checked <= min(s.drafted, s.accepted + s.target_calls)

    # Tolerance: exactness is rejected only below p = 0.001 (fixed seed: not flaky).
    def pvalue(probs):  # cells expected fewer than 5 times are pooled into one
        keep = probs * n >= 5
        obs = torch.cat([counts[keep], counts[~keep].sum().reshape(1)])
        exp = torch.cat([probs[keep], probs[~keep].sum().reshape(1)]) * n
        return scipy_stats.chisquare(obs.numpy(), exp.numpy()).pvalue

    assert pvalue(joint) > 1e-3
    # The same test rejects the draft's distribution: it has the power to fail.
    assert pvalue((q[1][:, None] * q).flatten()) < 1e-6
    assert 0.2 < stats.acceptance_rate < 0.95
    # acceptance is per checked draft: at the first position alpha = sum min(p, q)
    # = 1 - TV(p, q) (Leviathan et al. 2023, Definition 3.1); the second position's
    # alpha depends on the first token, hence the loose tolerance on the pooled rate
    alpha_first = torch.minimum(p[1], q[1]).sum().item()
    assert stats.acceptance_rate > stats.accepted / stats.drafted
    assert abs(stats.acceptance_rate - alpha_first) < 0.15


def test_speculative_runs_on_real_models_with_sampling_filters():
    target, draft = small_llama(seed=1), small_llama(seed=2)
    out, stats = speculative_generate(
        target,
        draft,
        torch.tensor([[1]]),
        9,
        gamma=2,
        top_k=5,
        top_p=0.9,
        temperature=0.8,
        generator=torch.Generator().manual_seed(0),
    )
    assert out.shape == (1, 10) and stats.new_tokens == 9
    assert stats.target_calls <= 9


def test_speculative_with_the_target_as_draft_accepts_everything():
    model = small_gpt(seed=3)
    idx = torch.tensor([[1, 2, 3]])
    out, stats = speculative_generate(
        model, model, idx, 12, gamma=3, generator=torch.Generator().manual_seed(0)
    )
    assert out.shape == (1, 15)
    assert stats.acceptance_rate == 1.0
    assert stats.target_calls == 3  # 4 tokens per call: 3 accepted + 1 bonus
    assert stats.tokens_per_target_call == pytest.approx(expected_tokens_per_step(1.0, 3))


def test_speculative_greedy_equals_target_greedy():
    target, draft = small_llama(seed=4), small_llama(seed=5)
    idx = torch.tensor([[3]])
    out, stats = speculative_generate(target, draft, idx, 15, gamma=4, temperature=0)
    assert torch.equal(out, generate(target, idx, 15, temperature=0))
    assert stats.new_tokens == 15 and stats.draft_calls >= stats.drafted - stats.target_calls


def test_expected_tokens_per_step_matches_a_monte_carlo():
    rng = random.Random(0)
    alpha, gamma, n = 0.7, 4, 20000
    total = 0
    for _ in range(n):
        k = 0
        while k < gamma and rng.random() < alpha:
            k += 1
        total += k + 1
    assert total / n == pytest.approx(expected_tokens_per_step(alpha, gamma), rel=0.02)
    assert SpeculativeStats().acceptance_rate == 0.0
    assert SpeculativeStats().tokens_per_target_call == 0.0


def test_speculative_rejects_bad_input():
    a, b = small_gpt(), small_gpt(vocab=11)
    idx = torch.tensor([[1, 2]])
    with pytest.raises(ValueError, match="idx"):
        speculative_generate(a, a, torch.zeros(2, 3, dtype=torch.long), 4)
    with pytest.raises(ValueError, match="gamma"):
        speculative_generate(a, a, idx, 4, gamma=0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        speculative_generate(a, a, idx, -2)
    with pytest.raises(ValueError, match="vocab_size"):
        speculative_generate(a, b, idx, 4)
    with pytest.raises(ValueError, match="context"):
        speculative_generate(a, a, idx, 100)
    with pytest.raises(ValueError, match="alpha"):
        expected_tokens_per_step(1.2, 4)
    with pytest.raises(ValueError, match="gamma"):
        expected_tokens_per_step(0.5, -1)


# ------------------------------------------------------------------------ paged
def test_paged_allocator_random_trace_leaks_nothing():
    rng = random.Random(0)
    pool = PagedKVAllocator(n_blocks=64, tokens_per_block=4)
    live, next_id, copies = [], 0, 0
    for _ in range(2000):
        op = rng.random()
        try:
            if op < 0.25 or not live:
                pool.allocate(next_id, rng.randint(0, 20))
                live.append(next_id)
                next_id += 1
            elif op < 0.4:
                pool.fork(rng.choice(live), next_id)
                live.append(next_id)
                next_id += 1
            elif op < 0.8:
                copies += len(pool.append(rng.choice(live), rng.randint(1, 6)))
            else:
                seq = live.pop(rng.randrange(len(live)))
                pool.free(seq)
        except MemoryError:
            seq = live.pop(0)
            pool.free(seq)
        pool.check()
        assert 0 < pool.utilization() <= 1.0
    for seq in live:
        pool.free(seq)
    pool.check()
    assert pool.n_free == 64 and all(c == 0 for c in pool.ref_counts)
    assert copies > 0  # copy-on-write really happened


def test_paged_copy_on_write_only_for_a_shared_partial_block():
    pool = PagedKVAllocator(8, 4)
    pool.allocate("a", 8)  # two full blocks
    pool.fork("a", "b")
    assert pool.append("b") == []  # a fresh block: nothing to copy
    assert pool.block_tables["b"][:2] == pool.block_tables["a"]
    assert pool.utilization() == pytest.approx(9 / 12)
    with pytest.raises(MemoryError, match="blocks"):
        pool.allocate("c", 100)
    with pytest.raises(ValueError, match="seq_id"):
        pool.allocate("a", 1)
    with pytest.raises(ValueError, match="seq_id"):
        pool.free("zzz")
    with pytest.raises(ValueError, match="n_tokens"):
        pool.allocate("d", -1)
    with pytest.raises(ValueError, match="n_tokens"):
        pool.append("a", 0)
    with pytest.raises(ValueError, match="tokens_per_block"):
        PagedKVAllocator(4, 0)


# --------------------------------------------------------------------- batching
def test_continuous_batching_beats_static_on_a_poisson_trace():
    trace = poisson_trace(
        60,
        rate=20.0,
        prompt_len=(8, 64),
        output_len=(4, 128),
        generator=torch.Generator().manual_seed(0),
    )
    static = simulate_batching(trace, "static", max_batch=8)
    cont = simulate_batching(trace, "continuous", max_batch=8)
    assert len(static.timeline) == len(cont.timeline) == 60
    assert cont.ttft < static.ttft
    assert cont.throughput > static.throughput
    assert cont.memory_utilization > static.memory_utilization
    for rep in (static, cont):  # causality of every request's timeline
        assert all(a <= s < f <= e for _, a, s, f, e in rep.timeline)
    assert 0 < static.memory_utilization <= 1 and 0 < cont.memory_utilization <= 1


def test_batching_with_single_token_outputs_and_custom_cost():
    trace = [Request(0.0, 4, 1), Request(0.5, 4, 1)]
    rep = simulate_batching(trace, "static", cost=StepCost(base=1.0, per_token=0.0))
    assert rep.tpot == 0.0 and rep.ttft == pytest.approx((1.0 + 1.5) / 2)  # 2nd waits 0.5 s
    rep = simulate_batching(trace, "continuous", cost=StepCost(base=1.0, per_token=0.0))
    assert rep.ttft == pytest.approx(1.25) and rep.throughput == pytest.approx(1.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(policy="greedy"), "policy"),
        (dict(max_batch=0), "max_batch"),
        (dict(max_new_tokens=1), "max_new_tokens"),
        (dict(kv_capacity_tokens=3), "kv_capacity"),
    ],
)
def test_batching_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_batching([Request(0.0, 4, 5)], **kwargs)


def test_batching_rejects_bad_traces():
    with pytest.raises(ValueError, match="requests"):
        simulate_batching([])
    with pytest.raises(ValueError, match="output_len"):  # a Request checks its own sizes
        simulate_batching([Request(0.0, 4, 0)])
    with pytest.raises(ValueError, match="n_requests"):
        poisson_trace(0, 1.0)
    with pytest.raises(ValueError, match="rate"):
        poisson_trace(3, 0.0)
    with pytest.raises(ValueError, match="output_len"):
        poisson_trace(3, 1.0, output_len=(5, 2))


# --------------------------------------------------------------------- roofline
def test_prefill_is_compute_bound_and_decode_memory_bound():
    # A100 80GB SXM: 312 TFLOP/s dense bf16, 2.039 TB/s (NVIDIA A100 datasheet).
    peak, bw = 312e12, 2.039e12
    decode = roofline(*forward_cost(7e9, 1), peak, bw)
    prefill = roofline(*forward_cost(7e9, 2048), peak, bw)
    assert decode.bound == "memory" and prefill.bound == "compute"
    assert decode.time == pytest.approx(14e9 / bw)
    assert prefill.attainable_flops == peak
    assert decode.ridge == pytest.approx(peak / bw)
    assert math.isclose(decode.attainable_flops, bw * 1.0)
    flops, nbytes = forward_cost(7e9, 1, bytes_per_param=1, kv_bytes=1e9)
    assert nbytes == 8e9


@pytest.mark.parametrize(
    "args, match",
    [
        ((0, 1, 1, 1), "flops"),
        ((1, -1, 1, 1), "bytes"),
        ((1, 1, 1, "x"), "bandwidth"),
    ],
)
def test_roofline_rejects_bad_values(args, match):
    with pytest.raises(ValueError, match=match):
        roofline(*args)
    with pytest.raises(ValueError, match="kv_bytes"):
        forward_cost(1, 1, kv_bytes=-1)
