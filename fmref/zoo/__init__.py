"""The one home of fmref's trained models: a registry of recipes and their cache.

Several chapters, gallery examples, tests and benchmarks use the same small
trained models. Each has a *recipe*: a name (``"digits-vit"``) and the function,
in the module that owns the idea, that trains it on a cache miss and loads it
otherwise (:func:`fmref.zoo.list`, :func:`fmref.zoo.get`). :func:`cached` stores
a result under a key that hashes the training settings and the code of the
fmref modules the training function runs (:func:`module_files`), so a clean
build trains each model at most once and a change to that code (or to the
settings) retrains it instead of serving a stale model.

**The model cache.** Results live in ``$FMREF_CACHE`` (default
``~/.cache/fmref``; ``tox`` points every environment at ``.tox/fmref-cache`` so
tests and the docs share it), one file ``<name>-<key>.pt`` per entry.
``python -m fmref.zoo`` lists it (name, key, size, date, and whether the entry
was trained under today's code), ``python -m fmref.zoo recipes`` lists the
recipes, and ``python -m fmref.zoo clear NAME ...``, ``clear --stale`` (entries
of older code, bad files) or ``clear --all`` deletes entries (:func:`entries`,
:func:`clear`).

Entries are read with ``torch.load(weights_only=True)``, which builds tensors
and plain containers and refuses every other pickled global, so a file planted
in the cache cannot run code. A bad entry (cut short, zero-filled, random
bytes, a crafted pickle, another file under the entry's name, unreadable) is
reported by one :class:`CacheWarning` that names the file, renamed
``<file>.bad-<time>-<pid>`` beside it rather than deleted, and trained again.
One lock file per key lets parallel builds (``tox -e py`` beside ``tox -e
docs``, parallel gallery workers) train a model once: the others wait and load
it. A read-only cache folder still works: a missing model is trained and kept
in memory for the process, with one warning.
"""

from __future__ import annotations

import builtins
import importlib
from dataclasses import asdict, dataclass
from typing import Any

import torch

from fmref._validate import check_overrides
from fmref.zoo._cache import (
    CacheWarning,
    cache_dir,
    cache_key,
    cached,
    clear,
    code_fingerprint,
    entries,
    module_files,
    one_thread,
    read_entry,
    source_hash,
)

__all__ = [
    "Recipe",
    "list",
    "get",
    "cache_dir",
    "source_hash",
    "module_files",
    "code_fingerprint",
    "cache_key",
    "cached",
    "CacheWarning",
    "read_entry",
    "entries",
    "clear",
    "one_thread",
    "TINY_GPT_SETTINGS",
    "tiny_gpt",
    "digits_vit",
    "digits_cnn",
    "SELECTIVE_COPY_SETTINGS",
    "selective_copy",
    "deepseek_mtp",
    "SEQ2SEQ_REVERSAL_SETTINGS",
    "seq2seq_reversal",
]


@dataclass(frozen=True)
class Recipe:
    """A named trained model: where its training lives and what it is for.

    Parameters
    ----------
    name : str
        The name its cache entries carry (``<name>-<key>.pt``).
    function : str
        ``"module:function"``: the public function that trains the model on a
        cache miss and loads it otherwise, in the module that owns the idea
        (imported only when the recipe is used).
    summary : str
        One line: what is trained on what, and who uses it.

    Examples
    --------
    >>> from fmref.zoo import get
    >>> recipe = get("digits-vit")
    >>> recipe.function
    'fmref.zoo:digits_vit'
    >>> recipe.resolve().__name__
    'digits_vit'
    """

    name: str
    function: str
    summary: str

    def resolve(self):
        """The recipe's function, imported.

        Returns
        -------
        callable
            The function named by :attr:`function`.

        Examples
        --------
        >>> from fmref.zoo import get
        >>> get("icl-gpt").resolve().__module__
        'fmref.prompting.icl'
        """
        module, _, attr = self.function.partition(":")
        return getattr(importlib.import_module(module), attr)

    def load(self, **kwargs: Any) -> Any:
        """Call the recipe's function: load the model, training it first on a miss.

        Parameters
        ----------
        **kwargs
            Passed to the function (its defaults are the manual's model).

        Returns
        -------
        object
            What the function returns (a model, usually with its history).

        Examples
        --------
        >>> from fmref.zoo import get
        >>> model, history = get("digits-vit").load()
        >>> type(model).__name__, len(history["test_accuracy"])
        ('ViT', 30)
        """
        return self.resolve()(**kwargs)


