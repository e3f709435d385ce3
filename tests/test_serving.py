"""Tests of the serving techniques of Chapter XIII: the radix prefix cache (no leaked or
wrongly shared block; cached-prefix generation equal to a cold run), the scheduling
policies of the batching simulator (every request completes, no step over the token
budget, hand-computed timelines) and Medusa draft heads (exact output distribution
under the rejection rule)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.infer.batching import (
    Request,
    StepCost,
    poisson_trace,
    shared_prompt_trace,
    simulate_batching,
)
from fmref.infer.generate import generate
from fmref.infer.medusa import MedusaHeads, final_hidden, medusa_loss, train_medusa_heads
from fmref.infer.prefix import RadixCache, generate_with_prefix_cache
from fmref.infer.speculative import SpeculativeStats, speculative_generate
from fmref.models.gpt import GPT, GPTConfig
from fmref.models.llama import Llama, LlamaConfig
from fmref.nn.attention import KVCache


# ------------------------------------------------------------------ radix cache
def _prefix_hash(tokens):
    """A number per prefix (exact in float64): the fake key of the prefix's last position."""
    h = 0
    for t in tokens:
        h = (h * 131 + t + 1) % 1_000_003
    return float(h)


def _fake_kv(tokens):
    """A KV cache whose key at position i identifies tokens[: i + 1]: wrong sharing shows."""
    keys = torch.tensor(
        [_prefix_hash(tokens[: i + 1]) for i in range(len(tokens))], dtype=torch.float64
    )
    cache = KVCache(1)
    cache.update(0, keys.view(1, 1, -1, 1), -keys.view(1, 1, -1, 1))
    return cache


op = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 3), st.lists(st.integers(0, 2), max_size=14)),
    st.tuples(st.just("acquire"), st.integers(0, 3), st.lists(st.integers(0, 2), max_size=14)),
    st.tuples(st.just("release"), st.integers(0, 10), st.just([])),
)


@settings(max_examples=60, deadline=None)
@given(trace=st.lists(op, max_size=40), block=st.sampled_from([1, 2, 4]))
def test_radix_cache_random_trace_leaks_and_mixes_no_block(trace, block):
    systems = [[], [0, 1, 0, 1, 2, 2], [0, 1, 0, 2], [2] * 8]  # shared system prompts
    cache = RadixCache(capacity_tokens=24, tokens_per_block=block)
    held = []  # (tokens, n_locked, handle)
    for kind, which, tail in trace:
        tokens = systems[which % 4] + tail
        if kind == "insert":
            n = cache.insert(tokens, _fake_kv(tokens))
            assert n % block == 0 and n <= len(tokens)
            assert cache.match_prefix(tokens) >= n  # what was inserted is there
        elif kind == "acquire":
            n, handle = cache.acquire(tokens)
            held.append((tokens, n, handle))
        elif held:
            _, _, handle = held.pop(which % len(held))
            cache.release(handle)
        cache.check()
        assert cache.n_cached_tokens <= cache.capacity_tokens
        for tokens, n, _ in held:  # a locked prefix is never evicted ...
            assert cache.match_prefix(tokens[:n]) == n
            kv = KVCache(1)
            assert cache.load(tokens[:n], kv) == n  # ... and holds its own keys
            want = _fake_kv(tokens[:n]).keys[0] if n else None
            assert n == 0 or torch.equal(kv.keys[0], want)
    for _, _, handle in held:
        cache.release(handle)
    cache.evict(cache.pool.n_blocks)  # everything unlocked can go: no block leaked
    cache.check()
    assert cache.pool.n_free == cache.pool.n_blocks and not cache.kv and not cache.root.children


def test_radix_cache_evicts_least_recently_used_and_splits_nodes():
    cache = RadixCache(capacity_tokens=8, tokens_per_block=2)
    cache.insert([1, 1, 2, 2])
    cache.insert([3, 3, 4, 4])
    assert cache.match_prefix([1, 1, 2, 2, 9]) == 4  # [1 1 2 2] is now the most recent
    assert cache.insert([5, 5, 6, 6]) == 4  # full: the LRU leaf [3 3 4 4] goes
    assert cache.match_prefix([3, 3, 4, 4]) == 0 and cache.match_prefix([1, 1, 2]) == 2
    assert cache.match_prefix([1, 1, 7, 7]) == 2  # the node [1 1 2 2] was split after [1 1]
    assert len(cache.root.children) == 2
    cache.check()


