"""A tiny CLIP and a tiny multimodal language model on scikit-learn's digits.

Both are trained once and cached (:func:`fmref.zoo.cached`) so that Chapters XIX
and XX and the gallery share them:

- :func:`digits_clip` trains a :class:`~fmref.multimodal.clip.CLIP` on 8x8 digits
  paired with captions such as "a photo of the digit seven", written with
  :data:`TRAIN_TEMPLATES` only and with :data:`HELD_OUT_DIGIT` left out, so that
  zero-shot accuracy can be measured on templates and on a class never seen;
- :func:`digits_lmm` connects the frozen image tower of that CLIP to a small GPT
  through a projector (:class:`~fmref.multimodal.lmm.LLaVA`) and trains projector
  and GPT to answer questions such as "which digit is this ?" by generation.

Texts use a word-level :class:`WordTokenizer` over a closed vocabulary.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fmref._validate import check_instance
from fmref.models.gpt import GPT, GPTConfig
from fmref.models.vit import digits_split
from fmref.multimodal.clip import CLIP, CLIPConfig, zero_shot_classify
from fmref.multimodal.contrastive import clip_loss
from fmref.multimodal.lmm import LLaVA
from fmref.train.loop import chunk_means, cosine_schedule, epoch_batches, fit
from fmref.zoo import one_thread

__all__ = [
    "DIGIT_NAMES",
    "TRAIN_TEMPLATES",
    "UNSEEN_TEMPLATES",
    "HELD_OUT_DIGIT",
    "QUESTIONS",
    "WordTokenizer",
    "digits_tokenizer",
    "zero_shot_accuracy",
    "digits_clip",
    "digits_lmm",
    "answer",
]

#: Class names of the ten digits.
DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
#: Caption templates used in training.
TRAIN_TEMPLATES = [
    "a photo of the digit {}",
    "a picture of a {}",
    "the number {}",
    "a handwritten {}",
    "an image of the number {}",
]
#: Templates never used in training; some of their words never occur in training.
UNSEEN_TEMPLATES = [
    "a drawing of the digit {}",
    "a scan of a handwritten {}",
    "this is a {}",
    "the digit {} written by hand",
]
#: The digit whose images and name never occur in the CLIP's training data.
HELD_OUT_DIGIT = 9
#: Questions of the tiny LMM, each with the function of the label that answers it.
QUESTIONS = {
    "which digit is this ?": lambda y: DIGIT_NAMES[y],
    "what number is shown ?": lambda y: DIGIT_NAMES[y],
    "is the digit even or odd ?": lambda y: "odd" if y % 2 else "even",
}


class WordTokenizer:
    """Whitespace tokenizer over a closed vocabulary, with padding and end-of-text.

    Ids: ``0`` = ``<pad>``, ``1`` = ``<eos>``, ``2`` = ``<image>``, then the words.

    Parameters
    ----------
    words : iterable of str
        The vocabulary (duplicates are dropped, order kept).

    Examples
    --------
    >>> from fmref.multimodal.digits import WordTokenizer
    >>> tok = WordTokenizer(["a", "photo", "seven"])
    >>> tok.encode(["a photo", "seven"], length=4)
    tensor([[3, 4, 1, 0],
            [5, 1, 0, 0]])
    >>> tok.decode([5, 1, 0])
    'seven'
    >>> tok.encode(["a cat"], length=4)
    Traceback (most recent call last):
    ...
    ValueError: texts must use known words, got 'cat'
    """

    pad_id, eos_id, image_id = 0, 1, 2

    def __init__(self, words):
        if isinstance(words, str):
            raise TypeError("words must be a list of str, got one str")
        self.itos = ["<pad>", "<eos>", "<image>", *dict.fromkeys(words)]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    @property
    def vocab_size(self) -> int:
        """Number of ids, specials included."""
        return len(self.itos)

    def ids(self, text: str) -> list[int]:
        """Ids of the words of ``text`` (no end-of-text)."""
        for w in text.split():
            if w not in self.stoi:
                raise ValueError(f"texts must use known words, got {w!r}")
        return [self.stoi[w] for w in text.split()]

    def encode(self, texts, length: int) -> torch.Tensor:
        """``(n, length)`` ids: words, ``<eos>``, then ``<pad>``.

        Raises
        ------
        ValueError
            If a word is unknown or a text does not fit in ``length`` with its end-of-text.
        """
        out = torch.full((len(texts), length), self.pad_id, dtype=torch.long)
        for i, text in enumerate(texts):
            ids = self.ids(text) + [self.eos_id]
            if len(ids) > length:
                raise ValueError(f"length must fit {len(ids)} tokens of {text!r}, got {length}")
            out[i, : len(ids)] = torch.tensor(ids)
        return out

    def decode(self, ids) -> str:
        """Words up to the first ``<eos>``."""
        words = []
        for i in ids:
            if int(i) == self.eos_id:
                break
            words.append(self.itos[int(i)])
        return " ".join(words)


def digits_tokenizer() -> WordTokenizer:
    """The tokenizer of :func:`digits_clip` and :func:`digits_lmm`.

    Its vocabulary holds every word of the templates (seen and unseen), the digit
    names and the LMM's questions and answers, so that an unseen template is
    encoded, though its new words keep their untrained embeddings.

    Returns
    -------
    WordTokenizer

    Examples
    --------
    >>> from fmref.multimodal.digits import digits_tokenizer
    >>> tok = digits_tokenizer()
    >>> tok.vocab_size, tok.decode(tok.encode(["a photo of the digit seven"], 8)[0])
    (40, 'a photo of the digit seven')
    """
    texts = [*TRAIN_TEMPLATES, *UNSEEN_TEMPLATES, *QUESTIONS, "question : answer : even odd"]
    words = [w for t in texts for w in t.replace("{}", "").split()]
    return WordTokenizer([*words, *DIGIT_NAMES])


def zero_shot_accuracy(model, tokenizer, images, labels, templates, classes=range(10)) -> float:
    """Share of images whose zero-shot class (prompt-ensembled over ``templates``) is right.

    Parameters
    ----------
    model : CLIP
        The tiny CLIP of :func:`digits_clip`.
    tokenizer : WordTokenizer
        Its tokenizer.
    images, labels : torch.Tensor
        ``(n, 1, 8, 8)`` digits and their labels.
    templates : list of str
        Prompt templates with one ``{}`` for the digit's name.
    classes : iterable of int, default range(10)
        The candidate digits.

    Returns
    -------
    float
        Accuracy in ``[0, 1]``.

    Examples
    --------
    >>> from fmref.models.vit import digits_split
    >>> from fmref.multimodal.digits import (TRAIN_TEMPLATES, digits_clip, digits_tokenizer,
    ...                                      zero_shot_accuracy)
    >>> model, info = digits_clip()
    >>> _, _, x_test, y_test = digits_split()
    >>> seen = y_test != 9
    >>> zero_shot_accuracy(model, digits_tokenizer(), x_test[seen], y_test[seen],
    ...                    TRAIN_TEMPLATES) > 0.8
    True
    """
    if isinstance(templates, str) or len(templates) == 0:
        raise ValueError("templates must be a non-empty list of str with one {} field")
    classes = list(classes)
    prompts = torch.stack(
        [tokenizer.encode([t.format(DIGIT_NAMES[k]) for t in templates], 10) for k in classes]
    )  # (K, M, 10)
    pred, _ = zero_shot_classify(model, images, prompts)
    predicted = torch.tensor(classes)[pred]
    return (predicted == labels).float().mean().item()


# settings of the cached models (hashed into the cache key)
DIGITS_CLIP_SETTINGS = {
    "config": dict(
        image_size=8,
        patch_size=2,
        num_channels=1,
        vision_width=64,
        vision_layers=2,
        vision_heads=4,
        vision_mlp_dim=128,
        vocab_size=40,
        context_length=10,
        text_width=64,
        text_layers=2,
        text_heads=4,
        text_mlp_dim=128,
        projection_dim=32,
        eos_token_id=1,
    ),  # fmt: skip
    "epochs": 14,
    "batch_size": 64,
    "lr": 3e-3,
    "weight_decay": 0.1,
    "held_out_digit": HELD_OUT_DIGIT,
    "seed": 0,
}
DIGITS_LMM_SETTINGS = {
    "gpt": dict(vocab_size=40, block_size=32, n_layer=1, n_head=4, n_embd=64),
    "epochs": 8,
    "batch_size": 16,
    "lr": 2e-3,
    "seed": 0,
}


def _schedule(lr, total):
    """Warm-up over the first 5% of the steps, then cosine decay to 0."""
    return lambda step: cosine_schedule(step, max(1, total // 20), total, lr, 0.0)


def digits_clip() -> tuple[CLIP, dict]:
    """The tiny CLIP trained on digits and captions, without :data:`HELD_OUT_DIGIT`; cached.

    Each training image is paired with a caption from a random
    :data:`TRAIN_TEMPLATES` template; :func:`~fmref.multimodal.contrastive.clip_loss`
    with the learned temperature; AdamW, cosine schedule, one thread.

    Returns
    -------
    (CLIP, dict)
        The model in eval mode, and ``{"loss": [...], "logit_scale": [...]}`` per epoch.

    Examples
    --------
    >>> from fmref.multimodal.digits import digits_clip
    >>> model, info = digits_clip()
    >>> len(info["loss"]), info["loss"][-1] < info["loss"][0]
    (14, True)
    """
    from fmref.zoo import cached

    s = DIGITS_CLIP_SETTINGS

    @one_thread()
    @torch.enable_grad()
    def train():
        torch.manual_seed(s["seed"])
        g = torch.Generator().manual_seed(s["seed"])
        tok = digits_tokenizer()
        x, y, _, _ = digits_split()
        keep = y != s["held_out_digit"]
        x, y = x[keep], y[keep]
        model = CLIP(CLIPConfig(**s["config"]))
        steps = math.ceil(len(y) / s["batch_size"])
        captions = torch.stack(  # (templates, 10, context_length): every caption, encoded once
            [tok.encode([t.format(n) for n in DIGIT_NAMES], s["config"]["context_length"])
             for t in TRAIN_TEMPLATES]
        )  # fmt: skip

        def loss_fn(model, idx):  # each image with a caption from a random template
            t = torch.randint(len(TRAIN_TEMPLATES), (len(idx),), generator=g)
            # a batch repeats captions (at most 45 differ): each is encoded once
            pairs, which = torch.unique(t * 10 + y[idx], return_inverse=True)
            texts = model.encode_text(captions.view(-1, captions.shape[-1])[pairs])
            return clip_loss(model.encode_image(x[idx]), texts[which], model.logit_scale)

        def clip_temperature(model):
            model.logit_scale.clamp_(0, math.log(100))  # CLIP's clip at 100

        history = fit(
            model,
            epoch_batches(len(y), s["batch_size"], s["epochs"], g),
            loss_fn,
            s["epochs"] * steps,
            lr=_schedule(s["lr"], s["epochs"] * steps),
            weight_decay=s["weight_decay"],
            after_step=clip_temperature,
            eval_fn=lambda model: model.logit_scale.item(),
            eval_every=steps,
        )
        info = {"loss": chunk_means(history["loss"], steps), "logit_scale": history["eval"]}
        return {"state_dict": model.state_dict(), "info": info}

    result = cached("digits-clip", s, train)
    model = CLIP(CLIPConfig(**s["config"]))
    model.load_state_dict(result["state_dict"])
    return model.eval(), result["info"]


class _PatchTokens(nn.Module):
    """The frozen CLIP image tower's patch tokens ``(B, N, width)``, class token dropped."""

    def __init__(self, clip: CLIP):
        super().__init__()
        self.clip = clip.requires_grad_(False).eval()

    def train(self, mode=True):  # the tower stays in eval mode
        return self

    def forward(self, pixel_values):
        with torch.no_grad():
            return self.clip.image_tokens(pixel_values)[:, 1:]


