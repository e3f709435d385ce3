r"""A task whose answers a program can check: sums of digits, and a base model for it.

Reinforcement learning with verifiable rewards needs three things: prompts, a
rule that scores an answer without a learned model, and a *base* model that
sometimes gets the answer right. This module holds all three at toy scale.

**The task.** A question is a sum of two to four digits, ``"4+7+2="``, and
the answer is the sum's last digit (3 here: the sum modulo 10, as an AIME
answer is an integer modulo 1000). A response either answers at once
(``"answer 3"``) or works through the sum one addition at a time, each step
adding the next digit to the last digit of the step before, then answers
(``"4+7=11, 1+2=3, answer 3"``). Each step is a lookup in a table of 90 sums;
the answer at once needs the whole sum in one forward pass. :func:`verify`
is the rule-based reward: 1 if the response ends with ``answer`` and the
right digit, else 0. :func:`step_labels` checks every step of a worked
response on its own (is ``a + b = c`` true, is ``a`` the last digit of the
step before and ``b`` the next digit), which gives the labels of a process
reward model for free.

**The base model.** :func:`train_base_model` pretrains a tiny GPT on a corpus
that mixes the two kinds of response, as web text mixes bare answers with
worked solutions: most responses answer at once, and a few worked steps hold
a slip (a total off by one or two, carried on to a wrong answer). The loss
covers the responses (the questions are random digits, which nothing can
predict); there is no instruction, no chat format and no feedback: what the
model learns to do unprompted, and how often it is right each way, is what RL
starts from (:mod:`fmref.align.rlvr`).
"""

from __future__ import annotations

import random

import torch

from fmref._validate import check_instance, check_int, check_overrides
from fmref.align._recipe import fit_gpt, load_gpt
from fmref.models.gpt import GPT, GPTConfig
from fmref.train.objectives import causal_lm_loss

__all__ = [
    "SumsTokenizer",
    "TOKENIZER",
    "MIN_TERMS",
    "MAX_TERMS",
    "sum_problem",
    "is_held_out",
    "worked_response",
    "verify",
    "step_labels",
    "BASE_SETTINGS",
    "train_base_model",
]

#: Settings of :func:`train_base_model`.
BASE_SETTINGS = {
    "worked_share": 0.4,  # responses of the corpus that work through the sum
    "slip": 0.05,  # chance per step that a worked response's total is off by 1 or 2
    "block_size": 40,  # tokens: the longest question and worked response, with room
    "n_layer": 2,
    "n_head": 4,
    "n_embd": 48,
    "steps": 1000,  # AdamW steps on one thread
    "batch_size": 32,  # texts per step
    "lr": 1e-2,  # peak learning rate, cosine decay to a tenth
    "warmup": 30,
    "seed": 0,
}


class SumsTokenizer:
    """Tokens of the task: ``<eos>``, ``+``, ``=``, ``,``, ``answer`` and the numbers 0-99.

    Every number is one token, so a step ``11+2=13`` is five tokens. Spaces are
    not tokens: :meth:`decode` writes one after ``,`` and after ``answer``.

    Examples
    --------
    >>> from fmref.align.verifiable import SumsTokenizer
    >>> tok = SumsTokenizer()
    >>> ids = tok.encode("4+7=11, answer 11")
    >>> [tok.vocab[i] for i in ids]
    ['4', '+', '7', '=', '11', ',', 'answer', '11']
    >>> tok.decode(ids), tok.vocab_size
    ('4+7=11, answer 11', 105)
    """

    EOS, PLUS, EQUALS, COMMA, ANSWER = 0, 1, 2, 3, 4

    def __init__(self):
        self.vocab = ["<eos>", "+", "=", ",", "answer"] + [str(i) for i in range(100)]
        self._ids = {t: i for i, t in enumerate(self.vocab)}

    @property
    def vocab_size(self):
        """Number of tokens."""
        return len(self.vocab)

    def number(self, token):
        """The value of a number token, or ``None`` for any other token."""
        return token - 5 if token >= 5 else None

    def encode(self, text):
        """Token ids of ``text``; :class:`ValueError` for anything outside the vocabulary."""
        check_instance("text", text, str)
        ids = []
        for word in text.replace(",", " , ").replace("+", " + ").replace("=", " = ").split():
            if word not in self._ids:
                raise ValueError(f"text must hold only {self.vocab[1:5]} and numbers 0-99, "
                                 f"got {word!r}")
            ids.append(self._ids[word])
        return ids

    def decode(self, ids):
        """The text of token ids (``<eos>`` and what follows it dropped)."""
        out = ""
        for i in ids:
            i = int(i)
            if i == self.EOS:
                break
            out += self.vocab[i] + (" " if i in (self.COMMA, self.ANSWER) else "")
        return out.rstrip()


