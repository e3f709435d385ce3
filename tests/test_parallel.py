"""Every parallelism on two processes computes what one process computes, at the formulas' cost.

One torchrun launch (2 processes, gloo) runs every strategy for 2 steps, one
after the other in the same process group (starting Python and torch costs
more than the training itself). It is the zoo recipe ``parallel-runs``, which
the gallery and Chapter XII read too, so a build launches it once.
"""

import sys

import pytest
import torch.distributed as dist

from fmref.train.parallel import run as run_module
from fmref.train.parallel.run import check_layout, launch, main, parallel_runs

RUNS = ["ddp", "zero1", "zero2", "fsdp", "tp", "sp", "pp-gpipe", "pp-1f1b", "cp-zigzag",
        "cp-contiguous", "ep"]  # fmt: skip
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:torch.*")


@pytest.fixture(scope="module")
def runs():
    return parallel_runs()


@pytest.mark.slow
@pytest.mark.parametrize("key", RUNS)
def test_every_strategy_trains_the_weights_one_process_trains(runs, key):
    run = runs[key]
    assert run["world_size"] == 2 and run["steps"] == 2
    assert run["max_abs_diff"] <= 1e-5, run["max_abs_diff"]
    assert run["max_loss_diff"] <= 1e-5, run["max_loss_diff"]
    assert run["losses"][1] < run["losses"][0]


