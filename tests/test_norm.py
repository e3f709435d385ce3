"""Tests of fmref.nn.norm against torch.nn.LayerNorm and transformers' LlamaRMSNorm."""

import pytest
import torch

from fmref.nn.norm import LayerNorm, RMSNorm


@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_matches_torch(bias):
    g = torch.Generator().manual_seed(0)
    ours, ref = LayerNorm(6, eps=1e-5, bias=bias), torch.nn.LayerNorm(6, eps=1e-5, bias=bias)
    with torch.no_grad():
        ref.weight.normal_(generator=g)
        ours.weight.copy_(ref.weight)
        if bias:
            ref.bias.normal_(generator=g)
            ours.bias.copy_(ref.bias)
    assert ours.state_dict().keys() == ref.state_dict().keys()
    x = torch.randn(2, 3, 6, generator=g) * 5 + 2
    torch.testing.assert_close(ours(x), ref(x))
    assert "bias=" + str(bias) in repr(ours)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rms_norm_matches_transformers_llama_rms_norm(dtype):
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    g = torch.Generator().manual_seed(1)
    ours, ref = RMSNorm(8, eps=1e-6), LlamaRMSNorm(8, eps=1e-6)
    with torch.no_grad():
        ref.weight.normal_(generator=g)
        ours.load_state_dict(ref.state_dict())
    ours, ref = ours.to(dtype), ref.to(dtype)
    x = (torch.randn(2, 4, 8, generator=g) * 3).to(dtype)
    y = ours(x)
    assert y.dtype == ref(x).dtype
    torch.testing.assert_close(y, ref(x), rtol=0, atol=0)
    assert "eps=1e-06" in repr(ours)


@pytest.mark.parametrize("norm", [LayerNorm(4), RMSNorm(4)])
def test_norms_reject_wrong_width(norm):
    with pytest.raises(ValueError, match=r"x must have last dimension 4"):
        norm(torch.randn(2, 5))