def test_radix_cache_never_evicts_a_locked_prefix():
    cache = RadixCache(capacity_tokens=4, tokens_per_block=1)
    cache.insert([1, 2, 3])
    n, handle = cache.acquire([1, 2, 3, 4])
    assert n == 3
    assert cache.insert([7, 7, 7]) == 1  # only one free slot: the locked tokens stay
    assert cache.match_prefix([1, 2, 3]) == 3
    cache.release(handle)
    assert cache.insert([7, 7, 7]) == 3
    with pytest.raises(ValueError, match="handle"):
        cache.release(handle)  # released twice


def _tiny_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=29, block_size=48, n_layer=2, n_head=2, n_embd=32)).eval()


def _tiny_llama(seed=0):
    torch.manual_seed(seed)
    return Llama(LlamaConfig(vocab_size=29, dim=32, n_layers=2, n_heads=4, n_kv_heads=2,
                             hidden_dim=64, max_seq_len=48)).eval()  # fmt: skip


@pytest.mark.parametrize("make", [_tiny_gpt, _tiny_llama])
def test_cached_prefix_gives_the_tokens_and_logits_of_a_cold_run(make):
    model = make()
    cache = RadixCache(capacity_tokens=64, tokens_per_block=4)
    system = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]
    generate_with_prefix_cache(model, torch.tensor([system + [7, 7]]), 5, cache)  # warm it
    idx = torch.tensor([system + [2, 8, 1]])
    kv = model.make_kv_cache()
    n = cache.load(idx[0].tolist(), kv)
    assert n == 12
    cold_cache = model.make_kv_cache()
    with torch.no_grad():
        warm = model(idx[:, n:], kv_cache=kv)  # only the 3 new tokens are computed
        model(idx[:, :n], kv_cache=cold_cache)  # a cold run that prefills the same 12 first
        cold = model(idx[:, n:], kv_cache=cold_cache)
        one_pass = model(idx)[:, n:]
    assert torch.equal(warm, cold)  # the blocks hold the very keys and values: bit for bit
    # one pass over all 15 tokens multiplies matrices of another shape, which may sum
    # in another order: equal to float rounding (measured: 9e-8)
    torch.testing.assert_close(warm, one_pass, rtol=0, atol=1e-6)
    for kwargs in (dict(temperature=0), dict(top_k=5, temperature=0.9)):
        g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
        out, n_cached = generate_with_prefix_cache(model, idx, 12, cache, generator=g1, **kwargs)
        assert n_cached == 12
        assert torch.equal(out, generate(model, idx, 12, generator=g2, **kwargs))
    cache.check()


# --------------------------------------------------------------------- batching
POLICY_ARGS = dict(max_batch=6, token_budget=96, chunk_size=64)


def test_every_policy_completes_every_request_within_the_budget():
    trace = poisson_trace(40, rate=15.0, prompt_len=(8, 300), output_len=(1, 60),
                          generator=torch.Generator().manual_seed(0))  # fmt: skip
    for policy in ("static", "continuous", "chunked", "disaggregated"):
        rep = simulate_batching(trace, policy, **POLICY_ARGS)
        assert sorted(r[0] for r in rep.timeline) == list(range(40)), policy
        assert all(a <= s < f <= e for _, a, s, f, e in rep.timeline), policy
        assert rep.ttft_p50 <= rep.ttft_p99 and rep.tpot_p50 <= rep.tpot_p99
        assert min(rep.step_tokens) >= 1
        if policy in ("chunked", "disaggregated"):
            assert max(rep.step_tokens) <= 96, policy
        # every prompt and output token is processed once (continuous family)
        if policy in ("continuous", "chunked"):
            assert sum(rep.step_tokens) == sum(r.prompt_len + r.output_len - 1 for r in trace)
    assert rep.instances == 2


def test_chunked_with_an_unlimited_budget_is_continuous():
    trace = poisson_trace(30, rate=20.0, generator=torch.Generator().manual_seed(1))
    cont = simulate_batching(trace, "continuous", max_batch=4)
    chunked = simulate_batching(trace, "chunked", max_batch=4, token_budget=10**6)
    assert cont.timeline == chunked.timeline and cont.step_tokens == chunked.step_tokens