def _lmm_prompt(tok, n_image_tokens, question):
    return [tok.image_id] * n_image_tokens + tok.ids(f"question : {question} answer :")


def digits_lmm() -> tuple[LLaVA, dict]:
    """A LLaVA-style tiny LMM on digits: frozen CLIP image tower, projector, small GPT; cached.

    The prompt is 16 ``<image>`` tokens (the CLIP's patch tokens, projected),
    then ``question : <question> answer :``; the target is the answer and
    ``<eos>``. Only answer tokens are scored (as in LLaVA's instruction tuning);
    the projector and the GPT (trained from scratch) learn, the image tower is
    frozen. Every training image of :func:`~fmref.models.vit.digits_split`
    appears once per epoch with a random question of :data:`QUESTIONS`.

    Returns
    -------
    (LLaVA, dict)
        The model in eval mode and ``{"loss": [...]}`` per epoch.

    Examples
    --------
    >>> from fmref.multimodal.digits import digits_lmm
    >>> model, info = digits_lmm()
    >>> len(info["loss"]), info["loss"][-1] < 0.1 * info["loss"][0]
    (8, True)
    """
    from fmref.zoo import cached

    s = DIGITS_LMM_SETTINGS

    def build():
        clip, _ = digits_clip()
        torch.manual_seed(s["seed"])
        lm = GPT(GPTConfig(**s["gpt"]))
        return LLaVA(_PatchTokens(clip), lm, clip.config.vision_width, WordTokenizer.image_id)

    @one_thread()
    @torch.enable_grad()
    def train():
        tok, model = digits_tokenizer(), build()
        g = torch.Generator().manual_seed(s["seed"])
        x, y, _, _ = digits_split()
        features = model.vision_encoder(x)  # (n, 16, width): the frozen tower, run once
        steps = math.ceil(len(y) / s["batch_size"])
        # every (question, digit) pair's input and targets, built once: the prompt and the
        # answer without its <eos> as input (the <eos> is predicted, never read), and the
        # next token as target on the answer's positions only; padded to the longest
        seqs, targets = [], []
        for question, label in QUESTIONS.items():
            prompt = _lmm_prompt(tok, 16, question)
            for k in range(10):
                reply = tok.ids(label(k)) + [tok.eos_id]
                seqs.append(prompt + reply[:-1])
                targets.append([-100] * (len(prompt) - 1) + reply)
        T = max(map(len, seqs))
        ids = torch.tensor([r + [tok.pad_id] * (T - len(r)) for r in seqs]).view(-1, 10, T)
        tgt = torch.tensor([r + [-100] * (T - len(r)) for r in targets]).view(-1, 10, T)
        lengths = torch.tensor(list(map(len, seqs))).view(-1, 10)

        def loss_fn(model, idx):  # each image with a random question; answers scored
            q = torch.randint(len(QUESTIONS), (len(idx),), generator=g)
            k = y[idx]
            t = int(lengths[q, k].max())  # the batch's longest sequence
            logits = model(None, ids[q, k, :t], image_features=features[idx])  # (B, t, V)
            return nn.functional.cross_entropy(logits.transpose(1, 2), tgt[q, k, :t])

        history = fit(
            model,
            epoch_batches(len(y), s["batch_size"], s["epochs"], g),
            loss_fn,
            s["epochs"] * steps,
            lr=_schedule(s["lr"], s["epochs"] * steps),
            weight_decay=0.1,
        )
        info = {"loss": chunk_means(history["loss"], steps)}
        trained = {k: v for k, v in model.state_dict().items() if not k.startswith("vision")}
        return {"state_dict": trained, "info": info}

    result = cached("digits-lmm", s, train)
    model = build()
    model.load_state_dict(result["state_dict"], strict=False)
    return model.eval(), result["info"]


def answer(model: LLaVA, images: torch.Tensor, question: str) -> list[str]:
    """The tiny LMM's greedy answers to one question about each image.

    Parameters
    ----------
    model : LLaVA
        The model of :func:`digits_lmm`.
    images : torch.Tensor
        ``(B, 1, 8, 8)`` digits.
    question : str
        A question in the tokenizer's vocabulary.

    Returns
    -------
    list of str
        One answer per image.

    Examples
    --------
    >>> from fmref.models.vit import digits_split
    >>> from fmref.multimodal.digits import answer, digits_lmm
    >>> model, _ = digits_lmm()
    >>> _, _, x_test, y_test = digits_split()
    >>> answer(model, x_test[:3], "which digit is this ?"), y_test[:3].tolist()
    (['two', 'zero', 'four'], [2, 0, 4])
    """
    check_instance("model", model, LLaVA)
    tok = digits_tokenizer()
    prompt = torch.tensor([_lmm_prompt(tok, 16, question)]).expand(len(images), -1)
    out = model.generate(images, prompt, max_new_tokens=3, eos_token_id=tok.eos_id)
    return [tok.decode(row) for row in out]
