"""Memory formulas (ZeRO, Korthikanti) and the memory-saving training options."""

import copy

import pytest
import torch

from fmref.models.gpt import GPT, GPTConfig
from fmref.train.efficient import (
    accumulate_gradients,
    activation_memory,
    gpt_forward,
    train_step,
    zero_memory_per_gpu,
)

GB = 1e9


def test_zero_paper_example_7_5b_on_64_gpus():
    # Rajbhandari et al. 2020, Figure 1: Psi = 7.5B, N_d = 64, K = 12:
    # baseline 120GB, P_os 31.4GB, P_os+g 16.6GB, P_os+g+p 1.9GB.
    expected = [120.0, 31.4, 16.6, 1.9]
    got = [zero_memory_per_gpu(7.5e9, 64, stage) / GB for stage in range(4)]
    assert got == pytest.approx(expected, abs=0.05)


def test_zero_stage_formulas_and_limits():
    psi = 1e9
    assert zero_memory_per_gpu(psi, 1, 3) == zero_memory_per_gpu(psi, 1, 0) == 16 * psi
    assert zero_memory_per_gpu(psi, 8, 1) == 4 * psi + 12 * psi / 8
    assert zero_memory_per_gpu(psi, 8, 2) == 2 * psi + 14 * psi / 8
    # fp32 everything with plain Adam (K = 8: momentum and variance only)
    assert zero_memory_per_gpu(psi, 1, 0, k=8, bytes_param=4, bytes_grad=4) == 16 * psi
    # stage 1 and 2 tend to 4 Psi and 2 Psi with many devices
    assert zero_memory_per_gpu(psi, 10**6, 1) == pytest.approx(4 * psi, rel=1e-4)
    assert zero_memory_per_gpu(psi, 10**6, 2) == pytest.approx(2 * psi, rel=1e-4)


def test_zero_bad_input():
    with pytest.raises(ValueError, match="stage"):
        zero_memory_per_gpu(1e9, 8, 4)
    with pytest.raises(ValueError, match="stage"):
        zero_memory_per_gpu(1e9, 8, True)
    with pytest.raises(ValueError, match="n_gpus"):
        zero_memory_per_gpu(1e9, 0, 1)
    with pytest.raises(ValueError, match="n_params"):
        zero_memory_per_gpu(0, 8, 1)
    with pytest.raises(TypeError, match="n_params"):
        zero_memory_per_gpu("7.5e9", 8, 1)
    with pytest.raises(ValueError, match="k"):
        zero_memory_per_gpu(1e9, 8, 1, k=-1)


def test_activation_memory_korthikanti():
    # Korthikanti et al. 2022: sbh(34 + 5as/h) bytes per layer without recomputation
    s, b, h, L, a = 2048, 4, 1024, 24, 16
    sbh = s * b * h
    assert activation_memory(s, b, h, L, a) == L * sbh * (34 + 5 * a * s / h)
    assert activation_memory(s, b, h, L, a, checkpointing="selective") == L * 34 * sbh
    assert activation_memory(s, b, h, L, a, checkpointing="full") == L * 2 * sbh
    assert activation_memory(s, b, h, L, a, checkpointing=True) == L * 2 * sbh
    assert activation_memory(s, b, h, L, a, checkpointing=False) == activation_memory(s, b, h, L, a)
    # tensor parallel t: sbh(10 + 24/t + 5as/(ht))
    t = 8
    assert activation_memory(s, b, h, L, a, tensor_parallel=t) == pytest.approx(
        L * sbh * (10 + 24 / t + 5 * a * s / (h * t))
    )


def test_activation_memory_bad_input():
    with pytest.raises(ValueError, match="checkpointing"):
        activation_memory(8, 1, 8, 1, 1, checkpointing="some")
    with pytest.raises(ValueError, match="seq_len"):
        activation_memory(0, 1, 8, 1, 1)
    with pytest.raises(ValueError, match="tensor_parallel"):
        activation_memory(8, 1, 8, 1, 1, tensor_parallel=0)


