"""Tests of fmref.align.sft: chat templates against transformers' apply_chat_template,
SFT loss and sequence log-probabilities against transformers' GPT-2 loss, bad input."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.align.sft import (
    CHAT_TEMPLATES,
    format_chat,
    sequence_logprobs,
    sft_loss,
    tokenize_chat,
)
from fmref.train.objectives import causal_lm_loss

CHAT = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Name a prime {above} 10."},
    {"role": "assistant", "content": "11"},
    {"role": "user", "content": "And one above 20?"},
    {"role": "assistant", "content": "23"},
]

# HF's documented ChatML template (transformers chat_templating docs), written independently
# of ours in Jinja.
CHATML_JINJA = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def hf_tokenizer():
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel({"[UNK]": 0}, "[UNK]")))
    tok.chat_template = CHATML_JINJA
    return tok


@pytest.mark.parametrize("gen", [False, True])
def test_chatml_matches_transformers_apply_chat_template(hf_tokenizer, gen):
    expected = hf_tokenizer.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=gen)
    assert format_chat(CHAT, "chatml", add_generation_prompt=gen) == expected


def test_custom_template_dict_and_braces_in_content_are_literal():
    tpl = {"user": "Q: {content}\n", "assistant": "A: {content}\n", "generation_prompt": "A:"}
    msgs = [{"role": "user", "content": "{x}"}, {"role": "assistant", "content": "}{"}]
    assert format_chat(msgs, tpl, add_generation_prompt=True) == "Q: {x}\nA: }{\nA:"


def test_tokenize_chat_mask_covers_exactly_the_assistant_turns():
    encode = lambda s: list(s.encode())  # noqa: E731  (byte-level: one id per byte)
    for name in CHAT_TEMPLATES:
        tokens, mask = tokenize_chat(CHAT, encode, name)
        assert bytes(tokens.tolist()).decode() == format_chat(CHAT, name)
        after = CHAT_TEMPLATES[name]["assistant"].split("{content}")[1]
        expected = "".join(m["content"] + after for m in CHAT if m["role"] == "assistant")
        assert bytes(tokens[mask].tolist()).decode() == expected


def test_tokenize_chat_with_the_bpe_tokenizer():
    from fmref.text.bpe import BPETokenizer

    tok = BPETokenizer.train("the cat sat on the mat. " * 20, vocab_size=270)
    tokens, mask = tokenize_chat(CHAT[1:3], tok.encode)
    assert tok.decode(tokens.tolist()) == format_chat(CHAT[1:3])
    assert tok.decode(tokens[mask].tolist()) == "11<|im_end|>\n"


def test_unknown_role_and_bad_templates_raise():
    with pytest.raises(ValueError, match=r"messages\[1\]\['role'\]"):
        format_chat([CHAT[1], {"role": "tool", "content": "x"}])
    with pytest.raises(ValueError, match="role"):
        format_chat([{"role": "system", "content": "x"}], {"user": "{content}"})
    with pytest.raises(ValueError, match="template"):
        format_chat(CHAT, "llama-99")
    with pytest.raises(ValueError, match="template"):
        format_chat(CHAT, {"user": "no placeholder"})
    with pytest.raises(ValueError, match="generation_prompt"):
        format_chat(CHAT[1:2], {"user": "{content}"}, add_generation_prompt=True)
    with pytest.raises(TypeError, match="template"):
        format_chat(CHAT, 3)
    with pytest.raises(TypeError, match="messages"):
        format_chat("hello")
    with pytest.raises(TypeError, match=r"messages\[0\]"):
        format_chat(["hello"])
    with pytest.raises(TypeError, match="content"):
        format_chat([{"role": "user", "content": 3}])


# ----------------------------------------------------------------- losses vs GPT-2
@pytest.fixture(scope="module")
def gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=50, n_positions=16, n_embd=32, n_layer=2, n_head=2)
    return GPT2LMHeadModel(cfg).eval()


def _batch():
    g = torch.Generator().manual_seed(3)
    tokens = torch.randint(0, 50, (3, 12), generator=g)
    mask = torch.zeros(3, 12, dtype=torch.bool)
    mask[0, 5:] = True  # prompt of 5, response of 7
    mask[1, 8:10] = True  # response followed by padding
    mask[2, 1:] = True  # everything after the first token
    return tokens, mask


def test_sequence_logprobs_match_transformers_gpt2_loss(gpt2):
    # transformers shifts inside: labels[t] is predicted from position t - 1 and -100 is
    # skipped; its loss is the mean over counted labels, so -loss * count = summed log-prob.
    tokens, mask = _batch()
    with torch.no_grad():
        logits = gpt2(tokens).logits
        ours = sequence_logprobs(logits, tokens, mask)
        for b in range(3):
            labels = tokens[b : b + 1].masked_fill(~mask[b : b + 1], -100)
            hf_loss = gpt2(tokens[b : b + 1], labels=labels).loss
            count = mask[b, 1:].sum()
            assert ours[b].item() == pytest.approx(-(hf_loss * count).item(), rel=1e-5)


def test_sft_loss_matches_transformers_gpt2_loss_and_causal_lm_loss(gpt2):
    tokens, mask = _batch()
    labels = tokens.masked_fill(~mask, -100)
    with torch.no_grad():
        out = gpt2(tokens, labels=labels)
    ours = sft_loss(out.logits, tokens, mask)
    assert ours.item() == pytest.approx(out.loss.item(), rel=1e-5)
    assert ours.item() == pytest.approx(causal_lm_loss(out.logits, labels).item(), rel=1e-5)


def test_sft_loss_ignores_the_first_position_and_prompt_tokens():
    # A uniform model over V ids costs log V per counted token, whatever is counted.
    tokens = torch.tensor([[1, 2, 3, 4]])
    logits = torch.zeros(1, 4, 7, requires_grad=True)
    loss = sft_loss(logits, tokens, torch.tensor([[1, 0, 0, 1]]))
    assert loss.item() == pytest.approx(math.log(7))
    loss.backward()  # only position 2 (which predicts token 4) gets a gradient
    assert torch.count_nonzero(logits.grad.abs().sum(-1)) == 1
    assert logits.grad[0, 2].abs().sum() > 0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), T=st.integers(2, 9))
def test_sequence_logprobs_equal_sum_of_per_token_cross_entropy(seed, T):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, T, 5, generator=g)
    tokens = torch.randint(0, 5, (2, T), generator=g)
    mask = torch.rand(2, T, generator=g) > 0.5
    ours = sequence_logprobs(logits, tokens, mask)
    for b in range(2):  # explicit loop: position t - 1 scores token t
        ref = sum(
            torch.log_softmax(logits[b, t - 1], -1)[tokens[b, t]].item()
            for t in range(1, T)
            if mask[b, t]
        )
        assert ours[b].item() == pytest.approx(ref, abs=1e-5)
    assert torch.all(ours <= 0)


def test_bad_input_names_the_argument():
    tokens, mask = _batch()
    logits = torch.zeros(3, 12, 50)
    with pytest.raises(ValueError, match="loss_mask"):
        sft_loss(logits, tokens, mask[:, :-1])
    with pytest.raises(ValueError, match="mask"):
        sequence_logprobs(logits, tokens, mask[:2])
    with pytest.raises(ValueError, match="mask"):
        sequence_logprobs(logits, tokens, mask.tolist())
    with pytest.raises(ValueError, match="logits"):
        sft_loss(logits[:, :-1], tokens, mask)
    with pytest.raises(ValueError, match="logits"):
        sft_loss(None, tokens, mask)
    with pytest.raises(ValueError, match="tokens"):
        sft_loss(logits[:, :1], tokens[:, :1], mask[:, :1])
    with pytest.raises(TypeError, match="tokens"):
        sft_loss(logits, tokens.float(), mask)
    with pytest.raises(TypeError, match="tokens"):
        sft_loss(logits, tokens.tolist(), mask)
    with pytest.raises(ValueError, match="loss_mask"):
        sft_loss(logits, tokens, torch.zeros_like(mask))
