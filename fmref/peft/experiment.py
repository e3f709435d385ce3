"""One small adaptation task on which the chapter compares fine-tuning methods.

The base model is :func:`fmref.zoo.tiny_gpt`, pretrained on the Python
documentation. The new distribution is the same documentation *read
backwards*: the words of every line in reverse order
(:func:`reverse_words`). The vocabulary and the topics are unchanged, the
grammar is not, so the base model is surprised by every token (its loss rises
from about 3.9 to 4.7 nats) and a method must change how the model attends,
not only which words it expects.

:func:`finetune` adapts a fresh copy of the base model with one method for a
fixed budget of AdamW steps (the same batches for every method) and records
the trainable parameters, the validation loss and the learned weights;
:func:`run_methods` does it for a list of methods and caches the results with
:func:`fmref.zoo.cached`, so the gallery and the chapter share one run.
"""

from __future__ import annotations

import copy
import re

import torch

from fmref._validate import check_instance
from fmref.peft.adapters import apply_adapters
from fmref.peft.bitfit import apply_bitfit
from fmref.peft.ia3 import apply_ia3
from fmref.peft.lora import apply_lora, trainable_parameters
from fmref.peft.prompts import PrefixTuning, PromptTuning

__all__ = ["TASK_SETTINGS", "reverse_words", "task_data", "prepare", "finetune", "run_methods"]

#: Settings of :func:`finetune`: a small, fixed budget, the same for every method.
TASK_SETTINGS = {
    "steps": 60,  # AdamW steps
    "batch_size": 8,  # windows per step
    "block_size": 48,  # tokens per window (leaves room for 16 virtual tokens in 64)
    "warmup": 5,  # linear warm-up steps, then cosine to lr / 10
    "train_tokens": 100_000,  # first tokens of the reversed training split
    "eval_batches": 8,  # validation batches of batch_size windows
    "seed": 0,  # batches, LoRA and adapter initialisation
    # peak learning rate per method: 10x higher for the small add-on parameters,
    # as usual for LoRA and adapters; prompts need more still (Lester et al. used 0.3)
    "lr": {"full": 1e-3, "lora": 1e-2, "adapter": 1e-2, "bitfit": 1e-2, "ia3": 3e-2,
           "prompt": 3e-2, "prefix": 1e-2},
}  # fmt: skip


def reverse_words(text):
    """Reverse the order of the words of every line of ``text``.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        Same lines, same words, each line read backwards.

    Examples
    --------
    >>> from fmref.peft.experiment import reverse_words
    >>> reverse_words("The pass statement\\nis a null operation.")
    'statement pass The\\noperation. null a is'
    """
    check_instance("text", text, str)
    return "\n".join(" ".join(line.split(" ")[::-1]) for line in text.split("\n"))


def task_data(tokenizer, settings=None):
    """Token ids of the reversed Python documentation: ``(train, validation)``.

    Parameters
    ----------
    tokenizer : fmref.text.bpe.BPETokenizer
        The base model's tokenizer.
    settings : dict, optional
        Default :data:`TASK_SETTINGS` (only ``train_tokens`` is used).

    Returns
    -------
    tuple of torch.Tensor
        1-D int64 ids of the training and validation splits.

    Examples
    --------
    >>> from fmref.peft.experiment import task_data
    >>> from fmref.zoo import tiny_gpt
    >>> _, tokenizer, _ = tiny_gpt()
    >>> train_ids, val_ids = task_data(tokenizer)
    >>> len(train_ids), len(val_ids) > 10_000
    (100000, True)
    """
    from fmref.text.corpus import python_docs

    s = {**TASK_SETTINGS, **(settings or {})}
    train_ids = torch.tensor(tokenizer.encode(reverse_words(python_docs("train"))))
    val_ids = torch.tensor(tokenizer.encode(reverse_words(python_docs("validation"))))
    return train_ids[: s["train_tokens"]], val_ids


_METHOD = re.compile(r"none|full|bitfit|ia3|(lora|adapter|prompt|prefix)-[1-9][0-9]*")


