"""Tests of fmref.multimodal.digits: the cached tiny CLIP and tiny LMM."""

import pytest
import torch

from fmref.models.vit import digits_split
from fmref.multimodal.digits import (
    DIGIT_NAMES,
    HELD_OUT_DIGIT,
    QUESTIONS,
    TRAIN_TEMPLATES,
    UNSEEN_TEMPLATES,
    WordTokenizer,
    answer,
    digits_clip,
    digits_lmm,
    digits_tokenizer,
    zero_shot_accuracy,
)


def test_tokenizer_round_trip_and_errors():
    tok = digits_tokenizer()
    for t in TRAIN_TEMPLATES + UNSEEN_TEMPLATES:
        text = t.format("seven")
        assert tok.decode(tok.encode([text], 10)[0]) == text
    with pytest.raises(ValueError, match="length"):
        tok.encode(["a photo of the digit seven"], 3)
    with pytest.raises(ValueError, match="known words"):
        tok.ids("a cat")
    assert WordTokenizer(["a", "a"]).vocab_size == 4


def test_unseen_templates_are_not_training_templates():
    assert not set(UNSEEN_TEMPLATES) & set(TRAIN_TEMPLATES)
    train_words = {w for t in TRAIN_TEMPLATES for w in t.split()}
    assert any(set(t.split()) - train_words for t in UNSEEN_TEMPLATES)  # new words too


def test_tiny_clip_zero_shot_beats_chance_on_seen_classes_only():
    model, info = digits_clip()
    tok = digits_tokenizer()
    _, _, x, y = digits_split()
    seen = y != HELD_OUT_DIGIT
    for templates in (TRAIN_TEMPLATES, UNSEEN_TEMPLATES):
        assert zero_shot_accuracy(model, tok, x[seen], y[seen], templates) > 0.8  # chance 0.1
    # the held-out digit's name never had a gradient: it is not recognised
    assert zero_shot_accuracy(model, tok, x[~seen], y[~seen], TRAIN_TEMPLATES) < 0.2
    assert info["loss"][-1] < info["loss"][0]


def test_tiny_lmm_answers_held_out_digits():
    model, _ = digits_lmm()
    _, _, x, y = digits_split()
    for question, label in QUESTIONS.items():
        answers = answer(model, x, question)
        acc = sum(a == label(k) for a, k in zip(answers, y.tolist())) / len(y)
        assert acc > 0.8, question
    assert set(answer(model, x[:50], "which digit is this ?")) <= set(DIGIT_NAMES)
    # the frozen image tower did not train
    clip, _ = digits_clip()
    torch.testing.assert_close(
        model.vision_encoder.clip.patch_embedding.weight, clip.patch_embedding.weight
    )
