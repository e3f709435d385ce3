"""Static vs continuous batching, simulated on a request trace.

A server's step (one forward pass) costs about the same whether it decodes one
sequence or thirty-two, because decoding is limited by reading the weights
(:mod:`fmref.infer.roofline`). Batching therefore multiplies throughput; how it
batches decides latency and memory:

* **static** batching takes up to ``max_batch`` waiting requests, prefills them
  together and decodes until the *longest* is done; finished requests keep their
  slot, new arrivals wait for the whole batch, and every slot reserves KV memory
  for the longest possible output;
* **continuous** (iteration-level) batching re-forms the batch at every step: a
  finished request leaves at once, a waiting one joins (its prefill rides along
  in that step), and its KV cache grows block by block
  (:class:`~fmref.infer.paged.PagedKVAllocator`).

:func:`simulate_batching` replays a trace under either policy with a simple step
cost ``base + per_token * tokens_in_step`` and reports time to first token
(TTFT), time per output token (TPOT), throughput and KV-memory utilisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from fmref._validate import check_number, check_positive_int
from fmref.infer.paged import PagedKVAllocator

__all__ = ["Request", "StepCost", "BatchingReport", "poisson_trace", "simulate_batching"]


@dataclass
class Request:
    """One request of a trace.

    Parameters
    ----------
    arrival : float
        Arrival time, seconds.
    prompt_len : int
        Prompt tokens (prefilled in one step).
    output_len : int
        Tokens to generate, ``>= 1`` (the first comes out of the prefill step).

    Examples
    --------
    >>> from fmref.infer.batching import Request
    >>> Request(arrival=0.0, prompt_len=12, output_len=5)
    Request(arrival=0.0, prompt_len=12, output_len=5)
    """

    arrival: float  # seconds
    prompt_len: int  # tokens in the prompt
    output_len: int  # tokens to generate (>= 1)

    def __post_init__(self):
        check_number("arrival", self.arrival, low=0)
        check_positive_int("prompt_len", self.prompt_len)
        check_positive_int("output_len", self.output_len)


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

    Examples
    --------
    >>> from fmref.infer.batching import StepCost
    >>> cost = StepCost()
    >>> round(cost(1), 4), round(cost(32), 4)  # decoding 32 sequences costs little more
    (0.0202, 0.0264)
    """

    base: float = 0.02  # s per step: weights read once per step
    per_token: float = 0.0002  # s per token in the step

    def __post_init__(self):
        check_number("base", self.base, low=0)
        check_number("per_token", self.per_token, low=0)

    def __call__(self, n_tokens):
        return self.base + self.per_token * n_tokens


@dataclass
class BatchingReport:
    """Metrics of one simulated run.

    Parameters
    ----------
    policy : str
        ``"static"`` or ``"continuous"``.
    ttft : float
        Mean time to first token, seconds (arrival to first token).
    tpot : float
        Mean time per output token after the first, seconds.
    throughput : float
        Output tokens per second over the whole run.
    memory_utilization : float
        Time-averaged KV tokens stored / KV token slots reserved, in ``(0, 1]``.
    timeline : list of tuple
        ``(request index, arrival, prefill start, first token, finish)`` per request.

    Examples
    --------
    >>> from fmref.infer.batching import Request, simulate_batching
    >>> report = simulate_batching([Request(0.0, 8, 4)], "continuous", max_batch=1)
    >>> report.policy, len(report.timeline)
    ('continuous', 1)
    >>> report.ttft > 0, 0 < report.memory_utilization <= 1
    (True, True)
    """

    policy: str
    ttft: float
    tpot: float
    throughput: float
    memory_utilization: float
    timeline: list = field(default_factory=list, repr=False)


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


def _report(policy, requests, timeline, used_time, reserved_time):
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
        timeline=sorted(timeline),
    )


def _static(requests, max_batch, cost, max_new_tokens):
    order = sorted(range(len(requests)), key=lambda i: requests[i].arrival)
    t, i, timeline = 0.0, 0, []
    used_time = reserved_time = 0.0
    while i < len(order):
        t = max(t, requests[order[i]].arrival)
        batch = []
        while i < len(order) and len(batch) < max_batch and requests[order[i]].arrival <= t:
            batch.append(order[i])
            i += 1
        longest_prompt = max(requests[j].prompt_len for j in batch)
        start = t
        dt = cost(len(batch) * longest_prompt)  # prompts padded to the longest
        reserved = len(batch) * (longest_prompt + max_new_tokens)  # one slab per slot
        used = sum(requests[j].prompt_len for j in batch)
        used_time, reserved_time = used_time + used * dt, reserved_time + reserved * dt
        t += dt
        first = t
        finish = {j: t for j in batch if requests[j].output_len == 1}
        for step in range(1, max(requests[j].output_len for j in batch)):
            dt = cost(len(batch))  # finished sequences still occupy their slot
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
    return timeline, used_time, reserved_time