_RECIPES = {
    name: Recipe(name, function, summary)
    for name, function, summary in [
        ("tiny-gpt", "fmref.zoo:tiny_gpt", "BPE and 3-layer GPT on the Python docs (I, II, VIII)"),
        ("tiny-gpt-seed", "fmref.eval.seeds:seed_runs", "byte GPT, one run per seed (App. C)"),
        ("peft-task", "fmref.peft.experiment:run_methods", "tiny GPT tuned per PEFT method (VII)"),
        (
            "tiny-gpt-quant",
            "fmref.compress.apply:tiny_gpt_quantization",
            "tiny GPT's perplexity per quantiser and bits (XIV)",
        ),
        ("digits-vit", "fmref.zoo:digits_vit", "small ViT on scikit-learn's digits (I, XVI, XVII)"),
        ("digits-cnn", "fmref.zoo:digits_cnn", "Chapter III's CNN trained like the ViT (XVI)"),
        ("digits-clip", "fmref.multimodal.digits:digits_clip", "tiny CLIP on digits (XIX)"),
        ("digits-lmm", "fmref.multimodal.digits:digits_lmm", "LLaVA-style LMM on digits (XX)"),
        ("digits-denoiser", "fmref.diffusion.denoisers:digits_denoiser", "DDPM U-Net (XVII)"),
        (
            "minilm-python-docs",
            "fmref.rag.evalset:corpus_embeddings",
            "RAG chunk vectors, pooled and per token (late interaction), one pass (XXII)",
        ),
        (
            "minilm-reranker",
            "fmref.rag.rerank:train_reranker",
            "cross-encoder fine-tuned from MiniLM on the training questions (XXII)",
        ),
        (
            "rag-heldout-comparison",
            "fmref.rag.compare:heldout_comparison",
            "every retriever on the held-out questions (XXII, gallery)",
        ),
        ("icl-gpt", "fmref.prompting.icl:train_icl_model", "GPT that learns in context (XV)"),
        ("react-policy", "fmref.agents.policy:train_react_policy", "ReAct tool-call GPT (XXI)"),
        ("sums-base", "fmref.align.verifiable:train_base_model", "base GPT of the sums task (XI)"),
        ("sums-rlvr", "fmref.align.rlvr:train_rlvr", "GRPO with a rule-based reward (XI)"),
        (
            "sums-reward-models",
            "fmref.align.prm:train_reward_models",
            "outcome and process reward models on the sums task (XI, XV)",
        ),
        (
            "sums-test-time",
            "fmref.eval.testtime:sample_sums_answers",
            "scored samples for best-of-N and voting curves (XI, XV)",
        ),
        (
            "filtered-gpt",
            "fmref.data.quality:filtering_effect",
            "small GPTs on a junk-laden crawl, unfiltered and filtered (App. B)",
        ),
        (
            "swiss-roll-denoiser",
            "fmref.diffusion.denoisers:swiss_roll_denoiser",
            "MLP DDPM on a 2-D swiss roll (gallery, XVII)",
        ),
        ("attention-copy-gpt", "fmref.prompting.icl:copy_gpt", "GPT that copies digits (gallery)"),
        (
            "tiny-gpt-medusa",
            "fmref.infer.medusa:tiny_gpt_medusa",
            "Medusa draft heads on the tiny GPT (XIII)",
        ),
        (
            "deepseek-mtp",
            "fmref.zoo:deepseek_mtp",
            "byte DeepSeek-V3 with and without multi-token prediction (IX)",
        ),
        ("digits-vae", "fmref.generative.vae:digits_vae", "2-D VAE on digits (gallery, XVIII)"),
        (
            "digits-patch-vqae",
            "fmref.generative.vq:digits_patch_vqae",
            "patch VQ autoencoder and a MADE over its codes (gallery, XVIII)",
        ),
        (
            "parallel-runs",
            "fmref.train.parallel.run:parallel_runs",
            "tiny Llama on 2 processes, every parallelism (gallery, XII)",
        ),
        (
            "long-context-llama",
            "fmref.eval.long_context:long_context_llama",
            "byte Llama trained at 64 tokens, run longer with scaled RoPE (VI)",
        ),
        (
            "seq2seq-reversal",
            "fmref.zoo:seq2seq_reversal",
            "RNN encoder-decoders, additive and Luong attention, reversing sequences (IV)",
        ),
        (
            "selective-copy",
            "fmref.zoo:selective_copy",
            "Mamba and attention of one size on selective copying (gallery, VI)",
        ),
        (
            "mini-scaling-study",
            "fmref.scaling.fit:mini_scaling_run",
            "byte GPT runs of an isoFLOP study (gallery, X)",
        ),
    ]
}


