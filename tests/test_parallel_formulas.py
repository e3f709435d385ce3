"""The parallelism formulas against the papers' worked numbers, and the single-process pieces."""

import pytest
import torch

from fmref.models.llama import llama3_8b, llama3_70b
from fmref.train.efficient import activation_memory, zero_memory_per_gpu
from fmref.train.parallel.context import (
    causal_attention_work,
    online_softmax_step,
    sequence_positions,
)
from fmref.train.parallel.formulas import (
    allreduce_bytes,
    collective_bytes,
    fitting_layouts,
    parallel_memory,
    pipeline_bubble,
    pipeline_schedule,
)
from fmref.train.parallel.precision import DelayedScaling, Float8Linear, precision_losses

# Rajbhandari et al. 2020 (ZeRO), Table 1: per-device model states in GB (K = 12, 16-bit
# weights and gradients) for P_os, P_os+g, P_os+g+p; the paper prints 3 significant digits.
ZERO_TABLE_1 = {
    (7.5e9, 4): (52.5, 41.3, 30.0),
    (7.5e9, 16): (35.6, 21.6, 7.5),
    (7.5e9, 64): (31.4, 16.6, 1.88),
    (7.5e9, 256): (30.4, 15.4, 0.47),
    (7.5e9, 1024): (30.1, 15.1, 0.12),
    (128e9, 64): (536, 284, 32),
    (128e9, 1024): (513, 257, 2),
    (1e12, 64): (4187, 2218, 250),
    (1e12, 1024): (4011, 2013, 15.6),
}


@pytest.mark.parametrize("case", sorted(ZERO_TABLE_1))
def test_planner_reproduces_zero_table_1(case):
    psi, n = case
    for stage, published in zip((1, 2, 3), ZERO_TABLE_1[case]):
        gb = parallel_memory(psi, dp=n, zero_stage=stage)["total"] / 1e9
        assert gb == pytest.approx(published, rel=0.006, abs=0.006)
        assert gb * 1e9 == pytest.approx(zero_memory_per_gpu(psi, n, stage))


def test_planner_reproduces_the_ultrascale_playbook_totals():
    # The Ultra-Scale Playbook (Tazi et al. 2025), "Memory usage in Transformers", table of
    # model states: 16 bytes per parameter (bf16 weights and gradients, fp32 master weights
    # and Adam moments) and 20 with an fp32 copy of the gradients for accumulation.
    for psi, states, with_fp32_grads in ((1e9, 16, 20), (7e9, 112, 140), (70e9, 1120, 1400),
                                         (405e9, 6480, 8100)):  # fmt: skip
        assert parallel_memory(psi)["total"] / 1e9 == pytest.approx(states)
        assert parallel_memory(psi, k=16)["total"] / 1e9 == pytest.approx(with_fp32_grads)
    # the real configurations count their embeddings and head: 8.03B and 70.55B parameters
    assert parallel_memory(llama3_8b())["total"] / 1e9 == pytest.approx(128.5, abs=0.1)
    assert parallel_memory(llama3_70b())["total"] / 1e9 == pytest.approx(1128.9, abs=0.1)


def test_korthikanti_selective_recomputation_saves_70_and_65_percent():
    # Korthikanti et al. 2022, Section 5: 5as/h = 80 for GPT-3 (70% of the activations),
    # 64 for MT-NLG 530B (65%)
    gpt3 = dict(seq_len=2048, batch=1, hidden=12288, n_layers=1, n_heads=96)
    mt_nlg = dict(seq_len=2048, batch=1, hidden=20480, n_layers=1, n_heads=128)
    for shape, saved in ((gpt3, 0.70), (mt_nlg, 0.65)):
        full = activation_memory(**shape)
        assert 1 - activation_memory(**shape, checkpointing="selective") / full == pytest.approx(
            saved, abs=0.005
        )


@pytest.mark.parametrize("t", [2, 4, 8])
def test_activation_memory_has_korthikanti_table_2_forms(t):
    s, b, h, a, L = 2048, 4, 4096, 32, 3
    sbh = s * b * h
    shape = dict(seq_len=s, batch=b, hidden=h, n_layers=L, n_heads=a)
    # Table 2: rows for tensor parallel, + sequence parallel, + selective, full
    assert activation_memory(**shape, tensor_parallel=t) == L * (
        10 * sbh + 24 * sbh // t + 5 * a * s * s * b // t
    )
    assert activation_memory(**shape, tensor_parallel=t, sequence_parallel=True) == L * (
        (34 * sbh + 5 * a * s * s * b) // t
    )
    assert activation_memory(**shape, checkpointing="selective", tensor_parallel=t,
                             sequence_parallel=True) == L * 34 * sbh // t  # fmt: skip
    assert activation_memory(**shape, checkpointing="full", tensor_parallel=t) == L * 2 * sbh