def _continuous(requests, max_batch, cost, tokens_per_block, kv_capacity_tokens):
    pool = PagedKVAllocator(-(-kv_capacity_tokens // tokens_per_block), tokens_per_block)
    waiting = sorted(range(len(requests)), key=lambda i: requests[i].arrival)
    running, made, start, first = [], {}, {}, {}
    t, timeline = 0.0, []
    used_time = reserved_time = 0.0
    while waiting or running:
        if not running:
            t = max(t, requests[waiting[0]].arrival)
        joined = []
        while (
            waiting
            and len(running) + len(joined) < max_batch
            and requests[waiting[0]].arrival <= t
            and pool.blocks_needed(requests[waiting[0]].prompt_len + 1) <= pool.n_free
        ):
            j = waiting.pop(0)
            pool.allocate(j, requests[j].prompt_len)
            joined.append(j)
        n_tokens = sum(requests[j].prompt_len for j in joined) + len(running)
        dt = cost(n_tokens)
        used = sum(pool.lengths.values())
        reserved = (pool.n_blocks - pool.n_free) * tokens_per_block
        used_time, reserved_time = used_time + used * dt, reserved_time + reserved * dt
        for j in joined:
            start[j] = t
        t += dt
        for j in joined:
            first[j], made[j] = t, 1
        for j in running:
            made[j] += 1
        running += joined
        for j in list(running):
            if made[j] == requests[j].output_len:
                running.remove(j)
                pool.free(j)
                timeline.append((j, requests[j].arrival, start[j], first[j], t))
            else:
                pool.append(j)  # room for the token this sequence just produced
    return timeline, used_time, reserved_time


def simulate_batching(
    requests,
    policy="continuous",
    max_batch=8,
    cost=None,
    max_new_tokens=None,
    tokens_per_block=16,
    kv_capacity_tokens=None,
):
    """Replay ``requests`` through a server that batches with ``policy``.

    Parameters
    ----------
    requests : list of Request
        The trace.
    policy : {"continuous", "static"}, default "continuous"
        Batching policy (see the module docstring).
    max_batch : int, default 8
        Sequences per step at most.
    cost : StepCost, optional
        Step duration; default ``StepCost()``.
    max_new_tokens : int, optional
        The server's output cap, which static batching reserves memory for;
        default the longest ``output_len`` of the trace.
    tokens_per_block : int, default 16
        KV block size of the continuous (paged) policy.
    kv_capacity_tokens : int, optional
        KV pool of the continuous policy, in tokens; default
        ``max_batch * (longest prompt + max_new_tokens)``, the memory static
        batching reserves.

    Returns
    -------
    BatchingReport

    Raises
    ------
    ValueError
        If ``policy`` is unknown, ``requests`` is empty, ``max_batch < 1``, or a
        request is longer than ``max_new_tokens`` or the KV pool.

    References
    ----------
    .. [1] Yu et al., "Orca: A Distributed Serving System for Transformer-Based
       Generative Models", OSDI 2022.
    .. [2] Kwon et al., "Efficient Memory Management for Large Language Model
       Serving with PagedAttention", SOSP 2023.

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
    """
    if policy not in ("continuous", "static"):
        raise ValueError(f"policy must be 'continuous' or 'static', got {policy!r}")
    if not requests:
        raise ValueError("requests must hold at least one Request")
    check_positive_int("max_batch", max_batch)
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
    if policy == "static":
        timeline, used, reserved = _static(requests, max_batch, cost, max_new_tokens)
    else:
        longest = max(r.prompt_len + r.output_len for r in requests)
        if kv_capacity_tokens is None:
            kv_capacity_tokens = max_batch * (max(r.prompt_len for r in requests) + max_new_tokens)
        if kv_capacity_tokens < longest:
            raise ValueError(
                f"kv_capacity_tokens must hold the longest request ({longest} "
                f"tokens), got {kv_capacity_tokens}"
            )
        timeline, used, reserved = _continuous(
            requests, max_batch, cost, tokens_per_block, kv_capacity_tokens
        )
    return _report(policy, requests, timeline, used, reserved)