#: The tokenizer of the task (it has no state).
TOKENIZER = SumsTokenizer()


def _check_digits(digits):
    check_instance("digits", digits, (list, tuple))
    if len(digits) < 2 or any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 9
                              for d in digits):
        raise ValueError(f"digits must hold at least two ints in [0, 9], got {digits!r}")
    return digits


def _check_response(response):
    check_instance("response", response, (list, tuple))
    if any(isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < TOKENIZER.vocab_size
           for t in response):
        raise ValueError(f"response must hold token ids in [0, {TOKENIZER.vocab_size}), "
                         f"got {response!r}")
    return response


def is_held_out(digits):
    """Whether a question is held out of training: those whose last digit is 5 (a ninth).

    Parameters
    ----------
    digits : sequence of int
        The question's digits.

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        If ``digits`` is not at least two digits.

    Examples
    --------
    >>> from fmref.align.verifiable import is_held_out
    >>> is_held_out([4, 7, 5]), is_held_out([4, 5, 2])
    (True, False)
    """
    return _check_digits(digits)[-1] == 5


#: Fewest and most digits in a question.
MIN_TERMS, MAX_TERMS = 2, 4


def sum_problem(rng, held_out=False, min_terms=MIN_TERMS, max_terms=MAX_TERMS):
    """A random question: its digits, its prompt tokens and its answer.

    Parameters
    ----------
    rng : random.Random
        Source of randomness.
    held_out : bool, default False
        Draw from the held-out questions (:func:`is_held_out`) instead of the others.
    min_terms, max_terms : int, default 2, 4
        Number of digits (1-9 each), drawn uniformly in ``[min_terms, max_terms]``.

    Returns
    -------
    dict
        ``digits`` (list of int), ``prompt`` (token ids of ``"d1+d2+...="``),
        ``answer`` (int: the sum's last digit).

    Raises
    ------
    ValueError
        If ``min_terms < 2`` or ``max_terms`` is outside ``[min_terms, 11]`` (the sum
        stays below 100, one token).

    Examples
    --------
    >>> import random
    >>> from fmref.align.verifiable import TOKENIZER, sum_problem
    >>> p = sum_problem(random.Random(0))
    >>> p["digits"], TOKENIZER.decode(p["prompt"]), p["answer"]
    ([8, 7, 5, 8], '8+7+5+8=', 8)
    """
    check_instance("rng", rng, random.Random)
    check_int("min_terms", min_terms, low=2)
    check_int("max_terms", max_terms, low=min_terms, high=11)
    while True:
        digits = [rng.randint(1, 9) for _ in range(rng.randint(min_terms, max_terms))]
        if is_held_out(digits) == held_out:
            break
    text = "+".join(map(str, digits)) + "="
    return {"digits": digits, "prompt": TOKENIZER.encode(text), "answer": sum(digits) % 10}