def test_ring_allreduce_and_its_halves():
    for n in (2, 3, 8):
        assert allreduce_bytes(n, 4096) == 2 * (n - 1) / n * 4096
        assert collective_bytes("all_gather", n, 4096) + collective_bytes(
            "reduce_scatter", n, 4096
        ) == allreduce_bytes(n, 4096)
    assert allreduce_bytes(4, 100, "halving_doubling") == allreduce_bytes(4, 100)
    assert allreduce_bytes(4, 100, "direct") == 300
    with pytest.raises(ValueError, match="power of two"):
        allreduce_bytes(6, 100, "halving_doubling")
    with pytest.raises(ValueError, match="size"):
        allreduce_bytes(2, -1)


def test_pipeline_bubble_by_hand():
    # GPipe with p = 4, m = 4: 3 idle slots of 7 (Huang et al. 2019, Figure 2c)
    assert pipeline_bubble(4, 4, "gpipe") == pipeline_bubble(4, 4, "1f1b") == 3 / 7
    # interleaving v chunks divides the bubble's length by v (Narayanan et al. 2021, Sec. 2.2)
    assert pipeline_bubble(8, 16, "interleaved", v=4) == 7 / (64 + 7)
    # ZB-H1 with T_F = T_B = T_W: a third of 1F1B's bubble (Qi et al. 2024, Section 3)
    assert pipeline_bubble(4, 8, "zb-h1") == 3 / (24 + 3)
    assert pipeline_bubble(1, 8) == 0


def test_planner_splits_over_tp_pp_and_experts():
    cfg = llama3_70b()
    base = parallel_memory(cfg, seq_len=8192)
    split = parallel_memory(cfg, dp=1, tp=8, pp=4, seq_len=8192)
    # weights: 1/32 of the blocks, and the embedding on the first stage split 8 ways
    assert split["params"] < base["params"] / 30
    # 1F1B: the first stage holds L layers of activations whatever pp
    one_stage = parallel_memory(cfg, tp=8, seq_len=8192)["activations"]
    assert split["activations"] == one_stage
    assert parallel_memory(cfg, tp=8, pp=4, seq_len=8192, schedule="gpipe",
                           micro_batches=16)["activations"] == 4 * one_stage  # fmt: skip
    with pytest.raises(ValueError, match="ep must divide"):
        parallel_memory(cfg, dp=2, ep=4)


def test_fitting_layouts_answers_70b_on_64_gpus():
    rows = fitting_layouts(llama3_70b(), 64, 80e9, seq_len=8192)
    assert rows and all(r["dp"] * r["tp"] * r["pp"] == 64 and r["total"] <= 80e9 for r in rows)
    # without tensor parallelism (and its sequence parallelism) the activations do not fit
    assert min(r["tp"] for r in rows) == 4
    assert not fitting_layouts(llama3_70b(), 64, 80e9, seq_len=8192, max_tp=2)
    assert (4, 4, 4) in {(r["dp"], r["tp"], r["pp"]) for r in rows}


def test_zigzag_positions_cover_the_sequence_once():
    for layout in ("zigzag", "contiguous"):
        got = torch.cat([sequence_positions(24, 3, r, layout) for r in range(3)])
        assert sorted(got.tolist()) == list(range(24))
    assert sum(causal_attention_work(24, 3)) == 24 * 25 // 2
    assert len(set(causal_attention_work(24, 3))) == 1
    with pytest.raises(ValueError, match="multiple of 6"):
        sequence_positions(8, 3, 0)


def test_online_softmax_over_shuffled_blocks_equals_attention_and_its_gradient():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 12, 8, generator=g, dtype=torch.float64, requires_grad=True)
               for _ in range(3))  # fmt: skip
    pos = torch.randperm(12, generator=g)  # the queries in any order, as zig-zag holds them
    state = None
    for block in reversed(torch.arange(12).split(4)):
        state = online_softmax_step(state, q / 8**0.5, k[:, :, block], v[:, :, block], pos, block)
    _, ell, acc = state
    out = acc / ell
    mask = torch.arange(12)[None, :] <= pos[:, None]
    scores = (q @ k.transpose(-2, -1) / 8**0.5).masked_fill(~mask, float("-inf"))
    ref = torch.softmax(scores, -1) @ v
    assert torch.allclose(out, ref, atol=1e-12)
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    ref_grads = torch.autograd.grad(ref.square().sum(), (q, k, v))
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(grads, ref_grads))


