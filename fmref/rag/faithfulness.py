"""Faithfulness: is every cited sentence of an answer supported by its passage?

A retrieval-augmented answer cites numbered passages (:mod:`fmref.rag.prompt`).
:func:`check_grounding` splits the answer into sentences, reads each sentence's
citations and scores the sentence against each cited passage two ways:

- *word support*: the fraction of the sentence's content words (lightly
  stemmed) that occur in the passage, a precision-like overlap;
- *similarity*: the largest cosine between the sentence's all-MiniLM-L6-v2
  embedding and those of the passage's sentences.

A sentence is supported when either score reaches its threshold (set before the
hand labels were scored: 0.75 and 0.7), and the answer is grounded when every
sentence cites an existing passage that supports it. Both signals are blind
to a flipped negation or a changed number that keeps the words: a checker of
this kind catches citations of the wrong passage and claims about other things,
not contradictions, for which a natural-language-inference model or an LLM
judge is used (Chapter XXII). :func:`load_faithfulness_labels` holds sentences
about the Python docs, each labelled by hand as supported or not by one
passage, with a verbatim quote or a reason; :func:`labelled_agreement` scores
the checker against them.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from fmref._validate import check_in, check_number

__all__ = [
    "split_sentences",
    "citations",
    "word_support",
    "check_grounding",
    "load_faithfulness_labels",
    "labelled_agreement",
]

_DATA = Path(__file__).resolve().parent / "data" / "faithfulness_labels.json"
_CITE = re.compile(r"\[(\d+)\]")


def split_sentences(text):
    """Split text into sentences at ``.``, ``!`` or ``?`` (after any citations) and a space.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    list of str
        The sentences, stripped, citations kept with the sentence they end.

    Raises
    ------
    TypeError
        If ``text`` is not a str.

    Examples
    --------
    >>> from fmref.rag.faithfulness import split_sentences
    >>> split_sentences("It ends the loop [1]. The else clause is skipped [2]! Done?")
    ['It ends the loop [1].', 'The else clause is skipped [2]!', 'Done?']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = re.sub(r"([.!?])((?:\s*\[\d+\])+)", r"\2\1", text)  # "x. [1]" -> "x [1]."
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def citations(sentence):
    """The passage numbers a sentence cites, and the sentence without them.

    Parameters
    ----------
    sentence : str
        One sentence.

    Returns
    -------
    numbers : list of int
        Cited numbers, in order, each once.
    claim : str
        The sentence with its ``[n]`` markers removed.

    Raises
    ------
    TypeError
        If ``sentence`` is not a str.

    Examples
    --------
    >>> from fmref.rag.faithfulness import citations
    >>> citations("break skips the else clause [2][1].")
    ([2, 1], 'break skips the else clause.')
    """
    if not isinstance(sentence, str):
        raise TypeError(f"sentence must be a str, got {type(sentence).__name__}")
    numbers = list(dict.fromkeys(int(n) for n in _CITE.findall(sentence)))
    claim = re.sub(r"\s+([.!?,;:])", r"\1", _CITE.sub("", sentence))
    return numbers, " ".join(claim.split())


def _stem(word):
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2]:  # skipp -> skip
                word = word[:-1]
            break
    return word


def word_support(claim, passage):
    """Fraction of a claim's content words found in a passage (after light stemming).

    Parameters
    ----------
    claim : str
        The sentence, without citations.
    passage : str
        The cited passage.

    Returns
    -------
    float
        In ``[0, 1]``; 1.0 for a claim without content words.

    Raises
    ------
    TypeError
        If an argument is not a str.

    Examples
    --------
    >>> from fmref.rag.faithfulness import word_support
    >>> passage = "It terminates the nearest enclosing loop, skipping the else clause."
    >>> word_support("break skips the loop's else clause", passage)  # 4 of 5: "break" is missing
    0.8
    """
    from fmref.rag.agentic import content_words
    from fmref.rag.bm25 import tokenize

    if not isinstance(passage, str):
        raise TypeError(f"passage must be a str, got {type(passage).__name__}")
    words = {_stem(w) for w in content_words(claim) if len(w) > 1}
    if not words:
        return 1.0
    have = {_stem(w) for w in tokenize(passage)}
    return len(words & have) / len(words)