def test_chunked_and_disaggregated_timelines_by_hand():
    unit = StepCost(base=1.0, per_token=0.0)  # every step takes 1 s
    rep = simulate_batching([Request(0.0, 10, 3)], "chunked", 2, cost=unit, token_budget=4)
    assert rep.step_tokens == [4, 4, 2, 1, 1]  # chunks 4 + 4 + 2, then two decodes
    assert rep.timeline == [(0, 0.0, 0.0, 3.0, 5.0)] and rep.tpot == 1.0
    rep = simulate_batching(
        [Request(0.0, 10, 3)],
        "disaggregated",
        2,
        cost=unit,
        token_budget=4,
        transfer_per_token=0.1,
    )
    # prefill instance: 3 chunks (first token at 3 s); 1 s to ship 10 tokens; 2 decodes
    assert rep.step_tokens == [4, 4, 2, 1, 1]
    assert rep.timeline == [(0, 0.0, 0.0, 3.0, 6.0)] and rep.tpot == 1.5


def test_prefix_cache_hits_shared_system_prompts_and_cuts_ttft():
    trace = shared_prompt_trace(
        30, 8.0, n_system_prompts=2, system_len=128, user_len=(8, 40), output_len=(4, 20),
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    for policy in ("continuous", "chunked", "disaggregated"):
        cold = simulate_batching(trace, policy, max_batch=4)
        warm = simulate_batching(trace, policy, max_batch=4, prefix_cache_tokens=4096)
        assert cold.prefix_hit_rate == 0.0
        # at most the 128 system tokens per request, and all of them after each
        # system prompt's first use (the user turns are random)
        total = sum(r.prompt_len for r in trace)
        assert 0.5 * 128 * 28 / total < warm.prefix_hit_rate <= 128 * 28 / total
        assert warm.ttft < cold.ttft
    tiny = simulate_batching(trace, "continuous", max_batch=4, prefix_cache_tokens=128)
    assert tiny.prefix_hit_rate < warm.prefix_hit_rate  # one system prompt fits: thrashing


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(policy="chunked", token_budget=32, chunk_size=64), "token_budget"),
        (dict(policy="disaggregated", token_budget=4, max_batch=8), "token_budget"),
        (dict(chunk_size=0), "chunk_size"),
        (dict(policy="static", prefix_cache_tokens=64), "prefix_cache_tokens"),
        (dict(prefix_cache_tokens=64), "prefix_cache_tokens"),  # no token ids in the trace
        (dict(transfer_per_token=-1.0), "transfer_per_token"),
        (dict(policy="speculative"), "policy"),
    ],
)
def test_scheduling_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_batching([Request(0.0, 4, 5)], **kwargs)


def test_traces_reject_bad_input():
    with pytest.raises(ValueError, match="prompt"):
        Request(0.0, 3, 2, prompt=(1, 2))
    with pytest.raises(ValueError, match="n_system_prompts"):
        shared_prompt_trace(3, 1.0, n_system_prompts=0)
    with pytest.raises(ValueError, match="capacity_tokens"):
        RadixCache(capacity_tokens=3, tokens_per_block=4)
    with pytest.raises(ValueError, match="kv_cache"):
        RadixCache(16).insert([1, 2, 3], _fake_kv([1, 2]))


# ----------------------------------------------------------------------- medusa
class HiddenBigram(torch.nn.Module):
    """A stand-in target fast enough for thousands of runs: the hidden state is the
    current token's embedding, the LM head a Linear (the protocol Medusa needs)."""

    def __init__(self, V, C, generator):
        super().__init__()
        self.emb = torch.nn.Parameter(torch.randn(V, C, generator=generator))
        self.lm_head = torch.nn.Linear(C, V, bias=False)
        torch.nn.init.normal_(self.lm_head.weight, generator=generator)
        self.config = GPTConfig(vocab_size=V, block_size=16, n_layer=1, n_head=1, n_embd=C)

    def make_kv_cache(self):
        return KVCache(1)

    def forward(self, idx, kv_cache=None):
        if kv_cache is not None:
            z = torch.zeros(1, 1, idx.shape[1], 1)
            kv_cache.update(0, z, z)
        return self.lm_head(self.emb[idx])  # (B, T, V)


