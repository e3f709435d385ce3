"""Tests of fmref.data.quality, fmref.data.mixing and fmref.data.synthetic: the model-based
quality filters and what they buy, mixture weights, Self-Instruct's loop and ROUGE-L."""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.data.filters import filter_corpus
from fmref.data.mixing import doremi_update, epochs_per_source, mixture_counts, temperature_weights
from fmref.data.quality import (
    JUNK_KINDS,
    NgramClassifier,
    doc_paragraphs,
    filtering_effect,
    hashed_ngram_features,
    junk_snippets,
    perplexity_scores,
    quality_examples,
    web_crawl,
)
from fmref.data.synthetic import lcs_length, rouge_l, self_instruct
from fmref.eval.perplexity import perplexity
from fmref.zoo import tiny_gpt


# -- data --------------------------------------------------------------------------------------
def test_train_and_test_examples_share_no_paragraph():
    train, _ = quality_examples(400, "train")
    test, _ = quality_examples(400, "test")
    train_good, test_good = set(train[0::2]), set(test[0::2])
    assert not train_good & test_good
    assert set(test_good) <= set(doc_paragraphs("validation"))


def test_web_crawl_holds_each_good_paragraph_once_and_every_junk_kind():
    docs, is_good = web_crawl(500, junk_fraction=0.6, seed=1)
    good = [d for d, g in zip(docs, is_good) if g]
    assert len(good) == len(set(good)) == 200 and len(docs) == 500
    assert set(good) <= set(doc_paragraphs("train"))
    junk = [d for d, g in zip(docs, is_good) if not g]
    # 300 junk snippets in equal shares of the five kinds: 60 boilerplate (with a nav bar)
    assert sum(" | " in d for d in junk) >= 60


def test_word_salad_keeps_the_words_and_repeated_repeats_a_sentence():
    source = ["The for statement iterates over the items of any sequence, in order."]
    salad = junk_snippets(3, "word_salad", source=source)
    assert all(sorted(s.split()) == sorted(source[0].split()) for s in salad)
    repeated = junk_snippets(1, "repeated", source=source)[0]
    assert repeated.count(source[0]) >= 4


# -- the classifier ----------------------------------------------------------------------------
def test_features_are_binary_presence_scaled_by_a_quarter():
    x = hashed_ngram_features(["spam spam spam", "spam"], dim=1 << 20)
    assert set(np.unique(x)) == {0.0, 0.25}
    assert (x[0] > 0).sum() == 2 and (x[1] > 0).sum() == 1  # "spam", "spam spam"; "spam"


def test_classifier_matches_scikit_learns_logistic_regression():
    # The objective is convex: fmref's L-BFGS and scikit-learn's solver reach the same optimum.
    from sklearn.linear_model import LogisticRegression

    texts, labels = quality_examples(300, "train")
    l2 = 1e-2
    clf = NgramClassifier(dim=512).fit(texts, labels, l2=l2, steps=200)
    sk = LogisticRegression(C=1 / (l2 * len(texts)), tol=1e-10, max_iter=5000)
    sk.fit(hashed_ngram_features(texts, 512), labels)
    assert np.allclose(clf.weights, sk.coef_[0], atol=1e-4)
    assert clf.bias == pytest.approx(sk.intercept_[0], abs=1e-4)


@pytest.fixture(scope="module")
def classifier():
    return NgramClassifier().fit(*quality_examples(2000, "train"))


def test_classifier_removes_menus_spam_and_markup_but_not_repetition(classifier):
    # What the chapter states: the bag of bigrams sees which words and pairs occur, so it
    # removes menus, spam and markup, and cannot see that a real sentence is repeated.
    source = doc_paragraphs("validation")
    kept = {k: (classifier.predict_proba(junk_snippets(100, k, seed=77, source=source)) >= 0.5)
            .mean() for k in JUNK_KINDS}
    for kind in ("boilerplate", "spam", "markup"):
        assert kept[kind] <= 0.02, (kind, kept)
    assert kept["repeated"] >= 0.3
    assert (classifier.predict_proba(source) >= 0.5).mean() >= 0.85


def test_perplexity_scores_are_fmrefs_perplexity_per_document():
    model, tokenizer, _ = tiny_gpt()
    docs = ["The while statement is used for repeated execution as long as an expression "
            "is true.", "Lists are mutable sequences."]
    got = perplexity_scores(docs, model, tokenizer)
    for doc, p in zip(docs, got):
        ids = torch.tensor(tokenizer.encode(doc))
        t = min(model.config.block_size, ids.numel())
        assert p == perplexity(model, ids, context_len=t, stride=t - 1)
    with pytest.raises(ValueError, match="docs\\[0\\]"):
        perplexity_scores(["a"], model, tokenizer)


