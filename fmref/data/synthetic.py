"""Synthetic data: a model writes training examples, filters decide what to keep.

Self-Instruct (Wang et al. 2023) grew 52,000 instructions from 175 hand-written
seed tasks: each round shows the model a few tasks from the pool, asks it for a
new one, and keeps the answer only if it is not too close to anything already
in the pool (ROUGE-L below 0.7) and passes simple quality rules. Alpaca,
Phi's "textbooks" and most post-training sets since are built by loops of this
shape. What decides their value is the filtering, so :func:`self_instruct`
returns what each filter removed along with the pool.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from fmref._validate import check_instance, check_int, check_positive_int, check_probability

__all__ = ["lcs_length", "rouge_l", "self_instruct"]


def _words(text: str) -> list[str]:
    """rouge-score's default tokenisation: lower case, runs of letters and digits."""
    out, word = [], []
    for ch in text.lower():
        if ch.isalnum():
            word.append(ch)
        elif word:
            out.append("".join(word))
            word = []
    if word:
        out.append("".join(word))
    return out


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token sequences.

    Dynamic programming over one row, :math:`O(|a| |b|)` time and
    :math:`O(|b|)` memory.

    Parameters
    ----------
    a, b : sequence of str
        Token sequences.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``a`` or ``b`` is not a list, tuple or str.

    Examples
    --------
    >>> from fmref.data.synthetic import lcs_length
    >>> lcs_length("police killed the gunman".split(), "police kill the gunman".split())
    3
    """
    check_instance("a", a, (list, tuple, str))
    check_instance("b", b, (list, tuple, str))
    row = [0] * (len(b) + 1)
    for x in a:
        prev_diag = 0
        for j, y in enumerate(b, start=1):
            prev_diag, row[j] = row[j], prev_diag + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F-measure of two texts (Lin 2004), as Self-Instruct's novelty filter uses it.

    With :math:`L` the longest common subsequence of the two word sequences,
    recall :math:`R = L / |\\text{reference}|`, precision
    :math:`P = L / |\\text{candidate}|` and :math:`F = 2PR / (P + R)`. Words
    are lower-cased runs of letters and digits (the tokenisation of Google's
    ``rouge-score`` package).

    Parameters
    ----------
    candidate, reference : str
        The two texts.

    Returns
    -------
    float
        In [0, 1]; 0 if either text has no words.

    Raises
    ------
    TypeError
        If either is not a str.

    References
    ----------
    .. [1] Lin, "ROUGE: A Package for Automatic Evaluation of Summaries", 2004.

    Examples
    --------
    Lin's own example: against "police killed the gunman", "police kill the
    gunman" shares 3 of 4 words in order, "the gunman kill police" only 2.

    >>> from fmref.data.synthetic import rouge_l
    >>> rouge_l("police kill the gunman", "police killed the gunman")
    0.75
    >>> rouge_l("the gunman kill police", "police killed the gunman")
    0.5
    """
    a = _words(check_instance("candidate", candidate, str))
    b = _words(check_instance("reference", reference, str))
    lcs = lcs_length(a, b)
    if lcs == 0:
        return 0.0
    p, r = lcs / len(a), lcs / len(b)
    return 2 * p * r / (p + r)


def self_instruct(
    generate: Callable[[str, random.Random], str],
    seed_tasks: Sequence[str],
    n_new: int,
    *,
    n_demos: int = 3,
    max_similarity: float = 0.7,
    keep: Callable[[str], bool] | None = None,
    max_tries: int | None = None,
    seed: int = 0,
) -> tuple[list[str], dict[str, int]]:
    """Grow a pool of tasks from seeds with a generator and Self-Instruct's filters.

    Each try builds a prompt of ``n_demos`` tasks drawn from the pool (one per
    line, then an empty line for the new task), asks ``generate`` for a
    candidate, and keeps it only if

    1. it is not empty,
    2. its ROUGE-L with every task in the pool is below ``max_similarity``
       (Self-Instruct's 0.7), and
    3. ``keep(candidate)`` is true (a quality filter, e.g. rules or a classifier).

    Kept tasks join the pool and can be shown as demonstrations later.

    Parameters
    ----------
    generate : callable
        ``generate(prompt, rng) -> str``: the model.
    seed_tasks : sequence of str
        The hand-written start of the pool (at least ``n_demos``).
    n_new : int
        Tasks to add.
    n_demos : int, default 3
        Demonstrations per prompt.
    max_similarity : float, default 0.7
        ROUGE-L at or above which a candidate counts as a near-duplicate.
    keep : callable, optional
        Quality filter; default keeps everything.
    max_tries : int, optional
        Stop after this many candidates (default ``20 * n_new``).
    seed : int, default 0
        Seed of the demonstration draws and of ``rng``.

    Returns
    -------
    pool : list of str
        Seeds, then the kept tasks in order.
    stats : dict of str to int
        ``generated``, ``empty``, ``too_similar``, ``rejected`` (by ``keep``)
        and ``kept``.

    Raises
    ------
    ValueError
        If there are fewer seeds than ``n_demos``, or a size or
        ``max_similarity`` is out of range.
    TypeError
        If ``generate`` or ``keep`` is not callable.

    References
    ----------
    .. [1] Wang et al., "Self-Instruct: Aligning Language Models with
       Self-Generated Instructions", ACL 2023.

    Examples
    --------
    A "model" that fills a template (a real one is in Appendix B):

    >>> from fmref.data.synthetic import self_instruct
    >>> def generate(prompt, rng):
    ...     return f"Write a function that adds {rng.randint(1, 3)} to a number."
    >>> pool, stats = self_instruct(generate, ["Sort a list.", "Reverse a string.",
    ...                                        "Count the vowels in a word."], n_new=2)
    >>> stats
    {'generated': 40, 'empty': 0, 'too_similar': 39, 'rejected': 0, 'kept': 1}
    >>> pool[3]
    'Write a function that adds 2 to a number.'
    """
    if not callable(generate):
        raise TypeError(f"generate must be callable, got {type(generate).__name__}")
    if keep is not None and not callable(keep):
        raise TypeError(f"keep must be callable or None, got {type(keep).__name__}")
    n_demos = check_positive_int("n_demos", n_demos)
    pool = [check_instance(f"seed_tasks[{i}]", t, str) for i, t in enumerate(seed_tasks)]
    if len(pool) < n_demos:
        raise ValueError(f"seed_tasks must hold at least n_demos={n_demos} tasks, got {len(pool)}")
    n_new = check_int("n_new", n_new, low=0)
    max_similarity = check_probability("max_similarity", max_similarity)
    max_tries = 20 * n_new if max_tries is None else check_int("max_tries", max_tries, low=0)
    rng = random.Random(seed)
    stats = {"generated": 0, "empty": 0, "too_similar": 0, "rejected": 0, "kept": 0}
    while stats["kept"] < n_new and stats["generated"] < max_tries:
        prompt = "\n".join(rng.sample(pool, n_demos)) + "\n"
        candidate = " ".join(generate(prompt, rng).split())
        stats["generated"] += 1
        if not candidate:
            stats["empty"] += 1
        elif any(rouge_l(candidate, task) >= max_similarity for task in pool):
            stats["too_similar"] += 1
        elif keep is not None and not keep(candidate):
            stats["rejected"] += 1
        else:
            pool.append(candidate)
            stats["kept"] += 1
    return pool, stats