def check_grounding(answer, passages, encoder=None, word_threshold=0.75, sim_threshold=0.7):
    """Check that every cited sentence of an answer is supported by a passage it cites.

    Parameters
    ----------
    answer : str
        The answer, citing passages as ``[1]``, ``[2]``, ... (numbered from 1).
    passages : list of str
        The passages shown to the model, passage ``i`` at index ``i - 1``.
    encoder : fmref.rag.minilm.SentenceEncoder, optional
        Embeds sentences for the similarity score; ``None`` uses word support only.
    word_threshold : float, default 0.75
        Word support at or above which a sentence is supported.
    sim_threshold : float, default 0.7
        Cosine similarity at or above which a sentence is supported.

    Returns
    -------
    dict
        ``grounded`` (bool: every sentence cites only existing passages and is
        supported by one of them) and ``sentences``: for each sentence a dict with
        ``claim``, ``cited``, ``missing`` (cited numbers with no passage),
        ``word_support`` and ``similarity`` (best over the cited passages;
        ``None`` without an encoder) and ``supported``.

    Raises
    ------
    ValueError
        If ``answer`` is empty or a threshold is outside ``[0, 1]``.
    TypeError
        If ``passages`` is a str.

    Examples
    --------
    >>> from fmref.rag.faithfulness import check_grounding
    >>> passages = ["break terminates the nearest enclosing loop, skipping the else clause.",
    ...             "pass is a null operation: nothing happens."]
    >>> r = check_grounding("break ends the enclosing loop [1]. It also deletes the loop "
    ...                     "variable [2]. The else clause is skipped [3].", passages)
    >>> [(s["cited"], round(s["word_support"], 2), s["supported"]) for s in r["sentences"]]
    [([1], 0.75, True), ([2], 0.0, False), ([3], 0.0, False)]
    >>> r["grounded"], r["sentences"][2]["missing"]
    (False, [3])
    """
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError("answer must be a non-empty str")
    if isinstance(passages, str):
        raise TypeError("passages must be a list of str, not a str: wrap it as [passage]")
    check_number("word_threshold", word_threshold, 0.0, 1.0)
    check_number("sim_threshold", sim_threshold, 0.0, 1.0)
    results = []
    for sentence in split_sentences(answer):
        cited, claim = citations(sentence)
        valid = [n for n in cited if 1 <= n <= len(passages)]
        words = max((word_support(claim, passages[n - 1]) for n in valid), default=0.0)
        sim = None
        if encoder is not None:
            sim = max((_similarity(encoder, claim, passages[n - 1]) for n in valid), default=0.0)
        supported = bool(valid) and (
            words >= word_threshold or (sim is not None and sim >= sim_threshold)
        )
        results.append({"claim": claim, "cited": cited,
                        "missing": [n for n in cited if n not in valid],
                        "word_support": words, "similarity": sim,
                        "supported": supported})  # fmt: skip
    grounded = all(r["supported"] and not r["missing"] for r in results)
    return {"grounded": grounded, "sentences": results}


def _similarity(encoder, claim, passage):
    vectors = encoder.embed([claim, *split_sentences(passage)])  # (1 + S, d) unit rows
    return float((vectors[1:] @ vectors[0]).max())


@functools.lru_cache(maxsize=1)
def _labels():
    return json.loads(_DATA.read_text(encoding="utf-8"))


def load_faithfulness_labels():
    """Hand-labelled claims about the Python docs, each against one passage.

    Every item is a sentence an answer might contain, the passage it cites (the
    chunk ``chunk`` of topic ``topic`` in :func:`fmref.rag.evalset.corpus_chunks`),
    the label ``supported`` (true or false) and its justification: ``evidence``,
    a verbatim quote of the passage that supports the sentence, or ``reason``,
    why the passage does not (a test checks that every quote is in its passage).

    Returns
    -------
    list of dict
        Each ``{"claim", "topic", "chunk", "passage", "supported", "kind", "why"}``;
        ``kind`` says how the sentence was written (``"quote"``, ``"paraphrase"``,
        ``"contradiction"``, ``"wrong passage"``, ``"unsupported detail"``).

    Raises
    ------
    ImportError
        If the ``fmref[rag]`` extra (which cuts the chunks) is missing.

    Examples
    --------
    >>> from fmref.rag.faithfulness import load_faithfulness_labels
    >>> labels = load_faithfulness_labels()
    >>> sorted(labels[0])
    ['chunk', 'claim', 'kind', 'passage', 'supported', 'topic', 'why']
    """
    from fmref.rag.evalset import corpus_chunks

    texts, topics = corpus_chunks()
    first = {}
    for i, t in enumerate(topics):
        first.setdefault(t, i)
    out = []
    for item in _labels()["items"]:
        out.append({
            "claim": item["claim"],
            "topic": item["topic"],
            "chunk": item["chunk"],
            "passage": texts[first[item["topic"]] + item["chunk"]],
            "supported": item["supported"],
            "kind": item["kind"],
            "why": item.get("evidence") or item["reason"],
        })  # fmt: skip
    return out


def labelled_agreement(encoder=None, **thresholds):
    """Agreement of :func:`check_grounding` with the hand labels.

    Parameters
    ----------
    encoder : fmref.rag.minilm.SentenceEncoder, optional
        As for :func:`check_grounding` (``None``: word support only).
    **thresholds
        ``word_threshold`` and ``sim_threshold`` of :func:`check_grounding`.

    Returns
    -------
    dict
        ``n`` (labelled sentences), ``agreement`` with its bootstrap interval
        ``low``, ``high`` and Cohen's ``kappa`` (:func:`fmref.eval.judge.agreement`),
        and ``by_kind``: for each kind of sentence, the share the checker got right.

    Raises
    ------
    ValueError
        If a threshold is outside ``[0, 1]``.

    Examples
    --------
    >>> from fmref.rag.faithfulness import labelled_agreement
    >>> r = labelled_agreement()  # word support only
    >>> r["n"], 0 <= r["kappa"] <= 1
    (32, True)
    """
    from fmref.eval.judge import agreement

    for name, value in thresholds.items():
        check_in("thresholds", name, ("word_threshold", "sim_threshold"))
        check_number(name, value, 0.0, 1.0)
    labels = load_faithfulness_labels()
    predicted = [
        check_grounding(f"{item['claim']} [1]", [item["passage"]], encoder, **thresholds)[
            "grounded"
        ]
        for item in labels
    ]
    reference = [item["supported"] for item in labels]
    result = agreement(predicted, reference)
    by_kind = {}
    for item, p in zip(labels, predicted):
        by_kind.setdefault(item["kind"], []).append(p == item["supported"])
    return {
        "n": len(labels),
        **{k: round(float(v), 4) for k, v in result.items()},
        "by_kind": {k: round(sum(v) / len(v), 4) for k, v in sorted(by_kind.items())},
    }