def worked_response(digits, slip_at=None, slip_by=1):
    """The text of a response that works through the sum, one step per digit after the first.

    Each step adds the next digit to the last digit of the step before.

    Parameters
    ----------
    digits : sequence of int
        The question's digits.
    slip_at : int, optional
        Index of a step whose total is off by ``slip_by``; the later steps carry
        the wrong total on, so the answer is wrong too.
    slip_by : int, default 1
        The slip.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        If ``digits`` is not at least two digits or ``slip_at`` is not a step.

    Examples
    --------
    >>> from fmref.align.verifiable import worked_response
    >>> worked_response([4, 7, 2])
    '4+7=11, 1+2=3, answer 3'
    >>> worked_response([4, 7, 2], slip_at=0)
    '4+7=12, 2+2=4, answer 4'
    """
    _check_digits(digits)
    if slip_at is not None:
        check_int("slip_at", slip_at, low=0, high=len(digits) - 2)
    check_int("slip_by", slip_by)
    total, steps = digits[0], []
    for i, d in enumerate(digits[1:]):
        new = total + d + (slip_by if i == slip_at else 0)
        if new < 0:  # a slip below zero goes the other way
            new = total + d - slip_by
        steps.append(f"{total}+{d}={new}")
        total = new % 10  # carry on with the last digit only
    return ", ".join(steps + [f"answer {total}"])


def _parse(response):
    """Steps ``(a, b, c, end)`` of a response's tokens, the answer and whether the format held."""
    tok, ids = TOKENIZER, [int(t) for t in response]
    if tok.EOS in ids:
        ids = ids[: ids.index(tok.EOS)]
    steps, i = [], 0
    while i + 5 < len(ids) and ids[i + 1] == tok.PLUS and ids[i + 3] == tok.EQUALS \
            and ids[i + 5] == tok.COMMA:
        a, b, c = (tok.number(ids[j]) for j in (i, i + 2, i + 4))
        if None in (a, b, c):
            break
        steps.append((a, b, c, i + 5))
        i += 6
    ok = len(ids) == i + 2 and ids[i] == tok.ANSWER and tok.number(ids[i + 1]) is not None
    return steps, (tok.number(ids[i + 1]) if ok else None), i + 1


def verify(digits, response):
    """The rule-based reward: 1.0 if the response ends with ``answer`` and the sum's last digit.

    The response must be steps (any number, right or wrong: only the outcome
    counts) followed by ``answer N`` and then ``<eos>`` or nothing; anything else
    scores 0. No model is involved, so there is nothing for the policy to fool
    except the format itself.

    Parameters
    ----------
    digits : sequence of int
        The question's digits.
    response : sequence of int
        Response token ids (the prompt excluded).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``digits`` is not at least two digits or ``response`` holds a non-token.

    Examples
    --------
    >>> from fmref.align.verifiable import TOKENIZER, verify
    >>> verify([4, 7, 2], TOKENIZER.encode("answer 3"))
    1.0
    >>> verify([4, 7, 2], TOKENIZER.encode("4+7=12, 2+2=4, answer 4"))
    0.0
    >>> verify([4, 7, 2], TOKENIZER.encode("answer 3, answer 3"))  # not the format
    0.0
    """
    _check_digits(digits)
    _, answer, _ = _parse(_check_response(response))
    return float(answer == sum(digits) % 10)


def step_labels(digits, response):
    """Whether each step of a response is right, and where the step ends.

    Step :math:`t` (``a+b=c,``) is right when :math:`a` is the last digit of the
    previous step's total (the first digit for the first step), :math:`b` is
    the next digit and :math:`c = a + b`; the final ``answer N`` step is right
    when :math:`N` is the sum's last digit. Each step is judged on its own, as
    the labellers of PRM800K judged each step of a solution: a step that
    correctly carries on an earlier wrong total is right. A response that does
    not end with ``answer N`` gets a last label 0 at its last token.

    Parameters
    ----------
    digits : sequence of int
        The question's digits.
    response : sequence of int
        Response token ids.

    Returns
    -------
    list of (int, int)
        ``(position, label)``: the index in ``response`` of the token that ends
        the step (its ``,``, or the answer's number) and 1 or 0.

    Raises
    ------
    ValueError
        If ``digits`` is not at least two digits or ``response`` holds a non-token.

    References
    ----------
    .. [1] Lightman et al., "Let's Verify Step by Step", ICLR 2024.

    Examples
    --------
    >>> from fmref.align.verifiable import TOKENIZER, step_labels
    >>> step_labels([4, 7, 2], TOKENIZER.encode("4+7=12, 2+2=4, answer 4"))
    [(5, 0), (11, 1), (13, 0)]
    """
    _check_digits(digits)
    steps, answer, last = _step_ends(_check_response(response))
    labels, total = [], digits[0]
    for t, (a, b, c, pos) in enumerate(steps):
        nxt = digits[t + 1] if t + 1 < len(digits) else None
        labels.append((pos, int(a == total and b == nxt and c == a + b)))
        total = c % 10
    return labels + [(last, int(answer == sum(digits) % 10))]


