"""Batching and scheduling a server's requests, simulated on a request trace.

A server's step (one forward pass) costs about the same whether it decodes one
sequence or thirty-two, because decoding is limited by reading the weights
(:mod:`fmref.infer.roofline`). Batching therefore multiplies throughput; how it
schedules decides latency and memory:

* **static** batching takes up to ``max_batch`` waiting requests, prefills them
  together and decodes until the *longest* is done; finished requests keep their
  slot, new arrivals wait for the whole batch, and every slot reserves KV memory
  for the longest possible output;
* **continuous** (iteration-level) batching re-forms the batch at every step: a
  finished request leaves at once, a waiting one joins (its whole prefill rides
  along in that step), and its KV cache grows block by block
  (:class:`~fmref.infer.paged.PagedKVAllocator`);
* **chunked** prefill (Sarathi-Serve, vLLM) caps the tokens of a step at a
  ``token_budget``: the running decodes go first, one token each, and the rest
  of the budget is filled with pieces of at most ``chunk_size`` tokens of the
  prompts being prefilled, so a long prompt no longer stalls every decode;
* **disaggregated** serving (DistServe, Splitwise) runs prefill and decode on
  two instances: the prefill instance runs prompts only (chunked by the same
  budget) and ships each request's KV cache to the decode instance, paying
  ``transfer_per_token`` seconds per prompt token; decode steps never carry a
  prefill.

With ``prefix_cache_tokens`` a :class:`~fmref.infer.prefix.RadixCache` of that
size keeps the prompts of earlier requests, and a request prefills only the
part of its prompt that is not cached (traces need token ids:
:func:`shared_prompt_trace`). :func:`simulate_batching` replays a trace with a
step cost ``base + per_token * tokens_in_step`` and reports the time to first
token (TTFT), time per output token (TPOT), both as mean, median and 99th
percentile, the throughput, the KV-memory utilisation and the prefix-cache hit
rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from fmref._validate import check_in, check_int, check_number, check_positive_int
from fmref.infer.paged import PagedKVAllocator
from fmref.infer.prefix import RadixCache

__all__ = [
    "POLICIES",
    "Request",
    "StepCost",
    "BatchingReport",
    "poisson_trace",
    "shared_prompt_trace",
    "simulate_batching",
]

#: The scheduling policies of :func:`simulate_batching`.
POLICIES = ("static", "continuous", "chunked", "disaggregated")


@dataclass
class Request:
    """One request of a trace.

    Parameters
    ----------
    arrival : float
        Arrival time, seconds.
    prompt_len : int
        Prompt tokens.
    output_len : int
        Tokens to generate, ``>= 1`` (the first comes out of the prefill step).
    prompt : tuple of int, optional
        The prompt's token ids (``prompt_len`` of them), needed by the prefix
        cache; not shown in the repr.

    Raises
    ------
    ValueError
        If a length is not a positive int, ``arrival < 0`` or ``prompt`` does
        not hold ``prompt_len`` ids.

    Examples
    --------
    >>> from fmref.infer.batching import Request
    >>> Request(arrival=0.0, prompt_len=12, output_len=5)
    Request(arrival=0.0, prompt_len=12, output_len=5)
    """

    arrival: float  # seconds
    prompt_len: int  # tokens in the prompt
    output_len: int  # tokens to generate (>= 1)
    prompt: tuple | None = field(default=None, repr=False)  # token ids, for the prefix cache

    def __post_init__(self):
        check_number("arrival", self.arrival, low=0)
        check_positive_int("prompt_len", self.prompt_len)
        check_positive_int("output_len", self.output_len)
        if self.prompt is not None:
            self.prompt = tuple(int(t) for t in self.prompt)
            if len(self.prompt) != self.prompt_len:
                raise ValueError(
                    f"prompt must hold prompt_len={self.prompt_len} ids, got {len(self.prompt)}"
                )


@dataclass
class StepCost:
    """Duration of one forward pass: ``base + per_token * tokens processed``.

    Parameters
    ----------
    base : float, default 0.02
        Seconds per step whatever the batch (reading the weights: memory-bound).
    per_token : float, default 0.0002
        Seconds per token processed in the step (prefill tokens and one per
        decoding sequence: the compute-bound part).
    roofline : bool, default False
        Take ``max(base, per_token * tokens)`` instead of the sum: reading the
        weights and computing overlap, as in the roofline model, so tokens
        added to a memory-bound step are free until it turns compute-bound.

    Raises
    ------
    ValueError
        If a duration is negative.

    Examples
    --------
    >>> from fmref.infer.batching import StepCost
    >>> cost = StepCost()
    >>> round(cost(1), 4), round(cost(32), 4)  # decoding 32 sequences costs little more
    (0.0202, 0.0264)
    >>> overlap = StepCost(roofline=True)  # memory-bound up to 100 tokens
    >>> round(overlap(32), 4), round(overlap(100), 4), round(overlap(512), 4)
    (0.02, 0.02, 0.1024)
    """

    base: float = 0.02  # s per step: weights read once per step
    per_token: float = 0.0002  # s per token in the step
    roofline: bool = False  # max(base, per_token * n) instead of the sum

    def __post_init__(self):
        check_number("base", self.base, low=0)
        check_number("per_token", self.per_token, low=0)

    def __call__(self, n_tokens):
        if self.roofline:
            return max(self.base, self.per_token * n_tokens)
        return self.base + self.per_token * n_tokens


@dataclass
class BatchingReport:
    """Metrics of one simulated run.

    Parameters
    ----------
    policy : str
        One of :data:`POLICIES`.
    ttft : float
        Mean time to first token, seconds (arrival to first token).
    tpot : float
        Mean time per output token after the first, seconds.
    throughput : float
        Output tokens per second over the whole run (all instances).
    memory_utilization : float
        Time-averaged KV tokens stored / KV token slots reserved, in ``(0, 1]``.
    ttft_p50, ttft_p99, tpot_p50, tpot_p99 : float, default 0.0
        Median and 99th percentile (linear interpolation, NumPy's default).
    prefix_hit_rate : float, default 0.0
        Prompt tokens found in the prefix cache / all prompt tokens.
    instances : int, default 1
        Model instances the policy uses (2 when disaggregated).
    timeline : list of tuple
        ``(request index, arrival, prefill start, first token, finish)`` per request.
    step_tokens : list of int
        Tokens processed by each step, all instances.

    Examples
    --------
    >>> from fmref.infer.batching import Request, simulate_batching
    >>> report = simulate_batching([Request(0.0, 8, 4)], "continuous", max_batch=1)
    >>> report.policy, len(report.timeline), report.step_tokens  # prefill 8, then 3 decodes
    ('continuous', 1, [8, 1, 1, 1])
    >>> report.ttft > 0, 0 < report.memory_utilization <= 1
    (True, True)
    """

    policy: str
    ttft: float
    tpot: float
    throughput: float
    memory_utilization: float
    ttft_p50: float = 0.0
    ttft_p99: float = 0.0
    tpot_p50: float = 0.0
    tpot_p99: float = 0.0
    prefix_hit_rate: float = 0.0
    instances: int = 1
    timeline: list = field(default_factory=list, repr=False)
    step_tokens: list = field(default_factory=list, repr=False)


def poisson_trace(n_requests, rate, prompt_len=(16, 256), output_len=(16, 256), generator=None):
    """A trace of requests with Poisson arrivals and uniform lengths.

    Parameters
    ----------
    n_requests : int
        Requests, ``>= 1``.
    rate : float
        Mean arrivals per second, ``> 0``.
    prompt_len, output_len : tuple of int, default (16, 256)
        Inclusive ranges of the lengths.
    generator : torch.Generator, optional
        For a reproducible trace.

    Returns
    -------
    list of Request
        Sorted by arrival.

    Raises
    ------
    ValueError
        If ``n_requests < 1``, ``rate <= 0`` or a range is empty or starts below 1.

    Examples
    --------
    >>> import torch
    >>> from fmref.infer.batching import poisson_trace
    >>> trace = poisson_trace(3, rate=10.0, generator=torch.Generator().manual_seed(0))
    >>> len(trace), all(16 <= r.prompt_len <= 256 for r in trace)
    (3, True)
    """
    check_positive_int("n_requests", n_requests)
    if not isinstance(rate, (int, float)) or rate <= 0:
        raise ValueError(f"rate must be a number > 0, got {rate!r}")
    for name, (lo, hi) in (("prompt_len", prompt_len), ("output_len", output_len)):
        if not 1 <= lo <= hi:
            raise ValueError(f"{name} must be a range (lo, hi) with 1 <= lo <= hi, got {(lo, hi)}")
    gaps = torch.empty(n_requests).exponential_(rate, generator=generator)  # (N,)
    arrivals = torch.cumsum(gaps, 0) - gaps[0]  # first request at t = 0
    prompts = torch.randint(prompt_len[0], prompt_len[1] + 1, (n_requests,), generator=generator)
    outputs = torch.randint(output_len[0], output_len[1] + 1, (n_requests,), generator=generator)
    return [Request(float(a), int(p), int(o)) for a, p, o in zip(arrivals, prompts, outputs)]


def shared_prompt_trace(
    n_requests,
    rate,
    n_system_prompts,
    system_len=256,
    user_len=(16, 128),
    output_len=(16, 128),
    vocab_size=32000,
    generator=None,
):
    """A Poisson trace whose prompts are one of ``n_system_prompts`` system prompts + a user turn.

    Parameters
    ----------
    n_requests, rate, output_len, generator
        As in :func:`poisson_trace`.
    n_system_prompts : int
        Distinct system prompts, each picked with equal probability.
    system_len : int, default 256
        Tokens of every system prompt.
    user_len : tuple of int, default (16, 128)
        Inclusive range of the user turn's length (random token ids).
    vocab_size : int, default 32000
        Token ids are drawn from ``[0, vocab_size)``.

    Returns
    -------
    list of Request
        With ``prompt`` set: ``system_len + user turn`` token ids.

    Raises
    ------
    ValueError
        If a count or size is not a positive int, or as :func:`poisson_trace`.

    Examples
    --------
    >>> import torch
    >>> from fmref.infer.batching import shared_prompt_trace
    >>> trace = shared_prompt_trace(4, 10.0, n_system_prompts=1, system_len=8, user_len=(2, 2),
    ...                             generator=torch.Generator().manual_seed(0))
    >>> [r.prompt_len for r in trace], len({r.prompt[:8] for r in trace})
    ([10, 10, 10, 10], 1)
    """
    for name, value in (
        ("n_system_prompts", n_system_prompts),
        ("system_len", system_len),
        ("vocab_size", vocab_size),
    ):
        check_positive_int(name, value)
    trace = poisson_trace(n_requests, rate, user_len, output_len, generator)
    systems = torch.randint(0, vocab_size, (n_system_prompts, system_len), generator=generator)
    which = torch.randint(0, n_system_prompts, (n_requests,), generator=generator)
    out = []
    for r, s in zip(trace, which.tolist()):
        user = torch.randint(0, vocab_size, (r.prompt_len,), generator=generator)
        prompt = systems[s].tolist() + user.tolist()
        out.append(Request(r.arrival, len(prompt), r.output_len, prompt=tuple(prompt)))
    return out


def _percentile(values, q):
    """``q``-th percentile with linear interpolation between order statistics (NumPy's)."""
    if not values:
        return 0.0
    v = sorted(values)
    pos = (len(v) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def _report(policy, requests, run, hit_rate=0.0, instances=1):
    timeline, used_time, reserved_time, step_tokens = run
    first = [r[3] - r[1] for r in timeline]
    tpot = [
        (r[4] - r[3]) / (requests[r[0]].output_len - 1)
        for r in timeline
        if requests[r[0]].output_len > 1
    ]
    makespan = max(r[4] for r in timeline) - min(r.arrival for r in requests)
    tokens = sum(r.output_len for r in requests)
    return BatchingReport(
        policy=policy,
        ttft=sum(first) / len(first),
        tpot=sum(tpot) / len(tpot) if tpot else 0.0,
        throughput=tokens / makespan,
        memory_utilization=used_time / reserved_time,
        ttft_p50=_percentile(first, 50),
        ttft_p99=_percentile(first, 99),
        tpot_p50=_percentile(tpot, 50),
        tpot_p99=_percentile(tpot, 99),
        prefix_hit_rate=hit_rate,
        instances=instances,
        timeline=sorted(timeline),
        step_tokens=step_tokens,
    )


def _static(requests, max_batch, cost, max_new_tokens):
    order = sorted(range(len(requests)), key=lambda i: requests[i].arrival)
    t, i, timeline, steps = 0.0, 0, [], []
    used_time = reserved_time = 0.0
    while i < len(order):
        t = max(t, requests[order[i]].arrival)
        batch = []
        while i < len(order) and len(batch) < max_batch and requests[order[i]].arrival <= t:
            batch.append(order[i])
            i += 1
        longest_prompt = max(requests[j].prompt_len for j in batch)
        start = t
        steps.append(len(batch) * longest_prompt)  # prompts padded to the longest
        dt = cost(steps[-1])
        reserved = len(batch) * (longest_prompt + max_new_tokens)  # one slab per slot
        used = sum(requests[j].prompt_len for j in batch)
        used_time, reserved_time = used_time + used * dt, reserved_time + reserved * dt
        t += dt
        first = t
        finish = {j: t for j in batch if requests[j].output_len == 1}
        for step in range(1, max(requests[j].output_len for j in batch)):
            steps.append(len(batch))  # finished sequences still occupy their slot
            dt = cost(len(batch))
            used = sum(
                requests[j].prompt_len + min(step, requests[j].output_len)
                for j in batch
                if j not in finish
            )
            used_time, reserved_time = used_time + used * dt, reserved_time + reserved * dt
            t += dt
            for j in batch:
                if j not in finish and requests[j].output_len == step + 1:
                    finish[j] = t
        timeline += [(j, requests[j].arrival, start, first, finish[j]) for j in batch]
    return timeline, used_time, reserved_time, steps


def _iteration_level(requests, max_batch, cost, pool, token_budget, chunk_size, radix, hits):
    """Continuous batching; with a finite ``token_budget``, chunked prefill.

    Each step: admit waiting requests (batch and KV memory permitting; a
    prefix-cache hit shortens the prompt to prefill), then run every decoding
    sequence (one token each) plus prefill chunks in arrival order until the
    budget is spent. A request whose prefill ends in a step gets its first
    token at the end of that step.
    """
    waiting = sorted(range(len(requests)), key=lambda i: requests[i].arrival)
    prefilling, running, left, made, start, first, locks = [], [], {}, {}, {}, {}, {}
    t, timeline, steps = 0.0, [], []
    used_time = reserved_time = 0.0
    while waiting or prefilling or running:
        if not (running or prefilling):
            t = max(t, requests[waiting[0]].arrival)
        while (
            waiting
            and len(running) + len(prefilling) < max_batch
            and requests[waiting[0]].arrival <= t
            and pool.blocks_needed(requests[waiting[0]].prompt_len + 1) <= pool.n_free
        ):
            j = waiting.pop(0)
            pool.allocate(j, requests[j].prompt_len)
            hits[j] = 0
            if radix is not None:  # all but the last prompt token may come from the cache
                hits[j], locks[j] = radix.acquire(requests[j].prompt[:-1])
            left[j], start[j] = requests[j].prompt_len - hits[j], t
            prefilling.append(j)
        budget = token_budget - len(running)  # decodes first, one token each
        chunks = {}
        for j in prefilling:
            if budget <= 0:
                break
            chunks[j] = min(left[j], chunk_size, budget)
            budget -= chunks[j]
        steps.append(len(running) + sum(chunks.values()))
        dt = cost(steps[-1])
        used = sum(pool.lengths.values())
        reserved = (pool.n_blocks - pool.n_free) * pool.tokens_per_block
        used_time, reserved_time = used_time + used * dt, reserved_time + reserved * dt
        t += dt
        for j in running:
            made[j] += 1
        for j, n in chunks.items():
            left[j] -= n
            if left[j] == 0:  # prefill done: the first token comes out of this step
                prefilling.remove(j)
                first[j], made[j] = t, 1
                running.append(j)
                if radix is not None:
                    radix.insert(requests[j].prompt)
        for j in list(running):
            if made[j] == requests[j].output_len:
                running.remove(j)
                pool.free(j)
                if radix is not None:
                    radix.release(locks.pop(j))
                timeline.append((j, requests[j].arrival, start[j], first[j], t))
            else:
                pool.append(j)  # room for the token this sequence just produced
    return timeline, used_time, reserved_time, steps


def _decode_instance(requests, ready, max_batch, cost, pool):
    """The decode instance of disaggregated serving: decode-only continuous batching.

    ``ready``: ``j -> time its KV cache has arrived``; the first token came from
    the prefill instance, so a request joins with one token made.
    """
    waiting = sorted(ready, key=lambda j: (ready[j], j))
    running, made, finish = [], {}, {}
    t, steps = 0.0, []
    used_time = reserved_time = 0.0
    while waiting or running:
        if not running:
            t = max(t, ready[waiting[0]])
        while (
            waiting
            and len(running) < max_batch
            and ready[waiting[0]] <= t
            and pool.blocks_needed(requests[waiting[0]].prompt_len + 1) <= pool.n_free
        ):
            j = waiting.pop(0)
            pool.allocate(j, requests[j].prompt_len + 1)  # the prompt and the first token
            running.append(j)
            made[j] = 1
        steps.append(len(running))
        dt = cost(steps[-1])
        used = sum(pool.lengths.values())
        reserved = (pool.n_blocks - pool.n_free) * pool.tokens_per_block
        used_time, reserved_time = used_time + used * dt, reserved_time + reserved * dt
        t += dt
        for j in list(running):
            made[j] += 1
            if made[j] == requests[j].output_len:
                running.remove(j)
                pool.free(j)
                finish[j] = t
            else:
                pool.append(j)
    return finish, used_time, reserved_time, steps


def _disaggregated(requests, max_batch, cost, make_pool, budget, chunk, radix, hits, transfer):
    prompts_only = [Request(r.arrival, r.prompt_len, 1, r.prompt) for r in requests]
    pre = _iteration_level(prompts_only, max_batch, cost, make_pool(), budget, chunk, radix, hits)
    first = {j: f for j, _, _, f, _ in pre[0]}
    start = {j: s for j, _, s, _, _ in pre[0]}
    ready = {
        j: first[j] + transfer * requests[j].prompt_len  # ship the prompt's KV cache
        for j in first
        if requests[j].output_len > 1
    }
    finish, used, reserved, steps = _decode_instance(requests, ready, max_batch, cost, make_pool())
    timeline = [
        (j, requests[j].arrival, start[j], first[j], finish.get(j, first[j])) for j in first
    ]
    return timeline, pre[1] + used, pre[2] + reserved, pre[3] + steps


def simulate_batching(
    requests,
    policy="continuous",
    max_batch=8,
    cost=None,
    max_new_tokens=None,
    tokens_per_block=16,
    kv_capacity_tokens=None,
    token_budget=512,
    chunk_size=None,
    transfer_per_token=2e-5,
    prefix_cache_tokens=None,
):
    """Replay ``requests`` through a server that schedules with ``policy``.

    Parameters
    ----------
    requests : list of Request
        The trace.
    policy : {"continuous", "static", "chunked", "disaggregated"}, default "continuous"
        Scheduling policy (see the module docstring).
    max_batch : int, default 8
        Sequences per step at most (per instance).
    cost : StepCost, optional
        Step duration; default ``StepCost()``.
    max_new_tokens : int, optional
        The server's output cap, which static batching reserves memory for;
        default the longest ``output_len`` of the trace.
    tokens_per_block : int, default 16
        KV block size of the paged policies and of the prefix cache.
    kv_capacity_tokens : int, optional
        KV pool of a paged policy (of each instance), in tokens; default
        ``max_batch * (longest prompt + max_new_tokens)``, the memory static
        batching reserves.
    token_budget : int, default 512
        Tokens per step of ``"chunked"`` and of the prefill instance of
        ``"disaggregated"`` (vLLM's ``max_num_batched_tokens``).
    chunk_size : int, optional
        Largest prefill piece of one request in one step; default
        ``token_budget``.
    transfer_per_token : float, default 2e-5
        Seconds to ship one prompt token's KV cache from the prefill to the
        decode instance: LLaMA-7B's 512 KiB per token over a 25 GB/s link.
    prefix_cache_tokens : int, optional
        Size of a :class:`~fmref.infer.prefix.RadixCache` kept beside the KV
        pool (every request needs ``prompt``); none by default.

    Returns
    -------
    BatchingReport

    Raises
    ------
    ValueError
        If ``policy`` is unknown, ``requests`` is empty, a size is not a
        positive int, ``token_budget`` is smaller than ``chunk_size`` or
        ``max_batch`` (chunked and disaggregated), a request is longer than
        ``max_new_tokens`` or the KV pool, or the prefix cache is asked of
        static batching or of a trace without token ids.

    References
    ----------
    .. [1] Yu et al., "Orca: A Distributed Serving System for Transformer-Based
       Generative Models", OSDI 2022.
    .. [2] Kwon et al., "Efficient Memory Management for Large Language Model
       Serving with PagedAttention", SOSP 2023.
    .. [3] Agrawal et al., "Taming Throughput-Latency Tradeoff in LLM Inference
       with Sarathi-Serve", OSDI 2024.
    .. [4] Zhong et al., "DistServe: Disaggregating Prefill and Decoding for
       Goodput-optimized Large Language Model Serving", OSDI 2024.

    Examples
    --------
    >>> from fmref.infer.batching import Request, simulate_batching
    >>> trace = [Request(0.0, 8, 2), Request(0.0, 8, 20), Request(0.01, 8, 2)]
    >>> static = simulate_batching(trace, "static", max_batch=2)
    >>> cont = simulate_batching(trace, "continuous", max_batch=2)
    >>> cont.ttft < static.ttft, cont.throughput > static.throughput
    (True, True)
    >>> round(static.memory_utilization, 2), round(cont.memory_utilization, 2)
    (0.33, 0.68)

    A 600-token prompt arrives while a request decodes. With the roofline step
    cost, its whole prefill holds up one decode step for 0.12 s; in chunks of
    at most 200 tokens (the decode included) the first request finishes sooner
    and the long prompt's first token comes a little later:

    >>> from fmref.infer.batching import StepCost
    >>> trace = [Request(0.0, 8, 12), Request(0.03, 600, 2)]
    >>> for policy in ("continuous", "chunked"):
    ...     r = simulate_batching(trace, policy, cost=StepCost(roofline=True), token_budget=200)
    ...     (_, _, _, _, done), (_, arrival, _, first, _) = r.timeline
    ...     print(f"{policy:>10}: largest step {max(r.step_tokens)} tokens, first request "
    ...           f"done at {done:.2f} s, second's TTFT {first - arrival:.2f} s")
    continuous: largest step 601 tokens, first request done at 0.34 s, second's TTFT 0.13 s
       chunked: largest step 200 tokens, first request done at 0.30 s, second's TTFT 0.15 s
    """
    check_in("policy", policy, POLICIES)
    if not requests:
        raise ValueError("requests must hold at least one Request")
    check_positive_int("max_batch", max_batch)
    check_positive_int("tokens_per_block", tokens_per_block)
    check_positive_int("token_budget", token_budget)
    chunk_size = (
        token_budget if chunk_size is None else check_positive_int("chunk_size", chunk_size)
    )
    if policy in ("chunked", "disaggregated") and token_budget < chunk_size:
        raise ValueError(
            f"token_budget must be >= chunk_size={chunk_size} (one chunk per step), "
            f"got {token_budget}"
        )
    if policy in ("chunked", "disaggregated") and token_budget < max_batch:
        raise ValueError(
            f"token_budget must be >= max_batch={max_batch} (one token per decode), "
            f"got {token_budget}"
        )
    check_number("transfer_per_token", transfer_per_token, low=0)
    for r in requests:
        if r.output_len < 1 or r.prompt_len < 1:
            raise ValueError(f"requests must have prompt_len and output_len >= 1, got {r}")
    cost = StepCost() if cost is None else cost
    longest_out = max(r.output_len for r in requests)
    max_new_tokens = longest_out if max_new_tokens is None else max_new_tokens
    if max_new_tokens < longest_out:
        raise ValueError(
            f"max_new_tokens must be >= the longest output_len {longest_out}, got {max_new_tokens}"
        )
    radix, hits = None, {}
    if prefix_cache_tokens is not None:
        check_int("prefix_cache_tokens", prefix_cache_tokens, low=tokens_per_block)
        if policy == "static":
            raise ValueError("prefix_cache_tokens: static batching has no prefix cache")
        if any(r.prompt is None for r in requests):
            raise ValueError("prefix_cache_tokens needs requests with prompt token ids")
        radix = RadixCache(prefix_cache_tokens, tokens_per_block)
    if policy == "static":
        return _report(policy, requests, _static(requests, max_batch, cost, max_new_tokens))
    longest = max(r.prompt_len + r.output_len for r in requests)
    if kv_capacity_tokens is None:
        kv_capacity_tokens = max_batch * (max(r.prompt_len for r in requests) + max_new_tokens)
    if kv_capacity_tokens < longest:
        raise ValueError(
            f"kv_capacity_tokens must hold the longest request ({longest} "
            f"tokens), got {kv_capacity_tokens}"
        )

    def make_pool():
        return PagedKVAllocator(-(-kv_capacity_tokens // tokens_per_block), tokens_per_block)

    if policy == "disaggregated":
        run = _disaggregated(
            requests, max_batch, cost, make_pool, token_budget, chunk_size, radix, hits,
            transfer_per_token,
        )  # fmt: skip
    else:
        budget, chunk = (token_budget, chunk_size) if policy == "chunked" else (float("inf"),) * 2
        run = _iteration_level(requests, max_batch, cost, make_pool(), budget, chunk, radix, hits)
    hit_rate = sum(hits.values()) / sum(r.prompt_len for r in requests)
    return _report(policy, requests, run, hit_rate, 2 if policy == "disaggregated" else 1)
