"""The retrieval evaluation set: well-formed labels over the indexed corpus."""

import pytest

from fmref.rag.evalset import CHUNK_SETTINGS, corpus_chunks, evaluate, load_evalset, topic_ranking
from fmref.text.corpus import python_docs_topics


def test_questions_are_labelled_with_known_topics():
    questions = load_evalset()
    topics = python_docs_topics()
    assert len(questions) >= 60
    assert len({q["question"] for q in questions}) == len(questions)  # no duplicates
    for q in questions:
        assert q["question"].endswith("?"), q
        assert q["relevant"] and set(q["relevant"]) <= set(topics), q
        assert set(q["relevant"].values()) <= {1, 2}, q
        assert 2 in q["relevant"].values(), q  # one topic is about the question


def test_questions_do_not_copy_the_docs():
    # Written in everyday words: no question shares a run of 8 words with its topics.
    topics = python_docs_topics()
    for q in load_evalset():
        words = q["question"].lower().rstrip("?").split()
        grams = {" ".join(words[i : i + 8]) for i in range(len(words) - 7)}
        for topic in q["relevant"]:
            text = " ".join(topics[topic].lower().split())
            assert not any(g in text for g in grams), q["question"]


@pytest.fixture(scope="module")
def chunks():
    return corpus_chunks()  # the weights package is in the test extra: required


def test_chunks_fit_the_encoder_and_cover_every_topic(chunks):
    from fmref.rag.minilm import minilm_files
    from fmref.text.wordpiece import WordPieceTokenizer

    texts, topics = chunks
    tok = WordPieceTokenizer.from_file(minilm_files() / "vocab.txt")
    assert len(texts) == len(topics)
    assert set(topics) == set(python_docs_topics())
    assert max(topics.count(t) for t in set(topics)) == CHUNK_SETTINGS["chunks_per_topic"]
    lengths = [len(tok.tokenize(t)) for t in texts]
    assert max(lengths) <= CHUNK_SETTINGS["max_tokens"]
    for text, topic in zip(texts, topics):
        assert text in python_docs_topics()[topic]


def test_a_ranking_that_puts_the_best_topic_first_scores_one(chunks):
    _, topics = chunks
    questions = [q for q in load_evalset() if len(q["relevant"]) == 1][:5]
    rankings = [[topics.index(next(iter(q["relevant"])))] for q in questions]
    assert evaluate(rankings, questions) == {"recall@5": 1.0, "mrr": 1.0, "ndcg@10": 1.0}


def test_topic_ranking_keeps_the_best_chunk_of_each_topic():
    assert topic_ranking([2, 1, 0, 3], ["a", "b", "b", "a"]) == ["b", "a"]


def test_evaluate_needs_one_ranking_per_question():
    with pytest.raises(ValueError, match="rankings"):
        evaluate([[0]], [{"question": "q", "relevant": {"a": 2}}] * 2, ["a"])
