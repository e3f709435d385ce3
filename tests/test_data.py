"""Tests of fmref.data: dedup, MinHash/LSH, quality filters, packing, contamination."""

import math
import random

import numpy as np
import pytest
import torch

from fmref.data.contamination import build_ngram_index, find_contaminated, ngrams, overlap_fraction
from fmref.data.dedup import exact_duplicates, normalize_text, perturb, text_hash
from fmref.data.filters import STOP_WORDS, filter_corpus, quality_filter, quality_signals
from fmref.data.minhash import (
    candidate_pairs,
    estimate_jaccard,
    jaccard,
    lsh_params,
    minhash_signature,
    near_duplicates,
    shingles,
)
from fmref.data.packing import document_mask, document_positions, pack_documents, padding_fraction


# -- exact dedup ------------------------------------------------------------------
def test_normalize_text_folds_case_punctuation_space_and_compatibility_forms():
    assert normalize_text("Ｆｕｌｌ-width\u00a0TEXT!!") == "fullwidth text"
    assert text_hash("a") != text_hash("b")
    with pytest.raises(TypeError, match="text must be a str"):
        normalize_text(b"bytes")
    with pytest.raises(TypeError, match="text must be a str"):
        text_hash(3, normalize=False)


def test_exact_duplicates_maps_each_repeat_to_its_first_occurrence():
    docs = ["x y", "z", "X  y!", "z", "x y"]
    assert exact_duplicates(docs) == {2: 0, 3: 1, 4: 0}
    assert exact_duplicates(docs, normalize=False) == {3: 1, 4: 0}


def test_perturb_makes_the_requested_number_of_edits_and_validates():
    text = " ".join(f"w{i}" for i in range(100))
    for kind in ("delete", "insert", "swap", "substitute"):
        out = perturb(text, n_edits=3, seed=2, kinds=(kind,))
        assert out != text
        if kind == "delete":
            assert len(out.split()) == 97
        if kind == "insert":
            assert len(out.split()) == 103
    assert perturb("one", n_edits=5) == "one"  # too short to edit
    assert perturb(text, 4, seed=1) == perturb(text, 4, seed=1)
    with pytest.raises(ValueError, match="n_edits must be an int >= 0"):
        perturb(text, n_edits=-1)
    with pytest.raises(ValueError, match="kinds must be a non-empty subset"):
        perturb(text, kinds=("shuffle",))


# -- MinHash ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_minhash_estimate_within_three_standard_errors_of_true_jaccard(seed):
    rng = random.Random(seed)
    universe = [f"s{i}" for i in range(2000)]
    a = set(rng.sample(universe, 400))
    b = set(rng.sample(sorted(a), rng.randint(50, 350))) | set(rng.sample(universe, 150))
    true = jaccard(a, b)
    num_perm = 256
    est = estimate_jaccard(
        minhash_signature(a, num_perm, seed=seed), minhash_signature(b, num_perm, seed=seed)
    )
    se = math.sqrt(true * (1 - true) / num_perm)
    assert abs(est - true) <= 3 * se, (est, true, se)


def test_minhash_estimator_is_unbiased_over_seeds():
    a = {f"x{i}" for i in range(300)}
    b = {f"x{i}" for i in range(100, 400)}  # J = 0.5
    est = [
        estimate_jaccard(minhash_signature(a, 64, seed=s), minhash_signature(b, 64, seed=s))
        for s in range(100)
    ]
    assert abs(np.mean(est) - 0.5) < 3 * math.sqrt(0.25 / 64 / 100)


def test_shingles_and_signatures_of_edge_cases():
    assert shingles("") == set()
    assert shingles("a b c d e f", shingle=5) == {"a b c d e", "b c d e f"}
    empty = minhash_signature("", num_perm=8)
    assert estimate_jaccard(empty, minhash_signature(set(), num_perm=8)) == 1.0
    assert jaccard(set(), set()) == 1.0
    sig = minhash_signature("same text here", 16, seed=3)
    assert np.array_equal(sig, minhash_signature({"same text here"}, 16, seed=3))


