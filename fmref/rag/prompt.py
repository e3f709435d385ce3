"""Assembling a retrieval-augmented prompt with numbered citations.

The retrieved passages are pasted into the prompt, each under a number, and
the model is asked to answer from them only and to cite the numbers it used
(Lewis et al., 2020, retrieve passages and condition generation on them; the
numbered format is what lets a reader, or a checker, verify each claim).
"""

from __future__ import annotations

__all__ = ["build_prompt"]

_INSTRUCTIONS = (
    "Answer the question using only the numbered passages below. "
    "Cite the passages you use as [1], [2], ... after each claim. "
    "If the passages do not contain the answer, say that you do not know."
)


def build_prompt(question, passages, instructions=_INSTRUCTIONS):
    """A prompt holding the instructions, numbered passages and the question.

    Parameters
    ----------
    question : str
        The user's question (non-empty).
    passages : sequence of str or of (str, str)
        Retrieved passages, best first; a pair is ``(source, text)`` and the
        source is shown beside the number.
    instructions : str, optional
        The opening instructions (default: answer from the passages, cite
        them as ``[n]``, admit when they do not contain the answer).

    Returns
    -------
    str
        The prompt; passage ``i`` (from 1) is introduced by ``[i]``.

    Raises
    ------
    ValueError
        If ``question`` is empty or ``passages`` is empty.
    TypeError
        If a passage is neither a str nor a pair of str.

    References
    ----------
    .. [1] Lewis et al., "Retrieval-Augmented Generation for Knowledge-Intensive
       NLP Tasks", NeurIPS 2020.

    Examples
    --------
    >>> from fmref.rag.prompt import build_prompt
    >>> print(build_prompt("Is a tuple mutable?",
    ...                    [("typesseq", "Tuples are immutable sequences."), "Lists are mutable."],
    ...                    instructions="Answer from the passages; cite them as [n]."))
    Answer from the passages; cite them as [n].
    <BLANKLINE>
    [1] (typesseq) Tuples are immutable sequences.
    <BLANKLINE>
    [2] Lists are mutable.
    <BLANKLINE>
    Question: Is a tuple mutable?
    Answer:
    """
    if not isinstance(question, str) or not question.strip():
        raise ValueError("question must be a non-empty str")
    if isinstance(passages, str) or len(passages) == 0:
        raise ValueError("passages must be a non-empty list of passages (str or (source, str))")
    blocks = [instructions.strip()]
    for i, passage in enumerate(passages, start=1):
        if isinstance(passage, str):
            blocks.append(f"[{i}] {passage.strip()}")
        elif (
            isinstance(passage, (tuple, list))
            and len(passage) == 2
            and all(isinstance(p, str) for p in passage)
        ):
            blocks.append(f"[{i}] ({passage[0]}) {passage[1].strip()}")
        else:
            raise TypeError(f"passages[{i - 1}] must be a str or a (source, text) pair of str")
    blocks.append(f"Question: {question.strip()}\nAnswer:")
    return "\n\n".join(blocks)