def _model(seed=0, dropout=0.0):
    torch.manual_seed(seed)
    return GPT(
        GPTConfig(vocab_size=37, block_size=16, n_layer=2, n_head=2, n_embd=32, dropout=dropout)
    ).double()


def _grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters()}


def test_gradient_accumulation_equals_one_big_batch():
    model = _model()
    batch = torch.randint(37, (6, 16), generator=torch.Generator().manual_seed(1))
    loss_big = accumulate_gradients(model, batch)
    big = _grads(model)
    for k in (2, 3, 4):  # 4 gives uneven pieces (2, 2, 1, 1): still weighted right
        model.zero_grad()
        loss = accumulate_gradients(model, batch, micro_batches=k)
        assert loss == pytest.approx(loss_big, abs=1e-12)
        for name, g in _grads(model).items():
            torch.testing.assert_close(g, big[name], atol=1e-6, rtol=0)


def test_checkpointing_gives_the_same_gradients():
    model = _model()
    batch = torch.randint(37, (3, 16), generator=torch.Generator().manual_seed(2))
    accumulate_gradients(model, batch)
    plain = _grads(model)
    model.zero_grad()
    accumulate_gradients(model, batch, checkpointing=True)
    for name, g in _grads(model).items():
        torch.testing.assert_close(g, plain[name], atol=1e-12, rtol=0)


def test_gpt_forward_matches_model_and_needs_a_gpt():
    model = _model().eval()
    idx = torch.randint(37, (2, 10))
    torch.testing.assert_close(gpt_forward(model, idx), model(idx))
    with torch.no_grad():  # no grad: checkpointing is skipped, same result
        torch.testing.assert_close(gpt_forward(model, idx, checkpointing=True), model(idx))
    with pytest.raises(TypeError, match="model"):
        gpt_forward(torch.nn.Linear(2, 2), idx)


def test_bf16_autocast_keeps_fp32_master_weights_and_is_close():
    model = _model().float()
    batch = torch.randint(37, (4, 16), generator=torch.Generator().manual_seed(3))
    loss32 = accumulate_gradients(model, batch)
    g32 = model.h[0].mlp.c_fc.weight.grad.clone()
    model.zero_grad()
    loss16 = accumulate_gradients(model, batch, precision="bf16")
    g16 = model.h[0].mlp.c_fc.weight.grad
    assert g16.dtype == torch.float32 and model.h[0].mlp.c_fc.weight.dtype == torch.float32
    assert loss16 == pytest.approx(loss32, rel=1e-2)  # bf16 has 8 bits of mantissa
    cos = torch.nn.functional.cosine_similarity(g16.flatten(), g32.flatten(), dim=0)
    assert cos > 0.98


def test_train_step_equals_a_step_of_the_plain_loop():
    model = _model()
    twin = copy.deepcopy(model)
    batch = torch.randint(37, (4, 16), generator=torch.Generator().manual_seed(4))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    opt_twin = torch.optim.SGD(twin.parameters(), lr=0.1)
    train_step(model, opt, batch, micro_batches=2, checkpointing=True, grad_clip=0.5)
    # reference: one full batch, plain forward, clip, step
    from fmref.train.objectives import causal_lm_loss

    opt_twin.zero_grad()
    causal_lm_loss(twin(batch), batch).backward()
    torch.nn.utils.clip_grad_norm_(twin.parameters(), 0.5)
    opt_twin.step()
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=0)


def test_options_bad_input():
    model = _model()
    batch = torch.randint(37, (2, 8))
    with pytest.raises(ValueError, match="precision"):
        accumulate_gradients(model, batch, precision="fp8")
    with pytest.raises(ValueError, match="micro_batches"):
        accumulate_gradients(model, batch, micro_batches=0)
    with pytest.raises(ValueError, match="micro_batches"):
        accumulate_gradients(model, batch, micro_batches=3)
    with pytest.raises(ValueError, match="batch"):
        accumulate_gradients(model, batch[0])
