"""Tests of fmref.text.corpus and fmref.text.functional."""

import gzip
import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.text import corpus
from fmref.text.corpus import python_docs, python_docs_topics
from fmref.text.functional import cosine_similarity, log_softmax, softmax


# --------------------------------------------------------------------------- corpus
def test_snapshot_records_source_version_and_licence():
    with gzip.open(corpus._SNAPSHOT, "rt", encoding="utf-8") as f:
        data = json.load(f)
    assert data["source"] == "CPython Lib/pydoc_data/topics.py"
    assert data["python_version"] == "3.11.7"
    assert data["license"].startswith("PSF-2.0")


def test_corpus_has_79_topics_and_about_465k_characters():
    topics = python_docs_topics()
    assert len(topics) == 79
    assert list(topics) == sorted(topics)
    assert sum(map(len, topics.values())) == 464970
    assert 'The "while" statement' in topics["while"]


def test_split_is_deterministic_disjoint_and_covers_every_topic():
    train, val = python_docs("train"), python_docs("validation")
    assert python_docs("train") == train  # deterministic
    assert 0.05 < len(val) / len(python_docs()) < 0.15
    for text in python_docs_topics().values():
        cut = corpus._split_point(text)
        assert text[:cut] in train
        if text[cut:].strip():
            assert text[cut:].strip("\n") in val
    # the validation tail of a long topic does not occur in the training split
    tail = python_docs_topics()["formatstrings"]
    tail = tail[corpus._split_point(tail) :].strip("\n")
    assert tail[:200] not in train


def test_split_point_without_paragraph_break_is_the_end():
    assert corpus._split_point("no break here") == len("no break here")


def test_unknown_split_raises():
    with pytest.raises(ValueError, match="split must be one of"):
        python_docs("test")


# --------------------------------------------------------------------------- softmax
finite = st.floats(-50, 50, allow_nan=False, width=32)


@settings(max_examples=40, deadline=None)
@given(st.lists(finite, min_size=1, max_size=20), st.floats(0.05, 20))
def test_softmax_equals_torch_and_sums_to_one(values, temperature):
    x = torch.tensor(values)
    p = softmax(x, temperature=temperature)
    torch.testing.assert_close(p, torch.softmax(x / temperature, dim=-1))
    assert abs(p.sum().item() - 1) < 1e-5
    torch.testing.assert_close(
        log_softmax(x, temperature=temperature), torch.log_softmax(x / temperature, dim=-1)
    )


def test_softmax_along_other_dims_and_huge_logits():
    x = torch.randn(3, 4, 5) * 30
    for dim in (0, 1, 2):
        torch.testing.assert_close(softmax(x, dim=dim), torch.softmax(x, dim=dim))
        torch.testing.assert_close(log_softmax(x, dim=dim), torch.log_softmax(x, dim=dim))
    big = torch.tensor([1e4, 1e4 - 1.0, -1e4])
    assert torch.isfinite(softmax(big)).all() and torch.isfinite(log_softmax(big)).all()


def test_softmax_worked_by_hand():
    # exp(2) : exp(1) : exp(0.1) = 7.389 : 2.718 : 1.105, total 11.212
    p = softmax(torch.tensor([2.0, 1.0, 0.1]))
    torch.testing.assert_close(p, torch.tensor([0.6590, 0.2424, 0.0986]), atol=1e-4, rtol=0)


def test_temperature_limits():
    x = torch.tensor([1.0, 3.0, 2.0])
    assert softmax(x, temperature=1e-3).argmax() == 1 and softmax(x, temperature=1e-3)[1] > 0.999
    torch.testing.assert_close(softmax(x, temperature=1e6), torch.full((3,), 1 / 3))


def test_softmax_bad_input_raises():
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        softmax(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        log_softmax([1.0, 2.0])
    with pytest.raises(ValueError, match="temperature must be > 0"):
        softmax(torch.tensor([1.0]), temperature=0)


# --------------------------------------------------------------------------- cosine
def test_cosine_similarity_equals_torch():
    a, b = torch.randn(6, 8), torch.randn(6, 8)
    torch.testing.assert_close(cosine_similarity(a, b), torch.nn.functional.cosine_similarity(a, b))
    torch.testing.assert_close(
        cosine_similarity(a, b, dim=0), torch.nn.functional.cosine_similarity(a, b, dim=0)
    )


def test_cosine_similarity_of_zero_vector_is_zero_and_scale_invariant():
    assert cosine_similarity(torch.zeros(3), torch.ones(3)).item() == 0.0
    a, b = torch.randn(5), torch.randn(5)
    torch.testing.assert_close(cosine_similarity(3 * a, 0.5 * b), cosine_similarity(a, b))


def test_cosine_similarity_bad_input_raises():
    with pytest.raises(TypeError, match="b must be a floating-point tensor"):
        cosine_similarity(torch.ones(2), torch.ones(2, dtype=torch.long))