def list() -> builtins.list[Recipe]:  # noqa: A001 - the registry's verb, as in torch.hub.list
    """Every recipe: each trained model the manual, the gallery and the tests use.

    Returns
    -------
    list of Recipe
        Sorted by name.

    Examples
    --------
    >>> import fmref.zoo
    >>> [r.name for r in fmref.zoo.list()][:4]
    ['attention-copy-gpt', 'deepseek-mtp', 'digits-clip', 'digits-cnn']
    >>> len(fmref.zoo.list())
    30
    """
    return [_RECIPES[name] for name in sorted(_RECIPES)]


def get(name: str) -> Recipe:
    """The recipe of one model name.

    Parameters
    ----------
    name : str
        A name of :func:`list`, e.g. ``"tiny-gpt"``.

    Returns
    -------
    Recipe

    Raises
    ------
    ValueError
        If no recipe has that name.

    Examples
    --------
    >>> import fmref.zoo
    >>> fmref.zoo.get("tiny-gpt").function
    'fmref.zoo:tiny_gpt'
    """
    if name not in _RECIPES:
        raise ValueError(f"name must be one of {sorted(_RECIPES)}, got {name!r}")
    return _RECIPES[name]


# ---------------------------------------------------------------------------
# The tiny GPT of the language-model chapters (II, VIII) and their gallery.
# ---------------------------------------------------------------------------

#: Settings of :func:`tiny_gpt`: a byte-level BPE of 768 ids and a 3-layer GPT
#: (about 0.4M parameters) trained on the Python documentation corpus.
TINY_GPT_SETTINGS: dict[str, Any] = {
    "vocab_size": 768,  # 256 bytes + 512 merges
    "block_size": 64,  # context length in tokens
    "n_layer": 3,  # Transformer blocks
    "n_head": 4,  # attention heads of 24 dimensions
    "n_embd": 96,  # model width
    "dropout": 0.0,  # the model sees each token about 2.5 times: no dropout needed
    "steps": 400,  # AdamW steps, on one CPU thread
    "batch_size": 16,  # windows per step: 1,024 tokens
    "lr_max": 3e-3,  # peak learning rate (a small model tolerates a large one)
    "lr_min": 3e-4,  # cosine floor, lr_max / 10
    "warmup": 50,  # linear warm-up steps
    "weight_decay": 0.1,  # on matrices and embeddings only
    "eval_interval": 50,  # steps between validations
    "eval_batches": 4,  # batches per validation
    "seed": 0,  # initial weights, batches
}