def prepare(model, method):
    """Set ``model`` up for one fine-tuning method; return the module to train.

    Parameters
    ----------
    model : fmref.models.gpt.GPT
        A copy of the base model (modified in place).
    method : str
        ``"none"`` (no training), ``"full"``, ``"lora-R"`` (rank ``R`` on
        ``W_q`` and ``W_v``, ``alpha = 2R``), ``"adapter-M"`` (bottleneck
        ``M``), ``"prompt-P"``, ``"prefix-P"`` (``P`` virtual tokens),
        ``"bitfit"`` or ``"ia3"``.

    Returns
    -------
    torch.nn.Module
        ``model`` itself, or a :class:`~fmref.peft.prompts.PromptTuning` /
        :class:`~fmref.peft.prompts.PrefixTuning` wrapper around it.

    Raises
    ------
    ValueError
        If ``method`` is unknown.

    Examples
    --------
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.peft.experiment import prepare
    >>> from fmref.peft.lora import trainable_parameters
    >>> cfg = GPTConfig(vocab_size=64, block_size=32, n_layer=2, n_head=2, n_embd=32)
    >>> for method in ("full", "lora-4", "adapter-8", "prompt-8", "prefix-8", "bitfit", "ia3"):
    ...     print(method, trainable_parameters(prepare(GPT(cfg), method))[0])
    full 28544
    lora-4 1024
    adapter-8 2208
    prompt-8 256
    prefix-8 1024
    bitfit 736
    ia3 384
    """
    kind, _, size = method.partition("-")
    if kind in ("none", "full") and not size:
        model.requires_grad_(kind == "full")
        return model
    if kind in ("bitfit", "ia3") and not size:
        apply_bitfit(model) if kind == "bitfit" else apply_ia3(model)
        return model
    if kind in ("lora", "adapter", "prompt", "prefix") and size.isdigit() and int(size) > 0:
        n = int(size)
        if kind == "lora":
            apply_lora(model, r=n, alpha=2 * n)
            return model
        if kind == "adapter":
            apply_adapters(model, model.config.n_embd, bottleneck=n)
            return model
        return (PromptTuning if kind == "prompt" else PrefixTuning)(model, n)
    raise ValueError(
        "method must be 'none', 'full', 'bitfit', 'ia3', or 'lora-R', 'adapter-M', "
        f"'prompt-P', 'prefix-P' with a positive int; got {method!r}"
    )


def finetune(base, method, train_ids, val_ids, settings=None):
    """Fine-tune a copy of ``base`` with one method; return its numbers and weights.

    Parameters
    ----------
    base : fmref.models.gpt.GPT
        The pretrained model; it is not modified.
    method : str
        See :func:`prepare`.
    train_ids, val_ids : torch.Tensor
        1-D token ids (:func:`task_data`).
    settings : dict, optional
        Overrides of :data:`TASK_SETTINGS`.

    Returns
    -------
    dict
        ``trainable`` and ``total`` parameters, ``val_loss`` (after training;
        before it for ``"none"``), ``val_curve`` (``(step, loss)`` pairs) and
        ``state`` (the trained parameters, by name).

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.peft.experiment import finetune
    >>> base = GPT(GPTConfig(vocab_size=8, block_size=32, n_layer=1, n_head=2, n_embd=16))
    >>> data = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7] * 40)
    >>> fast = {"steps": 20, "block_size": 16, "eval_batches": 2}
    >>> before = finetune(base, "none", data, data, fast)["val_loss"]
    >>> after = finetune(base, "lora-2", data, data, fast)
    >>> after["trainable"], after["val_loss"] < before
    (128, True)
    """
    from fmref.train.loop import TrainConfig, evaluate, train

    s = {**TASK_SETTINGS, **(settings or {})}
    torch.manual_seed(s["seed"])  # LoRA's A and the adapters' down projections
    model = prepare(copy.deepcopy(base), method)
    trainable, total = trainable_parameters(model)
    if method == "none":
        loss = evaluate(model, val_ids, s["batch_size"], s["block_size"], s["eval_batches"])
        return {"trainable": 0, "total": total, "val_loss": loss, "val_curve": [], "state": {}}
    lr = s["lr"][method.partition("-")[0]]
    config = TrainConfig.from_settings(
        s,
        lr_max=lr,
        lr_min=lr / 10,
        weight_decay=0.0,  # a short fine-tune: no decay
        eval_interval=max(1, s["steps"] // 4),
    )
    history = train(model, train_ids, config, val_data=val_ids)
    state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    return {
        "trainable": trainable,
        "total": total,
        "val_loss": history["val_loss"][-1],
        "val_curve": list(zip(history["val_step"], history["val_loss"])),
        "state": state,
    }


def run_methods(methods, settings=None):
    """:func:`finetune` the tiny GPT with each method on the reversed docs, cached.

    Parameters
    ----------
    methods : sequence of str
        Methods of :func:`prepare`.
    settings : dict, optional
        Overrides of :data:`TASK_SETTINGS`.

    Returns
    -------
    dict
        Method name to the dict of :func:`finetune`; each computed once per
        fmref version, method and settings (:func:`fmref.zoo.cached`).

    Raises
    ------
    ValueError
        If a method is unknown (see :func:`prepare`).

    Examples
    --------
    >>> from fmref.peft.experiment import run_methods
    >>> out = run_methods(["none"])
    >>> round(out["none"]["val_loss"], 1)  # the base model reading backwards
    4.7
    """
    for i, method in enumerate(methods):
        if not isinstance(method, str) or not _METHOD.fullmatch(method):
            raise ValueError(f"methods[{i}] must be a method name as prepare takes, got {method!r}")
    from fmref.zoo import cached, one_thread, tiny_gpt

    s = {**TASK_SETTINGS, **(settings or {})}
    base, tokenizer, _ = tiny_gpt()
    data = []

    def run(method):
        if not data:  # tokenise only on a cache miss
            data.extend(task_data(tokenizer, s))
        with one_thread():  # the same numbers on any thread setting
            return finetune(base, method, *data, s)

    # one cache entry per method: pages that share a method share its run
    return {m: cached("peft-task", {"method": m, **s}, lambda m=m: run(m)) for m in methods}