def test_medusa_drafts_keep_the_targets_distribution_exactly():
    from scipy import stats as scipy_stats

    V, n = 4, 400
    g = torch.Generator().manual_seed(0)
    target = HiddenBigram(V, 6, g)
    heads = MedusaHeads(6, V, n_heads=2)
    with torch.no_grad():
        for p in heads.parameters():
            p.copy_(torch.randn(p.shape, generator=g))  # heads unlike the target
    with torch.no_grad():
        p = torch.softmax(target(torch.arange(V)[None])[0], -1)  # (V, V) p(next | current)
    joint = (p[1][:, None] * p).flatten()  # exact P(x2, x3) after the prompt [0, 1]
    counts, stats = torch.zeros(V * V), SpeculativeStats()
    for _ in range(n):
        out, s = speculative_generate(
            target, heads, torch.tensor([[0, 1]]), 2, gamma=2, generator=g
        )
        counts[out[0, 2] * V + out[0, 3]] += 1
        for f in ("accepted", "checked", "draft_calls", "target_calls"):
            setattr(stats, f, getattr(stats, f) + getattr(s, f))
    expected = joint * n
    keep = expected >= 5  # cells expected fewer than 5 times are pooled
    obs = torch.cat([counts[keep], counts[~keep].sum().reshape(1)])
    exp = torch.cat([expected[keep], expected[~keep].sum().reshape(1)])
    # exactness is rejected only below p = 0.001 (fixed seed: not flaky)
    assert scipy_stats.chisquare(obs.numpy(), exp.numpy()).pvalue > 1e-3
    assert 0.05 < stats.acceptance_rate < 0.95  # the heads were really checked
    assert stats.draft_calls == stats.target_calls  # one head pass per step


def test_medusa_greedy_equals_target_greedy_and_heads_start_as_the_lm_head():
    target = _tiny_gpt(seed=3)
    heads = MedusaHeads.from_model(target, n_heads=3)
    for idx in (torch.tensor([[5]]), torch.tensor([[1, 2, 3, 4]])):
        out, stats = speculative_generate(target, heads, idx, 14, gamma=3, temperature=0)
        assert torch.equal(out, generate(target, idx, 14, temperature=0))
        assert stats.new_tokens == 14 and stats.target_calls <= 14
    logits, hidden = final_hidden(target, torch.tensor([[1, 2, 3]]))
    assert torch.allclose(heads(hidden), logits.expand(3, -1, -1, -1))


def test_medusa_heads_learn_tokens_several_places_ahead():
    # On a cycle 0 1 ... 7 the token k + 1 ahead is a function of the current one,
    # so head k can reach a near-zero loss from the current token's hidden state.
    torch.manual_seed(0)
    target = GPT(GPTConfig(vocab_size=8, block_size=16, n_layer=1, n_head=2, n_embd=16))
    ids = torch.arange(8).repeat(40)
    heads, history = train_medusa_heads(target, ids, n_heads=3, windows=16, steps=60,
                                        batch_size=8, warmup=5, lr_max=1e-2,
                                        self_distill=False)  # fmt: skip
    idx = ids[:16][None]
    with torch.no_grad():
        pred = heads(final_hidden(target, idx)[1]).argmax(-1)  # (3, 1, 16)
    for k in range(1, 4):
        assert torch.equal(pred[k - 1, 0, : -(k + 1)], idx[0, k + 1 :]), k
    assert history["loss"][-1] < history["loss"][0] / 5


def test_medusa_rejects_bad_input():
    target = _tiny_gpt()
    with pytest.raises(ValueError, match="n_heads"):
        MedusaHeads(8, 5, n_heads=0)
    with pytest.raises(ValueError, match="lm_head_weight"):
        MedusaHeads(8, 5, lm_head_weight=torch.zeros(5, 7))
    with pytest.raises(ValueError, match="vocab_size"):
        speculative_generate(target, MedusaHeads(32, 7), torch.tensor([[1]]), 3)
    with pytest.raises(ValueError, match="idx"):
        medusa_loss(MedusaHeads(8, 5, n_heads=3), torch.zeros(1, 4, 8), torch.zeros(1, 4).long())
    with pytest.raises(ValueError, match="overrides"):
        train_medusa_heads(target, torch.arange(100) % 29, step=3)
    with pytest.raises(ValueError, match="token_ids"):
        train_medusa_heads(target, torch.arange(10))
    with pytest.raises(TypeError, match="model"):
        final_hidden(torch.nn.Identity(), torch.zeros(1, 2).long())