def _train_tiny_gpt(settings: dict[str, Any]) -> dict[str, Any]:
    from fmref.models.gpt import GPT, GPTConfig
    from fmref.text.bpe import BPETokenizer
    from fmref.text.corpus import python_docs
    from fmref.train.loop import TrainConfig, train

    s = settings
    tokenizer = BPETokenizer.train(python_docs("train"), s["vocab_size"])
    train_ids = torch.tensor(tokenizer.encode(python_docs("train")))  # (N_train,)
    val_ids = torch.tensor(tokenizer.encode(python_docs("validation")))  # (N_val,)
    config = GPTConfig(
        vocab_size=tokenizer.vocab_size,
        block_size=s["block_size"],
        n_layer=s["n_layer"],
        n_head=s["n_head"],
        n_embd=s["n_embd"],
        dropout=s["dropout"],
    )
    torch.manual_seed(s["seed"])  # the initial weights
    model = GPT(config)
    train_config = TrainConfig.from_settings(s)
    with one_thread():  # the same weights bit for bit on any thread setting
        history = train(model, train_ids, train_config, val_data=val_ids)
    return {
        "gpt_config": {k: getattr(config, k) for k in config.__dataclass_fields__},
        "state_dict": model.state_dict(),
        "tokenizer": tokenizer.to_dict(),
        "history": history,
    }


def tiny_gpt(**overrides: Any) -> tuple[Any, Any, dict[str, Any]]:
    """The tiny GPT trained on :func:`fmref.text.corpus.python_docs`, from the cache.

    The first call trains a byte-level BPE tokenizer on the corpus's training
    split and a small :class:`~fmref.models.gpt.GPT` on its tokens with
    :func:`fmref.train.loop.train` (on one thread, so that the weights do not
    depend on the thread setting), and caches the result with :func:`cached`;
    later calls only load it.

    Parameters
    ----------
    **overrides
        Settings to change from :data:`TINY_GPT_SETTINGS` (e.g. ``steps=10``
        for a quick test); a different setting is a different cached model.

    Returns
    -------
    model : fmref.models.gpt.GPT
        The trained model, in eval mode.
    tokenizer : fmref.text.bpe.BPETokenizer
        Its tokenizer.
    history : dict
        The training history of :func:`fmref.train.loop.train` (``step``,
        ``train_loss``, ``val_step``, ``val_loss``, ``lr``, ...).

    Raises
    ------
    ValueError
        If an override names an unknown setting.

    Examples
    --------
    >>> import torch
    >>> from fmref.zoo import tiny_gpt
    >>> model, tokenizer, history = tiny_gpt()
    >>> tokenizer.vocab_size, model.config.n_layer, model.config.block_size
    (768, 3, 64)
    >>> history["val_loss"][-1] < history["val_loss"][0]
    True
    >>> logits = model(torch.tensor([tokenizer.encode("The for statement")]))  # (1, T, V)
    >>> logits.shape[-1]
    768
    """
    settings = check_overrides("overrides", overrides, TINY_GPT_SETTINGS)
    from fmref.models.gpt import GPT, GPTConfig
    from fmref.text.bpe import BPETokenizer

    stored = cached("tiny-gpt", settings, lambda: _train_tiny_gpt(settings))
    model = GPT(GPTConfig(**stored["gpt_config"]))
    model.load_state_dict(stored["state_dict"])
    model.eval()
    return model, BPETokenizer.from_dict(stored["tokenizer"]), stored["history"]


# ---------------------------------------------------------------------------
# The digits ViT of Chapter XVI (and I, XVII, FID) and the CNN beside it.
# ---------------------------------------------------------------------------