@pytest.mark.slow
@pytest.mark.parametrize("key", ["ddp", "zero2", "fsdp", "pp-1f1b", "cp-zigzag", "ep"])
def test_state_bytes_per_rank_are_the_formulas(runs, key):
    # weights + gradients + AdamW states that rank 0 holds, against zero_memory_per_gpu
    # (data parallel) or the split of parameter_breakdown (pipeline, context, expert)
    run = runs[key]
    assert run["state_bytes"][0] == pytest.approx(run["predicted_state_bytes"], rel=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("key", ["tp", "sp"])
def test_tensor_parallel_ranks_hold_half_of_every_split_matrix(runs, key):
    run, ref = runs[key], runs["ddp"]  # DDP holds the whole model
    local = run["state_bytes_by_kind"][0]["params"] / 4
    # 4 + 8 bytes per parameter: half of every matrix and of the embedding and head, all the
    # norms (5 x 32)
    assert local == (ref["state_bytes_by_kind"][0]["params"] / 4 - 5 * 32) / 2 + 5 * 32
    assert run["state_bytes_by_kind"][0]["optimizer"] == 8 * local
    # DTensor's embedding backward returns the vocabulary-split table's gradient whole
    # (Replicate): 256 x 32 floats where the formula counts half
    assert run["state_bytes"][0] - run["predicted_state_bytes"] == 4 * 256 * 32 / 2


@pytest.mark.slow
def test_zero_stages_and_fsdp_divide_the_model_states(runs):
    ddp, z1, z2, fsdp = (runs[k]["state_bytes"][0] for k in ("ddp", "zero1", "zero2", "fsdp"))
    assert fsdp == ddp / 2  # ZeRO-3 on 2 ranks: (4 + 4 + 8) Ψ / 2
    # ZeRO-1 partitions whole tensors, so each rank's Adam states are only about half
    assert 0.5 * ddp < z1 < 0.8 * ddp and z2 < z1


@pytest.mark.slow
@pytest.mark.parametrize("key", RUNS)
def test_bytes_sent_are_the_collectives_formulas(runs, key):
    # each rank's socket writes per step against the formulas, where a reduce-scatter costs
    # gloo's all-reduce (tests/test_parallel.py::test_gloo_reduce_scatter...); message
    # headers, barriers and the small collectives of DTensor's gradient norm come on top
    run = runs[key]
    predicted = run["predicted_bytes_sent_per_step_gloo"]
    for sent in run["bytes_sent_per_step"]:
        assert 0.98 * predicted <= sent <= 1.1 * predicted, (sent, predicted)
    assert run["predicted_bytes_sent_per_step"] <= predicted  # bandwidth-optimal collectives


@pytest.mark.slow
@pytest.mark.parametrize(
    "schedule,orders",
    [
        ("gpipe", ["F0 F1 F2 F3 B0 B1 B2 B3", "F0 F1 F2 F3 B0 B1 B2 B3"]),
        # 1F1B (Narayanan et al. 2021, Figure 4): stage 0 warms up with p - 1 = 1 extra forward
        ("1f1b", ["F0 F1 B0 F2 B1 F3 B2 B3", "F0 B0 F1 B1 F2 B2 F3 B3"]),
    ],
)
def test_pipeline_records_the_schedule_of_its_stages(runs, schedule, orders):
    run = runs[f"pp-{schedule}"]
    assert run["micro_batches"] == 4 and run["predicted_idle_fraction"] == pytest.approx(1 / 5)
    for events, order in zip(run["timeline"], orders):
        assert " ".join(f"{kind}{mb}" for kind, mb, _, _ in events) == order
    for idle in run["idle_fraction"]:
        assert 0 < idle < 1


@pytest.mark.slow
def test_context_parallel_zigzag_balances_the_causal_work(runs):
    zigzag, contiguous = runs["cp-zigzag"], runs["cp-contiguous"]
    assert zigzag["attention_work"] == [68, 68]  # 16 tokens: 136 visible pairs, split evenly
    assert contiguous["attention_work"] == [36, 100]


def test_bad_layouts_fail_before_any_process_group(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")  # as torchrun --nproc-per-node 3 would set it
    cases = [
        (["--strategy", "tp"], "tp must divide n_heads"),
        (["--strategy", "pp"], "pp must divide n_layers"),
        (["--strategy", "ep"], "ep must divide n_experts"),
        (["--strategy", "cp"], "seq_len must be a multiple of 2 \\* cp = 6"),
        (["--strategy", "ddp"], "batch_size must be divisible"),
        (["--strategy", "nope"], "strategy must be one of"),
        (["--strategy", "ddp", "--heads", "3"], "dim must be a multiple of 2 \\* heads = 6"),
        (["--strategy", "ddp", "--kv-heads", "3"], "kv_heads must divide heads=4"),
        (["--strategy", "tp", "--heads", "2", "--kv-heads", "1"], "tp must divide n_heads=2"),
    ]
    for argv, message in cases:
        with pytest.raises(ValueError, match=message):
            main(argv)
        assert not dist.is_initialized()
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="micro_batches must be at least the pp=2 stages"):
        main(["--strategy", "pp", "--micro-batches", "1"])
    assert not dist.is_initialized()


def test_check_layout_divides_the_world_and_the_model():
    assert check_layout(16, tp=2, pp=2, cp=2, ep=2, micro_batches=2, n_experts=4) == dict(
        dp=2, tp=2, pp=2, cp=2, ep=2
    )
    with pytest.raises(ValueError, match="world_size must be divisible by tp \\* pp \\* cp = 8"):
        check_layout(12, tp=2, pp=2, cp=2)
    with pytest.raises(ValueError, match="ep must divide dp \\* cp = 2"):
        check_layout(2, ep=4, n_experts=8)


def test_launch_reports_a_dead_workers_stderr_and_kills_a_hung_run(monkeypatch):
    def dies(n, *args, master_port=None):
        return [sys.executable, "-c", "import sys; sys.stderr.write('rank 1: boom'); sys.exit(1)"]

    monkeypatch.setattr(run_module, "torchrun_command", dies)
    with pytest.raises(RuntimeError, match="(?s)failed; the workers said:.*rank 1: boom"):
        launch(2, "--strategy", "ddp")

    def hangs(n, *args, master_port=None):
        return [sys.executable, "-c", "import time; time.sleep(60)"]

    monkeypatch.setattr(run_module, "torchrun_command", hangs)
    with pytest.raises(RuntimeError, match="ran past 0.5 s"):
        launch(2, "--strategy", "ddp", timeout=0.5)


def test_every_strategy_runs_in_this_process_on_one_rank():
    # world size 1: the same code paths as under torchrun (FSDP, DTensor, the pipeline
    # schedule, the ring, the all-to-all), each one a single rank
    # (fmref's own code; the run.main doctest covers FSDP)
    runs = main(["--strategy", "zero2,tp,sp,pp,cp,ep", "--steps", "1", "--quiet"])
    assert not dist.is_initialized()
    assert [r["strategy"] for r in runs] == "zero2 tp sp pp cp ep".split()
    for run in runs:
        assert run["world_size"] == 1 and run["max_abs_diff"] <= 1e-6, run["strategy"]
        psi = 72096 if run["strategy"] == "ep" else 34976  # parameters
        per_param = 20 if run["strategy"] == "zero2" else 16  # ZeRO-2's float32 master shard
        assert run["state_bytes"][0] == per_param * psi


def _ep_rank_without_tokens(rank, store_path, world):
    """One rank of the regression below (module level: spawned processes import it)."""
    import datetime

    import torch

    from fmref.models.llama import SparseMoE
    from fmref.train.parallel.expert import ExpertParallelMoE

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store_path}", rank=rank,
                            world_size=world, timeout=datetime.timedelta(seconds=30))
    try:
        torch.manual_seed(0)
        moe = SparseMoE(dim=8, hidden_dim=16, n_experts=4, top_k=2)
        with torch.no_grad():  # feature 0 is always 10: experts 0, 1 (rank 0's) win every token
            moe.gate.weight[:2, 0], moe.gate.weight[2:, 0] = 5.0, -5.0
        xs = [torch.randn(2, 3, 8) for _ in range(world)]  # every rank's input, on every rank
        for x in xs:
            x[..., 0] = 10.0
        targets = [torch.randn(2, 3, 8) for _ in range(world)]
        ep = ExpertParallelMoE(moe)
        x = xs[rank].clone().requires_grad_()
        (ep(x) * targets[rank]).sum().backward()
        # rank 1 sends its 2 x 3 tokens x 2 slots out, rank 0 sends the 12 results back
        assert ep.sent == ([12, 0] if rank == 1 else [0, 12])
        # the same layer in one process, over both ranks' tokens
        ref_x = torch.cat(xs).requires_grad_()
        (moe(ref_x) * torch.cat(targets)).sum().backward()
        rows = slice(2 * rank, 2 * rank + 2)
        torch.testing.assert_close(x.grad, ref_x.grad[rows], atol=1e-6, rtol=0)
        for name, expert in ep.experts.items():  # rank 1's experts: no token, zero gradient
            for p, q in zip(expert.parameters(), moe.experts[int(name)].parameters()):
                want = q.grad if q.grad is not None else torch.zeros_like(q)
                got = p.grad if p.grad is not None else torch.zeros_like(p)
                torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_expert_parallel_backward_with_a_rank_whose_experts_get_no_token(tmp_path):
    # Regression (2026-12-05): with out = zeros_like(rows), a rank whose experts received no
    # token left its output out of the graph and skipped the backward all-to-all, so gloo
    # aborted ("Received data size doesn't match expected size") or waited for ever.
    import torch.multiprocessing as mp

    mp.spawn(_ep_rank_without_tokens, args=(str(tmp_path / "store"), 2), nprocs=2)
