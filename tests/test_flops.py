"""Training compute: 6ND and the per-token count from the architecture."""

import pytest

from fmref.models.gpt import GPTConfig
from fmref.models.llama import LlamaConfig, llama_7b
from fmref.scaling.flops import flops_per_token, training_flops
from fmref.scaling.params import count_parameters


def test_training_flops_is_six_n_d():
    assert training_flops(1e9, 2e10) == 1.2e20
    # GPT-3: 175B parameters, 300B tokens -> 3.14e23 FLOPs (Brown et al. 2020, Table D.1)
    assert training_flops(175e9, 300e9) == pytest.approx(3.14e23, rel=0.01)


def test_gpt_count_by_hand():
    c = GPTConfig(vocab_size=10, block_size=4, n_layer=2, n_head=1, n_embd=3)
    # per layer: projections 4*9, MLP 8*9, attention 2*T*C = 24 mult-adds; head 3*10
    forward = 2 * (2 * (36 + 72 + 24) + 30)
    assert flops_per_token(c, training=False) == forward
    assert flops_per_token(c) == 3 * forward
    assert flops_per_token(c, seq_len=1, training=False) == 2 * (2 * (36 + 72 + 6) + 30)


def test_matches_six_n_when_context_is_short():
    # with T << C, matmul FLOPs are 2 x (weights used in matmuls) per token
    c = GPTConfig(vocab_size=1000, block_size=8, n_layer=4, n_head=4, n_embd=256)
    matmul_weights = count_parameters(c) - c.block_size * c.n_embd - 4 * 13 * 256 - 2 * 256
    assert flops_per_token(c, training=False) == pytest.approx(2 * matmul_weights, rel=0.01)


def test_attention_term_grows_with_context():
    c = llama_7b()
    short, long = flops_per_token(c, seq_len=512), flops_per_token(c, seq_len=4096)
    # 3 x 2 x (2 T d) per layer: the only T-dependent term
    assert long - short == 3 * 2 * 2 * (4096 - 512) * 4096 * 32


def test_llama_with_grouped_query_attention():
    c = LlamaConfig(
        vocab_size=100, dim=64, n_layers=2, n_heads=8, n_kv_heads=2, hidden_dim=128, max_seq_len=16
    )
    d = 8  # head_dim
    proj = 64 * 64 + 2 * 64 * 2 * d + 64 * 64
    forward = 2 * (2 * (proj + 3 * 64 * 128 + 2 * 16 * 64) + 64 * 100)
    assert flops_per_token(c, training=False) == forward


def test_bad_input():
    with pytest.raises(TypeError, match="config"):
        flops_per_token({"n_layer": 2})
    with pytest.raises(ValueError, match="seq_len"):
        flops_per_token(GPTConfig(), seq_len=0)
    with pytest.raises(ValueError, match="n_params"):
        training_flops(0, 1e9)
    with pytest.raises(ValueError, match="n_tokens"):
        training_flops(1e9, -5)
    with pytest.raises(TypeError, match="n_tokens"):
        training_flops(1e9, None)