def digits_vit() -> tuple[Any, dict]:
    """The small ViT trained on scikit-learn's digits, trained once and cached.

    Config: 8x8 images, 2x2 patches (16 tokens + class token), width 64, 2
    blocks of 4 heads, MLP 128 (``fmref.models.vit.DIGITS_VIT_CONFIG``);
    trained by :func:`fmref.models.vit.train_digits_vit` on the stratified 75%
    split of :func:`~fmref.models.vit.digits_split` (seed 0), on one thread. The
    first call trains it (seconds on a laptop CPU); later calls load it.

    Returns
    -------
    (fmref.models.vit.ViT, dict)
        The model in eval mode, and its training history (per-epoch loss and
        test accuracy).

    Examples
    --------
    >>> from fmref.zoo import digits_vit
    >>> model, history = digits_vit()
    >>> model.config.num_patches, len(history["test_accuracy"])
    (16, 30)
    >>> history["test_accuracy"][-1] >= 0.93
    True
    """
    from fmref.models.vit import DIGITS_VIT_CONFIG, DIGITS_VIT_TRAINING, ViT, train_digits_vit

    settings = {"config": asdict(DIGITS_VIT_CONFIG), **DIGITS_VIT_TRAINING}
    result = cached("digits-vit", settings, one_thread()(train_digits_vit))
    model = ViT(DIGITS_VIT_CONFIG)
    model.load_state_dict(result["state_dict"])
    return model.eval(), result["history"]


def digits_cnn() -> tuple[torch.nn.Module, dict]:
    """The small CNN of Chapter III trained like :func:`digits_vit`, for comparison; cached.

    :class:`fmref.nn.conv.SmallCNN` (two 3x3 conv blocks with max pooling, a
    linear head) trained by :func:`fmref.models.vit.train_digits_cnn` with the
    same optimiser, schedule, epochs and split as the digit ViT, so that the two
    learning curves differ only by architecture.

    Returns
    -------
    (torch.nn.Module, dict)
        The CNN in eval mode and its training history.

    Examples
    --------
    The first call trains it (``cnn, history = digits_cnn()``; Chapter XVI
    prints its accuracy beside the ViT's); its entry in the zoo:

    >>> from fmref.zoo import get
    >>> get("digits-cnn").summary
    "Chapter III's CNN trained like the ViT (XVI)"
    """
    from fmref.models.vit import DIGITS_VIT_TRAINING, train_digits_cnn
    from fmref.nn.conv import CNNConfig, SmallCNN

    settings = {"config": asdict(CNNConfig()), **DIGITS_VIT_TRAINING}
    result = cached("digits-cnn", settings, one_thread()(train_digits_cnn))
    model = SmallCNN(CNNConfig())
    model.load_state_dict(result["state_dict"])
    return model.eval(), result["history"]


# ---------------------------------------------------------------------------
# Chapter VI's selective-copying comparison: Mamba against attention of one size.
# ---------------------------------------------------------------------------

#: Settings of :func:`selective_copy`: the task, the two models' shape, the training.
SELECTIVE_COPY_SETTINGS: dict[str, Any] = {
    "n_memorize": 4,  # symbols to recall
    "n_noise": 8,  # noise tokens among them: sequences of 12 + 1 + 4
    "n_symbols": 8,  # distinct symbols (vocabulary 10 with noise and separator)
    "d_model": 32,  # width of both models
    "n_layer": 2,  # blocks of both models
    "d_state": 8,  # Mamba's state per channel
    "hidden_dim": 43,  # the attention model's SwiGLU width: its parameters match Mamba's
    "n_heads": 4,  # the attention model's heads of 8 dimensions
    "steps": 300,  # AdamW steps each
    "batch": 32,  # sequences per step
    "lr": 1e-2,  # peak learning rate
    "seed": 0,  # weights and batches
}