def test_fp8_casts_round_like_e4m3_and_e5m2():
    x = torch.linspace(-3, 3, 1001)
    for dtype, mantissa_bits in ((torch.float8_e4m3fn, 3), (torch.float8_e5m2, 2)):
        q = DelayedScaling(dtype).quantize(x)
        rel = ((q - x).abs() / x.abs().clamp_min(0.05)).max().item()
        assert 0 < rel <= 2.0 ** -(mantissa_bits + 1) * 1.001  # half a unit in the last place
    # delayed scaling: a tensor 100 times larger than the history saturates
    meta = DelayedScaling(torch.float8_e4m3fn)
    meta.quantize(torch.ones(4))
    assert meta.quantize(torch.full((4,), 100.0)).max().item() == 1.0


def test_fp8_linear_gradients_are_close_to_float32():
    torch.manual_seed(0)
    layer = torch.nn.Linear(32, 16, bias=False)
    x = torch.randn(64, 32, requires_grad=True)
    fp8 = Float8Linear(layer)
    fp8(x).square().sum().backward()
    g8, gx8 = layer.weight.grad.clone(), x.grad.clone()
    layer.weight.grad, x.grad = None, None
    layer(x).square().sum().backward()
    for a, b in ((g8, layer.weight.grad), (gx8, x.grad)):
        rel = ((a - b).norm() / b.norm()).item()
        assert 0 < rel < 0.15


def test_bf16_and_fp8_follow_the_float32_loss():
    losses = precision_losses(steps=8)
    fp32, bf16, fp8 = (torch.tensor(losses[k]) for k in ("fp32", "bf16", "fp8"))
    assert (fp32[-1] < fp32[0] - 0.5).item()
    assert (bf16 - fp32).abs().max().item() < 0.02
    assert (fp8 - fp32).abs().max().item() < 0.1
    assert (fp8 - fp32).abs().max().item() > (bf16 - fp32).abs().max().item()


# -- the simulated pipeline timeline ----------------------------------------------------------
@pytest.mark.parametrize("schedule", ["gpipe", "1f1b"])
@pytest.mark.parametrize("backward_ratio", [0.5, 1.0, 2.0, 3.0])
def test_simulated_idle_fraction_is_the_bubble_formula(schedule, backward_ratio):
    # GPipe (Huang et al. 2019) and 1F1B (Narayanan et al. 2021): (p - 1)/(m + p - 1),
    # whatever the ratio of backward to forward time
    for p in range(1, 9):
        for m in range(1, 17):
            r = pipeline_schedule(p, m, schedule, backward_ratio)
            assert r["idle_fraction"] == pytest.approx(pipeline_bubble(p, m, schedule), abs=1e-12)
            assert r["step_time"] == pytest.approx((m + p - 1) * (1 + backward_ratio))


def test_simulated_order_is_the_order_the_real_pipeline_recorded():
    # the orders recorded from torch.distributed.pipelining on 2 processes (test_parallel.py)
    want = {"gpipe": ["F0 F1 F2 F3 B0 B1 B2 B3"] * 2,
            "1f1b": ["F0 F1 B0 F2 B1 F3 B2 B3", "F0 B0 F1 B1 F2 B2 F3 B3"]}  # fmt: skip
    for schedule, orders in want.items():
        events = pipeline_schedule(2, 4, schedule)["events"]
        assert [" ".join(f"{k}{i}" for k, i, _, _ in stage) for stage in events] == orders


def test_simulated_passes_respect_their_dependencies_and_1f1b_bounds_memory():
    p, m = 4, 6
    for schedule in ("gpipe", "1f1b"):
        r = pipeline_schedule(p, m, schedule, 2.0)
        end = {(s, k, i): e for s, stage in enumerate(r["events"]) for k, i, _, e in stage}
        for s, stage in enumerate(r["events"]):
            assert sorted((k, i) for k, i, _, _ in stage) == sorted(
                [("F", i) for i in range(m)] + [("B", i) for i in range(m)])
            for (k, i, a, b), nxt in zip(stage, stage[1:] + [None]):
                assert b - a == (1.0 if k == "F" else 2.0)
                assert nxt is None or nxt[2] >= b  # one pass at a time
                dep = (s - 1, "F", i) if k == "F" else (s + 1, "B", i)
                if k == "B" and s == p - 1:
                    dep = (s, "F", i)
                assert dep not in end or a >= end[dep]
        # activations kept: all m micro-batches under GPipe, p - s under 1F1B (Narayanan et al.)
        want = [m] * p if schedule == "gpipe" else [min(p - s, m) for s in range(p)]
        assert r["peak_in_flight"] == want


def test_pipeline_schedule_rejects_bad_input():
    with pytest.raises(ValueError, match="schedule must be one of"):
        pipeline_schedule(2, 4, "interleaved")
    with pytest.raises(ValueError, match="backward_ratio"):
        pipeline_schedule(2, 4, "1f1b", 0.0)
    with pytest.raises(ValueError, match="m must be a positive"):
        pipeline_schedule(2, 0)