def test_filtering_moves_validation_loss_towards_the_oracle():
    # One seed-fixed run of each: the gaps asserted are several times the spread of the last
    # two evaluations of a run (0.04 nats here), so they are not noise of the final batch.
    result = filtering_effect()
    runs = result["runs"]
    final = {name: r["val_loss"][-1] for name, r in runs.items()}
    assert final["oracle"] < final["classifier"] < final["unfiltered"] - 0.05
    assert final["oracle"] < final["perplexity"] < final["unfiltered"] - 0.05
    assert runs["unfiltered"]["kept"] == 3200 and runs["oracle"]["kept_junk"] == 0
    assert result["n_good"] == 800 and result["n_junk"] == 2400
    for r in runs.values():
        assert r["kept"] == r["kept_good"] + r["kept_junk"]
    docs, is_good = web_crawl(3200, 0.75)
    kept, _ = filter_corpus(docs, min_words=20)
    assert runs["rules"]["kept"] == len(kept)


# -- mixing ------------------------------------------------------------------------------------
def test_temperature_weights_are_the_formula():
    sizes = np.array([5e9, 1e8, 2e6])
    for t in (1.0, 2.0, 1 / 0.3, 5.0):
        want = sizes ** (1 / t) / (sizes ** (1 / t)).sum()
        assert np.allclose(temperature_weights(sizes, t), want, rtol=1e-12)
    # larger temperatures flatten the mixture: the smallest source's share only grows
    shares = [temperature_weights(sizes, t)[-1] for t in (1, 2, 5, 100)]
    assert shares == sorted(shares)


@given(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=8), st.integers(1, 1000))
@settings(max_examples=100, deadline=None)
def test_mixture_counts_sum_to_n_and_stay_within_one_of_the_share(weights, n):
    if sum(weights) <= 0:
        return
    counts = mixture_counts(weights, n)
    share = np.asarray(weights) / sum(weights) * n
    assert counts.sum() == n and (np.abs(counts - share) < 1).all()


def test_epochs_per_source():
    assert epochs_per_source([100, 10], [0.5, 0.5], 220).tolist() == [1.1, 11.0]


def test_doremi_update_is_algorithm_1_of_the_paper():
    # alpha' = alpha * exp(eta * max(lambda, 0)) / Z; alpha = (1 - c) alpha' + c / k
    alpha, lam, eta, c = np.array([0.2, 0.3, 0.5]), np.array([0.4, -1.0, 0.1]), 0.7, 0.05
    raw = alpha * np.exp(eta * np.maximum(lam, 0))
    want = (1 - c) * raw / raw.sum() + c / 3
    assert np.allclose(doremi_update(alpha, lam, eta, c), want, rtol=1e-12)
    # no excess loss anywhere: the weights only move towards uniform by the smoothing
    assert np.allclose(doremi_update(alpha, [0, 0, 0], 1.0, 0.0), alpha)


# -- synthetic data ----------------------------------------------------------------------------
def _lcs_brute(a, b):
    for k in range(min(len(a), len(b)), 0, -1):
        subs = set(itertools.combinations(a, k))
        if any(s in subs for s in itertools.combinations(b, k)):
            return k
    return 0


@given(st.lists(st.sampled_from("abc"), max_size=7), st.lists(st.sampled_from("abc"), max_size=7))
@settings(max_examples=150, deadline=None)
def test_lcs_equals_brute_force(a, b):
    assert lcs_length(a, b) == _lcs_brute(a, b)


def test_rouge_l_of_lins_examples_and_its_tokenisation():
    # Lin (2004), section 3.1: S2 scores 3/4 and S3 scores 1/2 against S1.
    assert rouge_l("police kill the gunman", "police killed the gunman") == 0.75
    assert rouge_l("the gunman kill police", "police killed the gunman") == 0.5
    assert rouge_l("The Gunman, killed!", "the gunman killed") == 1.0
    assert rouge_l("", "a") == 0.0
    p, r = 2 / 3, 2 / 4  # "a c" is the LCS of "a b c" and "a x c y"
    assert math.isclose(rouge_l("a b c", "a x c y"), 2 * p * r / (p + r))


def test_self_instruct_counts_every_candidate_once_and_keeps_novel_filtered_ones():
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()

    def generate(prompt, rng):
        return " ".join(rng.sample(words, 3)) if rng.random() > 0.1 else "  "

    pool, stats = self_instruct(generate, ["sort a list", "reverse a string", "add numbers"],
                                n_new=8, keep=lambda t: "alpha" not in t, seed=3)
    assert stats["generated"] == sum(v for k, v in stats.items() if k != "generated")
    assert stats["kept"] == 8 and len(pool) == 11
    assert not any("alpha" in t for t in pool[3:])
    for i, task in enumerate(pool[3:], start=3):
        assert all(rouge_l(task, earlier) < 0.7 for earlier in pool[:i])
    pool2, stats2 = self_instruct(generate, ["sort a list", "reverse a string", "add numbers"],
                                  n_new=8, keep=lambda t: "alpha" not in t, seed=3)
    assert pool2 == pool and stats2 == stats
    _, capped = self_instruct(lambda p, r: "same", ["x", "y", "z"], n_new=5, max_tries=7)
    assert capped == {"generated": 7, "empty": 0, "too_similar": 6, "rejected": 0, "kept": 1}