def selective_copy(**overrides: Any) -> dict[str, tuple[torch.nn.Module, dict]]:
    """Mamba and an attention model of the same size trained on selective copying; cached.

    Both have width ``d_model`` and ``n_layer`` blocks: a
    :class:`~fmref.models.mamba.Mamba` and a :class:`~fmref.models.llama.Llama`
    (RoPE attention and a SwiGLU whose width makes the parameter counts equal
    within 1%). Each is trained by :func:`fmref.models.mamba.train_selective_copy`
    on :func:`~fmref.models.mamba.selective_copy_batch` sequences, on one thread.

    Parameters
    ----------
    **overrides
        Settings to change from :data:`SELECTIVE_COPY_SETTINGS`.

    Returns
    -------
    dict
        ``{"mamba": (model, history), "attention": (model, history)}``, models
        in eval mode; a history holds ``loss`` per step and the final ``accuracy``.

    Raises
    ------
    ValueError
        If an override names an unknown setting.

    Examples
    --------
    >>> from fmref.zoo import selective_copy
    >>> runs = selective_copy(steps=2)
    >>> sorted(runs), len(runs["mamba"][1]["loss"])
    (['attention', 'mamba'], 2)
    """
    from fmref.models.llama import Llama, LlamaConfig
    from fmref.models.mamba import Mamba, MambaConfig, train_selective_copy

    s = check_overrides("overrides", overrides, SELECTIVE_COPY_SETTINGS)
    vocab = s["n_symbols"] + 2
    length = 2 * s["n_memorize"] + s["n_noise"] + 1
    configs = {
        "mamba": MambaConfig(vocab, s["d_model"], s["n_layer"], d_state=s["d_state"],
                             max_seq_len=length),
        "attention": LlamaConfig(vocab, s["d_model"], s["n_layer"], s["n_heads"], s["n_heads"],
                                 s["hidden_dim"], max_seq_len=length),
    }  # fmt: skip
    kinds = {"mamba": Mamba, "attention": Llama}
    task = {k: s[k] for k in ("steps", "batch", "lr", "n_memorize", "n_noise", "n_symbols", "seed")}

    @one_thread()
    @torch.enable_grad()
    def run():
        out = {}
        for name, config in configs.items():
            torch.manual_seed(s["seed"])
            model = kinds[name](config)
            history = train_selective_copy(model, **task)
            out[name] = {"state_dict": model.state_dict(), "history": history}
        return out

    result = cached("selective-copy", {**s, "configs": {k: asdict(c) for k, c in configs.items()}},
                    run)  # fmt: skip
    runs = {}
    for name, config in configs.items():
        model = kinds[name](config)
        model.load_state_dict(result[name]["state_dict"])
        runs[name] = (model.eval(), result[name]["history"])
    return runs


# ---------------------------------------------------------------------------
# Chapter IX's multi-token prediction experiment.
# ---------------------------------------------------------------------------


def deepseek_mtp() -> tuple[dict, dict]:
    """Two small DeepSeek-V3 models, trained with and without MTP, from the cache.

    Trained by :func:`fmref.models.deepseek.train_mtp_pair` with
    :data:`fmref.models.deepseek.MTP_SETTINGS` on one thread, once.

    Returns
    -------
    models : dict of str to fmref.models.deepseek.DeepSeekV3
        ``"plain"`` and ``"mtp"``, in eval mode.
    results : dict of str to dict
        Their validation losses, expert load, training losses and, for
        ``"mtp"``, the MTP loss and the draft acceptance rate.

    Examples
    --------
    Chapter IX loads the pair and prints what MTP buys (``models, results =
    deepseek_mtp()``); the recipe is one entry of the zoo:

    >>> from fmref.models.deepseek import MTP_SETTINGS
    >>> from fmref.zoo import get
    >>> get("deepseek-mtp").function, MTP_SETTINGS["steps"], MTP_SETTINGS["mtp_weight"]
    ('fmref.zoo:deepseek_mtp', 120, 0.3)
    """
    from fmref.models.deepseek import MTP_SETTINGS, DeepSeekV3, DeepSeekV3Config, train_mtp_pair

    stored = cached("deepseek-mtp", MTP_SETTINGS, one_thread()(train_mtp_pair))
    config = DeepSeekV3Config(**stored["config"])
    models = {}
    for name, state in stored["state_dicts"].items():
        models[name] = DeepSeekV3(config)
        models[name].load_state_dict(state)
        models[name].eval()
    return models, stored["results"]