def _step_ends(response):
    """Steps, answer, and the position of the last step's end: the answer's number, or
    the response's last token when it does not end with ``answer N``."""
    steps, answer, end = _parse(response)
    return steps, answer, end if answer is not None else max(len(response) - 1, 0)


def _corpus_text(rng, s):
    p = sum_problem(rng)
    if rng.random() < s["worked_share"]:
        slips = len(p["digits"]) - 1
        at = rng.randrange(slips) if rng.random() < s["slip"] * slips else None
        response = worked_response(p["digits"], at, rng.choice([-2, -1, 1, 2]))
    else:
        response = f"answer {p['answer']}"
    return p["prompt"], TOKENIZER.encode(response) + [TOKENIZER.EOS]


def _config(s):
    return GPTConfig(vocab_size=TOKENIZER.vocab_size, block_size=s["block_size"],
                     n_layer=s["n_layer"], n_head=s["n_head"], n_embd=s["n_embd"], dropout=0.0)


def _batch(rng, s):
    rows = [_corpus_text(rng, s) for _ in range(s["batch_size"])]
    T = max(len(p) + len(r) for p, r in rows)
    x = torch.full((len(rows), T), TOKENIZER.EOS, dtype=torch.long)  # (B, T)
    y = torch.full((len(rows), T), -100, dtype=torch.long)  # no loss on padding or questions
    for i, (p, r) in enumerate(rows):
        x[i, : len(p) + len(r)] = torch.tensor(p + r)
        y[i, len(p): len(p) + len(r)] = torch.tensor(r)
    return x, y


def _loss(model, batch):
    x, y = batch
    return causal_lm_loss(model(x), y)


def train_base_model(use_cache=True, **overrides):
    """Pretrain (or load from :mod:`fmref.zoo`'s cache) the base model of the sums task.

    A tiny GPT (2 layers, width 48) learns the corpus described in the
    module's docstring with the causal language-model loss on the responses.

    Parameters
    ----------
    use_cache : bool, default True
        Load the weights from the cache if present; train and store them otherwise.
    **overrides
        Settings to change from :data:`BASE_SETTINGS`.

    Returns
    -------
    model : fmref.models.gpt.GPT
        The base model, over :data:`TOKENIZER`, in eval mode.
    history : list of float
        The causal language-model loss on the responses at every step.

    Raises
    ------
    ValueError
        If an override names an unknown setting.

    Examples
    --------
    >>> from fmref.align.verifiable import train_base_model
    >>> model, history = train_base_model(use_cache=False, steps=2, n_layer=1, n_embd=16)
    >>> len(history), model.config.vocab_size, model.config.block_size
    (2, 105, 40)
    """
    s = check_overrides("overrides", overrides, BASE_SETTINGS)

    def train():  # defined here: this module's code enters the cache key
        return fit_gpt(_config(s), lambda rng: _batch(rng, s), _loss, s)

    from fmref.zoo import cached

    return load_gpt(_config(s), cached("sums-base", s, train) if use_cache else train())


def _start_from(base, use_cache):
    """The model a sums recipe starts from: ``base``, or the cached base model if None."""
    if base is None:
        return train_base_model(use_cache=use_cache)[0]
    if use_cache:
        raise ValueError("use_cache must be False when a base model is given (a run from "
                         "another model is not a recipe)")
    return check_instance("base", base, GPT)