def test_lsh_s_curve_and_candidates():
    b, r = lsh_params(0.8, 128)
    assert b * r <= 128
    assert 0.7 < (1 / b) ** (1 / r) < 0.9
    assert lsh_params(0.8, 128, fp_weight=0.9)[1] >= r  # fewer false positives: more rows
    sigs = [np.arange(8), np.arange(8), np.arange(8) + 100]
    assert candidate_pairs(sigs, 4, 2) == {(0, 1)}


def test_near_duplicates_finds_perturbed_copies_and_skips_distinct_documents():
    rng = random.Random(0)
    vocab = [f"tok{i}" for i in range(500)]
    docs = [" ".join(rng.choice(vocab) for _ in range(300)) for _ in range(6)]
    copies = [perturb(docs[i], n_edits=4, seed=i) for i in range(3)]
    pairs = near_duplicates(docs + copies, threshold=0.7)
    assert pairs == [(0, 6), (1, 7), (2, 8)]
    assert near_duplicates(docs + copies, threshold=0.7, bands=32) == pairs


@pytest.mark.parametrize("bad", [0, 1.5, -0.2])
def test_threshold_outside_unit_interval_is_rejected(bad):
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\]"):
        near_duplicates(["a"], threshold=bad)
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\]"):
        lsh_params(bad)


def test_minhash_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_perm must be a positive int"):
        minhash_signature("a b", num_perm=0)
    with pytest.raises(ValueError, match="num_perm must be a positive int"):
        near_duplicates(["a"], num_perm=0)
    with pytest.raises(ValueError, match="shingle must be a positive int"):
        shingles("a b", shingle=0)
    with pytest.raises(TypeError, match="text must be a str or a set"):
        minhash_signature(["a"])
    with pytest.raises(ValueError, match="sig_a and sig_b"):
        estimate_jaccard(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="fp_weight must be in"):
        lsh_params(0.5, fp_weight=2)
    with pytest.raises(ValueError, match="signatures must have at least"):
        candidate_pairs([np.zeros(3)], 2, 2)
    with pytest.raises(ValueError, match="bands must be an int in"):
        near_duplicates(["a"], bands=0)


# -- quality filters ---------------------------------------------------------------
def test_quality_rules_fire_on_the_documents_they_target():
    prose = (
        "The results of the study show that people who have a garden with trees and "
        "flowers tend to be happier than those without one. "
    ) * 3
    assert quality_filter(prose) == []
    assert "min_words" in quality_filter("too short with the and of")
    assert "max_words" in quality_filter(prose, max_words=10)
    assert "min_mean_word_length" in quality_filter("a b c d e f the and of to " * 10)
    assert "max_mean_word_length" in quality_filter(prose + " " + "x" * 2000)
    bullets = "\n".join(f"- item {i} of the list and more" for i in range(60))
    assert "max_bullet_lines" in quality_filter(bullets)
    trailing = "\n".join(f"and then the story of {i} went on..." for i in range(60))
    assert "max_ellipsis_lines" in quality_filter(trailing)
    assert "min_alpha_words" in quality_filter("the and of " + "123 456 789 " * 30)
    assert "max_duplicate_lines" in quality_filter("\n".join([prose] * 3))
    assert quality_filter(prose, min_stop_words=None, min_words=1000) == ["min_words"]
    assert len(STOP_WORDS) == 8


def test_quality_signals_of_empty_text_and_bad_input():
    s = quality_signals("")
    assert s["n_words"] == 0 and s["mean_word_length"] == 0.0 and s["alpha_words"] == 0.0
    with pytest.raises(TypeError, match="text must be a str"):
        quality_signals(None)
    with pytest.raises(ValueError, match="limits must name rules"):
        quality_filter("x", min_word=3)