# ---------------------------------------------------------------------------
# Chapter IV's alignment figure: additive against multiplicative scores.
# ---------------------------------------------------------------------------

#: Settings of :func:`seq2seq_reversal`: the task, the two models' shape, the training.
SEQ2SEQ_REVERSAL_SETTINGS: dict[str, Any] = {
    "vocab": 8,  # BOS and the symbols 1..7
    "seq_len": 5,  # every source has 5 symbols
    "emb_dim": 16,  # token embedding width
    "hidden_size": 16,  # GRU width per direction (annotations of 32)
    "attn_dim": 16,  # the additive score's hidden width
    "steps": 200,  # AdamW steps each, batches of 32
    "lr": 2e-2,  # constant learning rate
    "eval_every": 40,  # steps between alignment snapshots
    "examples": [[1, 2, 3, 4, 5], [6, 2, 7, 4, 1], [3, 3, 5, 5, 2], [7, 1, 1, 6, 6]],
    "seed": 0,  # weights and batches
}


def seq2seq_reversal(**overrides: Any) -> dict[str, tuple[torch.nn.Module, dict]]:
    """Two RNN encoder-decoders taught to reverse sequences, additive and Luong scores; cached.

    Both are :class:`~fmref.models.seq2seq.Seq2Seq` models of the same sizes
    and initial seed, one scoring with
    :class:`~fmref.models.seq2seq.AdditiveAttention`, one with Luong's
    "general" :class:`~fmref.models.seq2seq.MultiplicativeAttention`, each
    trained by :func:`fmref.models.seq2seq.train_reversal` on one thread; the
    histories hold the alignments of the ``examples`` every ``eval_every``
    steps (Chapter IV's widget).

    Parameters
    ----------
    **overrides
        Settings to change from :data:`SEQ2SEQ_REVERSAL_SETTINGS`.

    Returns
    -------
    dict
        ``{"additive": (model, history), "general": (model, history)}``, models
        in eval mode; a history as :func:`~fmref.models.seq2seq.train_reversal`
        returns it.

    Raises
    ------
    ValueError
        If an override names an unknown setting.

    Examples
    --------
    >>> from fmref.zoo import seq2seq_reversal
    >>> runs = seq2seq_reversal(steps=2, eval_every=1)
    >>> sorted(runs), [s["step"] for s in runs["general"][1]["snapshots"]]
    (['additive', 'general'], [1, 2])
    """
    from fmref.models.seq2seq import Seq2Seq, Seq2SeqConfig, train_reversal

    s = check_overrides("overrides", overrides, SEQ2SEQ_REVERSAL_SETTINGS)
    configs = {
        score: Seq2SeqConfig(s["vocab"], s["vocab"], s["emb_dim"], s["hidden_size"],
                             s["attn_dim"], score=score)
        for score in ("additive", "general")
    }  # fmt: skip

    @one_thread()
    @torch.enable_grad()
    def run():
        out = {}
        for score, config in configs.items():
            torch.manual_seed(s["seed"])
            model = Seq2Seq(config)
            history = train_reversal(model, steps=s["steps"], lr=s["lr"], seq_len=s["seq_len"],
                                     examples=torch.tensor(s["examples"]),
                                     eval_every=s["eval_every"], seed=s["seed"])  # fmt: skip
            out[score] = {"state_dict": model.state_dict(), "history": history}
        return out

    result = cached("seq2seq-reversal", s, run)
    runs = {}
    for score, config in configs.items():
        model = Seq2Seq(config)
        model.load_state_dict(result[score]["state_dict"])
        runs[score] = (model.eval(), result[score]["history"])
    return runs
