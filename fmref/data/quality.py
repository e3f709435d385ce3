"""Model-based quality filtering, in the manner of FineWeb-Edu and DCLM.

Rule filters (:mod:`fmref.data.filters`) catch what cheap statistics can see:
menus, keyword lists, repeated lines. They pass text whose words are fine but
whose sentences are not, such as shuffled or machine-spun prose. Recent
pretraining sets add a *classifier*: DCLM trains a fastText bag-of-bigrams
model to tell reference-quality text (instruction data, ELI5 answers) from
random crawl and keeps the top-scoring tenth of the crawl; FineWeb-Edu has a
large model grade half a million pages for educational value and trains a small
regressor on those grades to filter the rest. Both keep the classifier tiny,
because it runs over trillions of tokens.

This module holds the small version of each piece:

* :func:`hashed_ngram_features` and :class:`NgramClassifier`: a logistic
  regression over hashed unigrams and bigrams (fastText's features without its
  embedding layer), fitted with L-BFGS. The prompt-injection detector of
  :mod:`fmref.agents.guard` is the same classifier.
* :func:`junk_snippets` and :func:`quality_examples`: labelled data. Good text is
  paragraphs of the Python documentation (:func:`fmref.text.corpus.python_docs`);
  low-quality text comes from five generators of the things a crawl is full of.
* :func:`web_crawl`: a synthetic crawl that mixes the two, and
  :func:`filtering_effect`: the tiny GPT trained on it unfiltered, rule-filtered
  and classifier-filtered for the same number of steps, scored on held-out
  documentation (a :mod:`fmref.zoo` recipe, ``"filtered-gpt"``).
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from fmref._validate import (
    check_in,
    check_instance,
    check_int,
    check_number,
    check_overrides,
    check_positive_int,
    check_probability,
)

__all__ = [
    "hashed_ngram_features",
    "NgramClassifier",
    "JUNK_KINDS",
    "doc_paragraphs",
    "junk_snippets",
    "quality_examples",
    "web_crawl",
    "perplexity_scores",
    "FILTERING_SETTINGS",
    "filtering_effect",
]

_TOKEN = re.compile(r"[a-z0-9']+|[^\sa-z0-9]")


def hashed_ngram_features(texts: Sequence[str], dim: int) -> np.ndarray:
    """Hashed binary unigrams and bigrams of lower-cased word and symbol tokens.

    Each text becomes a row of ``dim`` features: a unigram or bigram that
    occurs sets the feature at ``crc32(gram) % dim`` to 0.25 (a fixed scale that
    suits the default regularisation). Rows are not normalised by length: text
    the model has never seen then adds nothing to the score, instead of diluting
    what it has learned. Collisions are the price of a fixed size, as in
    fastText and Vowpal Wabbit.

    Parameters
    ----------
    texts : sequence of str
        The documents.
    dim : int
        Number of hashed features.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(texts), dim)``, values 0 or 0.25.

    Raises
    ------
    TypeError
        If ``texts`` is a single str or holds a non-str.
    ValueError
        If ``dim`` is not a positive int.

    Examples
    --------
    >>> from fmref.data.quality import hashed_ngram_features
    >>> x = hashed_ngram_features(["the cat sat", "the the the"], dim=64)
    >>> x.shape, int((x[0] > 0).sum()), int((x[1] > 0).sum())  # 3 + 2 grams; 1 + 1
    ((2, 64), 5, 2)
    """
    check_positive_int("dim", dim)
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of str, got one str")
    x = np.zeros((len(texts), dim))
    for row, text in enumerate(texts):
        check_instance(f"texts[{row}]", text, str)
        tokens = _TOKEN.findall(text.lower())
        grams = tokens + [a + " " + b for a, b in zip(tokens, tokens[1:])]
        for gram in grams:
            x[row, zlib.crc32(gram.encode("utf-8")) % dim] = 0.25
    return x


class NgramClassifier:
    """Logistic regression over :func:`hashed_ngram_features`, fitted with L-BFGS.

    Parameters
    ----------
    dim : int, default 4096
        Number of hashed features.

    Raises
    ------
    ValueError
        If ``dim`` is not a positive int.

    Examples
    --------
    >>> from fmref.data.quality import NgramClassifier, quality_examples
    >>> texts, labels = quality_examples(2000, split="train")
    >>> clf = NgramClassifier().fit(texts, labels)
    >>> test_texts, test_labels = quality_examples(400, split="test")
    >>> predicted = clf.predict_proba(test_texts) >= 0.5
    >>> float((predicted == (test_labels == 1)).mean())  # accuracy on held-out text
    0.8575
    """

    def __init__(self, dim: int = 4096) -> None:
        self.dim = check_positive_int("dim", dim)
        self.weights: np.ndarray | None = None
        self.bias = 0.0

    def fit(self, texts: Sequence[str], labels: Sequence[int], l2: float = 1e-3,
            steps: int = 50) -> NgramClassifier:
        """Minimise the mean logistic loss plus ``l2 / 2 * ||w||^2`` with L-BFGS.

        The objective is convex, so the optimum does not depend on the solver;
        the tests compare it with scikit-learn's.

        Parameters
        ----------
        texts : sequence of str
            Training texts.
        labels : sequence of int
            1 (the positive class) or 0, one per text.
        l2 : float, default 1e-3
            Weight decay (the bias is not decayed).
        steps : int, default 50
            Iterations of L-BFGS (:func:`fmref.train.loop.minimize_lbfgs`).

        Returns
        -------
        NgramClassifier
            ``self``, fitted.

        Raises
        ------
        ValueError
            If the lengths differ, a label is not 0 or 1, both classes are not
            present, ``l2`` is negative or ``steps`` is not a positive int.
        """
        import torch

        from fmref.train.loop import minimize_lbfgs

        texts, y = list(texts), np.asarray(labels, dtype=float)
        if len(texts) != len(y) or not texts:
            raise ValueError(f"texts and labels must be non-empty and of equal length, "
                             f"got {len(texts)} and {len(y)}")
        if not np.isin(y, (0, 1)).all() or len(set(y.tolist())) < 2:
            raise ValueError("labels must be 0 or 1, with both classes present")
        check_number("l2", l2, low=0.0)
        check_positive_int("steps", steps)
        x = torch.from_numpy(hashed_ngram_features(texts, self.dim))
        target = torch.from_numpy(y)
        w = torch.zeros(self.dim + 1, dtype=torch.float64, requires_grad=True)  # bias last

        def objective() -> torch.Tensor:
            z = x @ w[:-1] + w[-1]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z, target)
            return loss + l2 / 2 * (w[:-1] @ w[:-1])

        minimize_lbfgs(objective, [w], steps, history_size=20, tolerance_grad=1e-10,
                       tolerance_change=1e-14)
        w = w.detach()
        self.weights, self.bias = w[:-1].numpy().copy(), float(w[-1])
        return self

    def loss(self, texts: Sequence[str], labels: Sequence[int], l2: float = 1e-3) -> float:
        """The training objective at the current weights (to compare with other solvers)."""
        x, y = hashed_ngram_features(list(texts), self.dim), np.asarray(labels, dtype=float)
        w = self._fitted()
        return float(np.mean(np.logaddexp(0.0, x @ w + self.bias) - y * (x @ w + self.bias))
                     + l2 / 2 * w @ w)

    def _fitted(self) -> np.ndarray:
        if self.weights is None:
            raise ValueError("the classifier must be fitted first: call fit(texts, labels)")
        return self.weights

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """The probability of the positive class for each text, shape ``(len(texts),)``."""
        w = self._fitted()
        z = hashed_ngram_features(texts, self.dim) @ w + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def score(self, text: str) -> float:
        """The probability of the positive class for one text."""
        check_instance("text", text, str)
        return float(self.predict_proba([text])[0])


# -- labelled data ------------------------------------------------------------------------------
#: The kinds of low-quality text :func:`junk_snippets` generates.
JUNK_KINDS = ("boilerplate", "spam", "markup", "repeated", "word_salad")

_NAV = ["Home", "About us", "Contact", "Blog", "Login", "Sign up", "Products", "Pricing",
        "Careers", "Support", "FAQ", "Shop", "News", "Events", "Downloads", "Partners"]
_FOOTER = ["We use cookies to improve your experience. Accept all | Manage settings",
           "Copyright 2024 Example Media Ltd. All rights reserved.",
           "Privacy Policy · Terms of Use · Cookie Policy · Sitemap",
           "Subscribe to our newsletter for the latest deals!",
           "Follow us on Facebook, Twitter and Instagram",
           "Click here to read more >>", "Share this page: Email | Print | Tweet",
           "Posted by admin in Uncategorized | Leave a comment"]
_SPAM = ["best", "cheap", "free", "download", "online", "2024", "top", "deals", "buy", "now",
         "discount", "review", "guide", "tutorial", "crack", "full version", "no signup",
         "fast", "sale", "official", "coupon", "python", "course", "pdf"]
_TAGS = ['<div class="nav">', "</div>", '<a href="/">', "</a>", "<br/>", "&nbsp;", "&amp;",
         '<span style="color:#333">', "</span>", "var _gaq = _gaq || [];",
         "function(){return false;}", '<img src="/img/banner.gif">', "{{ widget }}", "</li><li>"]


def doc_paragraphs(split: str = "train", min_words: int = 20) -> list[str]:
    """Paragraphs of the Python documentation corpus: the manual's reference-quality text.

    Whitespace is collapsed and exact duplicates are dropped (the help topics
    repeat 176 of their 1,027 long training paragraphs); a ``"validation"``
    paragraph that also occurs in the training split is dropped too, so the two
    share nothing.

    Parameters
    ----------
    split : {"train", "validation", "all"}, default "train"
        Which split of :func:`fmref.text.corpus.python_docs`.
    min_words : int, default 20
        Shorter paragraphs (headings, code fragments) are dropped.

    Returns
    -------
    list of str
        Paragraphs in corpus order (first occurrences).

    Raises
    ------
    ValueError
        If ``split`` is unknown or ``min_words`` is negative.

    Examples
    --------
    >>> from fmref.data.quality import doc_paragraphs
    >>> len(doc_paragraphs("train")), len(doc_paragraphs("validation"))
    (851, 70)
    """
    from fmref.text.corpus import SPLITS, python_docs

    check_in("split", split, SPLITS)
    check_int("min_words", min_words, low=0)
    paragraphs = (" ".join(p.split()) for p in python_docs(split).split("\n\n"))
    unique = dict.fromkeys(p for p in paragraphs if len(p.split()) >= min_words)
    if split == "validation":
        seen = set(doc_paragraphs("train", min_words))
        return [p for p in unique if p not in seen]
    return list(unique)


def junk_snippets(n: int, kind: str, seed: int = 0, source: Sequence[str] | None = None
                  ) -> list[str]:
    """``n`` low-quality snippets of one kind, of the sorts a web crawl is full of.

    * ``"boilerplate"``: navigation bars, cookie banners and footers;
    * ``"spam"``: keyword lists for search engines;
    * ``"markup"``: HTML and script debris around a few words;
    * ``"repeated"``: one sentence of real text, repeated;
    * ``"word_salad"``: a real paragraph with its words shuffled (right words,
      wrong order: spun or machine-garbled text, which passes word-level rules).

    Parameters
    ----------
    n : int
        Number of snippets.
    kind : str
        One of :data:`JUNK_KINDS`.
    seed : int, default 0
        Seed of the generator.
    source : sequence of str, optional
        Real paragraphs that ``"repeated"``, ``"word_salad"`` and ``"markup"``
        draw from (default: :func:`doc_paragraphs` of the training split).

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        If ``n`` is negative, ``kind`` is unknown or ``source`` is empty.

    Examples
    --------
    >>> from fmref.data.quality import junk_snippets
    >>> junk_snippets(1, "spam", seed=3)[0][:38]
    'deals sale free fast free fast tutoria'
    >>> len(junk_snippets(5, "word_salad"))
    5
    """
    check_int("n", n, low=0)
    check_in("kind", kind, JUNK_KINDS)
    source = list(doc_paragraphs("train") if source is None else source)
    if not source:
        raise ValueError("source must hold at least one paragraph")
    rng = random.Random(f"{kind}-{seed}")
    out = []
    for _ in range(n):
        if kind == "boilerplate":
            lines = [" | ".join(rng.sample(_NAV, rng.randint(4, 8)))]
            lines += rng.sample(_FOOTER, rng.randint(2, 4))
            out.append("\n".join(lines))
        elif kind == "spam":
            out.append(" ".join(rng.choice(_SPAM) for _ in range(rng.randint(25, 60))))
        elif kind == "markup":
            words = rng.choice(source).split()
            start = rng.randrange(max(1, len(words) - 6))
            bits = [rng.choice(_TAGS) for _ in range(rng.randint(8, 16))]
            bits.insert(rng.randrange(len(bits)), " ".join(words[start:start + 6]))
            out.append("".join(bits))
        elif kind == "repeated":
            sentence = re.split(r"(?<=\.)\s", rng.choice(source))[0]
            out.append(" ".join([sentence] * rng.randint(4, 8)))
        else:  # word_salad
            words = rng.choice(source).split()
            rng.shuffle(words)
            out.append(" ".join(words))
    return out


def quality_examples(n: int = 400, split: str = "train", seed: int = 0,
                     kinds: Sequence[str] = JUNK_KINDS) -> tuple[list[str], np.ndarray]:
    """Labelled snippets for a quality classifier: half documentation (1), half junk (0).

    The ``"train"`` split draws good paragraphs and the real text inside junk
    from the corpus's training split; ``"test"`` draws both from its
    validation split, with another seed, so no test snippet shares a paragraph
    with a training one.

    Parameters
    ----------
    n : int, default 400
        Number of examples (even).
    split : {"train", "test"}, default "train"
        Which paragraphs to draw from.
    seed : int, default 0
        Seed of the draw.
    kinds : sequence of str, default :data:`JUNK_KINDS`
        The junk kinds, in equal shares (to hold a kind out of training).

    Returns
    -------
    texts : list of str
        Good and junk snippets interleaved.
    labels : numpy.ndarray of int
        1 for documentation, 0 for junk.

    Raises
    ------
    ValueError
        If ``n`` is not a positive even int, ``split`` is unknown or ``kinds``
        is empty or names an unknown kind.

    Examples
    --------
    >>> from fmref.data.quality import quality_examples
    >>> texts, labels = quality_examples(10, kinds=["spam"])
    >>> labels.tolist()
    [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]
    """
    check_positive_int("n", n)
    if n % 2:
        raise ValueError(f"n must be even (half good, half junk), got {n}")
    check_in("split", split, ("train", "test"))
    kinds = list(kinds)
    if not kinds:
        raise ValueError("kinds must name at least one of JUNK_KINDS")
    for kind in kinds:
        check_in("kinds", kind, JUNK_KINDS)
    offset = 0 if split == "train" else 1000
    paragraphs = doc_paragraphs("train" if split == "train" else "validation")
    rng = random.Random(seed + offset)
    good = [rng.choice(paragraphs) for _ in range(n // 2)]
    junk = []
    for i, kind in enumerate(kinds):
        share = n // 2 // len(kinds) + (i < n // 2 % len(kinds))
        junk += junk_snippets(share, kind, seed=seed + offset, source=paragraphs)
    random.Random(seed + offset + 1).shuffle(junk)
    texts = [t for pair in zip(good, junk) for t in pair]
    return texts, np.tile([1, 0], n // 2)


def web_crawl(n_docs: int = 2000, junk_fraction: float = 0.5, seed: int = 0
              ) -> tuple[list[str], np.ndarray]:
    """A synthetic crawl: documentation paragraphs with junk of every kind mixed in.

    Good documents are the training split's paragraphs in a random order (each
    at most once); the junk is :func:`junk_snippets` of every kind in equal
    shares, with seeds that :func:`quality_examples` does not use.

    Parameters
    ----------
    n_docs : int, default 2000
        Documents in the crawl.
    junk_fraction : float, default 0.5
        Share of junk documents.
    seed : int, default 0
        Seed of the draw and of the order.

    Returns
    -------
    docs : list of str
        The crawl, shuffled.
    is_good : numpy.ndarray of bool
        Which documents are documentation (the truth a filter is scored on).

    Raises
    ------
    ValueError
        If ``n_docs`` is not positive, asks for more good documents than the
        training split holds, or ``junk_fraction`` is not in [0, 1].

    Examples
    --------
    >>> from fmref.data.quality import web_crawl
    >>> docs, is_good = web_crawl(100, junk_fraction=0.3)
    >>> len(docs), int(is_good.sum())
    (100, 70)
    """
    check_positive_int("n_docs", n_docs)
    check_probability("junk_fraction", junk_fraction)
    paragraphs = doc_paragraphs("train")
    n_junk = round(n_docs * junk_fraction)
    n_good = n_docs - n_junk
    if n_good > len(paragraphs):
        raise ValueError(f"n_docs * (1 - junk_fraction) must be at most {len(paragraphs)} "
                         f"(the training paragraphs), got {n_good}")
    rng = random.Random(seed)
    good = rng.sample(paragraphs, n_good)
    junk = []
    for i, kind in enumerate(JUNK_KINDS):
        share = n_junk // len(JUNK_KINDS) + (i < n_junk % len(JUNK_KINDS))
        junk += junk_snippets(share, kind, seed=seed + 5000, source=paragraphs)
    docs = [(d, True) for d in good] + [(d, False) for d in junk]
    rng.shuffle(docs)
    return [d for d, _ in docs], np.array([g for _, g in docs], dtype=bool)


def perplexity_scores(docs: Sequence[str], model: Any, tokenizer: Any,
                      context_len: int | None = None) -> np.ndarray:
    """Each document's perplexity under a language model: CCNet's quality signal.

    Wenzek et al. (2020) scored every Common Crawl paragraph with an n-gram model
    trained on Wikipedia and kept the low-perplexity part. A model trained on
    good text finds shuffled words and keyword lists surprising; it also finds
    repetition easy, so it keeps repeated text that rules catch.

    Parameters
    ----------
    docs : sequence of str
        The documents.
    model : torch.nn.Module
        A causal language model mapping ``(1, T)`` ids to ``(1, T, V)`` logits
        (e.g. the tiny GPT of :func:`fmref.zoo.tiny_gpt`).
    tokenizer : object
        Its tokenizer (``encode(str) -> list[int]``).
    context_len : int, optional
        Window length (default: the model's ``config.block_size``).

    Returns
    -------
    numpy.ndarray
        One perplexity per document (:func:`fmref.eval.perplexity.perplexity`
        with windows that overlap by one token).

    Raises
    ------
    TypeError
        If ``docs`` is a single str.
    ValueError
        If a document has fewer than two tokens.

    Examples
    --------
    >>> from fmref.data.quality import junk_snippets, perplexity_scores
    >>> from fmref.zoo import tiny_gpt
    >>> model, tokenizer, _ = tiny_gpt()
    >>> text = "The if statement is used for conditional execution."
    >>> ppl = perplexity_scores([text, junk_snippets(1, "word_salad")[0]], model, tokenizer)
    >>> [round(float(p), 1) for p in ppl]
    [44.6, 106.1]
    """
    import torch

    from fmref.eval.perplexity import window_nll

    if isinstance(docs, str):
        raise TypeError("docs must be a sequence of str, got one str")
    context_len = context_len or model.config.block_size
    by_length: dict[int, list[int]] = {}  # documents of one length share their windows
    encoded = []
    for i, doc in enumerate(docs):
        check_instance(f"docs[{i}]", doc, str)
        ids = tokenizer.encode(doc)
        if len(ids) < 2:
            raise ValueError(f"docs[{i}] must have at least two tokens, got {len(ids)}")
        encoded.append(ids)
        by_length.setdefault(len(ids), []).append(i)
    out = np.empty(len(docs))
    was_training = model.training
    model.eval()
    for n, which in by_length.items():
        rows = torch.tensor([encoded[i] for i in which])
        t = min(context_len, n)  # windows that overlap by one token
        nll = window_nll(model, rows, context_len=t, stride=t - 1, batch_size=64)
        out[which] = np.exp(np.array(nll) / (n - 1))
    model.train(was_training)
    return out


# -- what filtering buys ------------------------------------------------------------------------
#: Settings of :func:`filtering_effect` (the ``"filtered-gpt"`` recipe).
FILTERING_SETTINGS: dict[str, Any] = {
    "n_docs": 3200,  # crawl size: 800 documentation paragraphs and 2,400 junk snippets
    "junk_fraction": 0.75,  # a crawl is mostly junk (most of Common Crawl is filtered away)
    "classifier_examples": 2000,  # labelled snippets the classifier is fitted on
    "threshold": 0.5,  # keep a document whose P(good) reaches this
    "keep_good": 0.95,  # perplexity cut: the quantile of held-out documentation it keeps
    "n_layer": 2,  # a smaller GPT than the tiny GPT: three of them are trained
    "n_head": 4,
    "n_embd": 64,
    "block_size": 64,
    "steps": 300,  # the same number of steps (tokens seen) for every run
    "batch_size": 16,
    "lr_max": 3e-3,
    "lr_min": 3e-4,
    "warmup": 30,
    "weight_decay": 0.1,
    "eval_interval": 50,
    "eval_batches": 8,
    "seed": 0,
}


def _train_filtered(settings: dict[str, Any]) -> dict[str, Any]:
    import torch

    from fmref.data.filters import filter_corpus
    from fmref.models.gpt import GPT, GPTConfig
    from fmref.text.corpus import python_docs
    from fmref.train.loop import TrainConfig, train
    from fmref.zoo import one_thread, tiny_gpt

    s = settings
    _, tokenizer, _ = tiny_gpt()  # its BPE tokenizer, trained on the documentation
    docs, is_good = web_crawl(s["n_docs"], s["junk_fraction"], seed=s["seed"])
    clf = NgramClassifier().fit(*quality_examples(s["classifier_examples"], "train", s["seed"]))
    lm, _, _ = tiny_gpt()
    held_out = perplexity_scores(doc_paragraphs("validation"), lm, tokenizer)
    cut = np.quantile(held_out, s["keep_good"])
    keep = {
        "unfiltered": np.ones(len(docs), dtype=bool),
        "rules": np.isin(np.arange(len(docs)), filter_corpus(docs, min_words=20)[0]),
        "classifier": clf.predict_proba(docs) >= s["threshold"],
        "perplexity": perplexity_scores(docs, lm, tokenizer) <= cut,
        "oracle": is_good,
    }
    val_ids = torch.tensor(tokenizer.encode(python_docs("validation")))
    runs = {}
    for name, mask in keep.items():
        text = "\n\n".join(d for d, k in zip(docs, mask) if k)
        ids = torch.tensor(tokenizer.encode(text))
        torch.manual_seed(s["seed"])
        model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=s["block_size"],
                              n_layer=s["n_layer"], n_head=s["n_head"], n_embd=s["n_embd"],
                              dropout=0.0))
        with one_thread():
            history = train(model, ids, TrainConfig.from_settings(s), val_data=val_ids)
        runs[name] = {
            "kept": int(mask.sum()),
            "kept_good": int((mask & is_good).sum()),
            "kept_junk": int((mask & ~is_good).sum()),
            "tokens": int(ids.numel()),
            "val_step": history["val_step"],
            "val_loss": history["val_loss"],
        }
    return {"runs": runs, "n_good": int(is_good.sum()), "n_junk": int((~is_good).sum()),
            "perplexity_cut": float(cut)}


def filtering_effect(**overrides: Any) -> dict[str, Any]:
    """Train a small GPT on a junk-laden crawl, unfiltered and filtered; cached.

    The crawl is :func:`web_crawl`. Four runs see the same number of steps of
    ``batch_size`` windows (so the same number of tokens) from

    * ``"unfiltered"``: every document;
    * ``"rules"``: the documents :func:`fmref.data.filters.filter_corpus` keeps
      (Gopher's rules, with ``min_words=20`` for paragraph-sized documents);
    * ``"classifier"``: those an :class:`NgramClassifier` fitted on
      :func:`quality_examples` scores at least ``threshold``;
    * ``"perplexity"``: those whose :func:`perplexity_scores` under the tiny
      GPT are at most the ``keep_good`` quantile of the held-out
      documentation's (CCNet's filter; the tiny GPT was trained on the
      crawl's good paragraphs, which flatters this filter);
    * ``"oracle"``: exactly the documentation (the best a filter could do).

    Each model is scored on the validation split of the documentation: the
    text a filter is meant to favour. The tokenizer is the tiny GPT's.

    Parameters
    ----------
    **overrides
        Settings to change from :data:`FILTERING_SETTINGS`.

    Returns
    -------
    dict
        ``runs``: per run, the documents kept (``kept``, ``kept_good``,
        ``kept_junk``), the training ``tokens``, and the validation history
        (``val_step``, ``val_loss``); ``n_good`` and ``n_junk`` of the crawl.

    Raises
    ------
    ValueError
        If an override names an unknown setting.

    Examples
    --------
    >>> from fmref.data.quality import filtering_effect
    >>> runs = filtering_effect()["runs"]
    >>> for name, r in runs.items():
    ...     print(f"{name:>10}: kept {r['kept_good']:>4} good + {r['kept_junk']:>4} junk, "
    ...           f"validation loss {r['val_loss'][-1]:.3f}")
    unfiltered: kept  800 good + 2400 junk, validation loss 4.897
         rules: kept  618 good +  786 junk, validation loss 4.814
    classifier: kept  757 good +  525 junk, validation loss 4.719
    perplexity: kept  792 good +  818 junk, validation loss 4.781
        oracle: kept  800 good +    0 junk, validation loss 4.639
    """
    from fmref.zoo import cached

    settings = check_overrides("overrides", overrides, FILTERING_SETTINGS)
    return cached("filtered-gpt", settings, lambda: _train_filtered(settings))