def test_filter_corpus_on_python_docs_keeps_most_topics_and_gives_reasons():
    from fmref.text.corpus import python_docs_topics

    docs = list(python_docs_topics().values())
    kept, rejected = filter_corpus(docs)
    assert len(kept) + len(rejected) == len(docs)
    assert len(kept) > 0.8 * len(docs)
    assert all(reasons for reasons in rejected.values())


# -- packing ------------------------------------------------------------------------
def test_packing_keeps_every_token_in_order_and_marks_documents():
    rng = random.Random(0)
    docs = [[rng.randrange(2, 50) for _ in range(rng.randint(1, 30))] for _ in range(20)]
    tokens, doc_ids = pack_documents(docs, block_size=16, sep_id=1, pad_id=0)
    flat, owner = tokens.flatten().tolist(), doc_ids.flatten().tolist()
    expected = [t for d in docs for t in (*d, 1)]
    assert flat[: len(expected)] == expected
    assert set(flat[len(expected) :]) <= {0} and set(owner[len(expected) :]) <= {-1}
    assert owner[: len(expected)] == [i for i, d in enumerate(docs) for _ in range(len(d) + 1)]


def test_document_mask_blocks_attention_across_documents():
    tokens, doc_ids = pack_documents([[5, 6], [7, 8, 9], [4]], block_size=5, sep_id=1)
    mask = document_mask(doc_ids)
    assert mask.shape == (2, 5, 5)
    assert mask[0, 2, 1] and not mask[0, 3, 2]  # doc 1 does not see doc 0
    assert not mask[0, 1, 2]  # causal
    assert (mask.sum(-1) >= 1).all()  # no empty softmax row
    # attention with the mask equals attending to each document separately
    q = torch.randn(1, 5, 4)
    out = torch.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=mask[:1])
    alone = torch.nn.functional.scaled_dot_product_attention(
        q[:, :3], q[:, :3], q[:, :3], is_causal=True
    )
    torch.testing.assert_close(out[:, :3], alone)
    assert document_positions(doc_ids)[0].tolist() == [0, 1, 2, 0, 1]


def test_padding_fraction_and_packing_validation():
    assert padding_fraction([512, 512], 512) == 0.0
    assert padding_fraction([10], 100) == 0.9
    assert padding_fraction([10] * 10, 100, packed=True) == 0.0
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        pack_documents([[1]], block_size=0, sep_id=1)
    with pytest.raises(ValueError, match="docs must hold at least one"):
        pack_documents([], block_size=4, sep_id=1)
    with pytest.raises(ValueError, match="lengths must be a non-empty"):
        padding_fraction([], 4)
    with pytest.raises(ValueError, match="doc_ids must be a 2-D tensor"):
        document_mask(torch.zeros(3))
    with pytest.raises(ValueError, match="doc_ids must be a 2-D tensor"):
        document_positions(torch.zeros(3))


# -- contamination ---------------------------------------------------------------------
def test_contamination_flags_items_copied_from_the_corpus():
    from fmref.text.corpus import python_docs_topics

    topics = python_docs_topics()
    corpus = [topics[k] for k in ("if", "while", "for")]
    copied = " ".join(topics["while"].split()[20:60])
    fresh = "Which planet in the solar system has the most moons according to recent counts?"
    flagged, fractions = find_contaminated([copied, fresh], corpus, n=13)
    assert flagged == [0] and fractions[0] == 1.0 and fractions[1] == 0.0
    flagged, _ = find_contaminated([copied, fresh], corpus, n=13, threshold=0.5)
    assert flagged == [0]


def test_ngram_helpers_and_validation():
    assert ngrams("", 3) == set()
    assert ngrams("a b", 3) == {("a", "b")}
    assert overlap_fraction("", build_ngram_index(["a b c"], 2), 2) == 0.0
    with pytest.raises(ValueError, match="n must be a positive int"):
        ngrams("a", 0)
    with pytest.raises(ValueError, match="n must be a positive int"):
        build_ngram_index(["a"], n=0)
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\]"):
        find_contaminated(["a"], ["a"], threshold=0)
