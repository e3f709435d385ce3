"""fmref.rag.faithfulness: sentences and citations, the grounding rule, the hand labels."""

import pytest

from fmref.rag.faithfulness import (
    check_grounding,
    citations,
    labelled_agreement,
    load_faithfulness_labels,
    split_sentences,
    word_support,
)


def test_sentences_keep_their_citations():
    answer = "It ends the loop. [1] The else clause is skipped [1][2]. See [3]? Done!"
    assert split_sentences(answer) == [
        "It ends the loop [1].",
        "The else clause is skipped [1][2].",
        "See [3]?",
        "Done!",
    ]
    assert citations("The else clause is skipped [1][2][1].") == (
        [1, 2], "The else clause is skipped.")  # fmt: skip


def test_an_answer_is_grounded_only_if_every_sentence_cites_a_supporting_passage():
    passages = ["break terminates the nearest enclosing loop.", "pass does nothing."]
    assert check_grounding("break terminates the enclosing loop [1].", passages)["grounded"]
    # an uncited sentence, a wrong citation, a citation of a passage that does not exist
    for answer in ("break terminates the enclosing loop.",
                   "break terminates the enclosing loop [2].",
                   "break terminates the enclosing loop [1][3]."):  # fmt: skip
        assert not check_grounding(answer, passages)["grounded"], answer
    # one of several cited passages is enough
    assert check_grounding("pass does nothing [1][2].", passages)["grounded"]


def test_word_support_stems_lightly():
    assert word_support("skipping loops", "it skips the loop") == 1.0
    assert word_support("the of a", "anything") == 1.0  # no content words: nothing to support


@pytest.fixture(scope="module")
def labels():
    return load_faithfulness_labels()


def test_every_label_is_justified_by_a_quote_or_a_reason(labels):
    assert len(labels) == 32
    assert sum(item["supported"] for item in labels) == 16  # balanced
    for item in labels:
        passage = " ".join(item["passage"].split())
        if item["supported"]:
            assert " ".join(item["why"].split()) in passage, item["claim"]
        else:
            assert len(item["why"].split()) >= 5, item["claim"]
    kinds = {item["kind"] for item in labels}
    assert kinds == {"quote", "paraphrase", "contradiction", "wrong passage", "unsupported detail"}


def test_agreement_counts_match_the_checker_item_by_item(labels):
    from sklearn.metrics import cohen_kappa_score  # golden: scikit-learn's kappa

    predicted = [check_grounding(f"{x['claim']} [1]", [x["passage"]])["grounded"] for x in labels]
    reference = [x["supported"] for x in labels]
    r = labelled_agreement()
    assert r["n"] == 32
    assert r["agreement"] == pytest.approx(sum(p == t for p, t in zip(predicted, reference)) / 32,
                                           abs=1e-4)  # fmt: skip
    assert r["kappa"] == pytest.approx(cohen_kappa_score(predicted, reference), abs=1e-4)
    # a word-overlap checker cannot see a flipped negation or a changed number: the
    # contradictions are the kind it gets wrong most often, the wrong passages never
    by_kind = r["by_kind"]
    assert by_kind["contradiction"] < min(v for k, v in by_kind.items() if k != "contradiction")
    assert by_kind["wrong passage"] == 1.0
